"""A restart's bulk confirmation (k8s.restart): it gives the event loop a turn
between chunks of links, so that probes, scrapes and watch events are served
while thousands of stored Ready links are confirmed."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from interconnect_operator.k8s.index import LinkIndex, LinkKey
from interconnect_operator.k8s.restart import CHUNK, RestartBatch
from interconnect_operator.k8s.workqueue import Priority, Requeue


class Confirmations:
    """Confirms every link at once, as a ready pool's confirmation does (no wait)."""

    def __init__(self) -> None:
        self.seen: list[LinkKey] = []

    async def try_confirm(self, key: LinkKey, body: dict[str, Any]) -> Requeue | None:
        self.seen.append(key)
        return Requeue(300.0, Priority.RECHECK)


class Queue:
    def __init__(self) -> None:
        self.later: list[LinkKey] = []

    def add(self, key: LinkKey, priority: Priority = Priority.CHANGE) -> None:
        raise AssertionError("a confirmed link is not queued now")

    def add_after(self, key: LinkKey, after: float, priority: Priority) -> None:
        self.later.append(key)


class Metrics:
    def observe_reconcile(self, kind: str, seconds: float) -> None:
        """Not looked at here."""


def _link(i: int) -> dict[str, Any]:
    return {
        "metadata": {"namespace": "team-a", "name": f"link-{i:05d}", "uid": f"u{i}"},
        "spec": {"poolRef": {"name": "pool"}},
    }


async def test_the_bulk_pass_gives_the_loop_a_turn_between_chunks() -> None:
    index = LinkIndex()
    links = 3 * CHUNK + 1
    for i in range(links):
        index.observe(_link(i))
    confirmations, queue = Confirmations(), Queue()
    counted: list[int] = []
    batch = RestartBatch(
        index,
        cast(Any, confirmations),
        cast(Any, queue),
        cast(Any, Metrics()),
        lambda: counted.append(1),
    )
    for key in index.links:
        assert batch.hold(key)
    progress: list[int] = []

    async def other_work() -> None:
        # Stands for a probe or a watch event: notes how far the pass got each turn.
        while True:
            progress.append(len(confirmations.seen))
            await asyncio.sleep(0)

    other = asyncio.create_task(other_work())
    await asyncio.sleep(0)
    await batch.confirm()
    other.cancel()
    assert len(queue.later) == links
    assert len(counted) == links
    assert batch.counts == {"confirmed": links, "queued": 0}
    # Other work ran while the pass was under way, after each chunk.
    during = sorted({p for p in progress if 0 < p < links})
    assert during == [CHUNK, 2 * CHUNK, 3 * CHUNK]
