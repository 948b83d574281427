"""The benchmark's soak and shard figures: leftovers, isolation, refresh counts and the report.

Pure parts of bench/soak.py, bench/shards.py, bench/run.py and bench/report.py
on hand-made inputs (the scenarios themselves run in tests/e2e/test_bench_smoke.py).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, cast

from bench import report
from bench.measure import AuditReader, create_to_status_seconds
from bench.run import derive_call_figures, merged_scenarios
from bench.shards import Shard, isolation_failures, link_prefix, shard_pool
from bench.soak import provider_leftovers


def _state(provider: str, connections: list[str], keys: list[tuple[str, str]]) -> dict[str, Any]:
    return {
        "provider": provider,
        "connections": [{"connection": c, "interconnect": "ix-1"} for c in connections],
        "features": [{"connection": c, "channel": "ch-1"} for c in connections],
        "activationKeys": [{"sharedConnectionUuid": u, "state": s} for u, s in keys],
    }


def test_leftovers_are_what_no_live_link_holds() -> None:
    states = [
        _state("aws", ["live-1", "gone-1"], [("gone-2", "issued"), ("gone-3", "consumed")]),
        _state("gcp", ["live-1"], [("live-1", "placed")]),
    ]
    out = provider_leftovers(states, {"live-1"})
    assert out["aws"] == {"connections": 1, "features": 1, "usable_activation_keys": 1}
    assert out["gcp"] == {"connections": 0, "features": 0, "usable_activation_keys": 0}


class _Operator:
    def __init__(self, log: str) -> None:
        self._log = log

    def log(self) -> str:
        return self._log


def _shard(index: int, log: str = "") -> Shard:
    return Shard(
        index=index,
        pool=shard_pool(index),
        service_account=f"sa-{index}",
        operator=cast(Any, _Operator(log)),
        audit=cast(Any, None),
        sampler=cast(Any, None),
    )


def test_isolation_names_every_cross_shard_write_series_and_log_line() -> None:
    mine, other = _shard(0, log=f"reconciling bench-shards/{link_prefix(1)}00001"), _shard(1)
    own_link = f"{link_prefix(0)}00000"
    clean = isolation_failures(
        mine, [mine, other], {own_link, shard_pool(0)}, ({own_link}, {shard_pool(0)}, set())
    )
    assert clean == ["shard 0's log names shard 1's links 1 times"]
    failures = isolation_failures(
        _shard(0),
        [_shard(0), other],
        {own_link, f"{link_prefix(1)}00001.17a", shard_pool(1)},
        ({own_link, f"{link_prefix(1)}00003"}, {shard_pool(0)}, {shard_pool(1)}),
    )
    assert len(failures) == 3, failures
    assert failures[0].startswith("shard 0 wrote 2 objects of shard 1")
    assert "/metrics names 1 links of shard 1" in failures[1]
    assert failures[2] == f"shard 0's /metrics names pool {shard_pool(1)}"
    assert (
        isolation_failures(_shard(0), [_shard(0), other], {own_link}, ({own_link}, set(), set()))
        == []
    )


def test_refreshes_counted_from_the_interval_not_from_interconnect_lists() -> None:
    # A refresh re-lists the interconnects only now and then, and the MACsec
    # round's key lists are not the refresh's: neither may change the figure.
    steady: dict[str, Any] = {
        "n": 100,
        "window_seconds": 60.0,
        "calls_by_provider": {
            "aws": {"ListConnections": 20, "ListFeatures": 20, "ListMacSecKeys": 40},
            "gcp": {"ListConnections": 20, "ListFeatures": 20, "ListInterconnects": 1},
        },
    }
    burst: dict[str, Any] = {"n": 100, "burst_seconds": 10.0, "calls_by_provider": {}}
    derive_call_figures(burst, steady, refresh_interval=30)
    assert steady["refreshes"] == {"aws": 2, "gcp": 2}
    assert steady["list_calls_per_interconnect_per_refresh"] == {"aws": 2.0, "gcp": 2.0}
    assert steady["refreshes_from"].startswith("window / refreshInterval")


def test_refreshes_the_operator_counted_come_first() -> None:
    # A 330 s window at a 30 s interval may hold 12 refreshes, not 11.
    steady: dict[str, Any] = {
        "n": 100,
        "window_seconds": 330.0,
        "pool_refreshes": 12,
        "calls_by_provider": {"aws": {"ListConnections": 240, "ListInterconnects": 3}},
    }
    burst: dict[str, Any] = {"n": 100, "burst_seconds": 10.0, "calls_by_provider": {}}
    derive_call_figures(burst, steady, refresh_interval=30)
    assert steady["refreshes"] == {"aws": 12}
    assert steady["list_calls_per_interconnect_per_refresh"] == {"aws": 2.0}
    assert steady["refreshes_from"] == "pool refreshes counted by the operator"


def test_without_an_interval_refreshes_are_the_interconnect_lists() -> None:
    steady: dict[str, Any] = {
        "n": 100,
        "window_seconds": 60.0,
        "calls_by_provider": {"gcp": {"ListConnections": 20, "ListInterconnects": 4}},
    }
    burst: dict[str, Any] = {"n": 100, "burst_seconds": 10.0, "calls_by_provider": {}}
    derive_call_figures(burst, steady, refresh_interval=0)
    assert steady["refreshes"] == {"gcp": 4}
    assert steady["list_calls_per_interconnect_per_refresh"] == {"gcp": 0.5}
    assert steady["refreshes_from"] == "ListInterconnects calls"


def _soak(growth: float, leftovers: int) -> dict[str, Any]:
    return {
        "name": "soak",
        "n": 1000,
        "soak_seconds": 900.0,
        "rss_mib_warmup_end": 100.0,
        "rss_mib_end": 100.0 + growth,
        "rss_growth_percent": growth,
        "drained": True,
        "provider_leftovers_total": leftovers,
        "provider_leftovers": {"aws": {"connections": leftovers}},
        "rss_series": [[0.0, 100.0], [450.0, 101.0], [900.0, 100.0 + growth]],
    }


def test_report_judges_the_soak_and_the_shards() -> None:
    shards = {
        "name": "shards",
        "n": 10000,
        "shards": 2,
        "links_per_second": 60.0,
        "operator_cpu_ms_per_link": 12.0,
        "isolated": False,
        "cross_shard": ["shard 0 wrote 1 objects of shard 1 (e.g. x)"],
        "per_shard": [{"shard": 0, "pool": "p0", "links": 5000, "ready": 5000}],
    }
    text = report.render({"scenarios": [_soak(7.0, 1), shards]}, findings=False)
    assert "| RSS growth after warm-up | <= 5 % | 7 % **missed** |" in text
    assert "| 0 | 1 **missed** |" in text  # leftovers
    assert "| links/s (all shards) | >= 50 at N=1000 | 60 met |" in text
    assert "| operator CPU per link (all shards) | <= 10 ms at N=1000 | 12 ms **missed** |" in text
    assert "- shard 0 wrote 1 objects of shard 1 (e.g. x)" in text
    missed = report.missed({"scenarios": [_soak(7.0, 1), shards]})
    assert any("RSS growth" in m for m in missed)
    assert any("cross-shard" in m for m in missed)
    good = report.render({"scenarios": [_soak(3.0, 0)]}, findings=False)
    assert "| RSS growth after warm-up | <= 5 % | 3 % met |" in good


def test_report_shows_the_steady_windows_profile() -> None:
    profile = {
        "samples": 120,
        "self_percent": {"ours": 40.0},
        "owner_percent": {"ours": 55.0},
        "inclusive_percent": {"ours": 70.0},
        "top_leaf_functions": {"ChannelSpace.of": 9.5},
        "top_our_functions_inclusive": {"PoolRuntime.refresh": 61.0},
    }
    steady = {"name": "steady", "n": 1000, "window_seconds": 330.0, "profile": profile}
    text = report.render({"scenarios": [steady]}, findings=False)
    assert "Profile of the operator during the steady window" in text
    assert "120 samples" in text
    assert "PoolRuntime.refresh" in text
    missing = {"name": "steady", "n": 1000, "window_seconds": 330.0, "profile_error": "no py-spy"}
    text = report.render({"scenarios": [missing]}, findings=False)
    assert "steady window (refreshes, rechecks, MACsec and maintenance rounds): not taken" in text


def test_report_judges_n10000_against_the_issues_own_targets() -> None:
    single = {"name": "single", "n": 10000, "p99_ms": 212.0}
    steady = {"name": "steady", "n": 10000, "idle_cpu_percent": 2.5, "rss_mib_settled": 300.0}
    text = report.render({"scenarios": [single, steady]}, findings=False)
    assert "212 ms met" in text  # 250 ms at N=10,000, not N=1000's 150
    assert "2.5 % met" in text  # 3 % at N=10,000
    assert "300 MiB **missed**" in text  # 256 MiB at N=10,000
    text = report.render({"scenarios": [{**single, "n": 1000}]}, findings=False)
    assert "212 ms **missed**" in text


def _audit(verb: str, name: str, user: str, received: str, done: str, **ref: str) -> str:
    return json.dumps(
        {
            "stage": "ResponseComplete",
            "verb": verb,
            "user": {"username": user},
            "objectRef": {"resource": "multicloudlinks", "name": name, **ref},
            "responseStatus": {"code": 201 if verb == "create" else 200},
            "requestReceivedTimestamp": received,
            "stageTimestamp": done,
        },
        separators=(",", ":"),
    )


def test_server_side_latency_is_create_to_the_operators_last_status_patch(tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    op = "system:serviceaccount:x:op"
    log.write_text(
        _audit("create", "old", "admin", "2026-12-02T06:00:00.000000Z", "2026-12-02T06:00:00.1Z")
        + "\n"
    )
    reader = AuditReader(log, op)
    reader.mark()
    lines = [
        _audit("create", "l-1", "admin", "2026-12-02T06:35:04.747748Z", "2026-12-02T06:35:04.75Z"),
        _audit("patch", "l-1", op, "2026-12-02T06:35:04.755Z", "2026-12-02T06:35:04.759131Z"),
        _audit(
            "patch",
            "l-1",
            op,
            "2026-12-02T06:35:04.770Z",
            "2026-12-02T06:35:04.787610Z",
            subresource="status",
        ),
        # Another user's status write and another link's are not this link's Ready.
        _audit(
            "patch",
            "l-1",
            "admin",
            "2026-12-02T06:35:05.0Z",
            "2026-12-02T06:35:05.1Z",
            subresource="status",
        ),
        _audit(
            "patch",
            "l-2",
            op,
            "2026-12-02T06:35:06.0Z",
            "2026-12-02T06:35:06.1Z",
            subresource="status",
        ),
    ]
    with log.open("a") as fh:
        fh.write("\n".join(lines) + "\n")
    seconds = create_to_status_seconds(reader, "l-1")
    assert seconds is not None
    assert abs(seconds - (0.787610 - 0.747748)) < 1e-6
    # Created before the mark: not in the slice, so no figure.
    assert create_to_status_seconds(reader, "old") is None
    # No status patch yet: no figure.
    assert create_to_status_seconds(reader, "l-3") is None


def _scenario(name: str, n: int, run: str) -> dict[str, Any]:
    return {"name": name, "n": n, "run": run}


def test_a_main_run_replaces_its_sizes_main_figures_and_keeps_the_opt_in_ones() -> None:
    stored = [
        _scenario(name, n, "old")
        for n in (1000, 10000)
        for name in ("floor", "burst", "single", "steady", "restart")
    ]
    stored += [_scenario("memory", 1000, "old"), _scenario("soak", 1000, "old")]
    stored += [_scenario("shards", 10000, "old")]
    # The new main run at N=1000 produced no floor (it failed): no old floor stays.
    produced = [_scenario(name, 1000, "new") for name in ("burst", "single", "steady")]
    merged = merged_scenarios(stored, produced, 1000, main_ran=True)
    at_1000 = {(s["name"], s["run"]) for s in merged if s["n"] == 1000}
    assert at_1000 == {
        ("burst", "new"),
        ("single", "new"),
        ("steady", "new"),
        ("memory", "old"),
        ("soak", "old"),
    }
    assert sum(1 for s in merged if s["n"] == 10000) == 6  # other sizes untouched
    assert [s["name"] for s in merged if s["n"] == 10000][-1] == "shards"


def test_an_opt_in_run_replaces_only_what_it_produced() -> None:
    stored = [_scenario("burst", 1000, "old"), _scenario("soak", 1000, "old")]
    stored += [_scenario("memory", 1000, "old")]
    merged = merged_scenarios(stored, [_scenario("soak", 1000, "new")], 1000, main_ran=False)
    assert {(s["name"], s["run"]) for s in merged} == {
        ("burst", "old"),
        ("soak", "new"),
        ("memory", "old"),
    }
