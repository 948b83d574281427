"""The connection steps: create (P5-P7), update in place (P16-P17), delete (P19), notify (P14).

Idempotence: the connection id is the shared UUID, so a retried create
addresses the same object; a 409 on a create is resolved by reading before
deciding (P33); an outcome-unknown error is followed by a read. Bandwidth is
reserved in the snapshot before a create returns, so links placed together
spread over the interconnects (P7).
"""

from __future__ import annotations

import datetime as dt

from interconnect_operator.api import models
from interconnect_operator.api.errors import (
    AuthError,
    Conflict,
    InvalidRequest,
    NotFound,
    OutcomeUnknown,
)
from interconnect_operator.api.names import connection_name
from interconnect_operator.protocol import link_state
from interconnect_operator.protocol.notifications import verified_by_notifications
from interconnect_operator.protocol.types import Side
from interconnect_operator.reconcile import views
from interconnect_operator.reconcile.records import ConnectionRecord

from .step_calls import ProviderSteps, count_conflict, keyed_call, request_id_for
from .types import LinkMemory, LinkRequest, StepFailed

__all__ = ["ConnectionSteps"]


class ConnectionSteps(ProviderSteps):
    """Creates, updates, deletes and notifies the link's connections at either provider."""

    async def create_connection(
        self,
        request: LinkRequest,
        uuid: str,
        memory: LinkMemory,
        step: link_state.Step,
        *,
        side: Side,
        interconnect: str,
        bandwidth: int,
        defer: bool,
    ) -> bool:
        """P5-P7: create on ``side``; a 409 there means no room (P6): place elsewhere.

        True when ``side`` holds the connection now (created, or found after a
        409 or an unknown outcome).
        """
        client = self._client(side)
        key = memory.key.reveal() if memory.key is not None else None
        body = models.Connection(
            bandwidth_mbps=bandwidth,
            # Deprecated by upstream PR #50 but still sent: a peer on the pinned spec
            # knows only this field; a newer one uses sourceData, which wins.
            activation_key=key,
            source_data=self._source_data(side, uuid, memory, key),
            defer_provisioning=True if defer else None,
            # Upstream PR #57: sent only for a TEST link (absent means STANDARD, which
            # a peer on the pinned spec understands).
            connection_type=models.ConnectionType.TEST.value
            if request.spec.test_connection
            else None,
        )
        if memory.migrating_to is None:
            memory.interconnect = interconnect
        placeholder = self._reserve(side, interconnect, uuid, body)
        rid_key, request_id, encoded = request_id_for(
            memory, "CreateConnection", side.value, interconnect, uuid, body=body
        )
        # In flight, and of unknown outcome until a provider shows it settled or a
        # definite answer says it was not made: its absence is no peer deletion (P19).
        memory.unsettled_creates.add((side, interconnect))
        try:
            created = await keyed_call(
                memory,
                rid_key,
                client.create_connection(
                    self.environment,
                    interconnect,
                    uuid,
                    body,
                    request_id=request_id,
                    encoded=encoded,
                ),
            )
        except Conflict:
            existing = await self._read_connection(side, interconnect, uuid)
            if existing is None:
                self._unreserve(side, interconnect, uuid, placeholder)
                memory.unsettled_creates.discard((side, interconnect))
                memory.rejected_at[interconnect] = self._clock()
                count_conflict(memory, step)
                return False
            created = existing
        except OutcomeUnknown:
            # P33: read before retrying, with the same id and body (and requestId).
            # Not found now does not mean never: the request may still land.
            existing = await self._read_connection(side, interconnect, uuid)
            if existing is None:
                self._unreserve(side, interconnect, uuid, placeholder)
                raise
            memory.request_ids.pop(rid_key, None)
            created = existing
        except InvalidRequest:
            # P22/P32: a refusal; the loop records it and does not repeat the step
            # until the spec or the provider's data changes.
            self._unreserve(side, interconnect, uuid, placeholder)
            memory.unsettled_creates.discard((side, interconnect))
            raise
        except AuthError as exc:
            self._unreserve(side, interconnect, uuid, placeholder)
            memory.unsettled_creates.discard((side, interconnect))
            raise StepFailed("ProviderAuthFailed", str(exc)) from exc
        except BaseException:
            self._unreserve(side, interconnect, uuid, placeholder)
            raise
        self.pool.record_connection(side, interconnect, uuid, created)
        memory.unsettled_creates.discard((side, interconnect))
        if defer and side is Side.RESPONDER and memory.deferred_since is None:
            memory.deferred_since = self._clock()  # P23 counts from here
        return True

    def _source_data(
        self, side: Side, uuid: str, memory: LinkMemory, key: str | None
    ) -> models.SourceData | None:
        """Upstream PR #50: a migration names its source connection (P18: the old
        one at the same provider, in the caller's namespace); a creation sends
        the activation key as ``encodedKey``."""
        old = memory.interconnect
        if memory.migrating_to is not None and old is not None and old != memory.migrating_to:
            caller = self.pool.config.provider(side).call_as
            return models.SourceData(
                source_connection_name=connection_name(caller, self.environment, old, uuid)
            )
        return models.SourceData(encoded_key=key) if key is not None else None

    def _reserve(
        self, side: Side, interconnect: str, uuid: str, body: models.Connection
    ) -> ConnectionRecord | None:
        """Count the bandwidth in the snapshot before the call returns (P7).

        Links placed concurrently then see each other's reservations and spread
        over the interconnects instead of racing for the same one (P6 409s).
        Returns the placeholder, or None when the snapshot already holds one.
        """
        snapshot = self.pool.snapshot
        if snapshot is None or uuid in snapshot.side(side).connections.get(interconnect, {}):
            return None
        # Same type as the request: a TEST connection reserves nothing (upstream PR #57).
        placeholder = ConnectionRecord.of(
            models.Connection(
                bandwidth_mbps=body.bandwidth_mbps, connection_type=body.connection_type
            )
        )
        self.pool.record_connection(side, interconnect, uuid, placeholder)
        return placeholder

    def _unreserve(
        self, side: Side, interconnect: str, uuid: str, placeholder: ConnectionRecord | None
    ) -> None:
        snapshot = self.pool.snapshot
        if placeholder is None or snapshot is None:
            return
        if snapshot.side(side).connections.get(interconnect, {}).get(uuid) is placeholder:
            self.pool.forget_connection(side, interconnect, uuid)

    async def read_connection(
        self, side: Side, interconnect: str, uuid: str
    ) -> models.Connection | None:
        """GetConnection; None when the provider does not hold it (404)."""
        return await self._read_connection(side, interconnect, uuid)

    async def _read_connection(
        self, side: Side, interconnect: str, uuid: str
    ) -> models.Connection | None:
        try:
            return await self._client(side).get_connection(self.environment, interconnect, uuid)
        except NotFound:
            return None

    async def update_bandwidth(
        self, uuid: str, memory: LinkMemory, step: link_state.UpdateBandwidth
    ) -> None:
        """P16-P17: local first, then the peer confirms; both notified when done.

        A 409 (P17: an update in flight, or no room after all) is waited out,
        exponentially longer each time, capped at POLL_SLOW.
        """
        client = self._client(step.side)
        try:
            updated = await client.update_connection(
                self.environment,
                step.interconnect,
                uuid,
                models.Connection(bandwidth_mbps=step.bandwidth_mbps),
                update_mask=["bandwidthMbps"],
            )
        except Conflict:
            count_conflict(memory, step)
            memory.update_conflicts += 1
            wait = min(
                link_state.POLL_SLOW, link_state.POLL * 2 ** min(memory.update_conflicts - 1, 8)
            )
            memory.update_busy_until = self._clock() + dt.timedelta(seconds=wait)
            return
        memory.update_conflicts = 0
        memory.update_busy_until = None
        self.pool.record_connection(step.side, step.interconnect, uuid, updated)
        memory.notified_at.pop(step.side.other, None)
        other = (
            self.pool.snapshot.observation(step.side.other, uuid, self.pool.config.providers).on(
                step.interconnect
            )
            if self.pool.snapshot is not None
            else None
        )
        if other is not None and other.bandwidth_mbps == step.bandwidth_mbps:
            memory.notify_after_update = set(Side)

    async def delete_connection(
        self, uuid: str, memory: LinkMemory, side: Side, interconnect: str
    ) -> None:
        """P19: DeleteConnection implies its features; 404 means already gone."""
        try:
            await self._client(side).delete_connection(self.environment, interconnect, uuid)
        except NotFound:
            pass
        except OutcomeUnknown:
            if await self._read_connection(side, interconnect, uuid) is not None:
                raise
        self.pool.forget_connection(side, interconnect, uuid)
        memory.unsettled_creates.discard((side, interconnect))
        snapshot = self.pool.snapshot
        if memory.existed_on.get(side) == interconnect or (
            snapshot is not None
            and not snapshot.observation(side, uuid, self.pool.config.providers).present
        ):
            # Gone by the operator's own hand: not a deletion by that provider.
            memory.existed_on.pop(side, None)
        if side is Side.NEGOTIATOR and memory.migrating_to and interconnect == memory.interconnect:
            # P18 complete: the new interconnect is the link's home now.
            memory.interconnect, memory.migrating_to = memory.migrating_to, None
            memory.notified_at.clear()
        elif (
            side is Side.NEGOTIATOR
            and interconnect in memory.rejected_at
            and memory.interconnect == interconnect
        ):
            memory.interconnect = None

    # ------------------------------------------------------------------ notifications

    async def notify_status(
        self, uuid: str, memory: LinkMemory, step: link_state.NotifyStatus
    ) -> None:
        """P14: tell ``step.side`` that the other side is final."""
        await self._client(step.side).notify_connection_status(
            self.environment, step.interconnect, uuid
        )
        memory.notified_at[step.side] = self._clock()
        # A read in flight now may have listed the peer before it took the
        # notification: only a read begun after it can show it discarded (P15).
        # Counting that read made the next decision notify again at once (a
        # repeated decision: NoProgress and a backoff during bursts).
        memory.notified_generation[step.side] = self.pool.generation + int(self.pool.reading)
        memory.notify_after_update.discard(step.side)
        snapshot = self.pool.snapshot
        assert snapshot is not None
        finality = views.finality(snapshot, step.interconnect, uuid)
        if verified_by_notifications(list(memory.notified_at), finality):
            # Recorded in the snapshot only (and in the one a read in flight will
            # install); the next bulk refresh begun after it replaces it with what
            # the providers say, so a provider that disagrees is seen.
            self.pool.record_verified(step.interconnect, uuid)
