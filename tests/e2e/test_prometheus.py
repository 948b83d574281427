"""A real Prometheus server scrapes the running operator (observability issue).

PromQL sees ``interconnect_link_ready == 1`` for a Ready link, then
``interconnect_link_degraded == 1`` after one simulator loses a feature of the
link and cannot recreate it (P12: 3 of 4), and ready again once the provider
recovers and the operator recreates the feature (P20).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.e2e.conftest import Stack
from tests.support.cluster import free_port
from tests.support.stack import is_ready, link_manifest, wait_for

pytestmark = pytest.mark.e2e


class Prometheus:
    def __init__(self, port: int, process: subprocess.Popen[bytes], log: Path) -> None:
        self.port = port
        self.process = process
        self.log = log

    def query(self, promql: str) -> list[dict]:
        url = f"http://127.0.0.1:{self.port}/api/v1/query?" + urllib.parse.urlencode(
            {"query": promql}
        )
        with urllib.request.urlopen(url, timeout=10) as response:
            document = json.load(response)
        assert document["status"] == "success", document
        result: list[dict] = document["data"]["result"]
        return result

    def value(self, promql: str) -> float | None:
        """The first sample's value; None while there is none (or the server is starting)."""
        try:
            result = self.query(promql)
        except OSError:
            return None
        return float(result[0]["value"][1]) if result else None


@pytest.fixture(scope="module")
def prometheus(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prometheus]:
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("prometheus is not installed: run hack/install-prometheus.sh (make tools)")
    work = tmp_path_factory.mktemp("prometheus")
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "scrape_configs": [
            {
                "job_name": "interconnect-operator",
                "static_configs": [{"targets": [f"127.0.0.1:{stack.operator.metrics_port}"]}],
            }
        ],
    }
    (work / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    log = work / "prometheus.log"
    with log.open("wb") as handle:
        process = subprocess.Popen(
            [
                binary,
                f"--config.file={work / 'prometheus.yml'}",
                f"--storage.tsdb.path={work / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
    prom = Prometheus(port, process, log)
    try:
        wait_for(
            lambda: prom.value('up{job="interconnect-operator"}') == 1.0,
            60,
            "Prometheus to scrape the operator",
            interval=0.5,
        )
        yield prom
    finally:
        process.terminate()
        process.wait(timeout=30)


def _feature_names(state: dict, uuid: str) -> list[str]:
    """Resource names of the link's features a simulator holds."""
    return sorted(
        f"providers/{state['provider']}/environments/{f['environment']}/interconnects/"
        f"{f['interconnect']}/connections/{f['connection']}/features/{f['feature']}"
        for f in state.get("features", [])
        if f["connection"] == uuid
    )


def test_prometheus_sees_ready_then_degraded_then_ready(
    stack: Stack, prometheus: Prometheus, namespace: str
) -> None:
    stack.kube.apply([link_manifest("observed", namespace, stack.pool, 2000)])
    link = wait_for(
        lambda: (o := stack.kube.try_get("mcl", "observed", namespace)) and is_ready(o) and o,
        60,
        "link Ready",
    )
    uuid = link["status"]["sharedConnectionUuid"]
    selector = f'namespace="{namespace}",name="observed"'
    wait_for(
        lambda: prometheus.value(f"interconnect_link_ready{{{selector}}}") == 1.0,
        30,
        "ready=1 in Prometheus",
    )
    assert prometheus.value(f"interconnect_link_degraded{{{selector}}}") == 0.0

    # The responder loses one feature and refuses to take it back for now.
    lost = next(n for n in _feature_names(stack.aws.state(), uuid) if n.endswith("l3-ch2"))
    stack.aws.admin("/admin/faults", {"operations": {"CreateFeature": {"error_rate": 1.0}}})
    try:
        stack.aws.admin("/admin/lose-feature", {"name": lost, "mode": "delete"})
        wait_for(
            lambda: prometheus.value(f"interconnect_link_degraded{{{selector}}}") == 1.0,
            60,
            "degraded=1 in Prometheus",
        )
        degraded = stack.kube.get("mcl", "observed", namespace)
        cond = {c["type"]: c for c in degraded["status"]["conditions"]}
        assert cond["Degraded"]["status"] == "True"
        assert cond["Degraded"]["reason"] == "ReducedRedundancy"
    finally:
        stack.aws.admin("/admin/faults", {})

    # P20: the provider accepts again; the operator recreates the feature.
    wait_for(
        lambda: (
            prometheus.value(f"interconnect_link_degraded{{{selector}}}") == 0.0
            and prometheus.value(f"interconnect_link_ready{{{selector}}}") == 1.0
        ),
        60,
        "back to ready=1, degraded=0",
    )
    assert len(_feature_names(stack.aws.state(), uuid)) == 4
    stack.kube.delete("mcl", "observed", namespace)
