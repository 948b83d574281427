"""Pool loops (k8s.pools): a pool whose credentials cannot be resolved, pool health series."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest

from interconnect_operator.k8s.credentials import Credentials
from interconnect_operator.k8s.index import LinkIndex
from interconnect_operator.k8s.kube import POOLS
from interconnect_operator.k8s.pool_report import pool_health
from interconnect_operator.k8s.pools import PoolLoops
from interconnect_operator.k8s.refresh_rule import BUSY_MANY, refresh_due_in, refresh_share
from interconnect_operator.k8s.settings import OperatorOptions
from interconnect_operator.metrics import OperatorMetrics
from interconnect_operator.reconcile.pool import InterconnectReport, PoolReport
from tests.unit.k8s.fake_kube import FakeKube

OPTIONS = OperatorOptions()


def _pool_body() -> dict[str, Any]:
    provider = {"auth": {"type": "Bearer", "secretRef": {"name": "creds", "key": "t"}}}
    return {
        "metadata": {"name": "pool", "generation": 1},
        "spec": {
            "environment": "env",
            "providers": [
                {"name": "aws", "endpoint": "https://aws.example", "role": "Responder", **provider},
                {"name": "gcp", "endpoint": "https://gcp.example", "role": "Negotiator"},
            ],
        },
    }


async def test_a_pool_without_its_secret_reports_why_once(
    kube: FakeKube, metrics: OperatorMetrics
) -> None:
    kube.add_object(POOLS, _pool_body())
    woken: list[tuple[str, str]] = []
    pools = PoolLoops(
        OPTIONS,
        kube,
        metrics,
        credentials=Credentials(kube, OPTIONS.operator_namespace),
        index=LinkIndex(),
        wake_link=lambda key, priority: woken.append(key),
        on_request=lambda record: None,
    )
    await pools.on_event("ADDED", kube.objects[(POOLS, None, "pool")])
    entry = pools.get("pool")
    assert entry is not None

    async def reported() -> None:
        while entry.error is None or not kube.status_patches:
            await asyncio.sleep(0)

    await asyncio.wait_for(reported(), 5.0)
    await pools.on_event("DELETED", kube.objects[(POOLS, None, "pool")])
    assert entry.error is not None
    assert entry.error[0] == "SecretNotFound"
    ready = next(c for c in kube.status_patches[0][1]["conditions"] if c["type"] == "Ready")
    assert ready["reason"] == "SecretNotFound"
    assert [(e.kind, e.type, e.reason) for e in kube.events] == [
        ("CapacityPool", "Warning", "SecretNotFound")
    ]
    assert pools.get("pool") is None
    assert entry.task is None


def test_pool_health_counts_channels_by_admin_state() -> None:
    report = PoolReport(
        reachable={"aws": True, "gcp": True},
        errors={},
        interconnects=(
            InterconnectReport(
                "ix-1",
                "INTERCONNECT_STATE_ACTIVE",
                10000,
                1000,
                9000,
                (("ch1", "ENABLED", None), ("ch2", None, None), ("ch3", "ENABLED", None)),
            ),
        ),
        supported_sizes_mbps=(1000,),
        available_mbps=9000,
        disagreements=(),
        taken_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    )
    health = pool_health("pool", report, {})
    (ix,) = health.interconnects
    assert ix.channels_by_admin_state == {"ENABLED": 2, "UNKNOWN": 1}
    assert [c.id for c in ix.channels] == ["ch1", "ch2", "ch3"]
    assert health.providers_reachable == {"aws": True, "gcp": True}


@pytest.mark.parametrize(
    ("duration", "busy", "pending", "expected"),
    [
        # The burst's height (as many links queued with work as busy, or more): a
        # tenth of the wall clock, capped by the pool's 30 s interval (round 5 at
        # N=10,000: 7.5 s refreshes, 30 s apart).
        (7.5, 2_000, 8_000, 30.0),
        (7.5, 2_000, 2_000, 30.0),
        (0.8, 500, 500, 8.0),
        (0.8, 500, None, 8.0),  # the queue unknown: the height
        # Draining: the share grows as the queued work falls below the busy links.
        (7.5, 2_000, 1_000, 30.0),  # a fifth of the clock: 37.5 s, the interval caps it
        (4.0, 2_000, 800, 16.0),  # a quarter
        # The tail (queued work a fifth of the busy links or less): half the clock,
        # never back to back.
        (7.5, 1_200, 240, 15.0),
        (7.5, 1_200, 0, 15.0),
        (2.0, 1_200, 10, 4.0),
        (0.3, 100, 0, 1.0),  # a cheap refresh: still a second apart at least
        # A few busy links: every second, whatever is queued.
        (7.5, BUSY_MANY, 10_000, 1.0),
        (7.5, 1, 0, 1.0),
        # Idle: the pool's interval.
        (7.5, 0, 0, 30.0),
        (7.5, 0, 10_000, 30.0),
    ],
)
def test_refresh_spacing_through_a_burst_and_its_tail(
    duration: float, busy: int, pending: int | None, expected: float
) -> None:
    """Seconds from the start of one refresh to the next (P14/P15: a waiting link
    needs a read begun after its last call, which only a refresh brings)."""
    due = refresh_due_in(30.0, duration, 0.0, busy=busy, since_woken=None, pending=pending)
    assert abs(due - expected) < 1e-9
    # The gap after a refresh is never shorter than the refresh (no hot loop) while
    # more than a few links are busy, and never below FAST_REFRESH_SECONDS.
    if busy > BUSY_MANY:
        assert due - duration >= min(duration, 30.0 - duration) - 1e-9
    assert due >= 1.0 - 1e-9


def test_the_refresh_share_is_bounded_and_grows_as_the_queue_drains() -> None:
    shares = [refresh_share(2_000, pending) for pending in (8_000, 2_000, 1_000, 400, 10, 0)]
    assert shares == sorted(shares)
    assert shares[0] == shares[1] == 0.1
    assert shares[-2] == shares[-1] == 0.5


def test_refresh_cadence_idle_busy_and_bounded_by_its_own_cost() -> None:
    def due(duration: float, since: float, busy: int, woken: float | None = None) -> float:
        return refresh_due_in(30.0, duration, since, busy=busy, since_woken=woken)

    # Idle: the pool's interval, counted from the start of the last refresh.
    assert due(0.5, 0.5, 0) == 29.5
    assert due(0.5, 31.0, 0) <= 0
    # A few busy links (one applied now, a restart's probe): every second,
    # however long the refresh takes.
    assert abs(due(0.05, 0.05, 1) - 0.95) < 1e-9
    assert abs(due(0.8, 0.8, BUSY_MANY) - 0.2) < 1e-9
    # A burst: a refresh of 0.8 s (thousands of features) takes at most a tenth.
    assert abs(due(0.8, 0.8, BUSY_MANY + 1) - 7.2) < 1e-9
    assert abs(due(0.8, 0.8, 32) - 7.2) < 1e-9  # the worker count: a burst
    assert abs(due(0.05, 0.05, 500) - 0.95) < 1e-9
    # Never slower than the pool's own interval.
    assert abs(due(2.0, 2.0, 500) - 18.0) < 1e-9
    assert abs(due(4.0, 4.0, 500) - 26.0) < 1e-9
    # A link that just became busy, 20 s after the last refresh: its own steps
    # first, then a refresh within a second, not at once.
    assert abs(due(0.5, 20.0, 1, woken=0.0) - 1.0) < 1e-9
    assert abs(due(0.5, 20.6, 1, woken=0.6) - 0.4) < 1e-9
    assert due(0.5, 21.0, 1, woken=1.0) <= 0
    # It finished meanwhile (idle again): back to the pool's interval.
    assert abs(due(0.5, 21.0, 0, woken=1.0) - 9.0) < 1e-9


def test_the_pools_see_the_link_queue_s_pending_changes() -> None:
    from interconnect_operator.k8s.controller import Controller
    from interconnect_operator.k8s.settings import OperatorOptions
    from interconnect_operator.k8s.workqueue import Priority
    from interconnect_operator.metrics import OperatorMetrics
    from tests.unit.k8s.fake_kube import FakeKube

    controller = Controller(OperatorOptions(), FakeKube(), OperatorMetrics())
    assert controller.pools.pending() == 0
    controller.link_workers.queue.add(("ns", "a"))
    controller.link_workers.queue.add(("ns", "b"))
    controller.link_workers.queue.add(("ns", "c"), Priority.RECHECK)  # not a change
    assert controller.pools.pending() == 2


async def test_a_pool_deleted_just_after_its_loop_was_woken_stops_its_loop(
    kube: FakeKube, metrics: OperatorMetrics
) -> None:
    """The deletion's cancellation lands after a wake-up (a link of the pool went
    away) and before the loop ran again: the loop still ends, and the deletion's
    handling (the pool watch waits for it) returns. With ``asyncio.wait_for`` on
    Python 3.11 the loop swallowed that cancellation and ran on (k8s/waits.py)."""
    kube.add_object(POOLS, _pool_body())
    pools = PoolLoops(
        OPTIONS,
        kube,
        metrics,
        credentials=Credentials(kube, OPTIONS.operator_namespace),
        index=LinkIndex(),
        wake_link=lambda key, priority: None,
        on_request=lambda record: None,
    )
    await pools.on_event("ADDED", kube.objects[(POOLS, None, "pool")])
    entry = pools.get("pool")
    assert entry is not None
    task = entry.task
    assert task is not None

    async def waiting() -> None:  # the loop sleeps in its backoff (no Secret yet)
        while entry.error is None or not kube.status_patches:
            await asyncio.sleep(0)
        for _ in range(10):
            await asyncio.sleep(0)

    await asyncio.wait_for(waiting(), 5.0)
    patches = len(kube.status_patches)
    pools.wake_pool("pool")  # woken ...
    deleted = asyncio.ensure_future(pools.on_event("DELETED", kube.objects[(POOLS, None, "pool")]))
    done, _ = await asyncio.wait({deleted}, timeout=5.0)  # ... and deleted at once
    assert deleted in done, "the deletion waited for a loop that never ended"
    assert task.cancelled()
    assert pools.get("pool") is None
    for _ in range(20):
        await asyncio.sleep(0)
    assert len(kube.status_patches) == patches  # nothing written for the deleted pool
