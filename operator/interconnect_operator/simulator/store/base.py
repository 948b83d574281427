"""The store's state: records, indexes, persistence, lookups and time-derived state.

The rule groups (:mod:`.connections`, :mod:`.features`, :mod:`.macsec`,
:mod:`.maintenance`, :mod:`.issues`) each add the operations of one part of
the protocol on top of this shared state; :class:`~.Store` combines them.
Everything dynamic lives in plain dicts with the indexes each rule needs, so
that every operation costs O(1) or O(objects of one connection/channel).
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from typing import Any

from interconnect_operator.api.models import (
    AdminState,
    FeatureType,
)
from interconnect_operator.simulator.inventory import (
    ChannelSpec,
    EnvironmentSpec,
    InterconnectSpec,
    Inventory,
)
from interconnect_operator.simulator.persistence import StateFile
from interconnect_operator.simulator.store.records import (
    ActivationKeyRecord,
    ChannelIndex,
    ChKey,
    CommentRecord,
    ConnectionRecord,
    ConnKey,
    FeatureRecord,
    IssueRecord,
    IxKey,
    MacSecKeyRecord,
    MaintenanceRecord,
    PeerMaintenanceRecord,
    RotationRequestRecord,
    SimError,
)


class StoreBase:
    """Dynamic state of one simulated provider: records, indexes, persistence, lookups."""

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
        self.channel_index: dict[ChKey, ChannelIndex] = {}
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

    # Long on purpose: one branch per persisted record kind.
    def _load(self, state_file: StateFile) -> None:  # noqa: PLR0912
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
        """P13: FINAL once the provisioning delay has passed (never while FAILED)."""
        return feature.failure is None and now >= feature.provisioned_at + self.provisioning_delay

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

    def _index_connection(self, record: ConnectionRecord) -> None:
        ix_key = (record.environment, record.interconnect)
        self.connections[(record.environment, record.interconnect, record.id)] = record
        self.connections_by_ix.setdefault(ix_key, {})[record.id] = record
        self.connections_by_uuid.setdefault(record.id, set()).add(ix_key)
        self.allocated[ix_key] += record.reserved_mbps
        self._seq = max(self._seq, record.features_changed_seq, record.notified_seq)

    @staticmethod
    def _conn_id(record: ConnectionRecord | FeatureRecord) -> str:
        if isinstance(record, ConnectionRecord):
            return f"{record.environment}/{record.interconnect}/{record.id}"
        return f"{record.environment}/{record.interconnect}/{record.connection}/{record.id}"

    def _index_feature(self, feature: FeatureRecord) -> None:
        conn_key = (feature.environment, feature.interconnect, feature.connection)
        self.features.setdefault(conn_key, {})[feature.id] = feature
        ch_key = (feature.environment, feature.interconnect, feature.channel)
        index = self.channel_index.setdefault(ch_key, ChannelIndex())
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

    def _index_macsec(self, record: MacSecKeyRecord) -> None:
        self.macsec.setdefault((record.environment, record.interconnect, record.channel), {})[
            record.id
        ] = record
        self.macsec_count[(record.environment, record.interconnect)] += 1
