"""State and rules of the simulated provider (the server side of P3-P30).

Everything dynamic lives here in plain dicts with the indexes each rule needs,
so that every operation costs O(1) or O(objects of one connection/channel):
the benchmark drives thousands of links through one simulator.

Time-driven behaviour is computed from timestamps when read, never by tasks:
a feature is FINAL once ``provisioning_delay`` has passed since it was
(re)provisioned (P13), a connection is VERIFIED when all its features are
FINAL and the peer's NotifyConnectionStatus arrived after the last change
(P14), a MACsec key is active once its router had ``provisioning_delay`` to
switch to it (P28).

Methods take ``now`` (epoch seconds) from the caller's clock and raise
:class:`SimError` with the status of P32 on refusal. They never await, so in
the single-threaded event loop each is atomic; the app still wraps mutations
in one lock to serialise reservations explicitly (P10).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import uuid as uuid_module
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from interconnect_operator.api import activation_key
from interconnect_operator.api.models import (
    ActivationKey,
    AdminState,
    FeatureType,
    InterconnectState,
)
from interconnect_operator.api.names import (
    InvalidResourceName,
    environment_name,
    parse_name,
)
from interconnect_operator.simulator.inventory import (
    ChannelSpec,
    EnvironmentSpec,
    GuidanceSpec,
    InterconnectSpec,
    Inventory,
    display_name,
)
from interconnect_operator.simulator.persistence import StateFile

__all__ = [
    "ActivationKeyRecord",
    "CommentRecord",
    "ConnectionRecord",
    "FeatureRecord",
    "IssueRecord",
    "MacSecKeyRecord",
    "MaintenanceRecord",
    "PeerMaintenanceRecord",
    "RotationRequestRecord",
    "SimError",
    "Store",
]

_MAX_ASN = 4_294_967_295
_RESERVED_ASNS = frozenset({0, 23456, 65535, _MAX_ASN})
_MIN_VLAN = 1025  # VLAN 1024 and lower are reserved (feature.yaml, P9)


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
class _SubnetIndex:
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
class _ChannelIndex:
    """What features use on one channel (P9-P10)."""

    vlans: dict[int, str] = field(default_factory=dict)
    ipv4: _SubnetIndex = field(default_factory=lambda: _SubnetIndex(32))
    ipv6: _SubnetIndex = field(default_factory=lambda: _SubnetIndex(128))


ConnKey = tuple[str, str, str]  # environment, interconnect, connection
IxKey = tuple[str, str]
ChKey = tuple[str, str, str]


@dataclass(slots=True)
class _Parsed:
    vlan: int
    ipv4_net: int
    ipv4_len: int
    ipv6_net: int | None
    ipv6_len: int | None


def _fmt_net(net: int, length: int, version: int) -> str:
    address = ipaddress.IPv4Address(net) if version == 4 else ipaddress.IPv6Address(net)
    return f"{address}/{length}"


def _provider_id(value: str | None) -> str | None:
    # providerBgpConfigs[].provider is "providers/{p}"; tolerate a bare id.
    if not value:
        return None
    return value.removeprefix("providers/")


# --------------------------------------------------------------------------
# The store
# --------------------------------------------------------------------------


class Store:
    """All dynamic state of one simulated provider and the rules over it."""

    def __init__(
        self,
        inventory: Inventory,
        *,
        provisioning_delay: float = 0.0,
        bake_time: float = 7200.0,
        state_file: StateFile | None = None,
    ) -> None:
        self.inventory = inventory
        self.provisioning_delay = provisioning_delay
        self.bake_time = bake_time
        self._state = state_file
        self.keys: dict[str, ActivationKeyRecord] = {}
        self.connections: dict[ConnKey, ConnectionRecord] = {}
        self.connections_by_ix: dict[IxKey, dict[str, ConnectionRecord]] = {}
        self.connections_by_uuid: dict[str, set[IxKey]] = {}
        self.allocated: Counter[IxKey] = Counter()
        self.features: dict[ConnKey, dict[str, FeatureRecord]] = {}
        self.l3_by_channel: dict[tuple[str, str, str, str], str] = {}  # conn + channel
        self.channel_index: dict[ChKey, _ChannelIndex] = {}
        self.macsec: dict[ChKey, dict[str, MacSecKeyRecord]] = {}
        self.macsec_count: Counter[IxKey] = Counter()
        self.last_rotation_done: dict[IxKey, float] = {}
        self.maintenance: dict[ChKey, dict[str, MaintenanceRecord]] = {}
        self.peer_maintenance: dict[ChKey, PeerMaintenanceRecord] = {}
        self.rotation_requests: dict[ChKey, list[RotationRequestRecord]] = {}
        self.issues: dict[str, dict[str, IssueRecord]] = {}
        self.interconnect_state: dict[IxKey, str] = {}  # admin overrides
        self._issue_counter = 0
        self._seq = 0
        if state_file is not None:
            self._load(state_file)

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    # ----------------------------------------------------------- persistence

    def _put(self, kind: str, key: str, record: Any) -> None:
        if self._state is not None:
            self._state.put(kind, key, dataclasses.asdict(record))

    def _delete(self, kind: str, key: str) -> None:
        if self._state is not None:
            self._state.delete(kind, key)

    def flush(self) -> None:
        """Write the changes of the last operation (one transaction)."""
        if self._state is not None:
            self._state.flush()

    def discard(self) -> None:
        """Drop unwritten changes of a failed operation."""
        if self._state is not None:
            self._state.discard()

    def _load(self, state_file: StateFile) -> None:
        for kind, data in state_file.load():
            if kind == "key":
                record = ActivationKeyRecord(**data)
                self.keys[record.uuid] = record
            elif kind == "connection":
                self._index_connection(ConnectionRecord(**data))
            elif kind == "feature":
                self._index_feature(FeatureRecord(**data))
            elif kind == "macsec":
                self._index_macsec(MacSecKeyRecord(**data))
            elif kind == "rotation_done":
                self.last_rotation_done[(data["environment"], data["interconnect"])] = data["at"]
            elif kind == "interconnect_state":
                self.interconnect_state[(data["environment"], data["interconnect"])] = data["state"]
            elif kind == "maintenance":
                m = MaintenanceRecord(**data)
                self.maintenance.setdefault((m.environment, m.interconnect, m.channel), {})[
                    m.id
                ] = m
            elif kind == "peer_maintenance":
                p = PeerMaintenanceRecord(**data)
                self.peer_maintenance[(p.environment, p.interconnect, p.channel)] = p
            elif kind == "rotation_requests":
                requests = [RotationRequestRecord(**r) for r in data["requests"]]
                if requests:
                    r0 = requests[0]
                    self.rotation_requests[(r0.environment, r0.interconnect, r0.channel)] = requests
            elif kind == "issue":
                comments = [CommentRecord(**c) for c in data.pop("comments")]
                issue = IssueRecord(**data, comments=comments)
                self.issues.setdefault(issue.caller, {})[issue.id] = issue
            elif kind == "issue_counter":
                self._issue_counter = int(data["value"])

    # ----------------------------------------------------------- lookups

    def environment(self, caller: str, environment: str) -> EnvironmentSpec:
        """The environment shared with ``caller``, else 404."""
        env = self.inventory.environment(caller, environment)
        if env is None:
            raise SimError(404, f"environment {environment!r} not found")
        return env

    def interconnect(
        self, caller: str, environment: str, interconnect: str
    ) -> tuple[EnvironmentSpec, InterconnectSpec]:
        """The environment and interconnect, else 404."""
        env = self.environment(caller, environment)
        ix = env.interconnect(interconnect)
        if ix is None:
            raise SimError(404, f"interconnect {interconnect!r} not found")
        return env, ix

    def channel(
        self, caller: str, environment: str, interconnect: str, channel: str
    ) -> tuple[EnvironmentSpec, InterconnectSpec, ChannelSpec]:
        """Environment, interconnect and channel, else 404."""
        env, ix = self.interconnect(caller, environment, interconnect)
        ch = ix.channel(channel)
        if ch is None:
            raise SimError(404, f"channel {channel!r} not found")
        return env, ix, ch

    def interconnect_state_of(self, env: EnvironmentSpec, ix: InterconnectSpec) -> str:
        """The inventory state unless an admin override changed it."""
        return self.interconnect_state.get((env.id, ix.id), ix.state)

    def sizes(self, env: EnvironmentSpec, ix: InterconnectSpec) -> list[int]:
        """Connection sizes the interconnect supports (environment's plus extras)."""
        return sorted(set(env.sizes_mbps) | set(ix.extra_sizes_mbps))

    def connection(
        self, caller: str, environment: str, interconnect: str, connection: str
    ) -> ConnectionRecord:
        """A placed connection, else 404."""
        self.interconnect(caller, environment, interconnect)
        record = self.connections.get((environment, interconnect, connection))
        if record is None:
            raise SimError(404, f"connection {connection!r} not found")
        return record

    # ----------------------------------------------------------- time-derived state

    def feature_final(self, feature: FeatureRecord, now: float) -> bool:
        """P13: FINAL once the provisioning delay has passed."""
        return now >= feature.provisioned_at + self.provisioning_delay

    def connection_verified(self, record: ConnectionRecord, now: float) -> bool:
        """P14: VERIFIED once this side's features are all FINAL (one on every
        enabled channel) and the peer's notification came after the last change.

        A notification received while features were still PENDING is kept and
        counts as soon as they finalise; one older than a feature change
        (create, delete, reprovision: P15) does not.
        """
        if record.notified_seq <= record.features_changed_seq:
            return False
        env = self.inventory.by_id(record.environment)
        if env is None:
            return False
        ix = env.interconnect(record.interconnect)
        if ix is None:
            return False
        features = self.features.get((record.environment, record.interconnect, record.id), {})
        covered = {f.channel for f in features.values()}
        for channel in ix.channels:
            if channel.admin_state == AdminState.ENABLED and channel.id not in covered:
                return False
        return bool(features) and all(self.feature_final(f, now) for f in features.values())

    def _peer_of(self, environment: str) -> str:
        env = self.inventory.by_id(environment)
        return env.peer if env else ""

    def active_macsec_key(self, key: ChKey, now: float) -> str | None:
        """P28: the newest key the router has switched to (after the delay)."""
        best: MacSecKeyRecord | None = None
        for record in self.macsec.get(key, {}).values():
            if now >= record.start_time + self.provisioning_delay and (
                best is None or record.start_time >= best.start_time
            ):
                best = record
        return best.id if best else None

    # ----------------------------------------------------------- activation keys (P1-P3)

    def issue_activation_key(
        self, environment: str, bandwidth_mbps: int, destination_account_id: str, now: float
    ) -> ActivationKeyRecord:
        """Customer endpoint (P1): a key and the pending connection it names."""
        env = self.inventory.by_id(environment)
        if env is None:
            raise SimError(404, f"environment {environment!r} not found")
        if bandwidth_mbps not in env.sizes_mbps:
            raise SimError(400, f"bandwidthMbps {bandwidth_mbps} is not a supported size")
        if not destination_account_id.strip():
            raise SimError(400, "destinationAccountId is required")
        shared_uuid = str(uuid_module.uuid4())
        key = ActivationKey(
            version=activation_key.CURRENT_VERSION,
            destination_environment_uri=environment_name(env.peer, env.id),
            shared_connection_uuid=shared_uuid,
            connection_size_mbps=bandwidth_mbps,
            destination_account_id=destination_account_id,
        )
        record = ActivationKeyRecord(
            uuid=shared_uuid,
            environment=env.id,
            bandwidth_mbps=bandwidth_mbps,
            destination_account_id=destination_account_id,
            issued_at=now,
            encoded_key=activation_key.encode(key),
        )
        self.keys[shared_uuid] = record
        self._put("key", shared_uuid, record)
        return record

    def confirm_activation_key(
        self, caller: str, environment: str, key: ActivationKey | None
    ) -> bool:
        """P3: valid only for an existing, unused key of matching size and environment.

        Never an error for a bad key: the answer is ``keyValid: false``.
        """
        self.environment(caller, environment)
        if key is None:
            return False
        record = self.keys.get(key.shared_connection_uuid)
        if record is None or record.state != "issued":
            return False  # unknown UUID, or already used / invalidated
        try:
            key_environment = parse_name(key.destination_environment_uri).environment
        except InvalidResourceName:
            return False
        return (
            record.environment == environment
            and key_environment == environment
            and key.connection_size_mbps == record.bandwidth_mbps
            and key.destination_account_id == record.destination_account_id
        )

    # ----------------------------------------------------------- connections (P5-P7, P16-P22)

    def _index_connection(self, record: ConnectionRecord) -> None:
        ix_key = (record.environment, record.interconnect)
        self.connections[(record.environment, record.interconnect, record.id)] = record
        self.connections_by_ix.setdefault(ix_key, {})[record.id] = record
        self.connections_by_uuid.setdefault(record.id, set()).add(ix_key)
        self.allocated[ix_key] += record.bandwidth_mbps
        self._seq = max(self._seq, record.features_changed_seq, record.notified_seq)

    def create_connection(
        self,
        caller: str,
        environment: str,
        interconnect: str,
        connection_id: str,
        *,
        bandwidth_mbps: int | None,
        defer_provisioning: bool,
        activation_key_text: str | None,
        now: float,
    ) -> ConnectionRecord:
        """P6-P7, P22: place a connection, reserving its bandwidth."""
        env, ix = self.interconnect(caller, environment, interconnect)
        if not connection_id or "/" in connection_id:
            raise SimError(400, "connectionId is required")
        if bandwidth_mbps is None:
            raise SimError(400, "bandwidthMbps is required")
        if bandwidth_mbps not in self.sizes(env, ix):
            raise SimError(400, f"bandwidthMbps {bandwidth_mbps} is not a supported size")
        if defer_provisioning and not env.accept_deferral:
            raise SimError(400, "P22: this provider refuses deferred provisioning")
        if env.defer_connection_provisioning and not defer_provisioning:
            raise SimError(400, "P22: the environment requires deferProvisioning")
        if (environment, interconnect, connection_id) in self.connections:
            raise SimError(409, f"connection {connection_id!r} already exists")
        key = self.keys.get(connection_id)
        if key is not None:
            # The pending record of the customer key endpoint: place it.
            if key.state == "invalidated":
                raise SimError(400, "P19: the activation key of this connection was invalidated")
            if key.environment != environment:
                raise SimError(400, "the activation key names another environment")
            # Only the first placement must match the key's size: a second one is a
            # migration (P18), which may carry a bandwidth updated since (P16).
            if key.state == "issued" and key.bandwidth_mbps != bandwidth_mbps:
                raise SimError(400, "bandwidthMbps differs from the activation key")
        state = self.interconnect_state_of(env, ix)
        if state != InterconnectState.ACTIVE:
            raise SimError(409, f"P7: interconnect {interconnect!r} is {state}")
        ix_key = (environment, interconnect)
        if self.allocated[ix_key] + bandwidth_mbps > ix.max_bandwidth_mbps:
            raise SimError(
                409,
                f"P7: interconnect {interconnect!r} cannot fit {bandwidth_mbps} Mbps "
                f"({ix.max_bandwidth_mbps - self.allocated[ix_key]} Mbps free)",
            )
        record = ConnectionRecord(
            environment=environment,
            interconnect=interconnect,
            id=connection_id,
            bandwidth_mbps=bandwidth_mbps,
            created_at=now,
            defer_provisioning=defer_provisioning,
            features_changed_seq=self._next_seq(),
            activation_key=activation_key_text or (key.encoded_key if key else None),
        )
        self._index_connection(record)
        self._put("connection", self._conn_id(record), record)
        if key is not None and key.state == "issued":
            key.state = "placed"
            self._put("key", key.uuid, key)
        return record

    @staticmethod
    def _conn_id(record: ConnectionRecord | FeatureRecord) -> str:
        if isinstance(record, ConnectionRecord):
            return f"{record.environment}/{record.interconnect}/{record.id}"
        return f"{record.environment}/{record.interconnect}/{record.connection}/{record.id}"

    def update_connection(
        self,
        caller: str,
        environment: str,
        interconnect: str,
        connection: str,
        *,
        mask: list[str],
        bandwidth_mbps: int | None,
        now: float,
    ) -> ConnectionRecord:
        """P16-P17: only the bandwidth, with capacity re-checked."""
        record = self.connection(caller, environment, interconnect, connection)
        env, ix = self.interconnect(caller, environment, interconnect)
        other = [path for path in mask if path not in ("bandwidthMbps", "bandwidth_mbps")]
        if other:
            raise SimError(400, f"P16: only bandwidthMbps can be updated, not {', '.join(other)}")
        if bandwidth_mbps is None:
            raise SimError(400, "bandwidthMbps is required")
        if bandwidth_mbps not in self.sizes(env, ix):
            raise SimError(400, f"bandwidthMbps {bandwidth_mbps} is not a supported size")
        if now < record.update_busy_until:
            raise SimError(409, "P17: an update of this connection is already in progress")
        if bandwidth_mbps == record.bandwidth_mbps:
            return record
        ix_key = (environment, interconnect)
        needed = self.allocated[ix_key] - record.bandwidth_mbps + bandwidth_mbps
        if needed > ix.max_bandwidth_mbps:
            raise SimError(
                409, f"P16: interconnect {interconnect!r} cannot fit {bandwidth_mbps} Mbps"
            )
        self.allocated[ix_key] = needed
        record.bandwidth_mbps = bandwidth_mbps
        record.update_busy_until = now + self.provisioning_delay
        self._put("connection", self._conn_id(record), record)
        return record

    def delete_connection(
        self, caller: str, environment: str, interconnect: str, connection: str
    ) -> None:
        """P19: features go with it, bandwidth is released, the key invalidated."""
        record = self.connection(caller, environment, interconnect, connection)
        conn_key = (environment, interconnect, connection)
        for feature in list(self.features.get(conn_key, {}).values()):
            self._unindex_feature(feature)
            self._delete("feature", self._conn_id(feature))
        self.features.pop(conn_key, None)
        ix_key = (environment, interconnect)
        del self.connections[conn_key]
        del self.connections_by_ix[ix_key][connection]
        self.allocated[ix_key] -= record.bandwidth_mbps
        placements = self.connections_by_uuid.get(connection, set())
        placements.discard(ix_key)
        if not placements:
            self.connections_by_uuid.pop(connection, None)
            # Invalidate only when no placement of the UUID is left: deleting the
            # old side of a migration (P18) must not break the new one.
            key = self.keys.get(connection)
            if key is not None and key.state != "invalidated":
                key.state = "invalidated"
                self._put("key", key.uuid, key)
        self._delete("connection", self._conn_id(record))

    def notify_connection_status(
        self, caller: str, environment: str, interconnect: str, connection: str, now: float
    ) -> None:
        """P14: remember the peer's notification (evaluated lazily)."""
        record = self.connection(caller, environment, interconnect, connection)
        record.notified_at = now
        record.notified_seq = self._next_seq()
        self._put("connection", self._conn_id(record), record)

    # ----------------------------------------------------------- features (P8-P15, P20)

    def _index_feature(self, feature: FeatureRecord) -> None:
        conn_key = (feature.environment, feature.interconnect, feature.connection)
        self.features.setdefault(conn_key, {})[feature.id] = feature
        ch_key = (feature.environment, feature.interconnect, feature.channel)
        index = self.channel_index.setdefault(ch_key, _ChannelIndex())
        holder = self._conn_id(feature)
        index.vlans[feature.vlan] = holder
        index.ipv4.add(feature.ipv4_net, feature.ipv4_len, holder)
        if feature.ipv6_net is not None and feature.ipv6_len is not None:
            index.ipv6.add(feature.ipv6_net, feature.ipv6_len, holder)
        if feature.feature_type == FeatureType.L3_BASE:
            self.l3_by_channel[(*conn_key, feature.channel)] = feature.id

    def _unindex_feature(self, feature: FeatureRecord) -> None:
        conn_key = (feature.environment, feature.interconnect, feature.connection)
        ch_key = (feature.environment, feature.interconnect, feature.channel)
        index = self.channel_index.get(ch_key)
        if index is not None:
            index.vlans.pop(feature.vlan, None)
            index.ipv4.remove(feature.ipv4_net, feature.ipv4_len)
            if feature.ipv6_net is not None and feature.ipv6_len is not None:
                index.ipv6.remove(feature.ipv6_net, feature.ipv6_len)
        if self.l3_by_channel.get((*conn_key, feature.channel)) == feature.id:
            del self.l3_by_channel[(*conn_key, feature.channel)]

    def feature(
        self, caller: str, environment: str, interconnect: str, connection: str, feature: str
    ) -> FeatureRecord:
        """A feature, else 404."""
        self.connection(caller, environment, interconnect, connection)
        record = self.features.get((environment, interconnect, connection), {}).get(feature)
        if record is None:
            raise SimError(404, f"feature {feature!r} not found")
        return record

    def create_feature(
        self,
        caller: str,
        environment: str,
        interconnect: str,
        connection: str,
        feature_id: str,
        *,
        channel_name: str | None,
        config: dict[str, Any] | None,
        now: float,
    ) -> FeatureRecord:
        """P9-P11: accept a feature in full or refuse it in full.

        400 when it does not follow this provider's guidance, 409 when a
        VLAN or subnet is taken on the channel, or the (connection, channel)
        already has an L3 base feature.
        """
        record = self.connection(caller, environment, interconnect, connection)
        env, ix = self.interconnect(caller, environment, interconnect)
        if not feature_id or "/" in feature_id:
            raise SimError(400, "featureId is required")
        channel = self._feature_channel(caller, env, ix, channel_name)
        if not config:
            raise SimError(400, "featureConfig is required")
        feature_type = config.get("featureType") or FeatureType.L3_BASE
        if feature_type not in env.features or feature_type != FeatureType.L3_BASE:
            raise SimError(400, f"feature type {feature_type!r} is not supported")
        l3 = config.get("l3BaseConfig")
        if not isinstance(l3, dict):
            raise SimError(400, "l3BaseConfig is required")
        parsed = self._validate_l3(caller, env.guidance, l3)
        conn_key = (environment, interconnect, connection)
        existing = self.features.get(conn_key, {})
        if feature_id in existing:
            raise SimError(409, f"feature {feature_id!r} already exists")
        if (*conn_key, channel.id) in self.l3_by_channel:
            raise SimError(409, "P11: this connection already has an L3 base feature there")
        index = self.channel_index.get((environment, interconnect, channel.id))
        if index is not None:
            if parsed.vlan in index.vlans:
                raise SimError(409, f"P10: VLAN {parsed.vlan} is in use on {channel.id}")
            if index.ipv4.overlap(parsed.ipv4_net, parsed.ipv4_len) is not None:
                raise SimError(409, f"P10: the IPv4 subnet overlaps one in use on {channel.id}")
            if (
                parsed.ipv6_net is not None
                and parsed.ipv6_len is not None
                and index.ipv6.overlap(parsed.ipv6_net, parsed.ipv6_len) is not None
            ):
                raise SimError(409, f"P10: the IPv6 subnet overlaps one in use on {channel.id}")
        feature = FeatureRecord(
            environment=environment,
            interconnect=interconnect,
            connection=connection,
            id=feature_id,
            channel=channel.id,
            feature_type=str(feature_type),
            provisioned_at=now,
            vlan=parsed.vlan,
            ipv4_net=parsed.ipv4_net,
            ipv4_len=parsed.ipv4_len,
            ipv6_net=parsed.ipv6_net,
            ipv6_len=parsed.ipv6_len,
            config=config,
        )
        self._index_feature(feature)
        record.features_changed_seq = self._next_seq()
        self._put("feature", self._conn_id(feature), feature)
        self._put("connection", self._conn_id(record), record)
        return feature

    def _feature_channel(
        self, caller: str, env: EnvironmentSpec, ix: InterconnectSpec, name: str | None
    ) -> ChannelSpec:
        if not name:
            raise SimError(400, "channel is required")
        try:
            parsed = parse_name(name)
        except InvalidResourceName:
            raise SimError(400, "channel is not a channel resource name") from None
        if (
            parsed.kind != "channel"
            or parsed.provider != caller
            or parsed.environment != env.id
            or parsed.interconnect != ix.id
            or parsed.channel is None
        ):
            raise SimError(400, "channel must be a channel of this connection's interconnect")
        channel = ix.channel(parsed.channel)
        if channel is None:
            raise SimError(400, f"channel {parsed.channel!r} does not exist")
        if channel.admin_state != AdminState.ENABLED:
            raise SimError(400, f"channel {channel.id!r} is administratively disabled")
        return channel

    def _validate_l3(self, caller: str, guidance: GuidanceSpec, l3: dict[str, Any]) -> _Parsed:
        """P9/P10 400 checks: the feature must follow this provider's guidance."""
        vlan = l3.get("vlanId")
        if not isinstance(vlan, int) or isinstance(vlan, bool):
            raise SimError(400, "vlanId is required")
        if vlan < _MIN_VLAN:
            raise SimError(400, f"P9: VLAN {vlan} is reserved (1024 and lower)")
        if guidance.vlan_ranges and not any(a <= vlan <= b for a, b in guidance.vlan_ranges):
            raise SimError(400, f"P9: VLAN {vlan} is outside the guidance ranges")
        mtu = l3.get("mtuBytes")
        if not isinstance(mtu, int) or isinstance(mtu, bool):
            raise SimError(400, "mtuBytes is required")
        if guidance.mtu_ranges and not any(a <= mtu <= b for a, b in guidance.mtu_ranges):
            raise SimError(400, f"P9: MTU {mtu} is outside the guidance ranges")
        ipv4 = self._subnet(
            l3.get("ipv4Subnet"),
            l3.get("ipv4SubnetPrefixLength"),
            4,
            guidance.ipv4,
            guidance.ipv4_prefix_lengths,
            required=True,
        )
        assert ipv4 is not None
        ipv6 = self._subnet(
            l3.get("ipv6Subnet"),
            l3.get("ipv6SubnetPrefixLength"),
            6,
            guidance.ipv6,
            guidance.ipv6_prefix_lengths,
            required=False,
        )
        self._validate_bgp(caller, guidance, l3.get("providerBgpConfigs"), ipv4, ipv6)
        return _Parsed(
            vlan=vlan,
            ipv4_net=int(ipv4.network_address),
            ipv4_len=ipv4.prefixlen,
            ipv6_net=int(ipv6.network_address) if ipv6 is not None else None,
            ipv6_len=ipv6.prefixlen if ipv6 is not None else None,
        )

    @staticmethod
    def _subnet(
        text: Any,
        length: Any,
        version: int,
        guidance: tuple[Any, ...],
        allowed_lengths: tuple[int, ...],
        *,
        required: bool,
    ) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
        label = f"ipv{version}Subnet"
        if text is None or text == "":
            if required:
                raise SimError(400, f"{label} is required")
            return None
        if not isinstance(text, str):
            raise SimError(400, f"{label} must be a string")
        if length is not None and (not isinstance(length, int) or isinstance(length, bool)):
            raise SimError(400, f"{label}PrefixLength must be an integer")
        spelled = text if "/" in text else f"{text}/{length}" if length is not None else None
        if spelled is None:
            raise SimError(400, f"{label}PrefixLength is required")
        try:
            network = ipaddress.ip_network(spelled, strict=True)
        except ValueError:
            raise SimError(400, f"P9: {label} is not a network address with its mask") from None
        if network.version != version:
            raise SimError(400, f"{label} is not an IPv{version} subnet")
        if length is not None and network.prefixlen != length:
            raise SimError(400, f"{label} and its prefix length disagree")
        if allowed_lengths and network.prefixlen not in allowed_lengths:
            raise SimError(400, f"P9: /{network.prefixlen} is not an allowed prefix length")
        if guidance:
            inside = [
                g
                for g in guidance
                if g.include.version == version and network.subnet_of(g.include)  # type: ignore[arg-type]
            ]
            if not inside:
                raise SimError(400, f"P9: {label} is outside every include subnet")
            for entry in inside:
                for excluded in entry.exclude:
                    if excluded.version == version and network.overlaps(excluded):
                        raise SimError(400, f"P9: {label} overlaps an excluded subnet")
        return network

    def _validate_bgp(
        self,
        caller: str,
        guidance: GuidanceSpec,
        configs: Any,
        ipv4: ipaddress.IPv4Network | ipaddress.IPv6Network,
        ipv6: ipaddress.IPv4Network | ipaddress.IPv6Network | None,
    ) -> None:
        if not isinstance(configs, list) or not configs:
            raise SimError(400, "providerBgpConfigs is required")
        by_provider: dict[str, dict[str, Any]] = {}
        for item in configs:
            if not isinstance(item, dict):
                raise SimError(400, "providerBgpConfigs entries must be objects")
            provider = _provider_id(item.get("provider"))
            if provider is None or provider in by_provider:
                raise SimError(400, "providerBgpConfigs needs one entry per provider")
            by_provider[provider] = item
        me = self.inventory.provider_id
        for provider in (me, caller):
            if provider not in by_provider:
                raise SimError(400, f"providerBgpConfigs has no entry for {provider}")
        hosts: set[str] = set()
        for provider in (me, caller):
            item = by_provider[provider]
            asn = item.get("asn")
            if not isinstance(asn, int) or isinstance(asn, bool):
                raise SimError(400, f"the ASN of {provider} is required")
            if provider == me:
                if guidance.asn_ranges and not any(a <= asn <= b for a, b in guidance.asn_ranges):
                    raise SimError(400, f"P9: ASN {asn} is outside {me}'s guidance")
            elif not 1 <= asn <= _MAX_ASN or asn in _RESERVED_ASNS:
                raise SimError(400, f"P9: ASN {asn} of {provider} is not usable")
            host = self._host(item.get("hostIpv4"), ipv4, f"hostIpv4 of {provider}", True)
            hosts.add(str(host))
            if ipv6 is not None:
                self._host(item.get("hostIpv6"), ipv6, f"hostIpv6 of {provider}", False)
        if len(hosts) != 2:
            raise SimError(400, "both providers use the same hostIpv4")

    @staticmethod
    def _host(
        text: Any,
        network: ipaddress.IPv4Network | ipaddress.IPv6Network,
        label: str,
        required: bool,
    ) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
        if text is None or text == "":
            if required:
                raise SimError(400, f"{label} is required")
            return None
        try:
            address = ipaddress.ip_address(str(text).split("/")[0])
        except ValueError:
            raise SimError(400, f"{label} is not an IP address") from None
        if address not in network:
            raise SimError(400, f"{label} is outside the feature's subnet")
        if (
            network.version == 4
            and network.prefixlen <= 30
            and address
            in (
                network.network_address,
                network.broadcast_address,
            )
        ):
            raise SimError(400, f"{label} is the subnet's network or broadcast address")
        return address

    def delete_feature(
        self,
        caller: str,
        environment: str,
        interconnect: str,
        connection: str,
        feature: str,
        *,
        now: float,
    ) -> None:
        """P20: delete one feature; its VLAN and subnets are free again."""
        record = self.feature(caller, environment, interconnect, connection, feature)
        self._drop_feature(record, now)

    def _drop_feature(self, record: FeatureRecord, now: float) -> None:
        conn_key = (record.environment, record.interconnect, record.connection)
        self._unindex_feature(record)
        del self.features[conn_key][record.id]
        self._delete("feature", self._conn_id(record))
        conn = self.connections.get(conn_key)
        if conn is not None:
            conn.features_changed_seq = self._next_seq()
            self._put("connection", self._conn_id(conn), conn)

    def lose_feature(self, name: str, mode: str, now: float) -> FeatureRecord:
        """Admin: the provider loses a feature (``delete``) or must finalise it
        again (``pending``, P15)."""
        try:
            parsed = parse_name(name)
        except InvalidResourceName:
            raise SimError(400, "name is not a feature resource name") from None
        if (
            parsed.kind != "feature"
            or parsed.environment is None
            or parsed.interconnect is None
            or parsed.connection is None
            or parsed.feature is None
        ):
            raise SimError(400, "name is not a feature resource name")
        record = self.features.get(
            (parsed.environment, parsed.interconnect, parsed.connection), {}
        ).get(parsed.feature)
        if record is None:
            raise SimError(404, "feature not found")
        if mode == "delete":
            self._drop_feature(record, now)
        elif mode == "pending":
            record.provisioned_at = now
            self._put("feature", self._conn_id(record), record)
            conn = self.connections[(record.environment, record.interconnect, record.connection)]
            conn.features_changed_seq = self._next_seq()
            self._put("connection", self._conn_id(conn), conn)
        else:
            raise SimError(400, "mode must be 'delete' or 'pending'")
        return record

    # ----------------------------------------------------------- MACsec (P26-P30)

    def _index_macsec(self, record: MacSecKeyRecord) -> None:
        self.macsec.setdefault((record.environment, record.interconnect, record.channel), {})[
            record.id
        ] = record
        self.macsec_count[(record.environment, record.interconnect)] += 1

    def create_macsec_key(
        self,
        caller: str,
        environment: str,
        interconnect: str,
        channel: str,
        key_id: str,
        *,
        cak: str | None,
        ckn: str | None,
        now: float,
    ) -> MacSecKeyRecord:
        """P26-P29: the manager adds a key; limits, one rotation at a time, bake time."""
        env, ix, ch = self.channel(caller, environment, interconnect, channel)
        if caller != ch.macsec_manager:
            raise SimError(403, f"P27: only {ch.macsec_manager} manages MACsec keys here")
        if not key_id or "/" in key_id:
            raise SimError(400, "macSecKeyId is required")
        if not cak or not ckn:
            raise SimError(400, "cak and ckn are required")
        ch_key = (environment, interconnect, channel)
        keys = self.macsec.get(ch_key, {})
        if key_id in keys:
            raise SimError(409, f"MACsec key {key_id!r} already exists")
        if len(keys) >= 2:
            raise SimError(409, "P26: a channel holds at most 2 MACsec keys")
        ix_key = (environment, interconnect)
        if self.macsec_count[ix_key] >= len(ix.channels) + 1:
            raise SimError(409, "P26: the interconnect holds at most N+1 MACsec keys")
        if keys:
            # A second key on a keyed channel is a rotation (first keys may go
            # in parallel).
            for other in ix.channels:
                if other.id != channel and len(self.macsec.get((*ix_key, other.id), {})) >= 2:
                    raise SimError(409, f"P29: channel {other.id!r} is rotating")
            done = self.last_rotation_done.get(ix_key)
            if done is not None and now < done + self.bake_time:
                raise SimError(409, "P29: bake time after the last rotation has not passed")
        record = MacSecKeyRecord(
            environment=environment,
            interconnect=interconnect,
            channel=channel,
            id=key_id,
            start_time=now,
            cak=cak,
            ckn=ckn,
        )
        self._index_macsec(record)
        self._put("macsec", f"{environment}/{interconnect}/{channel}/{key_id}", record)
        del env
        return record

    def macsec_key(
        self, caller: str, environment: str, interconnect: str, channel: str, key_id: str
    ) -> MacSecKeyRecord:
        """A MACsec key, else 404."""
        self.channel(caller, environment, interconnect, channel)
        record = self.macsec.get((environment, interconnect, channel), {}).get(key_id)
        if record is None:
            raise SimError(404, f"MACsec key {key_id!r} not found")
        return record

    def delete_macsec_key(
        self,
        caller: str,
        environment: str,
        interconnect: str,
        channel: str,
        key_id: str,
        *,
        now: float,
    ) -> None:
        """P27-P28: the manager deletes a key that is not active."""
        _, _, ch = self.channel(caller, environment, interconnect, channel)
        if caller != ch.macsec_manager:
            raise SimError(403, f"P27: only {ch.macsec_manager} manages MACsec keys here")
        record = self.macsec_key(caller, environment, interconnect, channel, key_id)
        ch_key = (environment, interconnect, channel)
        if self.active_macsec_key(ch_key, now) == key_id:
            raise SimError(409, "P28: the active MACsec key cannot be deleted")
        keys = self.macsec[ch_key]
        rotating = len(keys) >= 2
        del keys[key_id]
        ix_key = (environment, interconnect)
        self.macsec_count[ix_key] -= 1
        self._delete("macsec", f"{environment}/{interconnect}/{channel}/{record.id}")
        if rotating:
            # Removing the old key completes a rotation: the bake time starts.
            self.last_rotation_done[ix_key] = now
            if self._state is not None:
                self._state.put(
                    "rotation_done",
                    f"{environment}/{interconnect}",
                    {"environment": environment, "interconnect": interconnect, "at": now},
                )

    def request_rotation(
        self,
        caller: str,
        environment: str,
        interconnect: str,
        channel: str,
        *,
        reason: str,
        now: float,
    ) -> None:
        """P30: the non-manager asks the manager to rotate."""
        _, _, ch = self.channel(caller, environment, interconnect, channel)
        if caller == ch.macsec_manager:
            raise SimError(400, "P30: the MACsec manager rotates keys itself")
        ch_key = (environment, interconnect, channel)
        requests = self.rotation_requests.setdefault(ch_key, [])
        requests.append(
            RotationRequestRecord(
                environment, interconnect, channel, requested_at=now, reason=reason
            )
        )
        del requests[:-20]  # keep the recent ones: a peer may ask repeatedly
        if self._state is not None:
            self._state.put(
                "rotation_requests",
                "/".join(ch_key),
                {"requests": [dataclasses.asdict(r) for r in requests]},
            )

    # ----------------------------------------------------------- maintenance (P24-P25)

    def maintenance_events(
        self, caller: str, environment: str, interconnect: str, channel: str, now: float
    ) -> list[MaintenanceRecord]:
        """Scheduled or in-progress windows of this provider on the channel."""
        self.channel(caller, environment, interconnect, channel)
        events = self.maintenance.get((environment, interconnect, channel), {}).values()
        return sorted((e for e in events if e.end_time > now), key=lambda e: e.start_time)

    def notify_maintenance(
        self,
        caller: str,
        environment: str,
        interconnect: str,
        channel: str,
        *,
        events: list[dict[str, Any]],
        now: float,
    ) -> None:
        """P24: record the peer's notification (and its deprecated event list)."""
        self.channel(caller, environment, interconnect, channel)
        record = PeerMaintenanceRecord(environment, interconnect, channel, now, events)
        self.peer_maintenance[(environment, interconnect, channel)] = record
        self._put("peer_maintenance", f"{environment}/{interconnect}/{channel}", record)

    def schedule_maintenance(
        self,
        environment: str,
        interconnect: str,
        channel: str,
        *,
        maintenance_id: str | None,
        start: float,
        end: float,
        emergency: bool,
        now: float,
    ) -> MaintenanceRecord:
        """Admin: schedule a window; P25 forbids overlapping windows of two
        channels of one interconnect (emergencies excepted)."""
        peer = self._peer_of(environment)
        _, ix, _ = self.channel(peer, environment, interconnect, channel)
        if end <= start:
            raise SimError(400, "endTime must be after startTime")
        if end <= now:
            raise SimError(400, "the window is already over")
        if not emergency:
            for other in ix.channels:
                if other.id == channel:
                    continue
                for event in self.maintenance.get(
                    (environment, interconnect, other.id), {}
                ).values():
                    if event.emergency or event.end_time <= now:
                        continue
                    if event.start_time < end and start < event.end_time:
                        raise SimError(
                            409,
                            f"P25: overlaps maintenance {event.id!r} on channel {other.id!r}",
                        )
        ch_key = (environment, interconnect, channel)
        maintenance_id = maintenance_id or f"mnt-{uuid_module.uuid4().hex[:12]}"
        events = self.maintenance.setdefault(ch_key, {})
        if maintenance_id in events:
            raise SimError(409, f"maintenance {maintenance_id!r} already exists")
        record = MaintenanceRecord(
            environment, interconnect, channel, maintenance_id, start, end, emergency
        )
        events[maintenance_id] = record
        self._put("maintenance", f"{environment}/{interconnect}/{channel}/{maintenance_id}", record)
        return record

    def cancel_maintenance(self, maintenance_id: str) -> MaintenanceRecord:
        """Admin: remove a window wherever it is."""
        for ch_key, events in self.maintenance.items():
            record = events.pop(maintenance_id, None)
            if record is not None:
                self._delete("maintenance", f"{'/'.join(ch_key)}/{maintenance_id}")
                return record
        raise SimError(404, f"maintenance {maintenance_id!r} not found")

    def set_interconnect_state(self, environment: str, interconnect: str, state: str) -> None:
        """Admin: override an interconnect's state (e.g. CLOSED to new links)."""
        peer = self._peer_of(environment)
        self.interconnect(peer, environment, interconnect)
        if state not in {s.value for s in InterconnectState}:
            raise SimError(400, f"unknown interconnect state {state!r}")
        self.interconnect_state[(environment, interconnect)] = state
        if self._state is not None:
            self._state.put(
                "interconnect_state",
                f"{environment}/{interconnect}",
                {"environment": environment, "interconnect": interconnect, "state": state},
            )

    # ----------------------------------------------------------- issues

    def create_issue(
        self, caller: str, issue_id: str, data: dict[str, Any], now: float
    ) -> IssueRecord:
        """CreateIssue: a new open issue; required context per issueContext."""
        if not issue_id or "/" in issue_id:
            raise SimError(400, "issueId is required")
        issues = self.issues.setdefault(caller, {})
        if issue_id in issues:
            raise SimError(409, f"issue {issue_id!r} already exists")
        context = data.get("issueContext")
        if context == "ISSUE_CONTEXT_CONNECTION_ISSUE" and not data.get("connectionContexts"):
            raise SimError(400, "a connection issue needs connectionContexts")
        if context == "ISSUE_CONTEXT_INTERCONNECT_ISSUE" and not data.get("interconnectContexts"):
            raise SimError(400, "an interconnect issue needs interconnectContexts")
        self._issue_counter += 1
        record = IssueRecord(
            caller=caller,
            id=issue_id,
            create_time=now,
            local_issue_id=f"{self.inventory.provider_id.upper()}-{self._issue_counter:06d}",
            state="STATE_OPEN",
            data=data,
        )
        issues[issue_id] = record
        self._put("issue", f"{caller}/{issue_id}", record)
        if self._state is not None:
            self._state.put("issue_counter", "value", {"value": self._issue_counter})
        return record

    def issue(self, caller: str, issue_id: str) -> IssueRecord:
        """An issue, else 404."""
        record = self.issues.get(caller, {}).get(issue_id)
        if record is None:
            raise SimError(404, f"issue {issue_id!r} not found")
        return record

    def close_issue(self, caller: str, issue_id: str) -> IssueRecord:
        """CloseIssue (idempotent)."""
        record = self.issue(caller, issue_id)
        record.state = "STATE_CLOSED"
        self._put("issue", f"{caller}/{issue_id}", record)
        return record

    def add_comment(self, caller: str, issue_id: str, body: str, now: float) -> CommentRecord:
        """AddComment: the commenter is the calling provider."""
        record = self.issue(caller, issue_id)
        if not body.strip():
            raise SimError(400, "comment.body is required")
        comment = CommentRecord(
            id=f"{record.local_issue_id}-c{len(record.comments) + 1}",
            body=body,
            create_time=now,
            display_name=display_name(caller),
        )
        record.comments.append(comment)
        self._put("issue", f"{caller}/{issue_id}", record)
        return comment
