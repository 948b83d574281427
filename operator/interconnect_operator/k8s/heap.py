"""Give the memory freed after a burst back to the operating system.

A burst of reconciles holds every in-flight list page, response and status at
once. When it is over CPython frees those objects, but glibc's malloc keeps
the freed pages in its heaps: the process's RSS stays near the burst's peak
(bench/analysis.md measured 84 MiB of live objects in a 179 MiB process).
``malloc_trim`` returns the free tops and whole free pages inside the heaps.

The trimmer looks every ``period`` seconds at the CPU the process used: once
some work was done since the last trim (at least ``work`` CPU seconds) and the
last period was quiet (under ``quiet`` of a core), it trims once; a process
that stays busy (a steady churn of links) is trimmed every ``busy_every``
periods. An idle process is trimmed rarely. The trim runs in a thread
(ctypes releases the GIL), so the event loop keeps serving meanwhile. Before
a trim the canonical values of kept bodies nothing refers to any more are
dropped (``bodies.sweep``), so that what a burst's statuses left is freed. Where
the C library has no ``malloc_trim`` (musl, macOS) this does nothing.

At 10,000 links the steady process is trimmed about once per refresh (its
~3 % of a core accumulates ``work`` in a few quiet periods). That was
suspected of making each refresh fault its freed pages back in; measured, it
does not: one side's unchanged read at that shape beside two million live
objects takes ~155 minor faults after a trim and none without (~0.1 ms), the
trim itself ~1 ms of CPU; in a N=1000 steady window the operator took under
100 minor faults per refresh. What a refresh paid was the cyclic
collector's full passes (``reconcile.reader``), so the policy is unchanged.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from interconnect_operator.k8s import bodies

logger = logging.getLogger(__name__)


def _load_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


@dataclass
class TrimPolicy:
    """When to trim: pure bookkeeping over CPU seconds (no clock of its own)."""

    work: float = 1.0
    """CPU seconds used since the last trim that make the next one worth it."""
    quiet: float = 0.05
    """Fraction of a core under which a period counts as quiet."""
    busy_every: int = 12
    """Periods after which a process that stayed busy is trimmed anyway."""
    _since_trim: float = 0.0
    _periods: int = 0

    def observe(self, cpu_seconds: float, period: float) -> bool:
        """Record one period's CPU use; True when the heap should be trimmed now."""
        self._since_trim += cpu_seconds
        self._periods += 1
        if self._since_trim < self.work:
            return False
        if cpu_seconds > self.quiet * period and self._periods < self.busy_every:
            return False
        self._since_trim = 0.0
        self._periods = 0
        return True


class HeapTrimmer:
    """Trims the C heap after bursts (see the module docstring)."""

    def __init__(
        self,
        period: float = 10.0,
        policy: TrimPolicy | None = None,
        trim: Callable[[int], int] | None = None,
        cpu: Callable[[], float] = time.process_time,
        sweep: Callable[[], int] = bodies.sweep,
    ) -> None:
        self._period = period
        self._sweep = sweep
        self._policy = policy or TrimPolicy()
        self._trim = trim if trim is not None else _load_trim()
        self._cpu = cpu
        self.trims = 0

    @property
    def available(self) -> bool:
        return self._trim is not None

    def due(self, cpu_seconds: float) -> bool:
        """One period passed using ``cpu_seconds``; True when a trim is due now."""
        return self._trim is not None and self._policy.observe(cpu_seconds, self._period)

    def trim(self) -> None:
        if self._trim is not None:
            self._trim(0)
            self.trims += 1

    async def run(self) -> None:
        if self._trim is None:
            logger.debug("malloc_trim is not available; the heap is not trimmed")
            return
        last = self._cpu()
        while True:
            await asyncio.sleep(self._period)
            now = self._cpu()
            if self.due(now - last):
                # Kept bodies' values nothing holds any more go first (on the loop:
                # the table is not shared with the thread), then the heap is trimmed.
                self._sweep()
                await asyncio.to_thread(self.trim)
            last = self._cpu()
