"""Alerts and the dashboard only use metric families the exporter has."""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

from interconnect_operator.metrics import HISTOGRAM_NAMES, METRIC_NAMES

from .conftest import DASHBOARD, PROMETHEUS_DIR

NAME = re.compile(r"\binterconnect_[a-z_]+")
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")


def family(name: str) -> str:
    """Map a sample name to its family (histogram series carry suffixes)."""
    for suffix in HISTOGRAM_SUFFIXES:
        base = name.removesuffix(suffix)
        if base != name and base in HISTOGRAM_NAMES:
            return base
    return name


def names_in(text: str) -> set[str]:
    return {family(n) for n in NAME.findall(text)}


def alert_exprs() -> list[str]:
    rules = yaml.safe_load((PROMETHEUS_DIR / "alerts.yaml").read_text())
    return [r["expr"] for g in rules["groups"] for r in g["rules"]]


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def dashboard_exprs() -> list[str]:
    d = dashboard()
    exprs = [t["expr"] for p in d["panels"] for t in p.get("targets", []) if t.get("expr")]
    exprs += [v["definition"] for v in d["templating"]["list"] if v.get("definition")]
    return exprs


def test_family_strips_histogram_suffixes_only_for_histograms() -> None:
    assert family("interconnect_provider_request_duration_seconds_bucket") == (
        "interconnect_provider_request_duration_seconds"
    )
    # A gauge whose name happens to end in _count stays as it is.
    assert family("interconnect_link_count") == "interconnect_link_count"


def test_alerts_use_only_exported_metrics() -> None:
    used = set().union(*(names_in(e) for e in alert_exprs()))
    assert used, "no metric found in alerts.yaml"
    assert used <= METRIC_NAMES, used - METRIC_NAMES


def test_alert_annotations_use_only_exported_metrics() -> None:
    rules = yaml.safe_load((PROMETHEUS_DIR / "alerts.yaml").read_text())
    text = " ".join(
        str(v) for g in rules["groups"] for r in g["rules"] for v in r["annotations"].values()
    )
    assert names_in(text), "annotations name the metric to look at"
    assert names_in(text) <= METRIC_NAMES, names_in(text) - METRIC_NAMES


def test_dashboard_uses_only_exported_metrics() -> None:
    used = set().union(*(names_in(e) for e in dashboard_exprs()))
    assert used <= METRIC_NAMES, used - METRIC_NAMES
    # The dashboard shows every family but the operator's internals it does
    # not need; a family nobody looks at is a sign of a renamed metric.
    assert METRIC_NAMES - used == set(), METRIC_NAMES - used


def test_dashboard_shape() -> None:
    d = dashboard()
    assert 36 <= d["schemaVersion"] <= 41
    variables = {v["name"]: v for v in d["templating"]["list"]}
    assert variables["DS_PROMETHEUS"]["type"] == "datasource"
    assert variables["DS_PROMETHEUS"]["query"] == "prometheus"
    assert variables["pool"]["includeAll"] is True
    ids = [p["id"] for p in d["panels"]]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    titles = {p["title"] for p in d["panels"]}
    for wanted in (
        "Links Ready",
        "Degraded links",
        "Links by phase",
        "Channels per link",
        "Features by provider and state",
        "Capacity per interconnect",
        "Provider API latency (p50 / p99)",
        "Provider API error ratio",
        "MACsec key age",
        "Maintenance",
    ):
        assert wanted in titles, wanted
    for panel in d["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        for target in panel.get("targets", []):
            assert target["datasource"]["uid"] == "${DS_PROMETHEUS}", panel["title"]


def test_pool_scoped_dashboard_queries_filter_by_pool() -> None:
    # Provider and reconcile families have no pool label; all others do.
    unscoped = {
        "interconnect_provider_requests_total",
        "interconnect_provider_request_duration_seconds",
        "interconnect_reconcile_duration_seconds",
        "interconnect_reconcile_errors_total",
        "interconnect_build_info",
        "interconnect_workqueue_depth",
        "interconnect_workqueue_adds_total",
        "interconnect_workqueue_queue_duration_seconds",
        "interconnect_workqueue_work_duration_seconds",
        "interconnect_workqueue_retries_total",
        "interconnect_workqueue_unfinished_work_seconds",
        "interconnect_workqueue_longest_running_processor_seconds",
    }
    for expr in dashboard_exprs():
        if "label_values" in expr:
            continue
        for match in re.finditer(r"\b(interconnect_[a-z_]+)(\{[^}]*\})?", expr):
            if family(match.group(1)) in unscoped:
                continue
            selector = match.group(2) or ""
            assert 'pool=~"$pool"' in selector, expr
