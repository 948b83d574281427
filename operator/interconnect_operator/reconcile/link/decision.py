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
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import overload

from interconnect_operator.protocol import link_state
from interconnect_operator.protocol.link_state import Decision
from interconnect_operator.protocol.notifications import live_notifications
from interconnect_operator.protocol.placement import live_rejections
from interconnect_operator.protocol.routing import side_limit
from interconnect_operator.protocol.types import (
    InterconnectView,
    LinkFacts,
    PeerDeletionPolicy,
    Side,
)
from interconnect_operator.reconcile import views
from interconnect_operator.reconcile.pool import PoolRuntime
from interconnect_operator.reconcile.snapshot import PoolSnapshot

from .channel_blocks import channel_basis
from .peer_intent import PeerIntent
from .types import LinkMemory, LinkRequest

__all__ = ["LinkDecider", "PoolViews", "prefix_limits"]


class PoolViews(Sequence[InterconnectView]):
    """One side's interconnect views (capacity, P6-P7), read from the snapshot only
    when a rule asks: placement and bandwidth changes do, the other decisions of a
    bring-up do not, and every connection created in the pool makes the snapshot
    build its views again. Read within ``decide`` (no await), so it is the
    snapshot the decision saw."""

    __slots__ = ("_side", "_snapshot", "_views")

    def __init__(self, snapshot: PoolSnapshot, side: Side) -> None:
        self._snapshot = snapshot
        self._side = side
        self._views: list[InterconnectView] | None = None

    def _read(self) -> list[InterconnectView]:
        if self._views is None:
            self._views = self._snapshot.interconnect_views(self._side)
        return self._views

    @overload
    def __getitem__(self, index: int) -> InterconnectView: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[InterconnectView]: ...
    def __getitem__(self, index: int | slice) -> InterconnectView | Sequence[InterconnectView]:
        return self._read()[index]

    def __len__(self) -> int:
        return len(self._read())

    def __iter__(self) -> Iterator[InterconnectView]:
        return iter(self._read())


@dataclass(frozen=True, slots=True)
class _ChannelFacts:
    """Of one interconnect's channels: each side's device id per channel (resiliency
    audit; empty unless both sides list channels), and those disabled on either
    side (not required by P14)."""

    devices: Mapping[Side, Mapping[str, str | None]]
    disabled: frozenset[str]


_NO_CHANNEL_FACTS = _ChannelFacts({}, frozenset())


class LinkDecider:
    """Decides the next step of the links of one pool from the snapshot and their memory."""

    def __init__(
        self, pool: PoolRuntime, clock: Callable[[], dt.datetime], peer: PeerIntent
    ) -> None:
        self.pool = pool
        self._clock = clock
        self._peer = peer
        self._channel_cache: dict[str, tuple[tuple[object, object], _ChannelFacts]] = {}

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
            pool_negotiator=PoolViews(snapshot, Side.NEGOTIATOR),
            pool_responder=PoolViews(snapshot, Side.RESPONDER),
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
        channel_facts = self._channel_facts(working)
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
            disabled_channels=channel_facts.disabled,
            channel_devices=channel_facts.devices,
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

    def _channel_facts(self, working: str | None) -> _ChannelFacts:
        """What the decision reads of ``working``'s channels, derived once per list read.

        Channels are static objects (set up out of band): only a refresh
        replaces a side's list, so the facts are kept until one of the two
        lists is another object. Every decision of every link on the
        interconnect reads them.
        """
        snapshot = self.pool.snapshot
        if working is None or snapshot is None:
            return _NO_CHANNEL_FACTS
        lists = (
            snapshot.negotiator.channels.get(working, []),
            snapshot.responder.channels.get(working, []),
        )
        kept = self._channel_cache.get(working)
        if kept is not None and kept[0][0] is lists[0] and kept[0][1] is lists[1]:
            return kept[1]
        devices = {
            side: {c.id: c.device_id for c in channels}
            for side, channels in zip(Side, lists, strict=True)
        }
        disabled = frozenset(
            c.id
            for channels in lists
            for c in channels
            if c.admin_state is not None and "DISABLED" in c.admin_state.upper()
        )
        facts = _ChannelFacts(devices if all(devices.values()) else {}, disabled)
        self._channel_cache[working] = (lists, facts)
        return facts

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
        if snapshot is None or working is None or not memory.notified_at:
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
    if seen is not None and seen is not memory.prefix_basis:
        # Read once per guidance answer, not once per decision.
        memory.prefix_basis = seen
        limits = {side: side_limit(views.values()) for side, views in zip(Side, seen, strict=True)}
        known = {side: limit for side, limit in limits.items() if limit is not None}
        if known:
            memory.prefix_limits = known
    return dict(memory.prefix_limits)
