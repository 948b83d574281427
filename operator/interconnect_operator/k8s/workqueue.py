"""A keyed, de-duplicating work queue with delayed requeue.

Why not kopf's own handler retries: kopf persists handler progress in
annotations, so every retry is a Kubernetes write. Links are watched with
``kopf.on.event`` (which writes nothing) and their keys land here; a fixed set
of workers reconciles them, one key at a time per key (never two reconciles of
the same link at once), and a key that is already queued is not queued twice.
A reconcile that asks to look again later is requeued after a delay, the
pool refresh can wake keys early (observe in bulk, act per link).

Metrics follow client-go's work queue (depth, adds, queue latency, work
duration, retries, unfinished work, longest running processor): each queue
reports to a `QueueMetrics` it is given, or that the process-wide provider
(`set_metrics_provider`, client-go's ``workqueue.SetProvider``) makes for
its name; `interconnect_operator.metrics` implements it.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import time
from collections.abc import Awaitable, Callable, Hashable, Iterable
from typing import Generic, Protocol, TypeVar

K = TypeVar("K", bound=Hashable)

logger = logging.getLogger(__name__)

Processor = Callable[[K], Awaitable[float | None]]
"""Reconciles one key; returns seconds until it wants to look again, or None."""


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
    """Keys wait in FIFO order; a key being processed is re-queued once after it finishes."""

    def __init__(
        self,
        processor: Processor[K],
        *,
        workers: int = 16,
        name: str = "queue",
        metrics: QueueMetrics | None = None,
    ) -> None:
        self._processor = processor
        self._workers = workers
        self._name = name
        self._ready: asyncio.Queue[K] = asyncio.Queue()
        self._queued: set[K] = set()
        self._active: set[K] = set()
        self._dirty: set[K] = set()
        self._delayed: list[tuple[float, int, K]] = []
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

    def add(self, key: K) -> None:
        """Queue ``key`` now (no-op when it is already queued; re-run when it is active)."""
        self._due.pop(key, None)
        if key in self._queued or key in self._dirty:
            return
        self._metrics.added()
        self._added_at[key] = time.monotonic()
        if key in self._active:
            self._dirty.add(key)
            return
        self._queued.add(key)
        self._ready.put_nowait(key)

    def add_after(self, key: K, delay: float) -> None:
        """Queue ``key`` after ``delay`` seconds, unless it is due earlier already."""
        if delay <= 0:
            self.add(key)
            return
        due = time.monotonic() + delay
        current = self._due.get(key)
        if current is not None and current <= due:
            return
        self._due[key] = due
        heapq.heappush(self._delayed, (due, next(self._seq), key))
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
                due, _, key = heapq.heappop(self._delayed)
                if self._due.get(key) == due:
                    del self._due[key]
                    self.add(key)
            timeout = self._delayed[0][0] - now if self._delayed else None
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    async def _work(self) -> None:
        while True:
            key = await self._ready.get()
            self._queued.discard(key)
            self._active.add(key)
            started = time.monotonic()
            self._metrics.waited(started - self._added_at.pop(key, started))
            self._started_at[key] = started
            delay: float | None = None
            try:
                delay = await self._processor(key)
            except asyncio.CancelledError:
                raise
            except Exception:
                # The processor reports its own failures; this is the last line
                # of defence so one bad object never kills a worker.
                logger.exception("unhandled error while reconciling %s", key)
                delay = 30.0
            finally:
                self._active.discard(key)
                del self._started_at[key]
                self._metrics.worked(time.monotonic() - started)
            if key in self._dirty:
                self._dirty.discard(key)
                # Already counted as added (and its wait started) when it was marked.
                self._due.pop(key, None)
                self._queued.add(key)
                self._ready.put_nowait(key)
            elif delay is not None:
                self._metrics.retried()
                self.add_after(key, delay)
