"""A CapacityPool with links never disappears under them (k8s.pools guard, k8s.status).

The operator keeps its finalizer on every pool; a pool being deleted keeps it
while any link uses the pool (one Warning Event naming them, a Deleting
condition in status) and lets go once the last link is gone. New links of a
pool being deleted are refused before anything reaches a provider
(``test_links.py``). A standby writes nothing.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from interconnect_operator.k8s import pool_status
from interconnect_operator.k8s.credentials import Credentials
from interconnect_operator.k8s.index import LinkIndex
from interconnect_operator.k8s.kube import POOLS
from interconnect_operator.k8s.pool_entry import PoolEntry
from interconnect_operator.k8s.pools import POOL_FINALIZER, PoolLoops
from interconnect_operator.k8s.settings import OperatorOptions
from interconnect_operator.metrics import OperatorMetrics
from tests.unit.k8s.fake_kube import FakeKube

OPTIONS = OperatorOptions()
DELETING = "2026-01-01T00:00:00Z"


def _loops(kube: FakeKube, index: LinkIndex) -> PoolLoops:
    return PoolLoops(
        OPTIONS,
        kube,
        OperatorMetrics(),
        credentials=Credentials(kube, OPTIONS.operator_namespace),
        index=index,
        wake_link=lambda key, priority: None,
        on_request=lambda record: None,
    )


def _entry(kube: FakeKube, **meta: Any) -> PoolEntry:
    body = kube.add_object(POOLS, {"metadata": {"name": "pool", **meta}, "spec": {}})
    return PoolEntry(name="pool", body=body, generation=1)


def _link(index: LinkIndex, name: str) -> None:
    index.observe(
        {
            "metadata": {"namespace": "team-a", "name": name, "uid": name, "resourceVersion": "1"},
            "spec": {"poolRef": {"name": "pool"}},
        }
    )


def _finalizers(kube: FakeKube) -> list[str] | None:
    """The pool's finalizers; None once the API server deleted it."""
    obj = kube.objects.get((POOLS, None, "pool"))
    return None if obj is None else list(obj["metadata"].get("finalizers") or [])


async def test_every_pool_gets_the_finalizer_and_others_are_kept(kube: FakeKube) -> None:
    entry = _entry(kube, finalizers=["other.io/keep"])
    loops = _loops(kube, LinkIndex())
    assert await loops.guard(entry) is False
    assert _finalizers(kube) == ["other.io/keep", POOL_FINALIZER]
    kube.meta_patches.clear()
    await loops.guard(entry)
    assert kube.meta_patches == []  # already there: no write


async def test_a_pool_being_deleted_waits_for_its_links_then_lets_go(kube: FakeKube) -> None:
    entry = _entry(kube, finalizers=[POOL_FINALIZER], deletionTimestamp=DELETING)
    index = LinkIndex()
    _link(index, "db")
    _link(index, "cache")
    loops = _loops(kube, index)
    for _ in range(3):
        assert await loops.guard(entry) is False
    assert _finalizers(kube) == [POOL_FINALIZER]
    assert [(e.type, e.reason) for e in kube.events] == [("Warning", "LinksRemain")]
    assert "team-a/cache, team-a/db" in kube.events[0].message
    index.drop(("team-a", "db"))
    assert await loops.guard(entry) is False
    index.drop(("team-a", "cache"))
    assert await loops.guard(entry) is True
    assert _finalizers(kube) is None  # the last finalizer gone: the pool is deleted


async def test_a_standby_never_writes_the_finalizer(kube: FakeKube) -> None:
    loops = _loops(kube, LinkIndex())
    loops.active = False
    await loops.on_event("ADDED", kube.add_object(POOLS, {"metadata": {"name": "pool"}}))
    assert kube.meta_patches == []
    assert loops.entries["pool"].task is None


def test_the_deleting_condition_names_the_links_and_bounds_the_list() -> None:
    names = [f"ns/l{i:02d}" for i in range(12)]
    cond = pool_status.deletion_condition(names, 3)
    assert (cond.type, cond.reason, cond.observed_generation) == ("Deleting", "LinksRemain", 3)
    assert cond.message.startswith("deletion waits for 12 link(s) that use the pool: ns/l00")
    assert "ns/l09 and 2 more" in cond.message
    assert "ns/l10" not in cond.message
    assert pool_status.deletion_condition([], 3).reason == "NoLinksLeft"


class _IdleRuntime:
    refresh_interval = 30.0


async def test_a_deleted_pool_lets_go_when_its_last_link_goes_not_on_its_next_round(
    kube: FakeKube,
) -> None:
    """An idle pool waits its whole interval between rounds; the wake that the
    last link's release sends ends that wait for a pool being deleted."""
    entry = _entry(kube, finalizers=[POOL_FINALIZER], deletionTimestamp=DELETING)
    index = LinkIndex()
    _link(index, "db")
    loops = _loops(kube, index)
    loops.entries["pool"] = entry
    runtime: Any = _IdleRuntime()
    waiting = asyncio.create_task(loops._wait_until_due(entry, runtime, time.monotonic(), 0.01))
    await asyncio.sleep(0)
    loops.wake_pool("pool")  # a wake while a link remains: the wait goes on
    await asyncio.sleep(0.3)
    assert not waiting.done()
    index.drop(("team-a", "db"))
    loops.wake_pool("pool")
    await asyncio.wait_for(waiting, 5.0)  # not the pool's 30 s interval
    assert await loops.guard(entry) is True
    assert _finalizers(kube) is None
