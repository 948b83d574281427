"""What a link's next step is decided on: its facts, from the pool's snapshot and its memory.

:meth:`LinkDecider.decide` fills :class:`~interconnect_operator.protocol.types.LinkFacts`
from the pool's bulk snapshot (no provider call) and the link's memory (its
interconnect, guidance, blocked channels, notifications, deferral) and calls
``protocol.link_state.decide``. Reading the facts also lifts what no longer
holds: interconnect refusals past their time (P6), channel blocks whose
provider data changed (P12), notifications a provider evidently discarded (P15).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable

from interconnect_operator.protocol import link_state
from interconnect_operator.protocol.link_state import Decision
from interconnect_operator.protocol.notifications import live_notifications
from interconnect_operator.protocol.placement import live_rejections
from interconnect_operator.protocol.routing import side_limit
from interconnect_operator.protocol.types import LinkFacts, PeerDeletionPolicy, Side
from interconnect_operator.reconcile import views
from interconnect_operator.reconcile.pool import PoolRuntime

from .channel_blocks import channel_basis
from .peer_intent import PeerIntent
from .types import LinkMemory, LinkRequest

__all__ = ["LinkDecider", "prefix_limits"]


class LinkDecider:
    """Decides the next step of the links of one pool from the snapshot and their memory."""

    def __init__(
        self, pool: PoolRuntime, clock: Callable[[], dt.datetime], peer: PeerIntent
    ) -> None:
        self.pool = pool
        self._clock = clock
        self._peer = peer

    def decide(self, request: LinkRequest, uuid: str, memory: LinkMemory) -> Decision:
        """The decision for the link now: its facts from the snapshot and its memory."""
        snapshot = self.pool.snapshot
        assert snapshot is not None
        providers = self.pool.config.providers
        return link_state.decide(
            request.spec,
            snapshot.observation(Side.NEGOTIATOR, uuid, providers),
            snapshot.observation(Side.RESPONDER, uuid, providers),
            self._facts(request, uuid, memory),
            pool_negotiator=snapshot.interconnect_views(Side.NEGOTIATOR),
            pool_responder=snapshot.interconnect_views(Side.RESPONDER),
        )

    def _facts(self, request: LinkRequest, uuid: str, memory: LinkMemory) -> LinkFacts:
        snapshot = self.pool.snapshot
        if memory.interconnect is None and memory.migrating_to is None:
            # Status lost (restart without it): the link lives where the providers
            # hold it, the negotiator's side first (P5), as decide() assumes too.
            memory.interconnect = views.where_held(snapshot, uuid)
        now = self._clock()
        memory.rejected_at = live_rejections(memory.rejected_at, now)
        working = memory.migrating_to or memory.interconnect
        self._unblock_changed(memory, working)
        channels, guidance_ready = self._channels(uuid, memory, working)
        deferred, deferral_timeout = views.deferral(snapshot, uuid)
        if deferred and memory.deferred_since is None and self._peer.held_by_responder(uuid):
            # Deferred before this process knew (status without it): count from now,
            # never from an older time (a rollback too early deletes a working link).
            memory.deferred_since = now
        return LinkFacts(
            shared_uuid=uuid,
            now=now,
            deleting=request.deleting,
            key_confirmed=memory.key_confirmed,
            key_refused=memory.key_refused,
            interconnect=memory.interconnect,
            migrating_to=memory.migrating_to,
            rejected_interconnects=frozenset(memory.rejected_at),
            channels=channels,
            guidance_ready=guidance_ready,
            blocked_channels=dict(memory.blocked_channels),
            disabled_channels=self._disabled_channels(working),
            channel_devices=self._channel_devices(working),
            prefix_limits=prefix_limits(memory, working),
            rejected_features=dict(memory.rejected_features),
            notified_at=self._live_notifications(uuid, memory, working),
            update_in_progress=(
                memory.update_busy_until is not None and now < memory.update_busy_until
            ),
            update_wait_seconds=(
                math.ceil((memory.update_busy_until - now).total_seconds())
                if memory.update_busy_until is not None and now < memory.update_busy_until
                else 0
            ),
            notify_after_update=frozenset(memory.notify_after_update),
            deferred=deferred,
            deferral_timeout=deferral_timeout,
            deferred_since=memory.deferred_since,
            ever_ready=request.ever_ready,
            failure=memory.failure,
            retry_failed_features=memory.retry_failed_features,
            deleted_by=dict(memory.deleted_by),
            recreate=(
                request.spec.on_peer_deletion is PeerDeletionPolicy.RECREATE
                and request.destination_account_id is not None
                and request.activation_key is None
            ),
        )

    def _unblock_changed(self, memory: LinkMemory, working: str | None) -> None:
        """P12 recovery: a blocked channel is tried again once the provider data it was
        blocked on changed (admin state, guidance, what is in use); fresh guidance first."""
        if working is None:
            return
        for channel, (data, guidance) in list(memory.blocked_basis.items()):
            now_data, now_guidance = channel_basis(self.pool, memory, working, channel)
            if (now_data, now_guidance) == (data, guidance):
                continue
            memory.blocked_basis.pop(channel, None)
            memory.blocked_channels.pop(channel, None)
            if now_guidance == guidance:
                # Admin state or usage changed: the guidance may be stale too.
                memory.guidance.pop(working, None)
                memory.refresh_own_guidance = True

    def _channel_devices(self, working: str | None) -> dict[Side, dict[str, str | None]]:
        """Each side's obfuscatedDeviceId per channel of ``working`` (resiliency audit)."""
        snapshot = self.pool.snapshot
        if working is None or snapshot is None:
            return {}
        devices = {
            side: {c.id: c.device_id for c in snapshot.side(side).channels.get(working, [])}
            for side in Side
        }
        return devices if all(devices.values()) else {}

    def _disabled_channels(self, working: str | None) -> frozenset[str]:
        """Channels administratively disabled on either side (not required by P14)."""
        snapshot = self.pool.snapshot
        if working is None or snapshot is None:
            return frozenset()
        return frozenset(
            c.id
            for side in Side
            for c in snapshot.side(side).channels.get(working, [])
            if c.admin_state is not None and "DISABLED" in c.admin_state.upper()
        )

    def _channels(
        self, uuid: str, memory: LinkMemory, working: str | None
    ) -> tuple[tuple[str, ...], bool]:
        """The channels of the working interconnect, and whether guidance is at hand (P8)."""
        if working is not None and working in memory.guidance:
            neg_g, res_g = memory.guidance[working]
            return tuple(sorted(set(neg_g) & set(res_g))), True
        snapshot = self.pool.snapshot
        if working is None or snapshot is None:
            return (), False
        channels = tuple(sorted(c.id for c in snapshot.negotiator.channels.get(working, [])))
        local = snapshot.negotiator.features.get(working, {}).get(uuid, {})
        remote = snapshot.responder.features.get(working, {}).get(uuid, {})
        # Guidance is only needed to allocate: once every channel has a
        # feature on both sides (e.g. after a restart) there is nothing to ask.
        ready = bool(channels) and all(c in local and c in remote for c in channels)
        return channels, ready

    def _live_notifications(
        self, uuid: str, memory: LinkMemory, working: str | None
    ) -> dict[Side, dt.datetime]:
        """Notifications still worth waiting on (P14-P15, ``protocol.notifications``)."""
        snapshot = self.pool.snapshot
        if snapshot is None or working is None:
            return dict(memory.notified_at)
        return live_notifications(
            memory.notified_at,
            memory.notified_generation,
            self.pool.generation,
            views.finality(snapshot, working, uuid),
            views.unverified(snapshot, working, uuid),
        )


def prefix_limits(memory: LinkMemory, working: str | None) -> dict[Side, int]:
    """Each side's maxReceivedBgpRoutePrefixes from the guidance last read for ``working``;
    without one, what was known before (the status, after a restart)."""
    seen = memory.guidance_seen.get(working) if working is not None else None
    if seen is not None:
        limits = {side: side_limit(views.values()) for side, views in zip(Side, seen, strict=True)}
        known = {side: limit for side, limit in limits.items() if limit is not None}
        if known:
            memory.prefix_limits = known
    return dict(memory.prefix_limits)
