"""A restart's bulk confirmation: the stored Ready links of the first list, confirmed
in one pass per pool instead of one queue item each.

A link new to this process whose stored status shows a Ready its current
generation reached is held here (``hold``) until the watch's first list was
delivered and this replica acts; ``confirm`` then takes each pool's held
links together (``ready.try_confirm``'s restart path: same rules, no write,
no call). The confirmed ones come back at their recheck, the others are
queued as rechecks, exactly as one queue item each would have been; the pass
gives the event loop a turn every ``CHUNK`` links. A held
link that changes or goes away before the pass reaches it leaves the batch
(``release``): its event is an ordinary change.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from interconnect_operator import redaction
from interconnect_operator.k8s.index import LinkIndex, LinkKey
from interconnect_operator.k8s.kube import KubeError
from interconnect_operator.k8s.ready import ReadyConfirmations
from interconnect_operator.k8s.workqueue import Priority, WorkQueue
from interconnect_operator.metrics import OperatorMetrics

#: Links the bulk pass confirms between two turns it gives the event loop (~10-20 ms).
CHUNK = 100


class RestartBatch:
    """The links held for a restart's bulk confirmation, and that confirmation."""

    def __init__(
        self,
        index: LinkIndex,
        confirmations: ReadyConfirmations,
        queue: WorkQueue[LinkKey],
        metrics: OperatorMetrics,
        counted: Callable[[], None],
    ) -> None:
        self._index = index
        self._confirmations = confirmations
        self._queue = queue
        self._metrics = metrics
        self._counted = counted
        #: Links new to this process whose stored status is Ready, held for one bulk
        #: confirmation (``confirm``) instead of one queue item each; None
        #: once that pass began (later ones go to the queue as rechecks).
        self.held: set[LinkKey] | None = set()
        #: Held links the bulk pass has not decided yet (pool wake-ups skip them).
        self._pending: set[LinkKey] = self.held
        #: Of those, confirmed by the bulk pass / handed to the queue.
        self.counts: dict[str, int] = {"confirmed": 0, "queued": 0}

    def hold(self, key: LinkKey) -> bool:
        """Hold ``key`` for the bulk pass; False once that pass began."""
        if self.held is None:
            return False
        self.held.add(key)
        return True

    def holds(self, key: LinkKey) -> bool:
        """Whether the bulk pass has yet to decide ``key``."""
        return key in self._pending

    def release(self, key: LinkKey) -> bool:
        """``key`` changed or went away: no longer the pass's to decide (True: it was)."""
        if key not in self._pending:
            return False
        self._pending.discard(key)
        return True

    async def confirm(self) -> None:
        """Confirm the held restart links in one pass per pool (``ready.try_confirm``'s
        restart path: same rules, no write, no call); the rest take the queue.

        Called once the watch's first list was delivered and this replica acts.
        Each pool's links wait for that pool's first snapshot together; the
        confirmed ones come back at their recheck, the others are queued as
        rechecks, exactly as one queue item each would have been.
        """
        batch, self.held = self.held, None
        if not batch:
            return
        self._pending = batch
        by_pool: dict[str, list[LinkKey]] = {}
        for key in sorted(batch):
            body = self._index.links.get(key) or {}
            pool = ((body.get("spec") or {}).get("poolRef") or {}).get("name")
            by_pool.setdefault(pool if isinstance(pool, str) else "", []).append(key)
        await asyncio.gather(*(self._confirm_pool(keys, batch) for keys in by_pool.values()))

    async def _confirm_pool(self, keys: list[LinkKey], batch: set[LinkKey]) -> None:
        for done, key in enumerate(keys):
            if done and not done % CHUNK:
                # A confirmation of a ready pool never waits: without this the pass
                # would hold the loop for seconds at 10,000 links (probes, /metrics,
                # watch events and the pools' refreshes all wait meanwhile).
                await asyncio.sleep(0)
            body = self._index.links.get(key)
            if key not in batch or body is None:
                continue
            tenant = redaction.current_tenant.set(key[0])
            started = time.perf_counter()
            try:
                confirmed = await self._confirmations.try_confirm(key, body)
            except KubeError:
                confirmed = None
            finally:
                redaction.current_tenant.reset(tenant)
            if key not in batch:
                continue  # changed or deleted meanwhile: its event took care of it
            batch.discard(key)
            if confirmed is None:
                self.counts["queued"] += 1
                self._queue.add(key, Priority.RECHECK)
                continue
            self._counted()
            self.counts["confirmed"] += 1
            self._metrics.observe_reconcile("link_confirm", time.perf_counter() - started)
            self._queue.add_after(key, confirmed.after, confirmed.priority)
