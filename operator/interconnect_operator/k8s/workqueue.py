"""A keyed, de-duplicating work queue with delayed requeue.

Why not kopf's own handler retries: kopf persists handler progress in
annotations, so every retry is a Kubernetes write. Links are watched by the
operator's own list and watch (``k8s/watch.py``, which writes nothing) and
their keys land here; a fixed set
of workers reconciles them, one key at a time per key (never two reconciles of
the same link at once), and a key that is already queued is not queued twice.
A reconcile that asks to look again later is requeued after a delay, the
pool refresh can wake keys early (observe in bulk, act per link).

Two priorities: a key added for a change (a user's edit, a new link, a
deletion, a provider's change seen by a refresh) is served before a key that
is only due for a periodic recheck, so a link applied while thousands of
Ready links are rechecked does not wait behind them. Never starved: while
changes keep coming, every ``RECHECK_SHARE``-th key served is a waiting
recheck (the oldest). A key waiting as a recheck that is added for a change
moves up; one waiting for a change stays there when a recheck asks for it.

Metrics follow client-go's work queue (depth, adds, queue latency, work
duration, retries, unfinished work, longest running processor): each queue
reports to a `QueueMetrics` it is given, or that the process-wide provider
(`set_metrics_provider`, client-go's ``workqueue.SetProvider``) makes for
its name; `interconnect_operator.metrics` implements it.
"""

from __future__ import annotations

import asyncio
import enum
import heapq
import itertools
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from interconnect_operator.k8s.waits import wait_set

K = TypeVar("K", bound=Hashable)

logger = logging.getLogger(__name__)


class Priority(enum.IntEnum):
    """Why a key is queued; lower values are served first."""

    CHANGE = 0
    """Something changed: a user's edit, a new or deleted object, a provider's change."""
    RECHECK = 1
    """Nothing is known to have changed: a periodic look (a Ready link's recheck)."""


#: While changes keep coming, one key in this many served is a waiting recheck.
RECHECK_SHARE = 8


@dataclass(frozen=True)
class Requeue:
    """A processor's answer: look at the key again ``after`` seconds, at ``priority``."""

    after: float
    priority: Priority = Priority.CHANGE


Processor = Callable[[K], Awaitable[float | Requeue | None]]
"""Reconciles one key; returns seconds (a change's priority) or a ``Requeue`` until it
wants to look again, or None."""


class QueueMetrics(Protocol):
    """What a work queue reports (client-go's queue metrics, by queue name)."""

    def bind(
        self, depth: Callable[[], int], processing_since: Callable[[], Iterable[float]]
    ) -> None:
        """Read at scrape time: keys waiting, and monotonic start times of keys in work."""

    def added(self) -> None:
        """A key entered the queue (not counted when it was already waiting)."""

    def waited(self, seconds: float) -> None:
        """A worker took a key that waited ``seconds`` since it was added."""

    def worked(self, seconds: float) -> None:
        """A reconcile of one key took ``seconds``."""

    def retried(self) -> None:
        """A key was requeued with a delay after its reconcile (asked to look again, or failed)."""


class _NoMetrics:
    def bind(
        self, depth: Callable[[], int], processing_since: Callable[[], Iterable[float]]
    ) -> None:
        pass

    def added(self) -> None:
        pass

    def waited(self, seconds: float) -> None:
        pass

    def worked(self, seconds: float) -> None:
        pass

    def retried(self) -> None:
        pass


_provider: Callable[[str], QueueMetrics] | None = None


def set_metrics_provider(provider: Callable[[str], QueueMetrics] | None) -> None:
    """Make queues created from now on report to ``provider(name)`` (None: no metrics)."""
    global _provider  # one provider per process, as in client-go
    _provider = provider


class WorkQueue(Generic[K]):
    """Keys wait in FIFO order per priority; a key being processed is re-queued once after
    it finishes."""

    def __init__(
        self,
        processor: Processor[K],
        *,
        workers: int = 16,
        name: str = "queue",
        metrics: QueueMetrics | None = None,
        recheck_share: int = RECHECK_SHARE,
    ) -> None:
        self._processor = processor
        self._workers = workers
        self._name = name
        self._recheck_share = max(1, recheck_share)
        # One FIFO per priority; an entry is live while _queued holds its ticket
        # (a key that moved up leaves a dead entry behind, skipped when reached).
        self._lanes: dict[Priority, deque[tuple[int, K]]] = {p: deque() for p in Priority}
        self._queued: dict[K, tuple[Priority, int]] = {}
        self._available = asyncio.Semaphore(0)
        """One unit per live queued key: a worker that takes one finds a key."""
        self._served_since_recheck = 0
        self._active: set[K] = set()
        self._dirty: dict[K, Priority] = {}
        self._delayed: list[tuple[float, int, K, Priority]] = []
        self._due: dict[K, float] = {}
        self._seq = itertools.count()
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        # Monotonic times: when each waiting key was added, when each active key started.
        self._added_at: dict[K, float] = {}
        self._started_at: dict[K, float] = {}
        if metrics is None:
            metrics = _provider(name) if _provider is not None else _NoMetrics()
        self._metrics = metrics
        # A key waiting again after its current reconcile counts as waiting (client-go).
        metrics.bind(
            lambda: len(self._queued) + len(self._dirty),
            lambda: list(self._started_at.values()),
        )

    def __len__(self) -> int:
        return len(self._queued) + len(self._delayed)

    @property
    def idle(self) -> bool:
        """True when nothing is queued or being processed (delayed keys do not count)."""
        return not self._queued and not self._active

    def waiting(self, priority: Priority) -> int:
        """Keys waiting at ``priority`` now (not counting keys in work)."""
        return sum(1 for p, _ in self._queued.values() if p is priority)

    def add(self, key: K, priority: Priority = Priority.CHANGE) -> None:
        """Queue ``key`` now (no-op when it is already queued at this priority or a more
        urgent one; moved up when queued as a recheck; re-run when it is active)."""
        self._due.pop(key, None)
        queued = self._queued.get(key)
        if queued is not None:
            if priority < queued[0]:
                self._enqueue(key, priority, new=False)
            return
        if key in self._dirty:
            self._dirty[key] = min(self._dirty[key], priority)
            return
        self._metrics.added()
        self._added_at[key] = time.monotonic()
        if key in self._active:
            self._dirty[key] = priority
            return
        self._enqueue(key, priority, new=True)

    def _enqueue(self, key: K, priority: Priority, *, new: bool) -> None:
        ticket = next(self._seq)
        self._queued[key] = (priority, ticket)
        self._lanes[priority].append((ticket, key))
        if new:
            self._available.release()

    def _pop(self) -> K:
        """The next key to serve (a unit of ``_available`` was taken: one is live)."""
        change, recheck = self._lanes[Priority.CHANGE], self._lanes[Priority.RECHECK]
        self._drop_dead(change)
        self._drop_dead(recheck)
        if recheck and (not change or self._served_since_recheck >= self._recheck_share - 1):
            lane = recheck
            self._served_since_recheck = 0
        else:
            lane = change
            self._served_since_recheck += 1 if recheck else 0
        _, key = lane.popleft()
        del self._queued[key]
        return key

    def _drop_dead(self, lane: deque[tuple[int, K]]) -> None:
        while lane:
            ticket, key = lane[0]
            queued = self._queued.get(key)
            if queued is not None and queued[1] == ticket:
                return
            lane.popleft()

    def add_after(self, key: K, delay: float, priority: Priority = Priority.CHANGE) -> None:
        """Queue ``key`` after ``delay`` seconds, unless it is due earlier already."""
        if delay <= 0:
            self.add(key, priority)
            return
        due = time.monotonic() + delay
        current = self._due.get(key)
        if current is not None and current <= due:
            return
        self._due[key] = due
        heapq.heappush(self._delayed, (due, next(self._seq), key, priority))
        self._wake.set()

    def forget(self, key: K) -> None:
        """Drop any delayed requeue of ``key`` (e.g. the object was deleted)."""
        self._due.pop(key, None)

    def start(self) -> None:
        """Start the workers and the delay timer inside the running loop."""
        if self._tasks:
            return
        for index in range(self._workers):
            self._tasks.append(
                asyncio.create_task(self._work(), name=f"{self._name}-worker-{index}")
            )
        self._tasks.append(asyncio.create_task(self._timer(), name=f"{self._name}-timer"))

    async def stop(self) -> None:
        """Cancel the workers; keys in flight finish their current await point."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    async def _timer(self) -> None:
        while True:
            now = time.monotonic()
            while self._delayed and self._delayed[0][0] <= now:
                due, _, key, priority = heapq.heappop(self._delayed)
                if self._due.get(key) == due:
                    del self._due[key]
                    self.add(key, priority)
            timeout = self._delayed[0][0] - now if self._delayed else None
            self._wake.clear()
            await wait_set(self._wake, timeout)

    async def _work(self) -> None:
        while True:
            await self._available.acquire()
            key = self._pop()
            self._active.add(key)
            started = time.monotonic()
            self._metrics.waited(started - self._added_at.pop(key, started))
            self._started_at[key] = started
            answer: float | Requeue | None = None
            try:
                answer = await self._processor(key)
            except asyncio.CancelledError:
                raise
            except Exception:
                # The processor reports its own failures; this is the last line
                # of defence so one bad object never kills a worker.
                logger.exception("unhandled error while reconciling %s", key)
                answer = Requeue(30.0, Priority.RECHECK)
            finally:
                self._active.discard(key)
                del self._started_at[key]
                self._metrics.worked(time.monotonic() - started)
            dirty = self._dirty.pop(key, None)
            if dirty is not None:
                # Already counted as added (and its wait started) when it was marked.
                self._due.pop(key, None)
                self._enqueue(key, dirty, new=True)
            elif answer is not None:
                self._metrics.retried()
                if isinstance(answer, Requeue):
                    self.add_after(key, answer.after, answer.priority)
                else:
                    self.add_after(key, answer)
