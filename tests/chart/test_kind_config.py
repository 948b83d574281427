"""kind-config.yaml maps the node port the chart's metrics Service really uses.

The chart rendered with ci/kind-values.yaml (the values the kind-config's
comment tells users to install with) must give the metrics Service the node
port kind forwards to the host, on the operator's metrics port.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.chart.conftest import CHART, KUBE_VERSION, REPO, load_manifests, run_helm

pytestmark = pytest.mark.chart

KIND_VALUES = CHART / "ci" / "kind-values.yaml"


def test_kind_maps_the_node_port_of_the_charts_metrics_service(helm: Path) -> None:
    kind = yaml.safe_load((REPO / "kind-config.yaml").read_text())
    (node,) = kind["nodes"]
    (mapping,) = node["extraPortMappings"]
    proc = run_helm(
        helm,
        "template",
        "interconnect-operator",
        str(CHART),
        "--kube-version",
        KUBE_VERSION,
        "-f",
        str(KIND_VALUES),
    )
    assert proc.returncode == 0, proc.stderr
    manifests = load_manifests(proc.stdout)
    (service,) = [m for m in manifests if m["kind"] == "Service"]
    (port,) = service["spec"]["ports"]
    assert service["spec"]["type"] == "NodePort"
    assert port["nodePort"] == mapping["containerPort"]
    (deployment,) = [m for m in manifests if m["kind"] == "Deployment"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    metrics = next(p for p in container["ports"] if p["name"] == port["targetPort"])
    assert port["port"] == metrics["containerPort"] == mapping["hostPort"]
    assert mapping["listenAddress"] == "127.0.0.1"


def test_without_a_node_port_the_service_leaves_it_to_the_api_server(helm: Path) -> None:
    proc = run_helm(
        helm,
        "template",
        "x",
        str(CHART),
        "--kube-version",
        KUBE_VERSION,
        "--set",
        "metrics.service.type=NodePort",
    )
    assert proc.returncode == 0, proc.stderr
    (service,) = [m for m in load_manifests(proc.stdout) if m["kind"] == "Service"]
    assert "nodePort" not in service["spec"]["ports"][0]
