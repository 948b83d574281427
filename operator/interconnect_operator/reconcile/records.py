"""What decisions read of a provider's objects: records and their protocol views.

The snapshot keeps what decisions read, not the wire models: a
:class:`ConnectionRecord` and a :class:`FeatureRecord` (slotted, subnets
parsed once) per object. At 1,000 links that is ~10,000 objects either way,
but a wire Feature is five pydantic models (config, BGP ends), each with a
``__dict__`` and pydantic's bookkeeping; the pages' models are garbage as
soon as a refresh has read them.

The records are immutable: one record is shared by every snapshot whose
page carried the same item, a change is a new record. ``SideView`` holds one
provider's records for a pool's environment; ``connection_view`` and
``feature_view`` turn records into the pure views of ``protocol.types``.
"""

from __future__ import annotations

import functools
import ipaddress
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from pydantic import SecretStr

from interconnect_operator.api import models
from interconnect_operator.api.names import last_id, provider_ref_id
from interconnect_operator.protocol.addresses import ipv4_network, ipv6_network
from interconnect_operator.protocol.retry_discipline import sanitise
from interconnect_operator.protocol.types import (
    AdminState,
    BgpEnd,
    ConnectionView,
    FeatureFailure,
    FeatureView,
    ProvisioningState,
    Side,
    VerificationState,
)
from interconnect_operator.redaction import redact


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

    @property
    def reserved_mbps(self) -> int:
        """The bandwidth it reserves on its interconnect (P7): its bandwidth, 0 for
        TEST and MONITORING connections (upstream PR #57)."""
        return (self.bandwidth_mbps or 0) if self.counts_against_capacity else 0

    @classmethod
    def of(cls, connection: models.Connection) -> ConnectionRecord:
        return cls(
            bandwidth_mbps=connection.bandwidth_mbps,
            name=connection.name,
            verification_state=_state(connection.verification_state),
            admin_state=_state(connection.admin_state),
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


def _state(value: str | None) -> str | None:
    """An enum value as the one shared copy of its text: every record of a pool
    holds a few of them (a feature's provisioning state, a connection's
    verification and admin state), ~70 bytes each as decoded."""
    return sys.intern(value) if value is not None else None


BgpKey = tuple[tuple[str, int | None, str | None, str | None], ...]


# A feature's BGP ends are the same on all of a link's channels and on both sides
# (the same two peers): equal ends are one tuple of records, shared (~2 KiB per
# link). Bounded, so what a provider lists cannot grow it; ends evicted are
# only not shared any more. A link's ends repeat within seconds (its channels
# and both sides in one bring-up, at most ``workers`` = 32 links at once; in a
# refresh, one page after another): 512 entries (~350 KiB); 4,096 filled with
# the ends of deleted links in a churn soak (~2.7 MiB).
@functools.lru_cache(maxsize=1 << 9)
def _bgp(ends: BgpKey) -> tuple[BgpRecord, ...]:
    """The records of BGP ends given as ``(provider, asn, host_ipv4, host_ipv6)``."""
    return tuple(BgpRecord(*end) for end in ends)


# Every refresh lists the same subnets again: each is parsed once, and the
# records of all refreshes share the one (immutable) network object. A
# restart's first refresh parses every subnet (two per feature, none cached):
# ``protocol.addresses`` reads the canonical text the operator writes in C,
# with the stdlib's rules. ``of_item`` at the N=10,000 shape (40,000 features,
# distinct subnets; best of 6-8 interleaved rounds, loaded machine): 22.2-23.5
# -> 17.4-17.7 us per feature (11.4 with the collector paused, as
# ``api.feature_pages`` converts).
@functools.lru_cache(maxsize=1 << 16)
def _ipv4(cidr: str) -> ipaddress.IPv4Network:
    return ipv4_network(cidr)  # IPv4Network(cidr, strict=False), cheaper (protocol.addresses)


@functools.lru_cache(maxsize=1 << 16)
def _ipv6(cidr: str) -> ipaddress.IPv6Network:
    return ipv6_network(cidr)  # IPv6Network(cidr, strict=False), cheaper (protocol.addresses)


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
                name=feature.name,
                provisioning_state=_state(feature.provisioning_state),
                failure=failure,
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
            provisioning_state=_state(feature.provisioning_state),
            vlan=config.vlan_id,
            ipv4=ipv4,
            ipv6=ipv6,
            mtu=config.mtu_bytes,
            bgp=_bgp(
                tuple(
                    (provider_ref_id(end.provider), end.asn, end.host_ipv4, end.host_ipv6)
                    for end in config.provider_bgp_configs or []
                )
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
        name, state = feature.get("name"), _state(feature.get("provisioning_state"))
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
            bgp=_bgp(
                tuple(
                    (
                        provider_ref_id(end.get("provider")),
                        end.get("asn"),
                        end.get("host_ipv4"),
                        end.get("host_ipv6"),
                    )
                    for end in config.get("provider_bgp_configs") or []
                )
            ),
            invalid=invalid,
            failure=failure,
        )


ConnectionFeatures = Mapping[str, FeatureRecord]
"""One connection's features by channel id, never edited in place (``SideView.features``)."""


@dataclass
class SideView:
    """Everything one provider lists for the pool's environment.

    ``connections`` is written through ``file_connection`` and
    ``drop_connection`` once the view is built (the reader fills it whole
    first): they keep each interconnect's allocated bandwidth current, so a
    placement reads it in O(1) instead of summing the interconnect's
    connections (~1,000 per interconnect at 10,000 links, after every
    connection filed in a burst). A change made to ``connections`` any other
    way must be followed by ``forget_allocated``. At the N=10,000 burst shape
    (10 interconnects, 32 placements per refresh; snapshot and placement code
    alone) a placement with its two connections filed went from ~330-410 to
    ~65-75 us of CPU.
    """

    provider: str
    environment: models.Environment | None = None
    interconnects: dict[str, models.Interconnect] = field(default_factory=dict)
    channels: dict[str, list[ChannelInfo]] = field(default_factory=dict)
    # interconnect -> connection id -> connection
    connections: dict[str, dict[str, ConnectionRecord]] = field(default_factory=dict)
    # interconnect -> connection id -> channel id -> feature. A connection's
    # features are a read-only Mapping: the reader shares one connection's
    # dict between every snapshot whose pages did not change
    # (``reconcile.reader``), so a change replaces the connection's dict
    # (``PoolRuntime.record_feature``), never edits it in place.
    features: dict[str, dict[str, ConnectionFeatures]] = field(default_factory=dict)
    allocated: dict[str, int] = field(default_factory=dict, repr=False, compare=False)
    """Per interconnect, ``allocated_mbps`` once summed, kept current since by
    ``file_connection`` and ``drop_connection`` (and carried into the next
    refresh's view, ``PoolSnapshot.carry``)."""

    def allocated_mbps(self, interconnect: str) -> int:
        """Bandwidth reserved on ``interconnect`` (P7): summed once, then kept.

        TEST and MONITORING connections do not count against capacity (upstream
        PR #57), so they never cause NoCapacity, a migration or a smaller
        headroom; every other connection counts whatever its state (a
        connection reserves its bandwidth when created, P7)."""
        kept = self.allocated.get(interconnect)
        if kept is None:
            kept = self.allocated[interconnect] = allocated_sum(
                self.connections.get(interconnect, {}).values()
            )
        return kept

    def file_connection(self, interconnect: str, uuid: str, record: ConnectionRecord) -> None:
        """Hold ``record`` as connection ``uuid`` of ``interconnect`` (new or changed)."""
        by_id = self.connections.setdefault(interconnect, {})
        before = by_id.get(uuid)
        by_id[uuid] = record
        kept = self.allocated.get(interconnect)
        if kept is not None:
            self.allocated[interconnect] = (
                kept + record.reserved_mbps - (before.reserved_mbps if before is not None else 0)
            )

    def drop_connection(self, interconnect: str, uuid: str) -> None:
        """Forget connection ``uuid`` of ``interconnect`` and its features."""
        before = self.connections.get(interconnect, {}).pop(uuid, None)
        self.features.get(interconnect, {}).pop(uuid, None)
        kept = self.allocated.get(interconnect)
        if kept is not None and before is not None:
            self.allocated[interconnect] = kept - before.reserved_mbps

    def forget_allocated(self, interconnect: str | None = None) -> None:
        """Sum ``interconnect``'s allocation (every one when None) again when next read."""
        if interconnect is None:
            self.allocated.clear()
        else:
            self.allocated.pop(interconnect, None)


def allocated_sum(connections: Iterable[ConnectionRecord]) -> int:
    """The bandwidth ``connections`` reserve, from scratch (``SideView.allocated_mbps``)."""
    return sum(c.reserved_mbps for c in connections)


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
