"""api.lanes: a bulk read stands aside while a few links are at work, within its budget."""

from __future__ import annotations

import asyncio
import datetime as dt
import time

import httpx

from interconnect_operator.api import lanes
from interconnect_operator.api.client import ProviderClient
from interconnect_operator.api.lanes import (
    FEW_LINKS,
    bulk_reads,
    bulk_turn,
    link_work,
    links_at_work,
    standing_by,
)
from interconnect_operator.protocol.types import Side
from interconnect_operator.reconcile.pool import PoolConfig, PoolRuntime, ProviderConfig
from interconnect_operator.reconcile.reader import SideReader, read_pool
from tests.unit.reconcile.test_snapshot_pages import CALLER, ENV, PEER, FakeSide


async def _work_on_a_link(release: asyncio.Event, done: list[str]) -> None:
    with link_work():
        await release.wait()
        done.append("link")


async def test_outside_a_bulk_read_a_turn_never_waits_for_links() -> None:
    release = asyncio.Event()
    done: list[str] = []
    link = asyncio.create_task(_work_on_a_link(release, done))
    await asyncio.sleep(0)
    assert links_at_work() == 1
    await bulk_turn()  # not a bulk read: one turn, no standing aside
    assert done == []
    release.set()
    await link
    assert links_at_work() == 0


async def test_a_bulk_read_stands_aside_until_the_link_is_done() -> None:
    release = asyncio.Event()
    done: list[str] = []
    link = asyncio.create_task(_work_on_a_link(release, done))
    await asyncio.sleep(0)
    with bulk_reads() as read:
        read.began -= 60.0  # a read that has run a while: budget to spare
        turn = asyncio.create_task(bulk_turn())
        await asyncio.sleep(0.05)
        assert not turn.done(), "the read went on while the link was at work"
        release.set()
        await asyncio.wait_for(turn, 5.0)
    assert done == ["link"]
    assert read.stood_aside > 0
    await link


async def test_standing_aside_is_bounded_by_the_reads_own_time() -> None:
    """A link at work for ever (or a steady trickle) cannot starve the read."""
    release = asyncio.Event()
    link = asyncio.create_task(_work_on_a_link(release, []))
    await asyncio.sleep(0)
    with bulk_reads() as read:
        await asyncio.sleep(0.05)  # the read's own running time so far
        await asyncio.wait_for(bulk_turn(), 5.0)
        ran = time.monotonic() - read.began
    assert links_at_work() == 1
    assert read.stood_aside > 0
    assert 2 * read.stood_aside <= ran + 2 * lanes.STEP_SECONDS
    release.set()
    await link


async def test_turns_standing_aside_together_count_their_wall_time_once() -> None:
    """A refresh lists every interconnect at once: its tasks stand aside
    together, and the read's budget counts that time once, not per task."""
    release = asyncio.Event()
    link = asyncio.create_task(_work_on_a_link(release, []))
    await asyncio.sleep(0)
    with bulk_reads() as read:
        read.began -= 60.0
        turns = [asyncio.create_task(bulk_turn()) for _ in range(20)]
        began = time.monotonic()
        await asyncio.sleep(0.1)
        release.set()
        await asyncio.wait_for(asyncio.gather(*turns), 5.0)
        wall = time.monotonic() - began
    assert 0 < read.stood_aside <= wall + lanes.STEP_SECONDS
    await link


async def test_in_a_burst_a_bulk_read_keeps_its_pace() -> None:
    release = asyncio.Event()
    links = [asyncio.create_task(_work_on_a_link(release, [])) for _ in range(FEW_LINKS + 1)]
    await asyncio.sleep(0)
    with bulk_reads() as read:
        read.began -= 60.0
        await asyncio.wait_for(bulk_turn(), 5.0)
    assert read.stood_aside == 0
    release.set()
    await asyncio.gather(*links)


async def test_a_link_waiting_for_the_pool_is_not_at_work() -> None:
    with standing_by():  # outside link work: nothing to uncount
        assert links_at_work() == 0
    with link_work():
        assert links_at_work() == 1
        with standing_by():
            assert links_at_work() == 0
        assert links_at_work() == 1
    assert links_at_work() == 0


async def test_a_link_waiting_for_a_pool_read_does_not_hold_it_back() -> None:
    """A link that needs a refresh (PoolRuntime.refresh stands by) is not waited
    for by that refresh: the read ends without standing aside for it."""
    side = FakeSide({"ix1": 4, "ix2": 4})
    clients = [
        ProviderClient(f"https://{name}.test", caller, transport=httpx.MockTransport(side.handle))
        for name, caller in (("aws", CALLER), ("gcp", PEER))
    ]
    readers = [
        SideReader(c, caller, ENV) for c, caller in zip(clients, (CALLER, PEER), strict=True)
    ]
    original = lanes.BulkRead.__init__

    def remember(self: lanes.BulkRead) -> None:
        original(self)
        self.began -= 60.0  # budget to spare: only the link's state decides
        reads.append(self)

    reads: list[lanes.BulkRead] = []
    lanes.BulkRead.__init__ = remember  # type: ignore[method-assign]
    try:
        async with clients[0], clients[1]:
            with link_work(), standing_by():
                await read_pool(readers[0], readers[1], ENV, dt.datetime.now(dt.UTC))
            assert reads[-1].stood_aside == 0
            release = asyncio.Event()
            link = asyncio.create_task(_work_on_a_link(release, []))
            await asyncio.sleep(0)
            reading = asyncio.create_task(
                read_pool(readers[0], readers[1], ENV, dt.datetime.now(dt.UTC))
            )
            await asyncio.sleep(0.05)
            assert not reading.done(), "the read did not stand aside for a link at work"
            release.set()
            await asyncio.wait_for(reading, 10.0)
            assert reads[-1].stood_aside > 0
            await link
    finally:
        lanes.BulkRead.__init__ = original  # type: ignore[method-assign]


async def test_a_link_calling_for_a_refresh_is_not_waited_for_by_it() -> None:
    """PoolRuntime.refresh stands by for its caller: a link that needs a read
    (a pool with no snapshot yet) does not make that read stand aside for it."""
    side = FakeSide({"ix1": 4, "ix2": 4})
    clients = [
        ProviderClient(f"https://{name}.test", caller, transport=httpx.MockTransport(side.handle))
        for name, caller in (("aws", CALLER), ("gcp", PEER))
    ]
    config = PoolConfig(
        "pool",
        ENV,
        ProviderConfig(name=PEER, endpoint="https://aws.test", call_as=PEER, side=Side.NEGOTIATOR),
        ProviderConfig(
            name=CALLER, endpoint="https://gcp.test", call_as=CALLER, side=Side.RESPONDER
        ),
    )
    runtime = PoolRuntime(config, clients[1], clients[0])
    reads: list[lanes.BulkRead] = []
    original = lanes.BulkRead.__init__

    def remember(self: lanes.BulkRead) -> None:
        original(self)
        self.began -= 60.0
        reads.append(self)

    lanes.BulkRead.__init__ = remember  # type: ignore[method-assign]
    try:
        async with clients[0], clients[1]:
            with link_work():
                snapshot = await asyncio.wait_for(runtime.refresh(), 10.0)
                assert links_at_work() == 1
    finally:
        lanes.BulkRead.__init__ = original  # type: ignore[method-assign]
    assert not snapshot.errors
    assert reads
    assert reads[-1].stood_aside == 0
