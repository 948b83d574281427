"""Lease-based leader election (k8s.leader) and the standby controller, against the fake client.

Time is a test clock: a candidate takes a Lease held by someone else only once
the record stopped changing for the lease duration as the candidate saw it;
two candidates never both win; a leader that cannot renew within the renew
deadline stops; a standby controller starts no pool loop and no worker.
"""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from interconnect_operator.k8s.controller import Controller
from interconnect_operator.k8s.leader import ElectionTimings, LeaseElector
from interconnect_operator.k8s.settings import OperatorOptions
from interconnect_operator.metrics import OperatorMetrics
from tests.unit.k8s.fake_kube import FakeKube

NS = "interconnect-system"
TIMINGS = ElectionTimings(lease_duration=15, renew_deadline=10, retry_period=2)


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def _elector(kube: FakeKube, identity: str, clock: Clock) -> LeaseElector:
    base = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)

    async def tick(seconds: float) -> None:
        clock.t += seconds

    return LeaseElector(
        kube,
        NS,
        "ico",
        identity,
        TIMINGS,
        clock=clock,
        now=lambda: base + dt.timedelta(seconds=clock.t),
        sleep=tick,
    )


def _holder(kube: FakeKube) -> str:
    return str(kube.leases[(NS, "ico")]["spec"]["holderIdentity"])


async def test_the_first_candidate_creates_the_lease_and_the_second_waits(kube: FakeKube) -> None:
    clock = Clock()
    a, b = _elector(kube, "a", clock), _elector(kube, "b", clock)
    assert await a.try_acquire_or_renew()
    assert not await b.try_acquire_or_renew()
    assert _holder(kube) == "a"
    # The holder keeps renewing: b never gets it, however long it waits.
    for _ in range(20):
        clock.t += 2
        assert await a.try_acquire_or_renew()
        assert not await b.try_acquire_or_renew()
    assert _holder(kube) == "a"


async def test_a_dead_holder_is_replaced_after_the_lease_duration_as_observed(
    kube: FakeKube,
) -> None:
    clock = Clock()
    a, b = _elector(kube, "a", clock), _elector(kube, "b", clock)
    assert await a.try_acquire_or_renew()
    assert not await b.try_acquire_or_renew()  # b observes the record now
    clock.t += 14
    assert not await b.try_acquire_or_renew()
    clock.t += 1.5
    assert await b.try_acquire_or_renew()
    spec = kube.leases[(NS, "ico")]["spec"]
    assert spec["holderIdentity"] == "b"
    assert spec["leaseTransitions"] == 1
    # The old holder, back from a pause, finds it taken.
    assert not await a.try_acquire_or_renew()


async def test_two_candidates_racing_for_an_expired_lease_elect_one(kube: FakeKube) -> None:
    clock = Clock()
    dead, b, c = (_elector(kube, n, clock) for n in ("dead", "b", "c"))
    assert await dead.try_acquire_or_renew()
    assert not await b.try_acquire_or_renew()
    assert not await c.try_acquire_or_renew()
    clock.t += 16
    # Both read the same expired record; the second replace meets a new resourceVersion.
    stale = await kube.get_lease(NS, "ico")
    assert await b.try_acquire_or_renew()
    assert (
        stale["metadata"]["resourceVersion"]
        != kube.leases[(NS, "ico")]["metadata"]["resourceVersion"]
    )
    assert not await c.try_acquire_or_renew()
    assert _holder(kube) == "b"


async def test_a_released_lease_is_taken_at_once(kube: FakeKube) -> None:
    clock = Clock()
    a, b = _elector(kube, "a", clock), _elector(kube, "b", clock)
    assert await a.try_acquire_or_renew()
    a.leading = True
    await a.release()
    assert await b.try_acquire_or_renew()


async def test_a_leader_that_cannot_renew_stops_before_the_lease_expires(kube: FakeKube) -> None:
    clock = Clock()
    a = _elector(kube, "a", clock)
    started: list[str] = []
    stopped: list[float] = []

    async def lead() -> None:
        started.append("a")
        kube.fail("get_lease", 503, times=100)  # the API server stops answering

    await a.run(lead, lambda: stopped.append(clock.t))
    assert started == ["a"]
    assert len(stopped) == 1
    assert stopped[0] - 1000.0 < TIMINGS.lease_duration
    assert a.leading is False


def test_timings_must_leave_a_gap_between_renewal_and_expiry() -> None:
    with pytest.raises(ValueError, match="renew_deadline"):
        ElectionTimings(lease_duration=10, renew_deadline=10, retry_period=2)


async def test_a_standby_controller_runs_no_pool_loop_and_no_worker(kube: FakeKube) -> None:
    controller = Controller(OperatorOptions(workers=2), kube, OperatorMetrics())
    controller.standby()
    pool = {"metadata": {"name": "pool", "generation": 1}, "spec": {}}
    await controller.on_pool_event("ADDED", pool)
    link = {
        "metadata": {"namespace": "team-a", "name": "l", "uid": "u", "resourceVersion": "1"},
        "spec": {"poolRef": {"name": "pool"}, "bandwidthMbps": 1000},
    }
    controller.on_link_event("ADDED", link)
    await asyncio.sleep(0)
    assert controller.pools.entries["pool"].task is None
    assert controller.link_workers.queue._tasks == []
    assert kube.status_patches == kube.meta_patches == []
    assert kube.reads == []
    await controller.start()
    assert controller.pools.entries["pool"].task is not None
    assert controller.link_workers.queue._tasks != []
    await controller.stop()
