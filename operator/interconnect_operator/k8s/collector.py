"""The cyclic collector on a large, long-lived heap: a full collection walks what is new.

At 10,000 links the operator holds millions of objects for as long as it
runs (kept link bodies, snapshot records, per-link metrics). CPython's full
collection walks every one of them with the event loop held, and a refresh
that finds changed pages allocates enough to bring one about every few
refreshes: a link applied then waited for the walk (bench/analysis.md,
round 11).

After each full collection, what survived it is frozen (``gc.freeze``:
moved to a permanent generation that later collections do not walk), so the
next full collections walk only what was allocated since. Frozen objects
are still freed by reference count as always; only garbage cycles among
them wait. Every ``thaw_seconds`` everything is given back to the collector
(``gc.unfreeze``), so the full collection after that walks the whole heap
once and collects any such cycle. So the memory a cycle can hold is bounded
by that period, and the walk a link can meet is bounded by what was
allocated since the last full collection (the whole heap once per period).

The collector calls back from whichever thread triggered it (the metrics
server's thread too); the freeze itself runs on the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
from collections.abc import Callable
from typing import Any

THAW_SECONDS = 600.0
"""How often frozen objects are given back to the collector (one whole-heap walk)."""


class CollectorPolicy:
    """Freeze the survivors of each full collection; thaw them every ``thaw_seconds``."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        *,
        thaw_seconds: float = THAW_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._loop = loop
        self._thaw_seconds = thaw_seconds
        self._clock = clock
        self._thawed_at = clock()
        self.freezes = 0
        self.thaws = 0

    def start(self) -> None:
        gc.callbacks.append(self._on_collection)

    def stop(self) -> None:
        """Stop freezing and give everything back to the collector."""
        with contextlib.suppress(ValueError):
            gc.callbacks.remove(self._on_collection)
        gc.unfreeze()

    def _on_collection(self, phase: str, info: dict[str, Any]) -> None:
        if phase != "stop" or info.get("generation") != 2:
            return
        # Closed at shutdown: the freeze is only worth it while the process runs.
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self.after_full_collection)

    def after_full_collection(self) -> None:
        """On the loop, after a full collection: freeze its survivors, or,
        once per period, leave everything to the next one (a whole-heap walk)."""
        now = self._clock()
        if now - self._thawed_at >= self._thaw_seconds:
            gc.unfreeze()
            self._thawed_at = now
            self.thaws += 1
            return
        gc.freeze()
        self.freezes += 1
