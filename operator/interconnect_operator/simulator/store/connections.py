"""Activation keys and connections of the simulated provider (P1-P7, P16-P19, P22)."""

from __future__ import annotations

import uuid as uuid_module

from interconnect_operator.api import activation_key
from interconnect_operator.api.models import (
    ActivationKey,
    InterconnectState,
)
from interconnect_operator.api.names import (
    InvalidResourceName,
    environment_name,
    parse_name,
)
from interconnect_operator.simulator.store.base import StoreBase
from interconnect_operator.simulator.store.records import (
    CONNECTION_TYPES,
    MONITORING,
    TEST,
    ActivationKeyRecord,
    ConnectionRecord,
    SimError,
)


class ConnectionRules(StoreBase):
    """Issue and confirm keys; create, update, delete and notify connections."""

    # ----------------------------------------------------------- activation keys (P1-P3)

    def issue_activation_key(
        self,
        environment: str,
        bandwidth_mbps: int,
        destination_account_id: str,
        now: float,
        *,
        connection_type: str | None = None,
    ) -> ActivationKeyRecord:
        """Customer endpoint (P1): a key and the pending connection it names.

        A key for a TEST connection (upstream PR #57) may be below the smallest size.
        """
        env = self.inventory.by_id(environment)
        if env is None:
            raise SimError(404, f"environment {environment!r} not found")
        if connection_type is not None and connection_type not in CONNECTION_TYPES:
            raise SimError(400, f"connectionType {connection_type[:64]!r} is not a known type")
        below_minimum = connection_type == TEST and 0 < bandwidth_mbps < min(
            env.sizes_mbps, default=0
        )
        if bandwidth_mbps not in env.sizes_mbps and not below_minimum:
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

    @staticmethod
    def _check_key_fits(key: ActivationKeyRecord, environment: str, bandwidth_mbps: int) -> None:
        """The pending record of the customer key endpoint may be placed (P3, P19)."""
        if key.state == "invalidated":
            raise SimError(400, "P19: the activation key of this connection was invalidated")
        if key.environment != environment:
            raise SimError(400, "the activation key names another environment")
        # Only the first placement must match the key's size: a second one is a
        # migration (P18), which may carry a bandwidth updated since (P16).
        if key.state == "issued" and key.bandwidth_mbps != bandwidth_mbps:
            raise SimError(400, "bandwidthMbps differs from the activation key")

    # Long on purpose: CreateConnection's checks in a strict provider's order (P3, P6, P7, P22).
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
        connection_type: str | None = None,
        source_connection_name: str | None = None,
    ) -> ConnectionRecord:
        """P6-P7, P22: place a connection, reserving its bandwidth (none for TEST
        and MONITORING connections, upstream PR #57)."""
        env, ix = self.interconnect(caller, environment, interconnect)
        if not connection_id or "/" in connection_id:
            raise SimError(400, "connectionId is required")
        if bandwidth_mbps is None:
            raise SimError(400, "bandwidthMbps is required")
        if connection_type is not None and connection_type not in CONNECTION_TYPES:
            raise SimError(
                400,
                f"connectionType {connection_type[:64]!r} is not one of "
                f"{', '.join(sorted(CONNECTION_TYPES))}",
            )
        sizes = self.sizes(env, ix)
        below_minimum = connection_type == TEST and 0 < bandwidth_mbps < min(sizes, default=0)
        if bandwidth_mbps not in sizes and not below_minimum:
            raise SimError(400, f"bandwidthMbps {bandwidth_mbps} is not a supported size")
        if connection_type == MONITORING and any(
            c.connection_type == MONITORING
            for c in self.connections_by_ix.get((environment, interconnect), {}).values()
        ):
            raise SimError(
                409, f"interconnect {interconnect!r} already has a MONITORING connection"
            )
        if defer_provisioning and not env.accept_deferral:
            raise SimError(400, "P22: this provider refuses deferred provisioning")
        if (environment, interconnect, connection_id) in self.connections:
            raise SimError(409, f"connection {connection_id!r} already exists")
        source = (
            self._migration_source(caller, environment, interconnect, source_connection_name)
            if source_connection_name is not None
            else None
        )
        key = self.keys.get(connection_id)
        if env.defer_connection_provisioning and not defer_provisioning and key is not None:
            # P22: the deferring provider creates its own side unflagged and asks
            # this one (the key's issuer, its peer) with the flag.
            raise SimError(400, "P22: the environment requires deferProvisioning")
        if key is not None:
            self._check_key_fits(key, environment, bandwidth_mbps)
        state = self.interconnect_state_of(env, ix)
        if state != InterconnectState.ACTIVE:
            raise SimError(409, f"P7: interconnect {interconnect!r} is {state}")
        ix_key = (environment, interconnect)
        reserved = 0 if connection_type in (TEST, MONITORING) else bandwidth_mbps
        if self.allocated[ix_key] + reserved > ix.max_bandwidth_mbps:
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
            connection_type=connection_type,
            migrated_from=source.id if source is not None else None,
        )
        self._index_connection(record)
        self._put("connection", self._conn_id(record), record)
        if key is not None and key.state == "issued":
            key.state = "placed"
            self._put("key", key.uuid, key)
        return record

    def _migration_source(
        self, caller: str, environment: str, interconnect: str, name: str
    ) -> ConnectionRecord:
        """Upstream PR #50: ``sourceConnectionName`` names an existing connection in
        the same provider environment, under another interconnect, in the caller's namespace."""
        try:
            parsed = parse_name(name)
        except InvalidResourceName:
            raise SimError(400, "sourceConnectionName is not a connection resource name") from None
        if (
            parsed.kind != "connection"
            or parsed.provider != caller
            or parsed.environment != environment
            or parsed.interconnect is None
            or parsed.connection is None
        ):
            raise SimError(
                400,
                "sourceConnectionName must name a connection in the same provider environment: "
                f"providers/{caller}/environments/{environment}/interconnects/..."
                "/connections/...",
            )
        if parsed.interconnect == interconnect:
            raise SimError(400, "P18: a migration moves to another interconnect")
        source = self.connections.get((environment, parsed.interconnect, parsed.connection))
        if source is None:
            raise SimError(400, "sourceConnectionName names no connection")
        return source

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
        exempt = record.connection_type in (TEST, MONITORING)
        needed = self.allocated[ix_key] - record.reserved_mbps + (0 if exempt else bandwidth_mbps)
        if not exempt and needed > ix.max_bandwidth_mbps:
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
        self.allocated[ix_key] -= record.reserved_mbps
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
