"""Bulk reads yield to per-link work: few pages in flight, and standing aside.

A pool's refresh lists every interconnect's connections and features at once
(``reconcile.reader``: one list per interconnect and kind, all concurrently).
A provider answers a link's call after whatever it was asked before it, so
with every list of a 10,000-link pool in flight, each call of a link applied
meanwhile waited behind up to ten pages of 1,000 features on each side, and a
bring-up is a dozen such calls in sequence. Bulk reads are marked (a context
variable that the tasks a reader starts inherit) and each client lets at
most ``BULK_IN_FLIGHT`` of their requests be in flight; the other calls are
not counted against it. A refresh still pipelines its pages (the next is
asked for while one is decoded), and a provider serves one request at a time
per worker either way, so the bound costs a refresh little wall time.

The operator's own event loop is the other queue a link waits in: a refresh
that decodes changed pages gives the loop a turn every few hundred items, and
a link's bring-up needs dozens of turns, each behind one of those slices. So
while a few links are being worked on (``link_work``: the work queue's
reconcile of one link), a bulk read stands aside at its turns
(``bulk_turn``) until they are done, for at most as long in total as it has
run itself (a refresh never takes more than twice its time this way, and a
steady trickle of links cannot starve it). A link that waits for the pool
(a refresh it needs, the pool's first snapshot) is not at work meanwhile
(``standing_by``). With more links at work (a burst) a bulk read keeps its
pace: its snapshot is what the burst's waiting links need next.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from contextvars import ContextVar

__all__ = [
    "BULK_IN_FLIGHT",
    "FEW_LINKS",
    "bulk_reads",
    "bulk_turn",
    "in_bulk_read",
    "link_work",
    "links_at_work",
    "standing_by",
]

BULK_IN_FLIGHT = 2
"""List requests of bulk reads in flight at once, per provider client."""

FEW_LINKS = 4
"""Bulk reads stand aside while at most this many links are at work (more: a burst)."""

STEP_SECONDS = 0.005
"""How often a bulk read standing aside looks whether the links are done."""


class BulkRead:
    """One bulk read: when it began and how long it has stood aside so far.

    Its tasks (one list per interconnect and kind) stand aside together; the
    wall time they do is counted once (``counted_to``: the end of the time
    counted so far), so the budget is the read's, not each task's.
    """

    __slots__ = ("began", "counted_to", "stood_aside")

    def __init__(self) -> None:
        self.began = time.monotonic()
        self.stood_aside = 0.0
        self.counted_to = self.began

    def count(self, since: float, until: float) -> None:
        """Add the time from ``since`` to ``until`` not counted yet."""
        self.stood_aside += max(0.0, until - max(since, self.counted_to))
        self.counted_to = max(self.counted_to, until)


class _AtWork:
    """Links being worked on now (one event loop per process)."""

    count = 0


_BULK: ContextVar[BulkRead | None] = ContextVar("interconnect_bulk_read", default=None)
_LINK: ContextVar[bool] = ContextVar("interconnect_link_work", default=False)


@contextlib.contextmanager
def bulk_reads() -> Iterator[BulkRead]:
    """Mark the calls made in the block (and in tasks started from it) as one bulk read's."""
    read = BulkRead()
    token = _BULK.set(read)
    try:
        yield read
    finally:
        _BULK.reset(token)


def in_bulk_read() -> bool:
    """Whether the running call belongs to a bulk read."""
    return _BULK.get() is not None


@contextlib.contextmanager
def link_work() -> Iterator[None]:
    """The block works on one link: bulk reads stand aside meanwhile (when few are)."""
    token = _LINK.set(True)
    _AtWork.count += 1
    try:
        yield
    finally:
        _AtWork.count -= 1
        _LINK.reset(token)


@contextlib.contextmanager
def standing_by() -> Iterator[None]:
    """Inside ``link_work``: the block waits for the pool (a refresh), so the
    link is not at work meanwhile. Elsewhere (the pool's own loop) nothing."""
    if not _LINK.get():
        yield
        return
    token = _LINK.set(False)
    _AtWork.count -= 1
    try:
        yield
    finally:
        _AtWork.count += 1
        _LINK.reset(token)


def links_at_work() -> int:
    return _AtWork.count


async def bulk_turn() -> None:
    """A turn of the event loop; inside a bulk read, also stand aside while a
    few links are at work, within the read's budget (as long as it has run)."""
    await asyncio.sleep(0)
    read = _BULK.get()
    if read is None:
        return
    while 0 < _AtWork.count <= FEW_LINKS:
        now = time.monotonic()
        if 2 * read.stood_aside >= now - read.began:
            return
        await asyncio.sleep(STEP_SECONDS)
        read.count(now, time.monotonic())
