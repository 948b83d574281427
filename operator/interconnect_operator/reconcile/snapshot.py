"""One pool's snapshot of both providers and the data derived from it.

A :class:`PoolSnapshot` holds both sides' records (``reconcile.records``) as
one bulk read (``reconcile.reader``) found them, plus what decisions derive
from them again and again: allocated bandwidth, interconnect views, each
channel's used space (P9), each UUID's observation and fingerprint. The
derived data is built lazily, kept current as the reconcilers record
changes (``invalidate``), and carried into the next refresh's snapshot for
every UUID whose records did not change (``carry``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from itertools import compress
from operator import is_not

from interconnect_operator.protocol.spans import UsedSpace
from interconnect_operator.protocol.types import (
    ConnectionView,
    FeatureView,
    InterconnectState,
    InterconnectView,
    ProviderObservation,
    Side,
)
from interconnect_operator.reconcile.records import (
    ConnectionRecord,
    FeatureRecord,
    SideView,
    connection_view,
    feature_view,
)

Fingerprint = tuple[object, ...]
"""What a link's status depends on, per side and interconnect holding its UUID."""


@dataclass
class PoolSnapshot:
    """Both sides of one pool at ``taken_at``."""

    environment: str
    negotiator: SideView
    responder: SideView
    taken_at: datetime
    errors: dict[str, str] = field(default_factory=dict)
    # Derived data, rebuilt lazily; PoolRuntime calls ``invalidate`` on every
    # recorded change. Decisions read these once per step and link, so
    # recomputing them from all connections each time made a burst O(N^2).
    # Allocated bandwidth is kept by the side views (``SideView.allocated``).
    _views: dict[Side, list[InterconnectView]] = field(default_factory=dict, repr=False)
    _usage: dict[tuple[str, str], ChannelSpace] = field(default_factory=dict, repr=False)
    _observations: dict[str, dict[tuple[Side, str, str], ProviderObservation]] = field(
        default_factory=dict, repr=False
    )
    _prints: dict[str, Fingerprint] | None = field(default=None, repr=False)
    """Every UUID's fingerprint, once built; ``_stale`` ones are computed again on read."""
    _stale: set[str] = field(default_factory=set, repr=False)
    _touched: set[str] | None = field(default=None, repr=False)
    """UUIDs whose fingerprint was computed again since ``fingerprint_changes``
    last ran (None: all, the fingerprints were built from scratch)."""

    def side(self, side: Side) -> SideView:
        return self.negotiator if side is Side.NEGOTIATOR else self.responder

    def invalidate(
        self,
        interconnect: str | None = None,
        channel: str | None = None,
        *,
        usage: bool = True,
        capacity: bool = True,
        uuid: str | None = None,
    ) -> None:
        """Forget derived data after a change of ``interconnect`` (all when None):
        its capacity unless ``capacity`` is False (a feature changes no
        bandwidth) or ``uuid`` is given (its connection was filed or dropped
        through ``SideView``, which keeps the allocated bandwidth current), its
        channel usage (or one channel's) unless ``usage`` is
        False, and what the connection ``uuid`` (every one when None) looks
        like. Other interconnects keep theirs: one link's step costs
        O(connections of its interconnect), not O(connections of the pool).

        With ``uuid`` only that connection's records changed: the channel
        usage kept is brought up to date with its features (O(log n)) rather
        than forgotten and rebuilt from every feature of the channel."""
        if uuid is None:
            self._observations.clear()
            self._prints = None
        else:
            self._observations.pop(uuid, None)
            self._stale.add(uuid)
        if capacity and uuid is None:
            # Connections changed behind the side views' back: summed again.
            if interconnect is None:
                self._views.clear()
            for side in Side:
                self.side(side).forget_allocated(interconnect)
        if not usage:
            return
        if interconnect is None:
            self._usage.clear()
            return
        keys = (
            [k for k in self._usage if k[0] == interconnect]
            if channel is None
            else [(interconnect, channel)]
        )
        for key in keys:
            kept = self._usage.get(key)
            if kept is None:
                continue
            if uuid is None:
                del self._usage[key]
            else:
                kept.update(self, interconnect, key[1], uuid)

    def allocated_mbps(self, side: Side, interconnect: str) -> int:
        """``SideView.allocated_mbps``: kept current as connections are filed."""
        return self.side(side).allocated_mbps(interconnect)

    def channel_usage(self, interconnect: str, channel: str) -> UsedSpace:
        """VLANs and subnets in use on a channel, on both sides together (P9).

        Built once per snapshot and channel, then kept current by ``invalidate``;
        read it at once (it changes as features are recorded)."""
        key = (interconnect, channel)
        kept = self._usage.get(key)
        if kept is None:
            kept = self._usage[key] = ChannelSpace.of(self, interconnect, channel)
        return kept.space

    def interconnect_views(self, side: Side) -> list[InterconnectView]:
        """One side's interconnects, sorted by id, with their allocated bandwidth.

        Built once per snapshot; a read after a connection was filed brings the
        allocations up to date (O(interconnects), each sum kept by the side
        view) in a new list, never the one handed out before."""
        view = self.side(side)
        cached = self._views.get(side)
        if cached is not None:
            allocated = view.allocated_mbps
            if all(v.allocated_mbps == allocated(v.id) for v in cached):
                return cached
            cached = self._views[side] = [
                v
                if v.allocated_mbps == allocated(v.id)
                else replace(v, allocated_mbps=allocated(v.id))
                for v in cached
            ]
            return cached
        result = []
        for ix_id, ix in sorted(view.interconnects.items()):
            result.append(
                InterconnectView(
                    id=ix_id,
                    state=InterconnectState(ix.state or "UNKNOWN"),
                    max_bandwidth_mbps=ix.max_bandwidth_mbps or 0,
                    allocated_mbps=self.allocated_mbps(side, ix_id),
                    supported_sizes_mbps=tuple(ix.supported_connection_size_mbps or ()),
                    channels=tuple(c.id for c in view.channels.get(ix_id, [])),
                )
            )
        self._views[side] = result
        return result

    def observation(
        self, side: Side, shared_uuid: str, providers: Mapping[Side, str]
    ) -> ProviderObservation:
        """What ``side`` holds under ``shared_uuid`` (one entry per interconnect).

        Kept until a change of that connection (``invalidate``): a link's
        decisions read it at every step."""
        key = (side, providers[Side.NEGOTIATOR], providers[Side.RESPONDER])
        kept = self._observations.setdefault(shared_uuid, {})
        cached = kept.get(key)
        if cached is not None:
            return cached
        view = self.side(side)
        connections: dict[str, ConnectionView] = {}
        for ix_id, by_id in view.connections.items():
            connection = by_id.get(shared_uuid)
            if connection is None:
                continue
            features = view.features.get(ix_id, {}).get(shared_uuid, {})
            connections[ix_id] = connection_view(ix_id, connection, features, providers)
        observation = kept[key] = ProviderObservation(side=side, connections=connections)
        return observation

    def forget_observations(self, shared_uuid: str) -> None:
        """Drop the observations kept for ``shared_uuid`` (built again when next read).

        A Ready link decides again only when one of its records changed (which
        drops them anyway) or at its full look (every 30-60 minutes); until then
        they would hold its connection and feature views on both sides."""
        self._observations.pop(shared_uuid, None)

    def fingerprints(self) -> dict[str, Fingerprint]:
        """Per shared UUID, what a link's status depends on (to wake only changed links).

        Built once, then kept: a recorded change or a carried refresh marks the
        UUIDs it touched, and only those are computed again. Read it at once
        (it changes as changes are recorded)."""
        prints = self._prints
        if prints is None:
            prints = self._prints = {}
            for side_view in (self.negotiator, self.responder):
                for ix_id in sorted(side_view.connections):
                    features = side_view.features.get(ix_id, {})
                    for uuid, conn in side_view.connections[ix_id].items():
                        part = _print_part(side_view.provider, ix_id, conn, features.get(uuid))
                        held = prints.get(uuid)
                        prints[uuid] = (part,) if held is None else (*held, part)
            self._stale.clear()
            self._touched = None
            return prints
        if self._stale:
            touched = self._touched
            for uuid in self._stale:
                now = self._fingerprint(uuid)
                if now is None:
                    prints.pop(uuid, None)
                else:
                    prints[uuid] = now
            if touched is not None:
                touched |= self._stale
            self._stale.clear()
        return prints

    def fingerprint_changes(self) -> tuple[dict[str, Fingerprint], set[str] | None]:
        """The fingerprints and the UUIDs whose fingerprint was computed again
        since the last call (None: every UUID, they were built from scratch);
        the next call reports what is computed from now on."""
        prints = self.fingerprints()
        touched = self._touched
        self._touched = set()
        return prints, touched

    def _fingerprint(self, uuid: str) -> Fingerprint | None:
        """One UUID's fingerprint, in the order ``fingerprints`` builds it."""
        parts: list[tuple[object, ...]] = []
        for side_view in (self.negotiator, self.responder):
            holders = [ix_id for ix_id, by_id in side_view.connections.items() if uuid in by_id]
            for ix_id in sorted(holders):
                parts.append(
                    _print_part(
                        side_view.provider,
                        ix_id,
                        side_view.connections[ix_id][uuid],
                        side_view.features.get(ix_id, {}).get(uuid),
                    )
                )
        return tuple(parts) if parts else None

    def carry(self, previous: PoolSnapshot) -> None:
        """Take over ``previous``'s derived data, brought up to date for what differs.

        Called on a fresh snapshot (no derived data yet) before any change is
        recorded into it. Records equal to the previous snapshot's are its
        objects (``SideReader.read``), so an interconnect whose records are all
        the same compares equal by identity in C, and only the UUIDs whose
        records differ are looked at: their observations are forgotten, their
        fingerprints computed again, and each kept channel space of their
        interconnect updated for them (``ChannelSpace.update``). Allocated
        bandwidth is carried per interconnect, moved by the difference of the
        records that differ; interconnect views are kept while the
        interconnects and channels are the same. ``previous`` is left with no derived
        data (built again from scratch if it is read), so it never shows this
        snapshot's state.
        """
        changed: set[str] = set()
        by_interconnect: dict[str, set[str]] = {}
        for side in Side:
            old, new = previous.side(side), self.side(side)
            if old is not new:  # a side that could not be read keeps its view
                shift = _differences(old, new, changed, by_interconnect)
                # Allocated bandwidth: the kept sum plus what the records that
                # differ moved (interconnects not summed yet are summed on read).
                for ix_id, mbps in old.allocated.items():
                    if ix_id in new.connections and ix_id not in new.allocated:
                        new.allocated[ix_id] = mbps + shift.get(ix_id, 0)
        # Views: kept while the interconnects and channels are the same (their
        # allocations are brought up to date when read).
        for side, view in previous._views.items():
            old, new = previous.side(side), self.side(side)
            if old is new or (
                old.interconnects == new.interconnects and old.channels == new.channels
            ):
                self._views[side] = view
        # Channel spaces: each updated for the UUIDs whose features moved.
        for key, space in previous._usage.items():
            moved = by_interconnect.get(key[0])
            if moved:
                if len(moved) * 4 > len(space.held[0]) + len(space.held[1]):
                    continue  # most of it changed: built again on first read
                for uuid in moved:
                    space.update(self, key[0], key[1], uuid)
            self._usage[key] = space
        # Observations and fingerprints of the UUIDs whose records are the same.
        observations = previous._observations
        for uuid in changed:
            observations.pop(uuid, None)
        self._observations = observations
        if previous._prints is not None:
            self._prints = previous._prints
            self._stale = previous._stale | changed
            self._touched = previous._touched
        previous._views, previous._usage = {}, {}
        previous._observations, previous._prints = {}, None
        previous._stale, previous._touched = set(), None

    def in_use(self, interconnect: str) -> dict[str, list[FeatureView]]:
        """Features per channel on both sides of ``interconnect`` (for allocation, P9)."""
        result: dict[str, list[FeatureView]] = {}
        for view in (self.negotiator, self.responder):
            for features in view.features.get(interconnect, {}).values():
                for channel, feature in features.items():
                    converted = feature_view(channel, feature, {})
                    if converted is not None:
                        result.setdefault(channel, []).append(converted)
        return result


def _differences(
    old: SideView, new: SideView, changed: set[str], by_interconnect: dict[str, set[str]]
) -> dict[str, int]:
    """Add to ``changed`` the UUIDs whose records differ between two views of a
    side (and to ``by_interconnect`` those whose features differ, per
    interconnect); return, per interconnect whose connections differ, how much
    the allocated bandwidth moved (``ConnectionRecord.reserved_mbps``).

    An interconnect whose dicts compare equal (identity first, in C) costs no
    loop over its UUIDs; a connection record counts as the same only when it
    is the same object."""
    shift: dict[str, int] = {}
    for ix_id in old.connections.keys() | new.connections.keys():
        before = old.connections.get(ix_id, {})
        now = new.connections.get(ix_id, {})
        if before == now:
            continue
        delta = 0
        # The UUIDs whose record is not the same object, found in C: a
        # Python loop over every UUID of the interconnect was most of a
        # refresh's snapshot work at 10,000 links.
        for uuid in compress(now, map(is_not, map(before.get, now), now.values())):
            record, held = now[uuid], before.get(uuid)
            changed.add(uuid)
            delta += record.reserved_mbps - (held.reserved_mbps if held is not None else 0)
        for uuid in before.keys() - now.keys():
            changed.add(uuid)
            delta -= before[uuid].reserved_mbps
        shift[ix_id] = delta
    for ix_id in old.features.keys() | new.features.keys():
        was = old.features.get(ix_id, {})
        is_ = new.features.get(ix_id, {})
        if was == is_:
            continue
        moved = by_interconnect.setdefault(ix_id, set())
        # As above: a connection's features not the same dict (found in C; the
        # reader shares the dicts of unchanged pages) and not equal either.
        others = compress(is_, map(is_not, map(was.get, is_), is_.values()))
        moved.update(uuid for uuid in others if was.get(uuid) != is_[uuid])
        moved.update(was.keys() - is_.keys())
        changed |= moved
    return shift


def _print_part(
    provider: str,
    interconnect: str,
    connection: ConnectionRecord,
    features: Mapping[str, FeatureRecord] | None,
) -> tuple[object, ...]:
    """What one side's connection on one interconnect adds to a fingerprint."""
    states = tuple(sorted((ch, f.provisioning_state) for ch, f in (features or {}).items()))
    return (
        provider,
        interconnect,
        connection.bandwidth_mbps,
        connection.verification_state,
        connection.admin_state,
        states,
    )


class ChannelSpace:
    """One channel's :class:`UsedSpace` and the record each connection contributed
    to it per side, to take out again when that record changes."""

    __slots__ = ("held", "space")

    def __init__(self) -> None:
        self.space = UsedSpace()
        self.held: tuple[dict[str, FeatureRecord], dict[str, FeatureRecord]] = ({}, {})

    @classmethod
    def of(cls, snapshot: PoolSnapshot, interconnect: str, channel: str) -> ChannelSpace:
        kept = cls()
        for held, view in zip(kept.held, (snapshot.negotiator, snapshot.responder), strict=True):
            for uuid, features in view.features.get(interconnect, {}).items():
                feature = features.get(channel)
                if feature is not None:
                    held[uuid] = feature
        blocks = [f for held in kept.held for f in held.values()]
        kept.space = UsedSpace(
            (f.vlan for f in blocks if f.vlan is not None),
            (f.ipv4 for f in blocks if f.ipv4 is not None),
            (f.ipv6 for f in blocks if f.ipv6 is not None),
        )
        return kept

    def update(self, snapshot: PoolSnapshot, interconnect: str, channel: str, uuid: str) -> None:
        """Bring the space up to date with what both sides now hold under ``uuid``."""
        for held, view in zip(self.held, (snapshot.negotiator, snapshot.responder), strict=True):
            now = view.features.get(interconnect, {}).get(uuid, {}).get(channel)
            before = held.get(uuid)
            if now is before:
                continue
            if now is None:
                del held[uuid]
            else:
                held[uuid] = now
            old = (before.vlan, before.ipv4, before.ipv6) if before is not None else None
            new = (now.vlan, now.ipv4, now.ipv6) if now is not None else None
            if old == new:
                continue  # a state change: the same space in use
            if old is not None:
                self.space.discard(*old)
            if new is not None:
                self.space.add(*new)
