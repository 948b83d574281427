"""promtool checks: the scrape, the alert rules and their unit tests, the dashboard's queries."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import yaml

from interconnect_operator.metrics import OperatorMetrics, render

from .conftest import DASHBOARD, PROMETHEUS_DIR, link, populated


def run(args: list[str], stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(args, input=stdin, capture_output=True, timeout=120, check=False)


def test_promtool_check_metrics_finds_nothing_on_a_scrape(promtool: str) -> None:
    metrics = populated(OperatorMetrics())
    # Links in several states, including an unknown phase, after removals.
    metrics.set_link(link("gone", phase="Deleting", ready=False))
    metrics.remove_link("team-a", "gone")
    scrape = render(metrics)
    assert b'phase="Negotiating"' in scrape
    assert b'phase="Degraded"' in scrape
    result = run([promtool, "check", "metrics"], stdin=scrape)
    findings = (result.stdout + result.stderr).decode()
    assert result.returncode == 0, findings
    assert findings.strip() == "", findings


def test_promtool_check_metrics_is_not_vacuous(promtool: str) -> None:
    # The lint above would flag the names we chose not to use.
    bad = b"# HELP x_bandwidth_bits Bits.\n# TYPE x_bandwidth_bits gauge\nx_bandwidth_bits 1\n"
    bad += b"# HELP x_requests Requests.\n# TYPE x_requests counter\nx_requests 1\n"
    result = run([promtool, "check", "metrics"], stdin=bad)
    assert result.returncode != 0
    assert b"bits" in result.stdout + result.stderr


def test_promtool_check_rules(promtool: str) -> None:
    result = run([promtool, "check", "rules", str(PROMETHEUS_DIR / "alerts.yaml")])
    assert result.returncode == 0, (result.stdout + result.stderr).decode()
    assert b"SUCCESS" in result.stdout


def test_promtool_test_rules(promtool: str) -> None:
    result = run([promtool, "test", "rules", str(PROMETHEUS_DIR / "alerts_test.yaml")])
    assert result.returncode == 0, (result.stdout + result.stderr).decode()
    assert b"SUCCESS" in result.stdout


def test_every_alert_has_a_firing_and_a_quiet_case() -> None:
    rules = yaml.safe_load((PROMETHEUS_DIR / "alerts.yaml").read_text())
    alerts = {r["alert"] for g in rules["groups"] for r in g["rules"] if "alert" in r}
    tests = yaml.safe_load((PROMETHEUS_DIR / "alerts_test.yaml").read_text())["tests"]
    firing: set[str] = set()
    quiet: set[str] = set()
    for case in tests:
        for check in case.get("alert_rule_test", []):
            (firing if check.get("exp_alerts") else quiet).add(check["alertname"])
    assert alerts == firing, alerts ^ firing
    assert alerts == quiet, alerts ^ quiet


def test_alerts_carry_severity_and_annotations() -> None:
    rules = yaml.safe_load((PROMETHEUS_DIR / "alerts.yaml").read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            assert rule["labels"]["severity"] in {"warning", "critical"}, rule["alert"]
            annotations = rule["annotations"]
            assert {"summary", "description", "runbook_url"} <= set(annotations), rule["alert"]
            assert annotations["runbook_url"].endswith("#" + rule["alert"].lower())


def _dashboard_exprs() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [t["expr"] for p in dashboard["panels"] for t in p.get("targets", []) if t.get("expr")]


def test_dashboard_queries_are_valid_promql(promtool: str, tmp_path: Path) -> None:
    # promtool has no offline query parser, but it parses recording rules:
    # wrap each query (Grafana variables substituted) in one.
    rules = []
    for i, expr in enumerate(_dashboard_exprs()):
        concrete = expr.replace("$__rate_interval", "5m").replace("$pool", ".*")
        assert "$" not in concrete, f"unhandled Grafana variable in {expr}"
        rules.append({"record": f"dashboard:query_{i}:check", "expr": concrete})
    assert len(rules) >= 20
    path = tmp_path / "dashboard_rules.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = run([promtool, "check", "rules", str(path)])
    assert result.returncode == 0, (result.stdout + result.stderr).decode()
    assert re.search(rf"SUCCESS: {len(rules)} rules found", result.stdout.decode())
