"""The benchmark harness runs end to end at N=20 and writes results of the promised shape.

Runs ``python -m bench.run`` as ``make bench`` does (the floor operator, its own control plane
with the audit log on, two simulators, the operator process) with a 5 s
steady window, plus the sharded burst (``--shards 2``: two operator processes,
10 links each; about 30 s more), then checks the SHAPE of ``results.json`` and
``REPORT.md``:
every scenario and key present, every number non-negative. Timings are
not asserted: they depend on the machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

REPO = Path(__file__).resolve().parents[2]
N = 20

MACHINE_KEYS = {"cores", "python", "kopf", "kubernetes", "pydantic", "httpx"}
SCENARIO_KEYS: dict[str, set[str]] = {
    "floor": {
        "n",
        "links_per_second",
        "operator_cpu_ms_per_link",
        "provider_calls_per_link",
        "calls_by_operation",
        "k8s_writes_per_link",
    },
    "burst": {
        "n",
        "links_per_second",
        "seconds_to_all_ready",
        "p50_ms",
        "p99_ms",
        "max_ms",
        "provider_calls_per_link",
        "calls_by_operation",
        "k8s_writes_per_link",
        "rss_mib_peak",
        "floor_rate_ratio",
        "cpu_per_link_vs_floor",
    },
    "single": {"n", "p50_ms", "p99_ms", "max_ms", "provider_calls_per_link", "calls_by_operation"},
    "steady": {
        "n",
        "steady_calls_per_link",
        "list_calls_per_interconnect_per_refresh",
        "idle_cpu_percent",
        "k8s_writes",
        "rss_mib_peak",
        "rss_mib_settled",
    },
    "restart": {
        "n",
        "recovery_seconds",
        "existing_confirmed_seconds",
        "existing_confirmed_from",
        "existing_confirmed_poll_seconds",
        "recovery_mutating_calls",
        "recovery_status_writes",
        "probe_ready",
    },
    "shards": {
        "n",
        "shards",
        "seconds_to_all_ready",
        "links_per_second",
        "operator_cpu_ms_per_link",
        "provider_calls_per_link",
        "k8s_writes_per_link",
        "per_shard",
        "cross_shard",
        "isolated",
    },
}
SHARD_KEYS = {
    "shard",
    "pool",
    "links",
    "ready",
    "operator_cpu_ms_per_link",
    "rss_mib_peak",
    "provider_calls_per_link",
    "k8s_writes_per_link",
    "own_links_in_metrics",
}


def _numbers(value: Any, path: str = "") -> Iterator[tuple[str, float]]:
    if isinstance(value, bool):
        return
    if isinstance(value, int | float):
        yield path, float(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _numbers(item, f"{path}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _numbers(item, f"{path}[{i}]")


@pytest.fixture(scope="module")
def bench_output(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bench")
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.run",
            "--sizes",
            str(N),
            "--steady-seconds",
            "5",
            "--single-runs",
            "3",
            "--shards",
            "2",
            "--no-merge",
            "--out-dir",
            str(out),
            "--log-dir",
            str(out / "logs"),
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=840,
        check=False,
    )
    assert result.returncode == 0, (
        f"bench.run failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    )
    return out


def test_results_have_every_scenario_with_its_keys(bench_output: Path) -> None:
    results = json.loads((bench_output / "results.json").read_text())
    assert set(results["machine"]) >= MACHINE_KEYS, results["machine"]
    by_name = {s["name"]: s for s in results["scenarios"]}
    assert set(by_name) == set(SCENARIO_KEYS)
    for name, keys in SCENARIO_KEYS.items():
        missing = keys - set(by_name[name])
        assert not missing, f"{name} lacks {missing}"
        assert by_name[name]["n"] == N


def test_every_number_is_non_negative(bench_output: Path) -> None:
    results = json.loads((bench_output / "results.json").read_text())
    numbers = list(_numbers(results["scenarios"]))
    assert numbers, "no figures at all"
    negative = [(path, v) for path, v in numbers if v < 0]
    assert not negative, negative


def test_links_went_ready_and_calls_were_counted(bench_output: Path) -> None:
    by_name = {
        s["name"]: s for s in json.loads((bench_output / "results.json").read_text())["scenarios"]
    }
    burst = by_name["burst"]
    assert burst["ready"] == N
    assert burst["all_ready"] is True
    # Counting works: a link cannot come up without calling both providers.
    assert burst["provider_calls_per_link"] > 0
    assert by_name["single"]["calls_by_operation"].get("CreateConnection", 0) >= 1
    assert by_name["restart"]["probe_ready"] is True
    # The restart figure says where it comes from: the operator's own line when its
    # bulk pass confirmed every held link, else the poll (here the pass may hand
    # them all to the queue: a pool whose clients are not built yet confirms nothing).
    restart = by_name["restart"]
    assert restart["existing_confirmed_from"] in (
        "operator log: bulk confirmation done",
        "metrics poll",
    )
    assert restart["existing_confirmed_seconds"] is not None
    # The floor brought up every link with the protocol's 14 calls and three writes each.
    floor = by_name["floor"]
    assert floor["ready"] == N
    assert floor["provider_calls_per_link"] == 14
    assert floor["k8s_writes_per_link"] == 3


def test_two_shards_brought_up_only_their_own_links(bench_output: Path) -> None:
    shards = next(
        s
        for s in json.loads((bench_output / "results.json").read_text())["scenarios"]
        if s["name"] == "shards"
    )
    assert shards["shards"] == 2
    assert shards["ready"] == N
    assert shards["isolated"] is True, shards["cross_shard"]
    assert len(shards["per_shard"]) == 2
    for shard in shards["per_shard"]:
        assert set(shard) >= SHARD_KEYS, shard
        assert shard["links"] == N // 2
        assert shard["ready"] == N // 2
        # Each shard's /metrics holds exactly its own links, and it called the providers.
        assert shard["own_links_in_metrics"] == shard["links_in_metrics"] == N // 2
        assert shard["provider_calls_per_link"] > 0


def test_report_lists_figures_next_to_targets(bench_output: Path) -> None:
    report = (bench_output / "REPORT.md").read_text()
    assert "| scenario | figure | target | N=20 |" in report
    for label in ("links/s", "apply-to-Ready p99", "Kubernetes writes per link", "status writes"):
        assert label in report
    assert "## The floor, side by side" in report
    assert "## Shards" in report
    assert "## Growth with N" in report
    assert "links/s as a ratio of the floor's" in report
