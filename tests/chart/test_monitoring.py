"""The chart's monitoring objects as prometheus-operator will read them.

ServiceMonitor: `honorLabels` on by default, so the per-link series keep the
link's `namespace` (tests/e2e/test_prometheus.py scrapes through the same
relabelling). PrometheusRule: every `runbook_url` is absolute, built from
`prometheusRule.runbookBaseUrl` and the alert's own anchor.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.chart.conftest import CHART, KUBE_VERSION, REPO, load_manifests, run_helm

pytestmark = pytest.mark.chart


def _render(helm: Path, *sets: str) -> list[dict]:
    args = [arg for item in sets for arg in ("--set", item)]
    proc = run_helm(helm, "template", "x", str(CHART), "--kube-version", KUBE_VERSION, *args)
    assert proc.returncode == 0, proc.stderr
    return load_manifests(proc.stdout)


def _one(manifests: list[dict], kind: str) -> dict:
    (found,) = [m for m in manifests if m["kind"] == kind]
    return found


def test_service_monitor_honors_the_operators_labels_by_default(helm: Path) -> None:
    default = _one(_render(helm, "metrics.serviceMonitor.enabled=true"), "ServiceMonitor")
    assert [e["honorLabels"] for e in default["spec"]["endpoints"]] == [True]
    off = _one(
        _render(
            helm,
            "metrics.serviceMonitor.enabled=true",
            "metrics.serviceMonitor.honorLabels=false",
        ),
        "ServiceMonitor",
    )
    assert [e["honorLabels"] for e in off["spec"]["endpoints"]] == [False]


def _runbook_urls(rule: dict) -> dict[str, str]:
    return {
        r["alert"]: r["annotations"]["runbook_url"]
        for group in rule["spec"]["groups"]
        for r in group["rules"]
        if "alert" in r
    }


def test_runbook_urls_are_absolute_and_follow_the_chart_value(helm: Path) -> None:
    alerts = yaml.safe_load((REPO / "deploy" / "prometheus" / "alerts.yaml").read_text())
    names = {r["alert"] for g in alerts["groups"] for r in g["rules"] if "alert" in r}
    default = _runbook_urls(_one(_render(helm, "prometheusRule.enabled=true"), "PrometheusRule"))
    assert set(default) == names
    for alert, url in default.items():
        assert url == (
            "https://github.com/interconnect-operator/interconnect-operator/blob/main/"
            f"docs/runbooks.md#{alert.lower()}"
        )
    base = "https://runbooks.example.com/interconnect"
    mirrored = _runbook_urls(
        _one(
            _render(helm, "prometheusRule.enabled=true", f"prometheusRule.runbookBaseUrl={base}"),
            "PrometheusRule",
        )
    )
    assert mirrored == {alert: f"{base}#{alert.lower()}" for alert in names}


def test_a_runbook_base_url_with_an_anchor_is_refused(helm: Path) -> None:
    proc = run_helm(
        helm,
        "template",
        "x",
        str(CHART),
        "--kube-version",
        KUBE_VERSION,
        "--set",
        "prometheusRule.runbookBaseUrl=https://example.com/runbooks#top",
    )
    assert proc.returncode != 0
    assert "runbookBaseUrl" in proc.stderr
