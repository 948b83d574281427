"""helm lint --strict and values.schema.json: good values pass, bad ones are refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.chart.conftest import ALL_ON, CHART, KUBE_VERSION, helm_args, run_helm


@pytest.mark.parametrize("values", [(), (ALL_ON,)], ids=["defaults", "all-on"])
def test_helm_lint_strict_passes(helm: Path, values: tuple[Path, ...]) -> None:
    proc = run_helm(helm, "lint", "--strict", str(CHART), *helm_args(values))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 chart(s) failed" in proc.stdout


# Each case breaks one rule of values.schema.json.
SCHEMA_VIOLATIONS = {
    "unknown-top-level-key": ["--set", "replicas=2"],
    "unknown-image-key": ["--set", "image.name=x"],
    "unknown-operator-key": ["--set", "operator.namespace=x"],
    "replicas-not-integer": ["--set", "replicaCount=two"],
    "replicas-negative": ["--set", "replicaCount=-1"],
    "bad-pull-policy": ["--set", "image.pullPolicy=Sometimes"],
    "bad-digest": ["--set", "image.digest=latest"],
    "bad-log-format": ["--set", "operator.logFormat=xml"],
    "bad-watch-namespace": ["--set-json", 'operator.watchNamespaces=["Not_A_Namespace"]'],
    "port-out-of-range": ["--set", "metrics.port=70000"],
    "bad-scrape-interval": ["--set", "metrics.serviceMonitor.interval=often"],
    "root-allowed": ["--set", "securityContext.runAsNonRoot=false"],
    "privilege-escalation": ["--set", "securityContext.allowPrivilegeEscalation=true"],
    "crds-enabled-not-bool": ["--set-string", "crds.enabled=yes"],
}


@pytest.mark.parametrize("args", SCHEMA_VIOLATIONS.values(), ids=SCHEMA_VIOLATIONS.keys())
def test_schema_rejects_bad_values_in_lint_and_template(helm: Path, args: list[str]) -> None:
    lint = run_helm(helm, "lint", "--strict", str(CHART), *args)
    assert lint.returncode != 0, lint.stdout
    assert "schema" in (lint.stdout + lint.stderr)
    template = run_helm(helm, "template", "x", str(CHART), "--kube-version", KUBE_VERSION, *args)
    assert template.returncode != 0, template.stdout[:500]
    assert "schema" in template.stderr


def test_kube_version_floor_is_enforced(helm: Path) -> None:
    # Chart.yaml kubeVersion >=1.30: older clusters are refused before anything is applied.
    proc = run_helm(helm, "template", "x", str(CHART), "--kube-version", "1.29.0")
    assert proc.returncode != 0
    assert "kubeVersion" in proc.stderr
