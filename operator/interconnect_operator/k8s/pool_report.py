"""A pool's status and health series, written from a refresh report (or the
snapshot between refreshes) or from an error.

Every write goes through one place (``_patch``): redacted with the operator's
own secrets only (a pool belongs to no tenant), skipped when nothing changed,
and never made once the operator let go of a pool being deleted: a status
write and letting go take turns (``PoolEntry.writes``), so a write never
lands on a pool that is gone.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from interconnect_operator import redaction
from interconnect_operator.k8s import pool_status
from interconnect_operator.k8s import status as status_mod
from interconnect_operator.k8s.index import LinkIndex
from interconnect_operator.k8s.kube import POOLS, KubeError
from interconnect_operator.k8s.kubeapi import KubeApi
from interconnect_operator.k8s.pool_entry import PoolEntry
from interconnect_operator.k8s.publish import involved, redacted
from interconnect_operator.metrics import ChannelHealth as ChannelMetrics
from interconnect_operator.metrics import InterconnectHealth, OperatorMetrics, PoolHealth
from interconnect_operator.protocol.conditions import ConditionStatus
from interconnect_operator.reconcile.channels import ChannelHealth
from interconnect_operator.reconcile.pool import PoolReport

logger = logging.getLogger(__name__)

ChannelHealthMap = Mapping[tuple[str, str], ChannelHealth]


class PoolReportWriter:
    """Writes pools' status and health series."""

    def __init__(self, kube: KubeApi, metrics: OperatorMetrics, index: LinkIndex) -> None:
        self._kube = kube
        self._metrics = metrics
        self._index = index

    async def write_report(self, entry: PoolEntry, report: PoolReport) -> ChannelHealthMap:
        """The pool's status and health series from ``report`` (a refresh's, or the
        snapshot's between refreshes); returns the channel health they showed."""
        health = entry.watch.health if entry.watch is not None else {}
        entry.mark_published()
        await self._write_status(entry, report, health)
        self._metrics.set_pool(pool_health(entry.name, report, health))
        return health

    async def _write_status(
        self, entry: PoolEntry, report: PoolReport, health: ChannelHealthMap
    ) -> None:
        old = entry.body.get("status") or {}
        deleting = bool(entry.body["metadata"].get("deletionTimestamp"))
        new = pool_status.pool_status_body(
            report,
            old_status=old,
            generation=entry.generation,
            link_count=self._index.count_of_pool(entry.name),
            now=status_mod.now(),
            channels=health,
            remaining_links=[f"{ns}/{name}" for ns, name in self._index.keys_of_pool(entry.name)]
            if deleting
            else None,
        )
        await self._patch(entry, old, new)

    async def write_error(
        self,
        entry: PoolEntry,
        reason: str,
        message: str,
        *,
        reachable: ConditionStatus = ConditionStatus.UNKNOWN,
        stalled: bool = False,
    ) -> None:
        old = entry.body.get("status") or {}
        # A pool belongs to no tenant: only the operator's own secrets mask it.
        message = redaction.redact(message, redaction.OPERATOR_ONLY)
        new = pool_status.pool_status_error(
            old_status=old,
            generation=entry.generation,
            reason=reason,
            message=message,
            now=status_mod.now(),
            reachable=reachable,
            stalled=stalled,
        )
        if await self._patch(entry, old, new):
            await self._kube.create_event(
                involved(entry.body, "CapacityPool"),
                type_="Warning",
                reason=reason,
                message=message,
            )

    async def _patch(self, entry: PoolEntry, old: Mapping[str, Any], new: dict[str, Any]) -> bool:
        new = redacted(new, redaction.OPERATOR_ONLY)
        if not status_mod.status_changed(old, new):
            return False
        async with entry.writes:
            if entry.released:
                return False  # the pool is gone or going: its loop is about to stop
            try:
                result = await self._kube.patch_status(POOLS, None, entry.name, new)
            except KubeError as exc:
                logger.warning("pool status write failed: %s", exc, extra={"pool": entry.name})
                return False
        entry.body["status"] = result.get("status", new)
        return True


def pool_health(name: str, report: PoolReport, health: ChannelHealthMap) -> PoolHealth:
    """The pool's health series from a refresh report and the channel watch."""
    interconnects = []
    for ix in report.interconnects:
        by_state: dict[str, int] = {}
        for _, admin, _ in ix.channels:
            by_state[admin or "UNKNOWN"] = by_state.get(admin or "UNKNOWN", 0) + 1
        interconnects.append(
            InterconnectHealth(
                id=ix.id,
                max_mbps=ix.max_mbps,
                allocated_mbps=ix.allocated_mbps,
                available_mbps=ix.available_mbps,
                channels_by_admin_state=by_state,
                channels=[channel_metrics(ix.id, c, health) for c, _, _ in ix.channels],
                channels_sharing_device=dict(ix.sharing_device),
            )
        )
    return PoolHealth(pool=name, providers_reachable=report.reachable, interconnects=interconnects)


def channel_metrics(interconnect: str, channel: str, health: ChannelHealthMap) -> ChannelMetrics:
    known = health.get((interconnect, channel))
    if known is None:
        return ChannelMetrics(id=channel)
    return ChannelMetrics(
        id=channel,
        maintenance_active=known.maintenance_active,
        next_maintenance_start=known.next_maintenance_start.timestamp()
        if known.next_maintenance_start is not None
        else None,
        macsec_key_age_seconds=known.macsec_key_age_seconds,
        maintenance_overlap=known.maintenance_overlap,
    )
