"""P21 cleanup of a pool's leftovers, in Kubernetes terms: records, Events, logs.

Once an hour per pool (on the pool loop), :class:`LeftoverCleanup` takes the
connections no link holds (:func:`~interconnect_operator.reconcile.cleanup.leftovers`),
reads the operator's ownership record of each UUID (``k8s/ownership.py``:
the proof that the operator created it, for which link uid), and lets
:func:`~interconnect_operator.protocol.cleanup.decide_cleanup` judge. What is
deleted is deleted (no dry run), logged and announced with a Warning Event
``LeftoverDeleted`` on the pool; the ownership record goes last, once every
provider's copy is gone. Anything without a record naming a vanished link is
never touched. An operator restricted to some namespaces (``--namespace``)
cannot tell a vanished link from one outside its view and runs no cleanup.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

from interconnect_operator.api.errors import ApiError
from interconnect_operator.k8s import status as status_mod
from interconnect_operator.k8s.index import LinkIndex, shared_uuid
from interconnect_operator.k8s.kube import KubeError
from interconnect_operator.k8s.kubeapi import KubeApi
from interconnect_operator.k8s.ownership import record_name, well_formed
from interconnect_operator.k8s.publish import involved
from interconnect_operator.protocol.cleanup import CLEANUP_AFTER, Leftover, decide_cleanup
from interconnect_operator.reconcile.cleanup import delete_leftover, leftovers
from interconnect_operator.reconcile.pool import PoolRuntime

__all__ = ["CLEANUP_EVERY", "LeftoverCleanup"]

logger = logging.getLogger(__name__)

#: How often a pool's leftovers are looked at.
CLEANUP_EVERY = dt.timedelta(hours=1)


class LeftoverCleanup:
    """P21 for the operator's pools; remembers when each leftover was first seen."""

    def __init__(
        self,
        kube: KubeApi,
        index: LinkIndex,
        namespace: str,
        *,
        clock: Callable[[], dt.datetime] = status_mod.now,
        every: dt.timedelta = CLEANUP_EVERY,
        after: dt.timedelta = CLEANUP_AFTER,
        enabled: bool = True,
    ) -> None:
        self.enabled = enabled
        self._kube = kube
        self._index = index
        self._namespace = namespace
        self._clock = clock
        self._every = every
        self._after = after
        self._last_run: dict[str, dt.datetime] = {}
        self._first_seen: dict[tuple[str, str, str], dt.datetime] = {}
        """(pool, uuid, interconnect) -> first seen as a leftover by this process."""

    def forget_pool(self, pool: str) -> None:
        self._last_run.pop(pool, None)
        for key in [k for k in self._first_seen if k[0] == pool]:
            del self._first_seen[key]

    async def run(self, pool: str, runtime: PoolRuntime, pool_body: dict[str, Any]) -> None:
        """One look at the pool's leftovers, at most every ``every``."""
        if not self.enabled:
            return
        now = self._clock()
        last = self._last_run.get(pool)
        if last is not None and now - last < self._every:
            return
        # The first round after start only takes note: the link index may not
        # hold every link yet, and nothing can be seven days old in this process.
        first_round = last is None
        self._last_run[pool] = now
        bodies = list(self._index.links.values())
        held = {u for u in (shared_uuid(b) for b in bodies) if u}
        live_uids = {str(b["metadata"].get("uid") or "") for b in bodies}
        found = leftovers(runtime, held)
        seen = {(pool, f.uuid, f.interconnect) for f in found}
        for key in [k for k in self._first_seen if k[0] == pool and k not in seen]:
            del self._first_seen[key]
        for leftover in found:
            first = self._first_seen.setdefault((pool, leftover.uuid, leftover.interconnect), now)
            if first_round or not well_formed(leftover.uuid):
                continue  # no record can exist under such a name: not ours
            try:
                record = await self._kube.get_configmap(self._namespace, record_name(leftover.uuid))
            except KubeError as exc:
                if exc.status != 404:
                    logger.warning("ownership record unreadable: %s", exc, extra={"pool": pool})
                    continue
                record = None
            meta = (record or {}).get("metadata") or {}
            verdict = decide_cleanup(
                leftover,
                record_uid=str((record or {}).get("data", {}).get("uid") or "") or None,
                record_created=status_mod.parse_time(meta.get("creationTimestamp")),
                live_uids=live_uids,
                first_seen=first,
                now=now,
                after=self._after,
            )
            if verdict.delete:
                await self._delete(pool, runtime, pool_body, leftover, verdict.reason)

    async def _delete(
        self,
        pool: str,
        runtime: PoolRuntime,
        pool_body: dict[str, Any],
        leftover: Leftover,
        reason: str,
    ) -> None:
        where = "one side" if leftover.one_sided else "both sides, never finalised"
        try:
            gone = await delete_leftover(runtime, leftover)
        except ApiError as exc:
            logger.warning(
                "P21: deleting leftover %s failed: %s", leftover.uuid, exc, extra={"pool": pool}
            )
            return
        message = (
            f"P21: deleted connection {leftover.uuid} on {leftover.interconnect} at "
            f"{', '.join(gone)} ({where}); the operator created it for a link that no "
            f"longer exists, unfinished for seven days"
        )
        logger.warning(message, extra={"pool": pool, "reason": reason})
        await self._kube.create_event(
            involved(pool_body, "CapacityPool"),
            type_="Warning",
            reason="LeftoverDeleted",
            message=message,
        )
        self._first_seen.pop((pool, leftover.uuid, leftover.interconnect), None)
        try:
            await self._kube.delete_configmap(self._namespace, record_name(leftover.uuid))
        except KubeError as exc:
            if exc.status != 404:
                logger.warning("ownership record not deleted: %s", exc, extra={"pool": pool})
