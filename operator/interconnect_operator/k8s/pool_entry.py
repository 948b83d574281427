"""One CapacityPool as the operator holds it: its body, its loop's task and
events, its provider clients once built, and what its status shows so far.
Shared by the pool loops (``k8s.pools``), the status writes
(``k8s.pool_report``) and the links that wait on a pool's first snapshot."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from interconnect_operator.api.lanes import standing_by
from interconnect_operator.k8s.waits import wait_set
from interconnect_operator.reconcile.channels import ChannelWatch
from interconnect_operator.reconcile.driver import LinkDriver, PoolView


@dataclass
class PoolEntry:
    """One CapacityPool: its latest body, its loop, its clients once built."""

    name: str
    body: dict[str, Any]
    generation: int = 0
    runtime: PoolView | None = None
    """The symmetric PoolRuntime or a CustomerPool (``reconcile.driver``)."""
    reconciler: LinkDriver | None = None
    task: asyncio.Task[None] | None = None
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    error: tuple[str, str] | None = None
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    busy: set[tuple[str, str]] = field(default_factory=set)
    """Links of this pool still making progress: the pool refreshes faster meanwhile."""
    blocked_event: str | None = None
    """The Warning already emitted for this pool's blocked deletion (once per deletion)."""
    watch: ChannelWatch | None = None
    secret_digests: dict[str, str] = field(default_factory=dict)
    """Secret name -> digest of the data the pool's clients were built from."""
    builds: int = 0
    """How many times the pool's clients were built (a rebuild is a new pool to its links)."""
    lagging: asyncio.Event = field(default_factory=asyncio.Event)
    """A link of the pool changed since the status was last written (``PoolLoops._publish``)."""
    published_at: float = 0.0
    """When the status was last written from a refresh or the snapshot (monotonic)."""
    refreshed: bool = False
    """The latest refresh succeeded: the snapshot may be published (else its error stands)."""
    released: bool = False
    """The operator let go of the pool being deleted (its finalizer removed or on its
    way out): the object is gone or going, and nothing more is written to it."""
    writes: asyncio.Lock = field(default_factory=asyncio.Lock)
    """Held by a status write and by letting go: neither overtakes the other."""

    def mark_published(self) -> None:
        """What the links changed so far is in the status being written now."""
        self.lagging.clear()
        self.published_at = time.monotonic()

    async def wait_ready(self, timeout: float) -> bool:
        """Wait (bounded) for the pool's first snapshot; True once it is there.
        A link waiting here is not at work meanwhile (``api.lanes``)."""
        with standing_by():
            return await wait_set(self.ready, timeout)
