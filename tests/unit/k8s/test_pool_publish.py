"""A pool's status follows its links between refreshes (k8s.pools ``_publish``).

A burst whose links all come up from their own calls needs no refresh, so the
pool's capacity and link count used to stay as they were before it until the
pool's next interval (30 s by default): ``kubectl get capacitypool`` showed
the old free capacity, and the write landed in the middle of the steady state
that followed. Now a link's change marks the pool, and its loop writes the
status from the snapshot (no provider read) at most every PUBLISH_SECONDS,
without moving its next refresh.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from typing import Any

import pytest

from interconnect_operator.k8s import pools as pools_mod
from interconnect_operator.k8s.index import LinkIndex
from interconnect_operator.k8s.kube import POOLS
from interconnect_operator.k8s.pool_entry import PoolEntry
from interconnect_operator.k8s.pools import PoolLoops
from interconnect_operator.reconcile.pool import InterconnectReport, PoolReport
from tests.unit.k8s.fake_kube import FakeKube
from tests.unit.k8s.test_pool_guard import _link, _loops


class _Runtime:
    """A snapshot whose allocation the test moves; counts reads and reports."""

    refresh_interval = 30.0

    def __init__(self) -> None:
        self.allocated = 0
        self.reports = 0

    def report(self) -> PoolReport:
        self.reports += 1
        return PoolReport(
            reachable={"aws": True, "gcp": True},
            errors={},
            interconnects=(
                InterconnectReport(
                    "ix-1",
                    "INTERCONNECT_STATE_ACTIVE",
                    10_000,
                    self.allocated,
                    10_000 - self.allocated,
                    (),
                ),
            ),
            supported_sizes_mbps=(1000,),
            available_mbps=10_000 - self.allocated,
            disagreements=(),
            taken_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        )


def _setup(kube: FakeKube) -> tuple[PoolLoops, PoolEntry, LinkIndex]:
    body = kube.add_object(POOLS, {"metadata": {"name": "pool"}, "spec": {}})
    index = LinkIndex()
    loops = _loops(kube, index)
    entry = PoolEntry(name="pool", body=body, generation=1, refreshed=True)
    loops.entries["pool"] = entry
    return loops, entry, index


async def _until(predicate: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "not reached in time"
        await asyncio.sleep(0.01)


async def test_a_links_change_reaches_the_pool_status_without_a_refresh(kube: FakeKube) -> None:
    loops, entry, index = _setup(kube)
    runtime = _Runtime()
    # The last refresh wrote the status a moment ago; the next is 30 s away.
    entry.published_at = time.monotonic()
    waiting = asyncio.create_task(loops._wait_until_due(entry, runtime, time.monotonic(), 0.01))  # type: ignore[arg-type]
    await asyncio.sleep(0.05)
    assert kube.status_patches == []
    _link(index, "db")
    runtime.allocated = 1000  # the link's own CreateConnection answers, recorded
    entry.lagging.set()
    await _until(lambda: kube.status_patches)
    status = kube.status_patches[-1][1]
    assert status["linkCount"] == 1
    assert status["availableMbps"] == 9000
    assert status["interconnects"][0]["allocatedMbps"] == 1000
    assert not waiting.done(), "a status to publish does not bring the refresh forward"
    assert not entry.lagging.is_set()
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting


async def test_changes_in_quick_succession_are_written_at_most_every_publish_interval(
    kube: FakeKube, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pools_mod, "PUBLISH_SECONDS", 0.2)
    loops, entry, _index = _setup(kube)
    runtime = _Runtime()
    waiting = asyncio.create_task(loops._wait_until_due(entry, runtime, time.monotonic(), 0.01))  # type: ignore[arg-type]
    began = time.monotonic()
    for i in range(60):  # a burst: a change every 10 ms for 0.6 s
        runtime.allocated = 1000 * (i + 1) % 10_000
        entry.lagging.set()
        await asyncio.sleep(0.01)
    elapsed = time.monotonic() - began
    await _until(lambda: not entry.lagging.is_set())  # the last change is written too
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    # One write at once, then at most one per 0.2 s, plus the trailing one.
    assert 2 <= runtime.reports <= int(elapsed / 0.2) + 2
    assert kube.status_patches[-1][1]["interconnects"][0]["allocatedMbps"] == runtime.allocated


async def test_after_a_failed_refresh_the_error_stands_until_a_refresh_ends_it(
    kube: FakeKube,
) -> None:
    loops, entry, index = _setup(kube)
    entry.refreshed = False  # the last round failed: its RefreshFailed status stands
    runtime = _Runtime()
    waiting = asyncio.create_task(loops._wait_until_due(entry, runtime, time.monotonic(), 0.01))  # type: ignore[arg-type]
    _link(index, "db")
    entry.lagging.set()
    await _until(lambda: not entry.lagging.is_set())
    await asyncio.sleep(0.05)
    assert runtime.reports == 0
    assert kube.status_patches == []
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting


async def test_a_link_gone_marks_its_pool(kube: FakeKube) -> None:
    loops, entry, _index = _setup(kube)
    loops.wake_pool("pool")
    assert entry.lagging.is_set()


async def test_nothing_changed_nothing_written(kube: FakeKube) -> None:
    """The same status twice is one write: steady state stays without writes."""
    loops, entry, _index = _setup(kube)
    runtime = _Runtime()
    await loops._publish(entry, runtime)  # type: ignore[arg-type]
    await loops._publish(entry, runtime)  # type: ignore[arg-type]
    assert runtime.reports == 2
    assert len(kube.status_patches) == 1


async def test_a_pool_let_go_while_a_publish_waits_is_never_written_again(
    kube: FakeKube, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The last link leaves, the pool is deleted and let go (its watch event's
    guard) while the loop waits out PUBLISH_SECONDS: the object is gone, so the
    waiting publish writes nothing (it used to patch a deleted pool: a 404)."""
    monkeypatch.setattr(pools_mod, "PUBLISH_SECONDS", 0.2)
    loops, entry, index = _setup(kube)
    stored = kube.objects[(POOLS, None, "pool")]["metadata"]
    for meta in (stored, entry.body["metadata"]):
        meta["finalizers"] = [pools_mod.POOL_FINALIZER]
    attempts: list[str] = []
    patch_status = kube.patch_status

    async def counted(plural: str, namespace: str | None, name: str, status: Any) -> Any:
        attempts.append(name)
        return await patch_status(plural, namespace, name, status)

    monkeypatch.setattr(kube, "patch_status", counted)
    _link(index, "db")
    entry.published_at = time.monotonic()  # a status written a moment ago
    runtime = _Runtime()
    waiting = asyncio.create_task(loops._wait_until_due(entry, runtime, time.monotonic(), 0.01))  # type: ignore[arg-type]
    await asyncio.sleep(0.02)
    index.drop(("team-a", "db"))
    loops.wake_pool("pool")  # the link's release: a status to publish
    await asyncio.sleep(0.02)
    for meta in (stored, entry.body["metadata"]):  # the pool is deleted
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    assert await loops.guard(entry) is True  # as the pool's MODIFIED event does
    assert (POOLS, None, "pool") not in kube.objects
    await _until(lambda: not entry.lagging.is_set())  # the publish came due and passed
    assert attempts == []
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
