"""Fixtures for the observability tests: sample health snapshots and promtool."""

from __future__ import annotations

import shutil
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from interconnect_operator import redaction
from interconnect_operator.metrics import (
    ChannelHealth,
    InterconnectHealth,
    LinkHealth,
    OperatorMetrics,
    PoolHealth,
)

REPO = Path(__file__).resolve().parents[3]
PROMETHEUS_DIR = REPO / "deploy" / "prometheus"
DASHBOARD = REPO / "deploy" / "grafana" / "dashboard.json"


@pytest.fixture
def promtool() -> str:
    """Path of promtool; `hack/install-prometheus.sh` (make tools) installs it."""
    path = shutil.which("promtool")
    if path is None:
        pytest.skip("promtool not on PATH: run `bash hack/install-prometheus.sh` (make tools)")
    return path


@pytest.fixture(autouse=True)
def _no_registered_secrets() -> Iterator[None]:
    # The secret registry is process-wide: isolate every test from the others.
    redaction.clear()
    yield
    redaction.clear()


@pytest.fixture
def metrics() -> OperatorMetrics:
    return OperatorMetrics()


def link(
    name: str = "db-link",
    *,
    namespace: str = "team-a",
    pool: str = "pool-1",
    phase: str = "Ready",
    ready: bool = True,
    degraded: bool = False,
    time_to_ready_seconds: float | None = None,
) -> LinkHealth:
    """A link snapshot; Degraded links have 3 of 4 features FINAL (P12)."""
    final = 3 if degraded else (4 if ready else 0)
    features = {("aws", "FINAL"): final, ("gcp", "FINAL"): final}
    if final < 4:
        features[("aws", "PENDING")] = 4 - final
        features[("gcp", "PENDING")] = 4 - final
    return LinkHealth(
        namespace=namespace,
        name=name,
        pool=pool,
        environment="env-east",
        interconnect="ic-1",
        shared_uuid=f"8c5f6a9e-0000-4000-8000-{zlib.crc32(name.encode()):012d}",
        phase=phase,
        ready=ready,
        degraded=degraded,
        bandwidth_mbps=1000,
        verified={"aws": ready, "gcp": ready},
        features=features,
        channels_up={f"ch-{i}": i < final for i in range(4)},
        time_to_ready_seconds=time_to_ready_seconds,
    )


def pool(name: str = "pool-1") -> PoolHealth:
    return PoolHealth(
        pool=name,
        providers_reachable={"aws": True, "gcp": False},
        interconnects=[
            InterconnectHealth(
                id="ic-1",
                max_mbps=10_000,
                allocated_mbps=2_000,
                available_mbps=8_000,
                channels_by_admin_state={"ENABLED": 3, "DISABLED": 1},
                channels=[
                    ChannelHealth(
                        id="ch-0",
                        maintenance_active=False,
                        next_maintenance_start=1_900_000_000.0,
                        macsec_key_age_seconds=3600.0,
                        maintenance_overlap=False,
                    ),
                    ChannelHealth(id="ch-1", maintenance_active=True, maintenance_overlap=True),
                ],
            )
        ],
    )


def populated(metrics: OperatorMetrics) -> OperatorMetrics:
    """Links in several states, a pool, and one of each operator metric."""
    metrics.set_link(link("up", phase="Ready"))
    metrics.set_link(link("half", phase="Degraded", degraded=True))
    metrics.set_link(link("new", namespace="team-b", phase="Negotiating", ready=False))
    metrics.set_pool(pool())
    metrics.record_provider_request("aws", "CreateConnection", "200", 0.042)
    metrics.record_provider_request("gcp", "ListFeatures", "429", 1.5)
    metrics.record_provider_request("gcp", "GetConnection", "timeout", 10.0)
    metrics.record_reconcile_error("MulticloudLink", "ProviderUnavailable")
    metrics.observe_reconcile("CapacityPool", 0.3)
    metrics.observe_time_to_ready("pool-1", 420.0)
    queue = metrics.workqueue("links")
    queue.added()
    queue.waited(0.002)
    queue.worked(0.05)
    queue.retried()
    return metrics
