"""A real Prometheus server scrapes the running operator (observability issue).

PromQL sees ``interconnect_link_ready == 1`` for a Ready link, then
``interconnect_link_degraded == 1`` after one simulator loses a feature of the
link and cannot recreate it (P12: 3 of 4), and ready again once the provider
recovers and the operator recreates the feature (P20).

Besides a plain static job, Prometheus scrapes the operator through the jobs
prometheus-operator would generate from the chart's own ServiceMonitor and
metrics Service (rendered by helm): the same relabelling, which adds the
target's ``namespace``, ``service``, ``pod`` and ``job`` labels. With the
chart's default ``honorLabels: true`` the link's own ``namespace`` survives;
with ``false`` Prometheus renames it ``exported_namespace``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.conftest import Stack
from tests.support.cluster import REPO_ROOT, ensure_binaries, free_port
from tests.support.stack import condition, is_ready, link_manifest, wait_for

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


CHART = REPO_ROOT / "charts" / "interconnect-operator"
#: Release names of the two chart renders: default values, and honorLabels off.
HONORING, NOT_HONORING = "ico", "ico-plain"


def _render_chart(release: str, namespace: str, *sets: str) -> list[dict]:
    helm = ensure_binaries(quiet=True).helm
    result = subprocess.run(
        [
            str(helm),
            "template",
            release,
            str(CHART),
            "--namespace",
            namespace,
            "--kube-version",
            "1.35.0",
            "--set",
            "metrics.serviceMonitor.enabled=true",
            *(arg for item in sets for arg in ("--set", item)),
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def _sanitize(label: str) -> str:
    return "".join(c if c.isalnum() or c == "_" else "_" for c in label)


def prometheus_operator_job(manifests: list[dict], address: str) -> dict:
    """The scrape job prometheus-operator generates for the chart's ServiceMonitor.

    Kubernetes service discovery is stood in for by one static target that
    carries the ``__meta_kubernetes_*`` labels the endpoints role would give
    the chart's metrics Service (no kubelet or endpoints controller runs
    here); the relabelling is prometheus-operator's own for an endpoint.
    """
    (monitor,) = (m for m in manifests if m["kind"] == "ServiceMonitor")
    (service,) = (m for m in manifests if m["kind"] == "Service")
    (endpoint,) = monitor["spec"]["endpoints"]
    namespace = service["metadata"]["namespace"]
    meta = {
        "__meta_kubernetes_namespace": namespace,
        "__meta_kubernetes_service_name": service["metadata"]["name"],
        "__meta_kubernetes_pod_name": "interconnect-operator-0",
        "__meta_kubernetes_pod_container_name": "operator",
        "__meta_kubernetes_endpoint_port_name": service["spec"]["ports"][0]["name"],
    }
    for key, value in service["metadata"]["labels"].items():
        meta[f"__meta_kubernetes_service_label_{_sanitize(key)}"] = value
        meta[f"__meta_kubernetes_service_labelpresent_{_sanitize(key)}"] = "true"
    relabel: list[dict] = [
        {
            "source_labels": [
                f"__meta_kubernetes_service_label_{_sanitize(key)}",
                f"__meta_kubernetes_service_labelpresent_{_sanitize(key)}",
            ],
            "regex": f"({value});true",
            "action": "keep",
        }
        for key, value in monitor["spec"]["selector"]["matchLabels"].items()
    ]
    relabel += [
        {
            "source_labels": ["__meta_kubernetes_endpoint_port_name"],
            "regex": endpoint["port"],
            "action": "keep",
        },
        {"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace"},
        {"source_labels": ["__meta_kubernetes_service_name"], "target_label": "service"},
        {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"},
        {
            "source_labels": ["__meta_kubernetes_pod_container_name"],
            "target_label": "container",
        },
        {
            "source_labels": ["__meta_kubernetes_service_name"],
            "target_label": "job",
            "replacement": "${1}",
        },
        {"target_label": "endpoint", "replacement": endpoint["port"]},
    ]
    assert monitor["spec"]["namespaceSelector"]["matchNames"] == [namespace]
    return {
        "job_name": f"serviceMonitor/{namespace}/{monitor['metadata']['name']}/0",
        "honor_labels": bool(endpoint.get("honorLabels", False)),
        "metrics_path": endpoint["path"],
        "scrape_interval": "1s",
        "static_configs": [{"targets": [address], "labels": meta}],
        "relabel_configs": relabel,
    }


@pytest.fixture(scope="module")
def prometheus(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prometheus]:
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("prometheus is not installed: run hack/install-prometheus.sh (make tools)")
    work = tmp_path_factory.mktemp("prometheus")
    address = f"127.0.0.1:{stack.operator.metrics_port}"
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "scrape_configs": [
            {
                "job_name": "interconnect-operator",
                "static_configs": [{"targets": [address]}],
            },
            prometheus_operator_job(_render_chart(HONORING, stack.operator_namespace), address),
            prometheus_operator_job(
                _render_chart(
                    NOT_HONORING,
                    stack.operator_namespace,
                    "metrics.serviceMonitor.honorLabels=false",
                ),
                address,
            ),
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


def test_prometheus_operator_relabelling_keeps_the_links_namespace_with_honor_labels(
    stack: Stack, prometheus: Prometheus, namespace: str
) -> None:
    stack.kube.apply([link_manifest("relabelled", namespace, stack.pool, 1000)])
    wait_for(
        lambda: (o := stack.kube.try_get("mcl", "relabelled", namespace)) and is_ready(o),
        60,
        "link Ready",
    )
    honoring = f"{HONORING}-interconnect-operator-metrics"
    plain = f"{NOT_HONORING}-interconnect-operator-metrics"
    # The chart's default (honorLabels: true): the series names the link's
    # namespace, as alerts and the dashboard expect.
    wait_for(
        lambda: (
            prometheus.value(
                f'interconnect_link_ready{{job="{honoring}",namespace="{namespace}",'
                'name="relabelled"}'
            )
            == 1.0
        ),
        30,
        "the link's namespace on the series scraped through the ServiceMonitor",
    )
    (series,) = prometheus.query(f'interconnect_link_ready{{job="{honoring}",name="relabelled"}}')
    assert series["metric"]["namespace"] == namespace
    assert series["metric"]["service"] == honoring
    assert "exported_namespace" not in series["metric"]
    # Target-only families get the operator's namespace from the relabelling.
    (info,) = prometheus.query(f'interconnect_build_info{{job="{honoring}"}}')
    assert info["metric"]["namespace"] == stack.operator_namespace

    # Without honorLabels the link's namespace is pushed aside: this is what
    # the chart's default prevents.
    wait_for(
        lambda: bool(
            prometheus.query(f'interconnect_link_ready{{job="{plain}",name="relabelled"}}')
        ),
        30,
        "the series scraped without honorLabels",
    )
    (pushed,) = prometheus.query(f'interconnect_link_ready{{job="{plain}",name="relabelled"}}')
    assert pushed["metric"]["namespace"] == stack.operator_namespace
    assert pushed["metric"]["exported_namespace"] == namespace
    stack.kube.delete("mcl", "relabelled", namespace)


SHARED_DEVICE_INVENTORY = {
    "environments": [
        {
            "id": "aws-gcp-us-east",
            "interconnects": [
                {
                    "id": "ix1",
                    "state": "ACTIVE",
                    "channels": [
                        {"id": "ch1", "device": "r1"},
                        {"id": "ch2", "device": "r1"},
                        {"id": "ch3", "device": "r2"},
                        {"id": "ch4", "device": "r3"},
                    ],
                }
            ],
        }
    ]
}


def test_shared_device_and_prefix_limit_in_status_and_promql(
    stack: Stack, prometheus: Prometheus, namespace: str, make_pool: Any
) -> None:
    """Resiliency audit and routing guardrails end to end: both simulators host ch1
    and ch2 on one device; the link asks for more prefixes than they accept (100)."""
    pool = make_pool(inventory=SHARED_DEVICE_INVENTORY)
    stack.kube.apply(
        [link_manifest("audited", namespace, pool.name, 1000, bgp={"maxPrefixes": 500})]
    )
    link = wait_for(
        lambda: (o := stack.kube.try_get("mcl", "audited", namespace)) and is_ready(o) and o,
        90,
        "link Ready",
    )
    resilient = condition(link, "Resilient")
    assert resilient is not None
    assert (resilient["status"], resilient["reason"]) == ("False", "SharedDevice")
    assert "ch1+ch2 on one device (3 devices for 4 channels)" in resilient["message"]
    limits = condition(link, "WithinPrefixLimits")
    assert limits is not None
    assert (limits["status"], limits["reason"]) == ("False", "ProviderLimitBelowRequest")
    assert link["status"]["routing"]["maxPrefixes"] == 500
    assert {p["maxReceivedPrefixes"] for p in link["status"]["routing"]["providerLimits"]} == {100}
    pool_resilient = wait_for(
        lambda: condition(stack.kube.get("cpool", pool.name), "Resilient"), 30, "pool Resilient"
    )
    assert (pool_resilient["status"], pool_resilient["reason"]) == ("False", "SharedDevice")
    selector = f'pool="{pool.name}",interconnect="ix1",provider="aws"'
    wait_for(
        lambda: prometheus.value(f"interconnect_pool_channels_sharing_device{{{selector}}}") == 2.0,
        30,
        "channels sharing a device in Prometheus",
    )
