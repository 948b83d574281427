"""OperatorMetrics: series appear, change and disappear with the snapshots."""

from __future__ import annotations

import platform
import re
from dataclasses import replace

import httpx
import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from interconnect_operator import __version__
from interconnect_operator.metrics import (
    CODE_TIMEOUT,
    HISTOGRAM_NAMES,
    LINK_PHASES,
    METRIC_NAMES,
    RUNTIME_METRIC_NAMES,
    OperatorMetrics,
    render,
    serve_metrics,
)

from .conftest import link, pool, populated


def samples(metrics: OperatorMetrics) -> list[Sample]:
    text = render(metrics).decode()
    return [s for family in text_string_to_metric_families(text) for s in family.samples]


def value(metrics: OperatorMetrics, metric: str, /, **labels: str) -> float | None:
    """The one sample of `metric` whose labels include `labels`, or None."""
    found = [
        s.value
        for s in samples(metrics)
        if s.name == metric and all(s.labels.get(k) == v for k, v in labels.items())
    ]
    assert len(found) <= 1, f"{metric}{labels} is ambiguous: {found}"
    return found[0] if found else None


def names_with_label(metrics: OperatorMetrics, label: str, value_: str) -> set[str]:
    return {s.name for s in samples(metrics) if s.labels.get(label) == value_}


def test_fresh_instances_do_not_share_state() -> None:
    first, second = OperatorMetrics(), OperatorMetrics()
    first.set_link(link("only-in-first"))
    assert value(first, "interconnect_link_ready", name="only-in-first") == 1.0
    assert value(second, "interconnect_link_ready", name="only-in-first") is None


def test_uses_the_given_registry() -> None:
    registry = CollectorRegistry()
    metrics = OperatorMetrics(registry=registry)
    assert metrics.registry is registry
    metrics.set_link(link("l1"))
    assert (
        registry.get_sample_value(
            "interconnect_link_ready", {"namespace": "team-a", "name": "l1", "pool": "pool-1"}
        )
        == 1.0
    )


def test_set_link_exports_every_link_series() -> None:
    metrics = OperatorMetrics()
    metrics.set_link(link("half", phase="Degraded", degraded=True))
    key = {"namespace": "team-a", "name": "half", "pool": "pool-1"}
    assert value(metrics, "interconnect_link_ready", **key) == 1.0
    assert value(metrics, "interconnect_link_degraded", **key) == 1.0
    # 1000 Mbps in the base unit, bytes per second.
    assert value(metrics, "interconnect_link_bandwidth_bytes_per_second", **key) == 125_000_000
    assert value(metrics, "interconnect_link_verified", provider="gcp", **key) == 1.0
    assert value(metrics, "interconnect_link_features", provider="aws", state="FINAL", **key) == 3
    assert value(metrics, "interconnect_link_features", provider="aws", state="PENDING", **key) == 1
    assert value(metrics, "interconnect_link_channel_up", channel="ch-2", **key) == 1.0
    assert value(metrics, "interconnect_link_channel_up", channel="ch-3", **key) == 0.0
    info = value(
        metrics,
        "interconnect_link_info",
        environment="env-east",
        interconnect="ic-1",
        **key,
    )
    assert info == 1.0


def test_link_phase_is_one_hot_over_known_phases() -> None:
    metrics = OperatorMetrics()
    metrics.set_link(link("l1", phase="Negotiating", ready=False))
    phases = {
        s.labels["phase"]: s.value for s in samples(metrics) if s.name == "interconnect_link_phase"
    }
    assert set(phases) == set(LINK_PHASES)
    assert [p for p, v in phases.items() if v == 1.0] == ["Negotiating"]


def test_unknown_phase_is_still_exported() -> None:
    metrics = OperatorMetrics()
    metrics.set_link(link("l1", phase="Quarantined", ready=False))
    assert value(metrics, "interconnect_link_phase", name="l1", phase="Quarantined") == 1.0
    assert value(metrics, "interconnect_pool_links", pool="pool-1", phase="Quarantined") == 1.0


def test_phase_change_replaces_the_old_one_hot() -> None:
    metrics = OperatorMetrics()
    metrics.set_link(link("l1", phase="Provisioning", ready=False))
    metrics.set_link(link("l1", phase="Ready"))
    assert value(metrics, "interconnect_link_phase", name="l1", phase="Provisioning") == 0.0
    assert value(metrics, "interconnect_link_phase", name="l1", phase="Ready") == 1.0
    assert value(metrics, "interconnect_pool_links", pool="pool-1", phase="Provisioning") == 0.0


def test_channel_that_disappears_loses_its_series() -> None:
    metrics = OperatorMetrics()
    metrics.set_link(link("l1"))
    assert value(metrics, "interconnect_link_channel_up", name="l1", channel="ch-3") == 1.0
    metrics.set_link(replace(link("l1"), channels_up={"ch-0": True}))
    assert value(metrics, "interconnect_link_channel_up", name="l1", channel="ch-3") is None
    assert value(metrics, "interconnect_link_channel_up", name="l1", channel="ch-0") == 1.0


def test_remove_link_removes_all_its_series() -> None:
    metrics = OperatorMetrics()
    metrics.set_link(link("gone"))
    metrics.set_link(link("stays"))
    assert names_with_label(metrics, "name", "gone")
    metrics.remove_link("team-a", "gone")
    assert names_with_label(metrics, "name", "gone") == set()
    assert value(metrics, "interconnect_link_ready", name="stays") == 1.0
    assert value(metrics, "interconnect_pool_links", pool="pool-1", phase="Ready") == 1.0
    # Removing an unknown link is harmless (deletion handlers may retry).
    metrics.remove_link("team-a", "gone")


def test_links_with_same_name_in_two_namespaces_are_distinct() -> None:
    metrics = OperatorMetrics()
    metrics.set_link(link("l1", namespace="a"))
    metrics.set_link(link("l1", namespace="b", phase="Negotiating", ready=False))
    assert value(metrics, "interconnect_link_ready", namespace="a", name="l1") == 1.0
    assert value(metrics, "interconnect_link_ready", namespace="b", name="l1") == 0.0
    metrics.remove_link("a", "l1")
    assert value(metrics, "interconnect_link_ready", namespace="a", name="l1") is None
    assert value(metrics, "interconnect_link_ready", namespace="b", name="l1") == 0.0


def test_pool_links_counts_per_phase_and_reads_zero_for_empty_phases() -> None:
    metrics = populated(OperatorMetrics())
    counts = {
        s.labels["phase"]: s.value
        for s in samples(metrics)
        if s.name == "interconnect_pool_links" and s.labels["pool"] == "pool-1"
    }
    assert counts["Ready"] == 1
    assert counts["Degraded"] == 1
    assert counts["Negotiating"] == 1
    assert counts["Failed"] == 0
    assert sum(counts.values()) == 3


def test_per_link_off_keeps_only_pool_aggregates() -> None:
    metrics = populated(OperatorMetrics(per_link=False))
    names = {s.name for s in samples(metrics)}
    assert not {n for n in names if n.startswith("interconnect_link_") and "time_to_ready" not in n}
    # `name` on the work-queue families is the queue's name (client-go's label), not a link's.
    assert not any(
        "name" in s.labels
        for s in samples(metrics)
        if not s.name.startswith("interconnect_workqueue_")
    )
    assert value(metrics, "interconnect_pool_links", pool="pool-1", phase="Degraded") == 1.0


def test_set_pool_exports_capacity_channels_and_providers() -> None:
    metrics = OperatorMetrics()
    metrics.set_pool(pool("pool-1"))
    ic = {"pool": "pool-1", "interconnect": "ic-1"}
    assert value(metrics, "interconnect_pool_capacity_max_bytes_per_second", **ic) == 1.25e9
    assert value(metrics, "interconnect_pool_capacity_allocated_bytes_per_second", **ic) == 2.5e8
    assert value(metrics, "interconnect_pool_capacity_available_bytes_per_second", **ic) == 1e9
    assert value(metrics, "interconnect_pool_channels", admin_state="ENABLED", **ic) == 3
    assert value(metrics, "interconnect_pool_channels", admin_state="DISABLED", **ic) == 1
    assert value(metrics, "interconnect_channel_maintenance_active", channel="ch-1", **ic) == 1.0
    assert value(metrics, "interconnect_channel_maintenance_overlap", channel="ch-1", **ic) == 1.0
    assert value(metrics, "interconnect_channel_maintenance_overlap", channel="ch-0", **ic) == 0.0
    assert (
        value(
            metrics, "interconnect_channel_next_maintenance_timestamp_seconds", channel="ch-0", **ic
        )
        == 1.9e9
    )
    assert (
        value(metrics, "interconnect_channel_macsec_key_age_seconds", channel="ch-0", **ic) == 3600
    )
    assert value(metrics, "interconnect_provider_reachable", pool="pool-1", provider="gcp") == 0.0
    assert value(metrics, "interconnect_provider_reachable", pool="pool-1", provider="aws") == 1.0


def test_unknown_channel_values_are_absent_not_zero() -> None:
    # A 0 timestamp or key age would read as "maintenance in 1970" / "fresh key".
    metrics = OperatorMetrics()
    metrics.set_pool(pool("pool-1"))
    assert value(metrics, "interconnect_channel_macsec_key_age_seconds", channel="ch-1") is None
    assert (
        value(metrics, "interconnect_channel_next_maintenance_timestamp_seconds", channel="ch-1")
        is None
    )


def test_remove_pool_removes_its_series() -> None:
    metrics = OperatorMetrics()
    metrics.set_pool(pool("pool-1"))
    metrics.set_pool(pool("pool-2"))
    metrics.observe_time_to_ready("pool-1", 100.0)
    metrics.remove_pool("pool-1")
    assert names_with_label(metrics, "pool", "pool-1") == set()
    assert value(metrics, "interconnect_provider_reachable", pool="pool-2", provider="aws") == 1.0
    metrics.remove_pool("pool-1")


def test_time_to_ready_observed_once_on_witnessed_transition() -> None:
    metrics = OperatorMetrics()
    count = "interconnect_link_time_to_ready_seconds_count"
    metrics.set_link(link("l1", phase="Provisioning", ready=False))
    assert value(metrics, count, pool="pool-1") is None
    metrics.set_link(link("l1", phase="Ready", time_to_ready_seconds=600.0))
    assert value(metrics, count, pool="pool-1") == 1
    assert value(metrics, "interconnect_link_time_to_ready_seconds_sum", pool="pool-1") == 600.0
    # Flapping back and forth does not count the same link again.
    metrics.set_link(link("l1", phase="Degraded", ready=False, degraded=True))
    metrics.set_link(link("l1", phase="Ready", time_to_ready_seconds=600.0))
    assert value(metrics, count, pool="pool-1") == 1


def test_time_to_ready_not_observed_for_link_first_seen_ready() -> None:
    # After an operator restart every Ready link is first seen Ready.
    metrics = OperatorMetrics()
    metrics.set_link(link("l1", phase="Ready", time_to_ready_seconds=600.0))
    metrics.set_link(link("l1", phase="Ready", time_to_ready_seconds=600.0))
    assert value(metrics, "interconnect_link_time_to_ready_seconds_count", pool="pool-1") is None


def test_provider_requests_counted_by_code_with_latency() -> None:
    metrics = OperatorMetrics()
    metrics.record_provider_request("aws", "GetConnection", "200", 0.02)
    metrics.record_provider_request("aws", "GetConnection", "200", 0.03)
    metrics.record_provider_request("aws", "GetConnection", CODE_TIMEOUT, 10.0)
    op = {"provider": "aws", "operation": "GetConnection"}
    assert value(metrics, "interconnect_provider_requests_total", code="200", **op) == 2
    assert value(metrics, "interconnect_provider_requests_total", code="timeout", **op) == 1
    assert value(metrics, "interconnect_provider_request_duration_seconds_count", **op) == 3
    assert (
        value(metrics, "interconnect_provider_request_duration_seconds_bucket", le="0.05", **op)
        == 2
    )


def test_reconcile_duration_context_manager_observes_even_on_error() -> None:
    metrics = OperatorMetrics()
    with metrics.reconcile_duration("MulticloudLink"):
        pass
    try:
        with metrics.reconcile_duration("MulticloudLink"):
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert (
        value(metrics, "interconnect_reconcile_duration_seconds_count", kind="MulticloudLink") == 2
    )
    metrics.record_reconcile_error("MulticloudLink", "ProviderUnavailable")
    assert (
        value(
            metrics,
            "interconnect_reconcile_errors_total",
            kind="MulticloudLink",
            reason="ProviderUnavailable",
        )
        == 1
    )


def test_build_info_carries_the_version_revision_and_python(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("INTERCONNECT_OPERATOR_REVISION", "abc123")
    assert (
        value(
            OperatorMetrics(),
            "interconnect_build_info",
            version=__version__,
            revision="abc123",
            python_version=platform.python_version(),
        )
        == 1.0
    )


def test_metric_names_match_a_full_scrape() -> None:
    metrics = populated(OperatorMetrics())
    text = render(metrics).decode()
    declared = set(re.findall(r"^# TYPE (\S+) ", text, flags=re.MULTILINE))
    # prometheus-client adds a `<name>_created` gauge per counter/histogram.
    declared = {n for n in declared if not n.endswith("_created")}
    assert declared == METRIC_NAMES | RUNTIME_METRIC_NAMES


def test_names_follow_prometheus_conventions() -> None:
    metrics = populated(OperatorMetrics())
    text = render(metrics).decode()
    types = dict(re.findall(r"^# TYPE (\S+) (\S+)$", text, flags=re.MULTILINE))
    for name, kind in types.items():
        if name in RUNTIME_METRIC_NAMES:
            continue  # prometheus-client's standard process/GC/platform names
        assert name.startswith("interconnect_"), name
        assert re.fullmatch(r"[a-z][a-z0-9_]*", name), name
        if kind == "counter":
            assert name.endswith("_total"), name
        else:
            assert not name.endswith("_total"), f"{name} is a {kind} named like a counter"
        if kind == "histogram":
            assert name in HISTOGRAM_NAMES
            assert name.endswith("_seconds"), f"histogram {name} lacks its unit"
        # No non-base units, and no `_count` counters (STYLE: "What to avoid").
        assert not re.search(r"_(milliseconds|minutes|hours|mbps|bits|kilobytes)", name), name
        assert not name.endswith("_count"), name
    for name in METRIC_NAMES:
        if "bandwidth" in name or "capacity" in name:
            assert name.endswith("_bytes_per_second"), name
        if "_age" in name or "duration" in name or "time_to" in name or "timestamp" in name:
            assert name.endswith("_seconds"), name
    assert "interconnect_link_info" in METRIC_NAMES
    assert "interconnect_build_info" in METRIC_NAMES


def test_serve_metrics_serves_scrapes_and_shuts_down() -> None:
    metrics = OperatorMetrics()
    metrics.set_link(link("served"))
    server = serve_metrics(metrics, port=0, host="127.0.0.1")
    try:
        response = httpx.get(f"http://127.0.0.1:{server.port}/metrics", timeout=5)
        assert response.status_code == 200
        assert 'interconnect_link_ready{name="served",namespace="team-a",pool="pool-1"} 1.0' in (
            response.text
        )
        # The process, GC and platform collectors are on the operator's own
        # registry too (memory, CPU, file descriptors, GC pauses of this process).
        for family in ("process_resident_memory_bytes", "python_gc_collections_total"):
            assert f"# TYPE {family}" in response.text, family
    finally:
        server.shutdown()
    try:
        httpx.get(f"http://127.0.0.1:{server.port}/metrics", timeout=2)
    except httpx.TransportError:
        pass
    else:
        raise AssertionError("metrics server still answers after shutdown()")
