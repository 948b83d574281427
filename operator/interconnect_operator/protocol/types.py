"""Value types of the protocol layer.

The protocol layer decides; it never talks to a provider. These types are its
own view of the world, independent of the wire models in ``api/``: the
reconcile layer maps what it reads from both providers onto them, calls the
pure functions of ``protocol/``, and maps the decisions back onto API calls.

Sides, not provider names: the operator negotiates on behalf of the provider
that received the activation key (P4). Everything here is keyed by
``Side.NEGOTIATOR`` / ``Side.RESPONDER``; the reconcile layer knows which
provider id plays which role.

Enumerations accept unknown wire values (``_missing_`` maps them to
``UNKNOWN``) so that a provider adding an enum value never crashes a decision.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from typing import Final

IPNetwork = IPv4Network | IPv6Network
IPAddress = IPv4Address | IPv6Address

#: VLAN ids 1024 and below are reserved (P9); 4094 is the highest usable id.
VLAN_MIN: Final = 1025
VLAN_MAX: Final = 4094
#: The highest 4-byte BGP ASN.
MAX_ASN: Final = 4_294_967_295
#: P12: a connection is usable once this many of its features are negotiated.
MIN_CHANNELS: Final = 3


class Side(StrEnum):
    """The two roles of P4. The operator acts for the negotiator."""

    NEGOTIATOR = "negotiator"
    RESPONDER = "responder"

    @property
    def other(self) -> Side:
        return Side.RESPONDER if self is Side.NEGOTIATOR else Side.NEGOTIATOR


class _TolerantEnum(StrEnum):
    """A string enum whose unknown values map to ``UNKNOWN`` instead of raising."""

    @classmethod
    def _missing_(cls, value: object) -> _TolerantEnum:
        return cls("UNKNOWN")


class AdminState(_TolerantEnum):
    ENABLED = "ADMIN_STATE_ENABLED"
    DISABLED = "ADMIN_STATE_DISABLED"
    UNKNOWN = "UNKNOWN"


class VerificationState(_TolerantEnum):
    UNVERIFIED = "VERIFICATION_STATE_UNVERIFIED"
    VERIFIED = "VERIFICATION_STATE_VERIFIED"
    UNKNOWN = "UNKNOWN"


class ProvisioningState(_TolerantEnum):
    PENDING = "PROVISIONING_STATE_PENDING"
    FINAL = "PROVISIONING_STATE_FINAL"
    FAILED = "PROVISIONING_STATE_FAILED"
    """Feature-recovery draft: the provider gave up on the feature (see ``FeatureFailure``)."""
    UNKNOWN = "UNKNOWN"


class InterconnectState(_TolerantEnum):
    PENDING = "INTERCONNECT_STATE_PENDING"
    ACTIVE = "INTERCONNECT_STATE_ACTIVE"
    CLOSED = "INTERCONNECT_STATE_CLOSED"
    UNKNOWN = "UNKNOWN"


class DeletionPolicy(StrEnum):
    DELETE = "Delete"
    ORPHAN = "Orphan"


class PeerDeletionPolicy(StrEnum):
    """What to do when a provider deletes the link's connection (P19 from its side).

    ``Report`` (the default): Ready False naming the side, and wait for the
    user. ``Recreate``: delete what is left of the old connection and start
    over with a fresh key and shared UUID (destination-account links only: an
    activation key given by the user cannot be renewed by the operator).
    """

    REPORT = "Report"
    RECREATE = "Recreate"


class Secret:
    """An opaque secret (MD5 password, MACsec CAK/CKN, activation key).

    Never shown by ``repr``/``str``; the value is reachable only through
    :meth:`reveal`, so that a secret written to a log or a status by mistake
    shows as asterisks. It may wrap a callable so the reconcile layer can
    resolve a Kubernetes Secret lazily, at the moment of the API call.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str | Callable[[], str]) -> None:
        self._value = value

    def reveal(self) -> str:
        value = self._value
        return value() if callable(value) else value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        # Constant time, so comparisons do not leak the value through timing.
        return hmac.compare_digest(self.reveal().encode(), other.reveal().encode())

    def __hash__(self) -> int:
        # Hash the identity only: hashing the value could leak it into dict debugging.
        return id(self)


@dataclass(frozen=True, order=True)
class IntRange:
    """An inclusive range of integers (VLANs, MTUs, ASNs), as in the guidance."""

    start: int
    stop: int

    def __post_init__(self) -> None:
        if self.start > self.stop:
            raise ValueError(f"range start {self.start} > stop {self.stop}")

    def __contains__(self, value: object) -> bool:
        return isinstance(value, int) and self.start <= value <= self.stop

    def __str__(self) -> str:
        return f"{self.start}-{self.stop}" if self.start != self.stop else str(self.start)


@dataclass(frozen=True)
class SubnetGuidance:
    """One include subnet with its excludes and an optional preferred subnet (P8)."""

    include: IPNetwork
    excludes: tuple[IPNetwork, ...] = ()
    preferred: IPNetwork | None = None


@dataclass(frozen=True)
class GuidanceView:
    """One side's L3 guidance for one channel (P8).

    Empty tuples mean "no restriction", as the specification says of
    unpopulated guidance fields.
    """

    channel: str
    admin_state: AdminState = AdminState.ENABLED
    vlan_ranges: tuple[IntRange, ...] = ()
    ipv4_subnets: tuple[SubnetGuidance, ...] = ()
    ipv6_subnets: tuple[SubnetGuidance, ...] = ()
    ipv4_prefix_lengths: tuple[int, ...] = ()
    ipv6_prefix_lengths: tuple[int, ...] = ()
    mtu_ranges: tuple[IntRange, ...] = ()
    asn_ranges: tuple[IntRange, ...] = ()
    max_received_bgp_prefixes: int | None = None


@dataclass(frozen=True)
class InterconnectView:
    """One side's view of an interconnect: its state and capacity (P7).

    ``allocated_mbps`` is the sum of the bandwidth of the connections that
    side holds on the interconnect (reservations, P7).
    """

    id: str
    state: InterconnectState
    max_bandwidth_mbps: int
    allocated_mbps: int = 0
    supported_sizes_mbps: tuple[int, ...] = ()
    channels: tuple[str, ...] = ()

    @property
    def free_mbps(self) -> int:
        return max(0, self.max_bandwidth_mbps - self.allocated_mbps)


@dataclass(frozen=True)
class BgpEnd:
    """One provider's end of the BGP sessions of a feature (never the MD5)."""

    asn: int
    ipv4: IPv4Address
    ipv6: IPv6Address | None = None


@dataclass(frozen=True)
class FeatureFailure:
    """Why a provider reports a feature FAILED (the draft's ``failureInfo``).

    ``message`` is already redacted and bounded by the reconcile layer (it is
    the provider's text, shown in conditions and Events).
    """

    code: str | None = None
    message: str | None = None
    retryable: bool = False
    observed_at: datetime | None = None


@dataclass(frozen=True)
class FeatureView:
    """An L3 base feature as one side holds it."""

    channel: str
    vlan: int
    ipv4_subnet: IPv4Network
    mtu: int
    bgp: Mapping[Side, BgpEnd]
    ipv6_subnet: IPv6Network | None = None
    state: ProvisioningState = ProvisioningState.PENDING
    connection_id: str | None = None
    name: str | None = None
    failure: FeatureFailure | None = None

    @property
    def final(self) -> bool:
        return self.state is ProvisioningState.FINAL

    @property
    def failed(self) -> bool:
        return self.state is ProvisioningState.FAILED


@dataclass(frozen=True)
class ConnectionView:
    """A connection as one side holds it, with its features keyed by channel."""

    interconnect: str
    bandwidth_mbps: int
    verification: VerificationState = VerificationState.UNVERIFIED
    admin_state: AdminState = AdminState.ENABLED
    features: Mapping[str, FeatureView] = field(default_factory=dict)
    name: str | None = None
    defer_provisioning: bool = False

    @property
    def verified(self) -> bool:
        return self.verification is VerificationState.VERIFIED


@dataclass(frozen=True)
class ProviderObservation:
    """Everything one side holds under the link's shared UUID.

    Usually zero or one connection; two during a migration (P18: the same
    UUID under another interconnect), keyed by interconnect id.
    """

    side: Side
    connections: Mapping[str, ConnectionView] = field(default_factory=dict)

    def on(self, interconnect: str | None) -> ConnectionView | None:
        if interconnect is None:
            return None
        return self.connections.get(interconnect)

    @property
    def present(self) -> bool:
        return bool(self.connections)


@dataclass(frozen=True)
class LinkSpec:
    """What the user asked for (the MulticloudLink spec, reduced to the rules)."""

    bandwidth_mbps: int
    ipv6: bool = False
    mtu: int | None = None
    bgp_asn: int | None = None
    deletion_policy: DeletionPolicy = DeletionPolicy.DELETE
    paused: bool = False
    generation: int = 1
    on_peer_deletion: PeerDeletionPolicy = PeerDeletionPolicy.REPORT
    md5: Secret | None = field(default=None, repr=False, compare=False)
    max_prefixes: int | None = None
    """Route prefixes the link plans to advertise (``spec.bgp.maxPrefixes``)."""
    test_connection: bool = False
    """A TEST connection for bring-up checks (upstream PR #57): it may be below the
    environment's minimum size and holds no capacity on the interconnect."""

    @property
    def reserved_mbps(self) -> int:
        """Bandwidth the link holds against capacity: none for a TEST connection."""
        return 0 if self.test_connection else self.bandwidth_mbps


@dataclass(frozen=True)
class FailureRecord:
    """A terminal failure recorded in status; it holds until the spec changes."""

    reason: str
    message: str
    generation: int


@dataclass(frozen=True)
class LinkFacts:
    """What the operator remembers about a link between reconciles (its status).

    ``interconnect`` is where the link is placed; ``migrating_to`` the target
    of a migration in progress (P18). ``rejected_interconnects`` are those
    that answered 409 to CreateConnection recently (P6), so placement moves
    on. ``blocked_channels`` are channels that cannot get a feature (allocation
    failure, disabled channel) with the reason. ``rejected_features`` are
    channels whose remote feature creation was refused (P10) since the local
    feature was created.
    """

    shared_uuid: str
    now: datetime
    deleting: bool = False
    key_confirmed: bool = False
    key_refused: str | None = None
    interconnect: str | None = None
    migrating_to: str | None = None
    rejected_interconnects: frozenset[str] = frozenset()
    channels: tuple[str, ...] = ()
    guidance_ready: bool = False
    blocked_channels: Mapping[str, str] = field(default_factory=dict)
    disabled_channels: frozenset[str] = frozenset()
    """Channels administratively disabled on either side: not required for P14."""
    rejected_features: Mapping[str, str] = field(default_factory=dict)
    notified_at: Mapping[Side, datetime] = field(default_factory=dict)
    update_in_progress: bool = False
    """P17: the peer answered 409 to an update; wait ``update_wait_seconds``."""
    update_wait_seconds: int = 30
    notify_after_update: frozenset[Side] = frozenset()
    """P16: sides still to be notified after a bandwidth update completed."""
    deferred: bool = False
    deferral_timeout: timedelta | None = None
    deferred_since: datetime | None = None
    """When the deferred CreateConnection reached the peer (P23 counts from it)."""
    ever_ready: bool = False
    failure: FailureRecord | None = None
    deleted_by: Mapping[Side, str] = field(default_factory=dict)
    """Sides whose provider deleted the link's connection (P19 from their side),
    with a description naming the provider and the interconnect."""
    recreate: bool = False
    """After such a deletion, start over with a fresh key (the user opted in and
    the link's key can be renewed: a destination-account link)."""
    channel_devices: Mapping[Side, Mapping[str, str | None]] = field(default_factory=dict)
    """Each side's ``obfuscatedDeviceId`` per channel of the working interconnect
    (resiliency audit); empty when unknown."""
    prefix_limits: Mapping[Side, int] = field(default_factory=dict)
    """Each side's ``maxReceivedBgpRoutePrefixes`` (lowest over its channels' guidance)."""
    retry_failed_features: bool = False
    """The spec changed after the link failed on features a provider reports
    FAILED (feature-recovery draft): delete those features once so they are
    created afresh (P20), instead of failing again at once."""
