"""Bulk observation of one pool: both providers' views, read with list calls.

Observe in bulk, act per link (README.md, Architecture): a refresh lists each side's
interconnects, channels, connections and features (all pages) and converts
them into the pure views of ``protocol.types``. Link reconciles read this
snapshot instead of calling the providers per link, so the steady-state cost
is O(interconnects) calls per refresh, not O(links).

The snapshot keeps what decisions read, not the wire models: a
:class:`ConnectionRecord` and a :class:`FeatureRecord` (slotted, subnets
parsed once) per object. At 1,000 links that is ~10,000 objects either way,
but a wire Feature is five pydantic models (config, BGP ends), each with a
``__dict__`` and pydantic's bookkeeping; the pages' models are garbage as
soon as a refresh has read them.

Connections and features are read as digested pages: a page whose raw body
equals one of the last read (same digest) reuses that read's records, so a
steady-state refresh neither decodes nor converts what did not change. The
records are immutable and each snapshot gets fresh dicts holding them, so
what the reconcilers record into one snapshot never leaks into the next.

A changed features page is validated into plain dicts
(``models.ListFeaturesPage``: the models' fields and types, no five models
per feature) and converted by ``FeatureRecord.of_item``; an item equal to
the previous snapshot's record for its (interconnect, connection, channel)
is that record. So consecutive snapshots share every record that did not
change, and ``PoolSnapshot.carry`` takes over the previous snapshot's derived
data (channel spaces, observations, fingerprints, capacity), bringing it up
to date only for the UUIDs whose records are not the same objects. At the
N=10,000 shape (10 interconnects x 1,000 connections x 4 features, both
sides; micro-benchmark, loaded machine) a refresh with no page changed plus
every channel's usage and every UUID's observation: ~2.5 s -> ~0.13 s of
CPU; with every page changed ~8.9 -> ~2.2 s; a first refresh 7.4 -> 3.7 s.

Features are listed per interconnect with the collection wildcard ``-`` for
the connection segment (AIP-159 style: ``connections/-/features``). A provider
that refuses the wildcard is read per connection instead, which is correct
but O(links); the snapshot remembers which way works.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import logging
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import SecretStr

from interconnect_operator.api import models
from interconnect_operator.api.client import DigestedPage, ProviderClient
from interconnect_operator.api.errors import ApiError, InvalidRequest, NotFound
from interconnect_operator.api.names import last_id, provider_ref_id
from interconnect_operator.protocol.retry_discipline import sanitise
from interconnect_operator.protocol.spans import UsedSpace
from interconnect_operator.protocol.types import (
    AdminState,
    BgpEnd,
    ConnectionView,
    FeatureFailure,
    FeatureView,
    InterconnectState,
    InterconnectView,
    ProviderObservation,
    ProvisioningState,
    Side,
    VerificationState,
)
from interconnect_operator.redaction import redact

logger = logging.getLogger(__name__)

WILDCARD = "-"
PAGE_SIZE = 1000
"""Largest page the spec's list calls are asked for: fewer round trips per refresh."""
STATIC_REFRESH_EVERY = 10
"""Bulk reads between two reads of environment, interconnects and channels."""
Fingerprint = tuple[object, ...]
"""What a link's status depends on, per side and interconnect holding its UUID."""


@dataclass(frozen=True)
class ChannelInfo:
    """A channel as one side lists it."""

    id: str
    admin_state: str | None
    macsec_manager: str | None
    device_id: str | None = None
    """``obfuscatedDeviceId``: equal ids mean one device (resiliency audit)."""


@dataclass(frozen=True, slots=True)
class ConnectionRecord:
    """What decisions read of a provider's connection (P5-P7, P14, P22).

    Immutable: one record is shared by every snapshot whose page carried the
    same bytes; a change is a new record (``dataclasses.replace``).
    """

    bandwidth_mbps: int | None = None
    name: str | None = None
    verification_state: str | None = None
    admin_state: str | None = None
    deferred: bool = False
    counts_against_capacity: bool = True
    """False for TEST and MONITORING connections (upstream PR #57)."""
    activation_key: SecretStr | None = None
    """The key it was created with (recovered after a restart, P3)."""

    @classmethod
    def of(cls, connection: models.Connection) -> ConnectionRecord:
        return cls(
            bandwidth_mbps=connection.bandwidth_mbps,
            name=connection.name,
            verification_state=connection.verification_state,
            admin_state=connection.admin_state,
            deferred=connection.deferred,
            counts_against_capacity=models.counts_against_capacity(connection),
            activation_key=connection.activation_key,
        )


@dataclass(frozen=True, slots=True)
class BgpRecord:
    provider: str
    """The provider id (``providers/{p}`` on the wire)."""
    asn: int | None
    host_ipv4: str | None
    host_ipv6: str | None


# Every refresh lists the same subnets again: each is parsed once, and the
# records of all refreshes share the one (immutable) network object.
@functools.lru_cache(maxsize=1 << 16)
def _ipv4(cidr: str) -> ipaddress.IPv4Network:
    return ipaddress.IPv4Network(cidr, strict=False)


@functools.lru_cache(maxsize=1 << 16)
def _ipv6(cidr: str) -> ipaddress.IPv6Network:
    return ipaddress.IPv6Network(cidr, strict=False)


# A link's features are viewed again after each of its steps (its observation is
# rebuilt when one of its records changes): each BGP address is parsed once.
@functools.lru_cache(maxsize=1 << 16)
def _host_v4(address: str) -> ipaddress.IPv4Address:
    return ipaddress.IPv4Address(address.partition("/")[0])


@functools.lru_cache(maxsize=1 << 16)
def _host_v6(address: str) -> ipaddress.IPv6Address:
    return ipaddress.IPv6Address(address.partition("/")[0])


@dataclass(frozen=True, slots=True)
class FeatureRecord:
    """What decisions read of a provider's L3 base feature (P9-P15).

    ``ipv4``/``ipv6`` are the subnets parsed once (a missing prefix length
    reads as /30, /126); None when absent or unparseable.
    """

    name: str | None = None
    provisioning_state: str | None = None
    vlan: int | None = None
    ipv4: ipaddress.IPv4Network | None = None
    ipv6: ipaddress.IPv6Network | None = None
    mtu: int | None = None
    bgp: tuple[BgpRecord, ...] = ()
    invalid: bool = False
    """A subnet is present but does not parse: no usable L3 config."""
    failure: FeatureFailure | None = None
    """The draft's failureInfo, sanitised once (``feature_failure``)."""

    @classmethod
    def of(cls, feature: models.Feature) -> FeatureRecord:
        config = feature.feature_config.l3_base_config if feature.feature_config else None
        failure = feature_failure(feature.failure_info)
        if config is None:
            return cls(
                name=feature.name, provisioning_state=feature.provisioning_state, failure=failure
            )
        ipv4: ipaddress.IPv4Network | None = None
        ipv6: ipaddress.IPv6Network | None = None
        invalid = False
        try:
            if config.ipv4_subnet:
                ipv4 = _ipv4(_cidr(config.ipv4_subnet, config.ipv4_subnet_prefix_length, 30))
        except ValueError:
            invalid = True
        try:
            if config.ipv6_subnet:
                ipv6 = _ipv6(_cidr(config.ipv6_subnet, config.ipv6_subnet_prefix_length, 126))
        except ValueError:
            invalid = True
        return cls(
            name=feature.name,
            provisioning_state=feature.provisioning_state,
            vlan=config.vlan_id,
            ipv4=ipv4,
            ipv6=ipv6,
            mtu=config.mtu_bytes,
            bgp=tuple(
                BgpRecord(
                    provider=provider_ref_id(end.provider),
                    asn=end.asn,
                    host_ipv4=end.host_ipv4,
                    host_ipv6=end.host_ipv6,
                )
                for end in config.provider_bgp_configs or []
            ),
            invalid=invalid,
            failure=failure,
        )

    @classmethod
    def of_item(cls, feature: models.FeatureItem) -> FeatureRecord:
        """``of`` for a feature validated into a plain dict (a bulk read's page):
        the same record as ``of`` gives for the model of the same body."""
        info = feature.get("failure_info")
        failure = (
            None
            if info is None
            else _failure(
                info.get("code"),
                info.get("message"),
                info.get("retryable"),
                info.get("observed_at"),
            )
        )
        name, state = feature.get("name"), feature.get("provisioning_state")
        settings = feature.get("feature_config")
        config = settings.get("l3_base_config") if settings is not None else None
        if config is None:
            return cls(name=name, provisioning_state=state, failure=failure)
        ipv4: ipaddress.IPv4Network | None = None
        ipv6: ipaddress.IPv6Network | None = None
        invalid = False
        v4, v6 = config.get("ipv4_subnet"), config.get("ipv6_subnet")
        try:
            if v4:
                ipv4 = _ipv4(_cidr(v4, config.get("ipv4_subnet_prefix_length"), 30))
        except ValueError:
            invalid = True
        try:
            if v6:
                ipv6 = _ipv6(_cidr(v6, config.get("ipv6_subnet_prefix_length"), 126))
        except ValueError:
            invalid = True
        return cls(
            name=name,
            provisioning_state=state,
            vlan=config.get("vlan_id"),
            ipv4=ipv4,
            ipv6=ipv6,
            mtu=config.get("mtu_bytes"),
            bgp=tuple(
                BgpRecord(
                    provider=provider_ref_id(end.get("provider")),
                    asn=end.get("asn"),
                    host_ipv4=end.get("host_ipv4"),
                    host_ipv6=end.get("host_ipv6"),
                )
                for end in config.get("provider_bgp_configs") or []
            ),
            invalid=invalid,
            failure=failure,
        )


@dataclass
class SideView:
    """Everything one provider lists for the pool's environment."""

    provider: str
    environment: models.Environment | None = None
    interconnects: dict[str, models.Interconnect] = field(default_factory=dict)
    channels: dict[str, list[ChannelInfo]] = field(default_factory=dict)
    # interconnect -> connection id -> connection
    connections: dict[str, dict[str, ConnectionRecord]] = field(default_factory=dict)
    # interconnect -> connection id -> channel id -> feature
    features: dict[str, dict[str, dict[str, FeatureRecord]]] = field(default_factory=dict)

    def allocated_mbps(self, interconnect: str) -> int:
        """Bandwidth reserved on ``interconnect``: TEST and MONITORING connections
        do not count against capacity (upstream PR #57), so they never cause
        NoCapacity, a migration or a smaller headroom."""
        return sum(
            c.bandwidth_mbps or 0
            for c in self.connections.get(interconnect, {}).values()
            if c.counts_against_capacity
        )


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
    _views: dict[Side, list[InterconnectView]] = field(default_factory=dict, repr=False)
    _allocated: dict[tuple[Side, str], int] = field(default_factory=dict, repr=False)
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
        bandwidth), its channel usage (or one channel's) unless ``usage`` is
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
        if capacity:
            self._views.clear()
            if interconnect is None:
                self._allocated.clear()
            else:
                for side in Side:
                    self._allocated.pop((side, interconnect), None)
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
        """``SideView.allocated_mbps``, kept until the interconnect's connections change."""
        key = (side, interconnect)
        cached = self._allocated.get(key)
        if cached is None:
            cached = self._allocated[key] = self.side(side).allocated_mbps(interconnect)
        return cached

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
        cached = self._views.get(side)
        if cached is not None:
            return cached
        view = self.side(side)
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
        interconnect updated for them (``ChannelSpace.update``). Capacity
        (allocated bandwidth, interconnect views) is kept per interconnect
        whose connections are the same. ``previous`` is left with no derived
        data (built again from scratch if it is read), so it never shows this
        snapshot's state.
        """
        changed: set[str] = set()
        by_interconnect: dict[str, set[str]] = {}
        capacity_changed: set[tuple[Side, str]] = set()
        for side in Side:
            old, new = previous.side(side), self.side(side)
            if old is not new:  # a side that could not be read keeps its view
                for ix_id in _differences(old, new, changed, by_interconnect):
                    capacity_changed.add((side, ix_id))
        # Allocated bandwidth and views: kept where the connections are the same.
        self._allocated = {
            key: mbps for key, mbps in previous._allocated.items() if key not in capacity_changed
        }
        for side, view in previous._views.items():
            old, new = previous.side(side), self.side(side)
            if old is new or (
                not any(s is side for s, _ in capacity_changed)
                and old.interconnects == new.interconnects
                and old.channels == new.channels
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
        previous._views, previous._allocated, previous._usage = {}, {}, {}
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
) -> set[str]:
    """Add to ``changed`` the UUIDs whose records differ between two views of a
    side (and to ``by_interconnect`` those whose features differ, per
    interconnect); return the interconnects whose connections differ.

    An interconnect whose dicts compare equal (identity first, in C) costs no
    loop over its UUIDs; a connection record counts as the same only when it
    is the same object."""
    capacity: set[str] = set()
    for ix_id in old.connections.keys() | new.connections.keys():
        before = old.connections.get(ix_id, {})
        now = new.connections.get(ix_id, {})
        if before == now:
            continue
        capacity.add(ix_id)
        for uuid in before.keys() | now.keys():
            if before.get(uuid) is not now.get(uuid):
                changed.add(uuid)
    for ix_id in old.features.keys() | new.features.keys():
        was = old.features.get(ix_id, {})
        is_ = new.features.get(ix_id, {})
        if was == is_:
            continue
        moved = by_interconnect.setdefault(ix_id, set())
        for uuid in was.keys() | is_.keys():
            if was.get(uuid) != is_.get(uuid):
                moved.add(uuid)
                changed.add(uuid)
    return capacity


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


def _cidr(address: str, prefix: int | None, default: int) -> str:
    """``address/prefix`` from the spec's split fields (a CIDR is kept as is).

    A missing prefix length reads as the point-to-point default (/30, /126),
    the same in usage accounting and in feature views.
    """
    if "/" in address:
        return address
    return f"{address}/{prefix if prefix is not None else default}"


def connection_view(
    interconnect: str,
    connection: ConnectionRecord,
    features: Mapping[str, FeatureRecord],
    providers: Mapping[Side, str],
) -> ConnectionView:
    """Convert a wire connection and its features (by channel id) into a protocol view."""
    converted: dict[str, FeatureView] = {}
    for channel, feature in features.items():
        view = feature_view(channel, feature, providers)
        if view is not None:
            converted[channel] = view
    return ConnectionView(
        interconnect=interconnect,
        bandwidth_mbps=connection.bandwidth_mbps or 0,
        verification=VerificationState(connection.verification_state or "UNKNOWN"),
        admin_state=AdminState(connection.admin_state or "ADMIN_STATE_ENABLED"),
        features=converted,
        name=connection.name,
        defer_provisioning=connection.deferred,
    )


def feature_view(
    channel: str, feature: FeatureRecord, providers: Mapping[Side, str]
) -> FeatureView | None:
    """Convert a recorded L3 base feature; None when it carries no usable L3 config."""
    if feature.vlan is None or feature.ipv4 is None or feature.invalid:
        return None
    by_provider = {p: side for side, p in providers.items()}
    bgp: dict[Side, BgpEnd] = {}
    for end in feature.bgp:
        side = by_provider.get(end.provider)
        if side is None or end.asn is None or not end.host_ipv4:
            continue
        try:
            bgp[side] = BgpEnd(
                asn=end.asn,
                ipv4=_host_v4(end.host_ipv4),
                ipv6=_host_v6(end.host_ipv6) if end.host_ipv6 else None,
            )
        except ValueError:
            continue
    return FeatureView(
        channel=channel,
        vlan=feature.vlan,
        ipv4_subnet=feature.ipv4,
        mtu=feature.mtu or 0,
        bgp=bgp,
        ipv6_subnet=feature.ipv6,
        state=ProvisioningState(feature.provisioning_state or "UNKNOWN"),
        name=feature.name,
        failure=feature.failure,
    )


def feature_failure(info: models.FailureInfo | None) -> FeatureFailure | None:
    """The draft's ``failureInfo`` as the protocol layer sees it.

    The code and message are a provider's text, shown in conditions and
    Events: one printable line, bounded, registered secrets (e.g. an MD5
    password echoed back) and credential-shaped runs masked.
    """
    if info is None:
        return None
    return _failure(info.code, info.message, info.retryable, info.observed_at)


def _failure(
    code: str | None, message: str | None, retryable: bool | None, observed_at: datetime | None
) -> FeatureFailure:
    return FeatureFailure(
        code=sanitise(redact(code))[:64] if code else None,
        message=sanitise(redact(message)) if message else None,
        retryable=retryable is True,
        observed_at=observed_at if observed_at and observed_at.tzinfo else None,
    )


def feature_channel(feature: models.Feature) -> str | None:
    """The channel id a feature belongs to (its ``channel`` field is a relative URI)."""
    if not feature.channel:
        return None
    return last_id(feature.channel)


ConnectionItem = tuple[str, ConnectionRecord]
"""A listed connection converted: (connection id, record)."""
FeatureItem = tuple[str, str, FeatureRecord]
"""A listed feature converted: (connection id, channel id, record)."""


def connection_items(
    page: models.ListConnectionsResponse,
    previous: Mapping[str, ConnectionRecord] | None = None,
) -> Iterator[ConnectionItem]:
    """The records of one ListConnections page (unnamed connections skipped).

    ``previous``: the interconnect's records in the last snapshot; an item
    equal to the one held for its id is that record (the same object), so
    what did not change stays identical across snapshots (``carry``)."""
    held = previous or {}
    for connection in page.connections or ():
        if connection.name:
            connection_id = last_id(connection.name)
            record = ConnectionRecord.of(connection)
            before = held.get(connection_id)
            yield connection_id, before if before == record else record


def feature_items(
    page: models.ListFeaturesPage,
    connection_id: str | None = None,
    previous: Mapping[str, Mapping[str, FeatureRecord]] | None = None,
) -> Iterator[FeatureItem]:
    """The records of one ListFeatures page; ``connection_id`` for a page of one
    connection, None for a wildcard page (the id is read from each name).

    ``previous``: the interconnect's records in the last snapshot (connection
    -> channel -> record); an item equal to the one held for its connection
    and channel is that record (the same object, as ``connection_items``)."""
    held = previous or {}
    for feature in page.features or ():
        uri, name = feature.get("channel"), feature.get("name")
        if not uri or not name:
            continue
        channel = last_id(uri)
        owner = connection_id
        if owner is None:
            # .../connections/{k}/features/{f}: the connection id is two segments up.
            parts = name.split("/")
            if len(parts) < 4:
                continue
            owner = parts[-3]
        record = FeatureRecord.of_item(feature)
        before = held.get(owner, {}).get(channel)
        yield owner, channel, before if before == record else record


PageCache = dict[bytes, DigestedPage[Any]]


class SideReader:
    """Reads one provider's view of an environment in bulk.

    Keeps, per listed (interconnect, list), the digested pages of the last
    successful read: one entry per page actually listed, replaced by every
    successful read, so an interconnect (or, per connection, a connection) no
    longer listed drops out. A failed read leaves the cache as it was; it
    never holds more than pages whose bytes it converted itself.
    """

    def __init__(self, client: ProviderClient, provider: str, environment: str) -> None:
        self._client = client
        self._provider = provider
        self._environment = environment
        self._wildcard_ok = True
        self._reads = 0
        self._static: SideView | None = None
        self._pages: dict[tuple[str, str, str], PageCache] = {}
        self.calls = 0
        self.pages_decoded = 0
        """Pages parsed and converted (their digest was new)."""
        self.pages_reused = 0
        """Pages whose digest matched the last read: records reused as they were."""

    @property
    def cached_pages(self) -> int:
        """Pages held from the last successful read (the cache's whole size)."""
        return sum(len(held) for held in self._pages.values())

    async def read(
        self, *, with_channels: bool = True, previous: SideView | None = None
    ) -> SideView:
        """One bulk read. Environment, interconnects and channels (set up out of
        band, they rarely change) are re-read every STATIC_REFRESH_EVERY reads;
        connections and features every time: 2 list calls per interconnect.

        ``previous``: this side in the last snapshot; a decoded item equal to
        its record there is that record (``connection_items``)."""
        env = self._environment
        view = SideView(provider=self._provider)
        static = self._static
        full = static is None or self._reads % STATIC_REFRESH_EVERY == 0
        self._reads += 1
        pages: dict[tuple[str, str, str], PageCache] = {}
        if full or static is None:
            self.calls += 2
            view.environment = await self._client.get_environment(env)
            interconnects = [
                ix async for ix in self._client.list_interconnects(env, page_size=PAGE_SIZE)
            ]
            for ix in interconnects:
                if ix.name:
                    view.interconnects[last_id(ix.name)] = ix
        else:
            view.environment = static.environment
            view.interconnects = dict(static.interconnects)
            view.channels = dict(static.channels)

        async def one(ix_id: str) -> None:
            if with_channels and (full or ix_id not in view.channels):
                self.calls += 1
                view.channels[ix_id] = [
                    ChannelInfo(
                        id=last_id(ch.name or ""),
                        admin_state=ch.admin_state,
                        macsec_manager=ch.macsec_manager_provider,
                        device_id=ch.obfuscated_device_id or None,
                    )
                    async for ch in self._client.list_channels(env, ix_id, page_size=PAGE_SIZE)
                    if ch.name
                ]
            self.calls += 1
            key = (ix_id, "connections", "")
            known, kept = self._pages.get(key, {}), pages.setdefault(key, {})
            connections: dict[str, ConnectionRecord] = {}
            held = previous.connections.get(ix_id) if previous is not None else None
            async for page in self._client.connection_pages(
                env,
                ix_id,
                functools.partial(connection_items, previous=held),
                known,
                page_size=PAGE_SIZE,
            ):
                self._count(page, known, kept)
                connections.update(page.items)
            view.connections[ix_id] = connections
            view.features[ix_id] = await self._features(
                ix_id,
                connections,
                pages,
                previous.features.get(ix_id) if previous is not None else None,
            )

        await asyncio.gather(*(one(ix_id) for ix_id in view.interconnects))
        # Only a read that completed replaces the pages it holds.
        self._pages = pages
        if full:
            self._static = view
        return view

    def _count(self, page: DigestedPage[Any], known: PageCache, kept: PageCache) -> None:
        if known.get(page.digest) is page:
            self.pages_reused += 1
        else:
            self.pages_decoded += 1
        kept[page.digest] = page

    async def _features(
        self,
        ix_id: str,
        connections: Mapping[str, ConnectionRecord],
        pages: dict[tuple[str, str, str], PageCache],
        previous: Mapping[str, Mapping[str, FeatureRecord]] | None,
    ) -> dict[str, dict[str, FeatureRecord]]:
        env = self._environment
        result: dict[str, dict[str, FeatureRecord]] = {}
        if self._wildcard_ok:
            key = (ix_id, "features", WILDCARD)
            known, kept = self._pages.get(key, {}), pages.setdefault(key, {})
            try:
                self.calls += 1
                async for page in self._client.feature_pages(
                    env,
                    ix_id,
                    WILDCARD,
                    functools.partial(feature_items, previous=previous),
                    known,
                    page_size=PAGE_SIZE,
                ):
                    self._count(page, known, kept)
                    _file_features(result, page.items)
                return result
            except (InvalidRequest, NotFound):
                logger.info(
                    "provider %s refuses the feature wildcard; listing per connection",
                    self._provider,
                )
                self._wildcard_ok = False
                pages.pop(key, None)
        for connection_id in connections:
            self.calls += 1
            key = (ix_id, "features", connection_id)
            known, kept = self._pages.get(key, {}), pages.setdefault(key, {})
            try:
                async for page in self._client.feature_pages(
                    env,
                    ix_id,
                    connection_id,
                    functools.partial(
                        feature_items, connection_id=connection_id, previous=previous
                    ),
                    known,
                ):
                    self._count(page, known, kept)
                    _file_features(result, page.items)
            except NotFound:
                continue
        return result


def _file_features(
    result: dict[str, dict[str, FeatureRecord]], entries: Iterable[FeatureItem]
) -> None:
    """Add a page's features to ``result`` (fresh dicts; the records are shared)."""
    for connection_id, channel, record in entries:
        by_channel = result.get(connection_id)
        if by_channel is None:
            by_channel = result[connection_id] = {}
        by_channel[channel] = record


async def read_pool(
    negotiator: SideReader,
    responder: SideReader,
    environment: str,
    now: datetime,
    previous: PoolSnapshot | None = None,
) -> PoolSnapshot:
    """Read both sides concurrently; a side that fails is reported in ``errors``.

    ``previous``: the last snapshot, whose records a decoded item equal to
    them becomes (``SideReader.read``)."""
    results = await asyncio.gather(
        negotiator.read(previous=previous.negotiator if previous is not None else None),
        responder.read(previous=previous.responder if previous is not None else None),
        return_exceptions=True,
    )
    errors: dict[str, str] = {}
    sides: list[SideView] = []
    for reader, result in zip((negotiator, responder), results, strict=True):
        if isinstance(result, BaseException):
            if not isinstance(result, Exception):
                raise result  # cancellation, interpreter exit
            # Containment: whatever a side's read raised (a provider's odd answer,
            # a credentials plugin) is that side being unreadable, not the end of
            # the pool loop.
            if isinstance(result, ApiError | OSError | asyncio.TimeoutError):
                errors[reader._provider] = describe_error(result)
            else:
                errors[reader._provider] = f"unexpected {type(result).__name__}"
                logger.warning(
                    "reading %s failed", reader._provider, exc_info=(type(result), result, None)
                )
            sides.append(SideView(provider=reader._provider))
        else:
            sides.append(result)
    return PoolSnapshot(
        environment=environment,
        negotiator=sides[0],
        responder=sides[1],
        taken_at=now,
        errors=errors,
    )


def describe_error(error: BaseException) -> str:
    """The error and its root cause, so a pool condition says *why* a side is
    unreachable (e.g. ``CERTIFICATE_VERIFY_FAILED`` rather than ``ConnectError``).

    Transport errors carry no request headers, so no credential can show here.
    """
    text = f"{type(error).__name__}: {error}"
    cause = error.__cause__ or error.__context__
    seen = 0
    while cause is not None and seen < 5:
        detail = str(cause).strip()
        if detail and detail not in text:
            text += f" ({detail[:300]})"
        cause = cause.__cause__ or cause.__context__
        seen += 1
    return text
