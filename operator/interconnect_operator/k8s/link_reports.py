"""What a link reconcile reports: status, phase transitions, Events, metrics, refusals.

``links`` decides; this module writes what it decided on the link (through
``publish``): the status of a reconcile result with its transition Event,
log line and metrics, the Events the reconciler raised, a refusal's condition
and Event for a link the reconciler cannot take, and which links keep their
pool refreshing fast.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from interconnect_operator.k8s import status as status_mod
from interconnect_operator.k8s.index import LinkIndex, LinkKey
from interconnect_operator.k8s.link_memory import LinkState, Stop
from interconnect_operator.k8s.link_request import observed_generation
from interconnect_operator.k8s.pool_entry import PoolEntry
from interconnect_operator.k8s.publish import Publisher, stalled_event
from interconnect_operator.k8s.ready import ReadyConfirmations
from interconnect_operator.reconcile.link import LinkEvent, LinkRequest, LinkResult

# The link work queue's log name, as before this module was split from it.
logger = logging.getLogger("interconnect_operator.k8s.links")

#: A link asking to be looked at again within this is busy: the pool refreshes fast.
BUSY_REQUEUE_SECONDS = 30.0
IN_PROGRESS = frozenset(
    {"Pending", "Placing", "Negotiating", "Provisioning", "Verifying", "Updating", "Migrating"}
)


class LinkReports:
    """Writes a link reconcile's outcome: status, Events, metrics, refusals."""

    def __init__(
        self,
        state: dict[LinkKey, LinkState],
        *,
        index: LinkIndex,
        publisher: Publisher,
        confirmations: ReadyConfirmations,
    ) -> None:
        self._state = state
        self._index = index
        self._publisher = publisher
        self._confirmations = confirmations

    async def publish(
        self,
        key: LinkKey,
        body: dict[str, Any],
        entry: PoolEntry,
        request: LinkRequest,
        result: LinkResult,
    ) -> None:
        """Status, transition Event and metrics of a reconcile result, then its Events."""
        state = self._state.setdefault(key, LinkState())
        runtime = entry.runtime
        assert runtime is not None
        old_status = body.get("status") or {}
        if result.status is not None and not result.finalized:
            new = status_mod.link_status_body(
                result.status,
                old_status=old_status,
                generation=observed_generation(request, old_status),
                providers=runtime.providers,
                shared_uuid=result.shared_uuid,
                environment=result.environment,
                created_at=request.created_at,
                now=status_mod.now(),
                request_ids=result.request_ids,
            )
            sign = await self._confirmations.status_signer(body, entry, result)
            await self._publisher.write_link_status(key, body, new, sign=sign)
            self._confirmations.remember(key, body, entry, result)
            phase = result.status.phase.value
            # A link that waits (no capacity, a backoff, a refusal) does not pin the
            # pool to fast refreshes; one that expects provider progress soon does.
            expecting = (
                not any(c.type == "Stalled" and c.is_true for c in result.status.conditions)
                and result.requeue_after is not None
                and result.requeue_after <= BUSY_REQUEUE_SECONDS
            )
            self._track_progress(entry, key, phase if expecting else "Waiting")
            if phase != state.last_phase:
                entry.lagging.set()  # the pool's capacity and link count move with it
                await self._announce(
                    key, body, state, pool=entry.name, phase=phase, message=result.status.message
                )
            spec = self._index.links.get(key, {}).get("spec") or {}
            bandwidth = int(spec.get("bandwidthMbps") or 0)
            self._publisher.export_link(
                key,
                pool=entry.name,
                providers=runtime.providers,
                result=result,
                status=new,
                bandwidth_mbps=bandwidth,
            )
        events = list(result.events)
        waiting = stalled_event(result)
        if waiting is not None:
            # A link stuck waiting (e.g. NoCapacity, P7) says why once, as a Warning
            # Event, like a link that failed; the reconciler only reports it as a Wait.
            events.append(waiting)
        await self._publisher.link_events(state, body, events)

    async def _announce(
        self,
        key: LinkKey,
        body: Mapping[str, Any],
        state: LinkState,
        *,
        pool: str,
        phase: str,
        message: str,
    ) -> None:
        """A phase change: an Event when worth one, a log line always."""
        await self._publisher.transition(body, state.last_phase, phase, message)
        logger.info(
            "link %s/%s %s -> %s",
            key[0],
            key[1],
            state.last_phase,
            phase,
            extra={
                "link": f"{key[0]}/{key[1]}",
                "pool": pool,
                "phase": phase,
                "reason": message,
            },
        )
        state.last_phase = phase

    @staticmethod
    def _track_progress(entry: PoolEntry, key: LinkKey, phase: str) -> None:
        """Links in progress make their pool refresh faster (see ``pools``)."""
        if phase in IN_PROGRESS:
            if not entry.busy:
                entry.wake.set()  # the pool loop shortens its interval now
            entry.busy.add(key)
        else:
            entry.busy.discard(key)

    async def refuse(
        self,
        key: LinkKey,
        body: dict[str, Any],
        phase: str,
        reason: str,
        message: str,
        *,
        stalled: bool,
        retry: float | None = None,
    ) -> Stop:
        """A condition with a reason and an Event, for links the reconciler cannot take."""
        state = self._state.setdefault(key, LinkState())
        generation = int(body["metadata"].get("generation") or 1)
        new = status_mod.simple_link_status(
            old_status=body.get("status") or {},
            generation=generation,
            phase=phase,
            reason=reason,
            message=message,
            now=status_mod.now(),
            stalled=stalled,
        )
        await self._publisher.write_link_status(key, body, new)
        await self._publisher.link_events(state, body, [LinkEvent("Warning", reason, message)])
        state.last_phase = phase
        return Stop(retry)
