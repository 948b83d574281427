"""Records, indexes and the refusal type of the simulated provider's store.

Records are plain dataclasses persisted as JSON (``dataclasses.asdict``); the
indexes answer "is this VLAN or subnet taken on this channel" without scanning
every feature (P9-P10).
"""

from __future__ import annotations

import ipaddress
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

MAX_ASN = 4_294_967_295
RESERVED_ASNS = frozenset({0, 23456, 65535, MAX_ASN})
MIN_VLAN = 1025  # VLAN 1024 and lower are reserved (feature.yaml, P9)

# Connection.connectionType (upstream PR #57, merged after the pinned spec):
# absent means STANDARD; TEST and MONITORING do not count against capacity,
# TEST may be below the minimum size, one MONITORING per interconnect.
STANDARD = "CONNECTION_TYPE_STANDARD"
TEST = "CONNECTION_TYPE_TEST"
MONITORING = "CONNECTION_TYPE_MONITORING"
CONNECTION_TYPES = frozenset({STANDARD, TEST, MONITORING})


class SimError(Exception):
    """A refusal with its P32 status code; the message never holds secrets."""

    def __init__(self, status: int, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after = retry_after


# --------------------------------------------------------------------------
# Records (persisted as JSON through dataclasses.asdict)
# --------------------------------------------------------------------------


@dataclass(slots=True)
class ActivationKeyRecord:
    """A key issued by the customer endpoint and the pending connection it names.

    state: ``issued`` (pending local record, confirmable), ``placed`` (a
    CreateConnection consumed it: confirming again is a reuse, P3) or
    ``invalidated`` (its connection was deleted, P19).
    """

    uuid: str
    environment: str
    bandwidth_mbps: int
    destination_account_id: str
    issued_at: float
    state: str = "issued"
    encoded_key: str = field(default="", repr=False)


@dataclass(slots=True)
class ConnectionRecord:
    """A connection placed on an interconnect."""

    environment: str
    interconnect: str
    id: str
    bandwidth_mbps: int
    created_at: float
    defer_provisioning: bool = False
    # Ordering of feature changes (create/delete/reprovision) and of the
    # peer's notifications, by a store-wide sequence number rather than by
    # time, since both can happen within one clock tick: a notification older
    # than the last change is about a feature set that no longer exists (P15).
    features_changed_seq: int = 0
    notified_seq: int = 0
    notified_at: float | None = None
    # P17: an update is "in flight" until the network change completes.
    update_busy_until: float = 0.0
    activation_key: str | None = field(default=None, repr=False)
    # As the caller sent it (None: absent, read as STANDARD).
    connection_type: str | None = None
    # Upstream PR #50: the connection this one migrates (its id), when named.
    migrated_from: str | None = None

    @property
    def reserved_mbps(self) -> int:
        """Bandwidth this connection holds against the interconnect's capacity."""
        return 0 if self.connection_type in (TEST, MONITORING) else self.bandwidth_mbps


@dataclass(slots=True)
class FeatureRecord:
    """A feature of a connection on one channel, with its index keys."""

    environment: str
    interconnect: str
    connection: str
    id: str
    channel: str
    feature_type: str
    provisioned_at: float
    vlan: int
    ipv4_net: int
    ipv4_len: int
    ipv6_net: int | None = None
    ipv6_len: int | None = None
    # The featureConfig as accepted, echoed back by Get/List (holds the MD5).
    config: dict[str, Any] = field(default_factory=dict, repr=False)
    # Feature-recovery draft: set by the admin API, the provider gave up on it
    # (PROVISIONING_STATE_FAILED with failureInfo); None while it provisions.
    failure: FeatureFailureRecord | None = None


@dataclass(slots=True, frozen=True)
class FeatureFailureRecord:
    """The draft's ``failureInfo`` of a feature the provider failed to provision."""

    code: str
    message: str
    retryable: bool
    observed_at: float


@dataclass(slots=True)
class MacSecKeyRecord:
    """A MACsec key on a channel; CAK and CKN are secrets (P31)."""

    environment: str
    interconnect: str
    channel: str
    id: str
    start_time: float
    cak: str = field(default="", repr=False)
    ckn: str = field(default="", repr=False)


@dataclass(slots=True)
class MaintenanceRecord:
    """A maintenance window this provider scheduled on one of its channels."""

    environment: str
    interconnect: str
    channel: str
    id: str
    start_time: float
    end_time: float
    emergency: bool = False


@dataclass(slots=True)
class PeerMaintenanceRecord:
    """What the peer told us with NotifyMaintenance (P24), per channel."""

    environment: str
    interconnect: str
    channel: str
    received_at: float
    events: list[dict[str, Any]] = field(default_factory=list)


@dataclass(slots=True)
class RotationRequestRecord:
    """A RequestMacSecKeyRotation from the non-manager (P30)."""

    environment: str
    interconnect: str
    channel: str
    requested_at: float
    reason: str = ""


@dataclass(slots=True)
class CommentRecord:
    """A comment on an issue."""

    id: str
    body: str
    create_time: float
    display_name: str


@dataclass(slots=True)
class IssueRecord:
    """An issue opened by a caller; ``data`` is the wire body as accepted."""

    caller: str
    id: str
    create_time: float
    local_issue_id: str
    state: str
    data: dict[str, Any] = field(default_factory=dict)
    comments: list[CommentRecord] = field(default_factory=list)


# --------------------------------------------------------------------------
# Indexes
# --------------------------------------------------------------------------


@dataclass(slots=True)
class SubnetIndex:
    """Subnets in use on a channel, keyed (network int, prefix length)."""

    width: int
    used: dict[tuple[int, int], str] = field(default_factory=dict)
    lengths: Counter[int] = field(default_factory=Counter)

    def overlap(self, net: int, length: int) -> str | None:
        """The feature holding a subnet that overlaps ``net/length``, if any.

        Only prefix lengths actually in use are probed: for each, either the
        one enclosing subnet or the few enclosed ones (guidance keeps prefix
        lengths close, e.g. /29 and /30), so the cost does not grow with the
        number of features.
        """
        for used_length, count in self.lengths.items():
            if count <= 0:
                continue
            if used_length <= length:
                shift = self.width - used_length
                holder = self.used.get(((net >> shift) << shift, used_length))
                if holder is not None:
                    return holder
            else:
                span = used_length - length
                if span > 12:
                    # Pathological guidance: fall back to a scan of this length.
                    for (other, other_len), holder in self.used.items():
                        if other_len == used_length and (other >> (self.width - length)) == (
                            net >> (self.width - length)
                        ):
                            return holder
                    continue
                step = 1 << (self.width - used_length)
                for index in range(1 << span):
                    holder = self.used.get((net + index * step, used_length))
                    if holder is not None:
                        return holder
        return None

    def add(self, net: int, length: int, holder: str) -> None:
        self.used[(net, length)] = holder
        self.lengths[length] += 1

    def remove(self, net: int, length: int) -> None:
        if self.used.pop((net, length), None) is not None:
            self.lengths[length] -= 1


@dataclass(slots=True)
class ChannelIndex:
    """What features use on one channel (P9-P10)."""

    vlans: dict[int, str] = field(default_factory=dict)
    ipv4: SubnetIndex = field(default_factory=lambda: SubnetIndex(32))
    ipv6: SubnetIndex = field(default_factory=lambda: SubnetIndex(128))


ConnKey = tuple[str, str, str]  # environment, interconnect, connection
IxKey = tuple[str, str]
ChKey = tuple[str, str, str]


@dataclass(slots=True)
class ParsedL3:
    vlan: int
    ipv4_net: int
    ipv4_len: int
    ipv6_net: int | None
    ipv6_len: int | None


def fmt_net(net: int, length: int, version: int) -> str:
    address = ipaddress.IPv4Address(net) if version == 4 else ipaddress.IPv6Address(net)
    return f"{address}/{length}"


def provider_id(value: Any) -> str:
    """The provider id of ``providerBgpConfigs[].provider``, strictly read.

    feature.yaml formats the field as ``providers/{provider}``; a strict
    provider refuses a bare id (400), so the simulator does too.
    """
    if not isinstance(value, str) or not value:
        raise SimError(400, "providerBgpConfigs[].provider is required")
    parts = value.split("/")
    if len(parts) != 2 or parts[0] != "providers" or not parts[1]:
        raise SimError(
            400,
            "providerBgpConfigs[].provider must be a provider resource name "
            f"(providers/{{provider}}), not {value[:64]!r}",
        )
    return parts[1]
