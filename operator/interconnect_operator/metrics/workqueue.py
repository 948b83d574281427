"""One work queue's metrics in client-go's terms (depth, adds, waits, work, retries)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from prometheus_client import (
    Counter,
    Histogram,
)


class WorkQueueMetrics:
    """One work queue's metrics, as client-go's queue reports them.

    Counters and histograms move as the queue calls `added`, `waited`,
    `worked` and `retried`; depth, unfinished work and the longest running
    reconcile are read from the queue (`bind`) at scrape time.
    """

    def __init__(
        self, *, name: str, adds: Counter, retries: Counter, wait: Histogram, work: Histogram
    ) -> None:
        self.name = name
        self._adds = adds
        self._retries = retries
        self._wait = wait
        self._work = work
        self._depth: Callable[[], int] = lambda: 0
        self._processing_since: Callable[[], Iterable[float]] = tuple

    def bind(
        self, depth: Callable[[], int], processing_since: Callable[[], Iterable[float]]
    ) -> None:
        """Read ``depth()`` and ``processing_since()`` (monotonic start times) at scrape time."""
        self._depth = depth
        self._processing_since = processing_since

    def read(self) -> tuple[int, list[float]]:
        """Keys waiting and the start times of keys in work, now."""
        return self._depth(), list(self._processing_since())

    def added(self) -> None:
        self._adds.inc()

    def waited(self, seconds: float) -> None:
        self._wait.observe(seconds)

    def worked(self, seconds: float) -> None:
        self._work.observe(seconds)

    def retried(self) -> None:
        self._retries.inc()
