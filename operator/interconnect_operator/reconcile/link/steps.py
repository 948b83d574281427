"""Carrying out the state machine's steps against both providers.

One method per step kind; each calls a provider, records the answer in the
pool snapshot (so the next decision sees it at once) and in the link's
memory. Idempotence: the connection id is the shared UUID and the feature id
is derived from the channel, so a retried step addresses the same objects; a
409 on a create is resolved by reading before deciding (P33); an
outcome-unknown error is followed by a read of the object. Errors a user must
fix are raised as :class:`~.types.StepFailed`; other provider errors
propagate to the loop, which retries later.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
from collections.abc import Awaitable, Callable
from typing import TypeVar

from interconnect_operator.api import models
from interconnect_operator.api.base_client import new_request_id
from interconnect_operator.api.client import ProviderClient
from interconnect_operator.api.errors import (
    AuthError,
    Conflict,
    InvalidRequest,
    NotFound,
    OutcomeUnknown,
)
from interconnect_operator.api.names import channel_name, connection_name, last_id, provider_name
from interconnect_operator.protocol import link_state
from interconnect_operator.protocol.allocation import (
    AllocationFailure,
    Usage,
    allocate_feature,
)
from interconnect_operator.protocol.notifications import verified_by_notifications
from interconnect_operator.protocol.retry_discipline import sanitise, step_key
from interconnect_operator.protocol.spans import UsedSpace
from interconnect_operator.protocol.types import FeatureView, GuidanceView, LinkSpec, Side
from interconnect_operator.reconcile import views
from interconnect_operator.reconcile.pool import PoolRuntime
from interconnect_operator.reconcile.snapshot import ConnectionRecord

from . import calls
from .keys import confirm_key
from .types import LinkMemory, LinkRequest, StepFailed, feature_id

T = TypeVar("T")

#: Proposals remembered per channel as conflicting (P10 409), newest last.
MAX_CONFLICTED = 8


def request_id_for(memory: LinkMemory, *call: str, body: models.WireModel) -> tuple[str, str]:
    """(memory key, requestId) of one logical create: the id of an earlier attempt
    whose outcome is unknown when the call and its body are the same, else a new one.

    The body is part of the key: the draft answers 409 to a requestId reused with
    a different body, which a create would misread as "no room" (P6).
    """
    digest = hashlib.sha256(models.request_bytes(body))
    key = "|".join((*call, digest.hexdigest()[:32]))
    return key, memory.request_ids.setdefault(key, new_request_id())


async def keyed_call(memory: LinkMemory, key: str, call: Awaitable[T]) -> T:
    """Await a create sent with the requestId under ``key``: forget the id once the
    outcome is known; keep it when unknown (the retry after the read reuses it)."""
    try:
        result = await call
    except OutcomeUnknown:
        raise
    except BaseException:
        memory.request_ids.pop(key, None)
        raise
    memory.request_ids.pop(key, None)
    return result


def step_side(step: link_state.Step) -> Side:
    """The provider a step calls (for RequestGuidance: the responder, whose answer counts)."""
    side = getattr(step, "side", None)
    if isinstance(side, Side):
        return side
    if isinstance(step, link_state.CreateLocalConnection | link_state.DeleteLocal):
        return Side.NEGOTIATOR
    return Side.RESPONDER


#: The negotiator's own guidance is reused for this long, then read again (P8).
OWN_GUIDANCE_TTL = dt.timedelta(hours=1)


def guidance_basis(memory: LinkMemory, interconnect: str, channel: str) -> str:
    """Both sides' guidance for the channel as last read (P8)."""
    seen = memory.guidance_seen.get(interconnect)
    return repr([g.get(channel) for g in seen]) if seen is not None else "none"


def channel_basis(
    pool: PoolRuntime, memory: LinkMemory, interconnect: str, channel: str
) -> tuple[str, str]:
    """The provider data a channel's block depends on (P12): both sides' admin state
    of the channel and what is in use on it; and the guidance last read for it."""
    snapshot = pool.snapshot
    admin: list[str] = []
    usage = ""
    if snapshot is not None:
        for side in Side:
            admin.extend(
                f"{side.value}:{c.admin_state}"
                for c in snapshot.side(side).channels.get(interconnect, [])
                if c.id == channel
            )
        usage = repr(snapshot.channel_usage(interconnect, channel))
    return f"{admin}|{usage}", guidance_basis(memory, interconnect, channel)


def block(
    pool: PoolRuntime, memory: LinkMemory, interconnect: str, channel: str, reason: str
) -> None:
    """Block a channel (P12) until the provider data it was blocked on changes."""
    memory.blocked_channels[channel] = reason
    memory.blocked_basis[channel] = channel_basis(pool, memory, interconnect, channel)


def _count_conflict(memory: LinkMemory, step: link_state.Step) -> None:
    key = step_key(step)
    memory.conflicts[key] = memory.conflicts.get(key, 0) + 1


class StepRunner:
    """Performs steps for the links of one pool; holds what links share (guidance, allocations)."""

    def __init__(self, pool: PoolRuntime, clock: Callable[[], dt.datetime]) -> None:
        self.pool = pool
        self._clock = clock
        # (interconnect, channel) -> tentative features allocated but not yet recorded
        self._tentative: dict[tuple[str, str], dict[str, FeatureView]] = {}
        # interconnect -> when the negotiator's guidance was read, and its views
        # per channel (P8, static part; read again after OWN_GUIDANCE_TTL)
        self._own_guidance: dict[str, tuple[dt.datetime, dict[str, GuidanceView]]] = {}

    @property
    def environment(self) -> str:
        return self.pool.config.environment

    def _client(self, side: Side) -> ProviderClient:
        return calls.client(self.pool, side)

    async def act(
        self, request: LinkRequest, uuid: str, memory: LinkMemory, step: link_state.Step
    ) -> None:
        """Carry out one step (settling steps, Wait/Done/Fail, need no action)."""
        match step:
            case link_state.ConfirmKey():
                await confirm_key(self.pool, memory)
            case link_state.CreateLocalConnection():
                # P22: the flag tells the PEER that we defer to it; our own side is
                # created without it.
                await self._create_connection(
                    request,
                    uuid,
                    memory,
                    step,
                    side=Side.NEGOTIATOR,
                    interconnect=step.interconnect,
                    bandwidth=step.bandwidth_mbps,
                    defer=False,
                )
            case link_state.CreateRemoteConnection():
                await self._create_connection(
                    request,
                    uuid,
                    memory,
                    step,
                    side=Side.RESPONDER,
                    interconnect=step.interconnect,
                    bandwidth=step.bandwidth_mbps,
                    defer=step.defer_provisioning,
                )
            case link_state.RequestGuidance():
                await self._guidance(uuid, memory, step.interconnect)
            case link_state.CreateFeature():
                await self._create_feature(request, uuid, memory, step)
            case link_state.DeleteFeature():
                await self._delete_feature(uuid, memory, step)
            case link_state.NotifyStatus():
                await self._notify(uuid, memory, step)
            case link_state.UpdateBandwidth():
                await self._update(uuid, memory, step)
            case link_state.Migrate():
                memory.migrating_to = step.to_interconnect
                # Notifications are about one connection's feature set (P14): the new
                # connection needs its own.
                memory.notified_at.clear()
            case link_state.DeleteRemote():
                await self._delete_connection(uuid, memory, Side.RESPONDER, step.interconnect)
            case link_state.DeleteLocal():
                await self._delete_connection(uuid, memory, Side.NEGOTIATOR, step.interconnect)

    # ------------------------------------------------------------------ connections

    async def _create_connection(
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
    ) -> None:
        """P5-P7: create on ``side``; a 409 there means no room (P6): place elsewhere."""
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
        rid_key, request_id = request_id_for(
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
                    self.environment, interconnect, uuid, body, request_id=request_id
                ),
            )
        except Conflict:
            existing = await self._read_connection(side, interconnect, uuid)
            if existing is None:
                self._unreserve(side, interconnect, uuid, placeholder)
                memory.unsettled_creates.discard((side, interconnect))
                memory.rejected_at[interconnect] = self._clock()
                _count_conflict(memory, step)
                return
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

    async def _update(
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
            _count_conflict(memory, step)
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

    async def _delete_connection(
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

    # ------------------------------------------------------------------ features

    async def _guidance(self, uuid: str, memory: LinkMemory, interconnect: str) -> None:
        """P8: the responder's guidance for this connection; ours once per interconnect,
        read again when it is older than OWN_GUIDANCE_TTL or the link restarts a
        channel (P10) or was refused (400)."""
        res_client = self._client(Side.RESPONDER)
        res_task = res_client.generate_feature_guidance(self.environment, interconnect, uuid)
        now = self._clock()
        cached = self._own_guidance.get(interconnect)
        if cached is None or memory.refresh_own_guidance or now - cached[0] > OWN_GUIDANCE_TTL:
            neg_client = self._client(Side.NEGOTIATOR)
            neg_answer, res_answer = await asyncio.gather(
                neg_client.generate_feature_guidance(self.environment, interconnect, uuid),
                res_task,
            )
            own = views.guidance_views(neg_answer)
            self._own_guidance[interconnect] = (now, own)
            memory.refresh_own_guidance = False
        else:
            own = cached[1]
            res_answer = await res_task
        memory.guidance[interconnect] = (own, views.guidance_views(res_answer))
        memory.guidance_seen[interconnect] = memory.guidance[interconnect]

    def _usage(self, interconnect: str, channel: str, uuid: str, memory: LinkMemory) -> Usage:
        """In use on the channel (snapshot, kept current), allocations still in flight,
        and what a provider answered 409 to for this link (excluded, P10).

        The in-flight and conflicted ones are a small layer on top of the
        snapshot's space, which is read, not copied. The link's own features
        need no exclusion: allocation only happens on a channel where neither
        side holds one of them.
        """
        snapshot = self.pool.snapshot
        assert snapshot is not None
        base = snapshot.channel_usage(interconnect, channel)
        pending = [
            view
            for conn_id, view in self._tentative.get((interconnect, channel), {}).items()
            if conn_id != uuid
        ]
        pending.extend(memory.conflicted.get((interconnect, channel), []))
        if not pending:
            return base
        extra = UsedSpace(
            (v.vlan for v in pending),
            (v.ipv4_subnet for v in pending),
            (v.ipv6_subnet for v in pending if v.ipv6_subnet is not None),
        )
        return (base, extra)

    def _allocate(
        self, request: LinkRequest, uuid: str, memory: LinkMemory, ix: str, channel: str
    ) -> FeatureView | None:
        """P9: a feature for ``channel`` within both sides' guidance; None blocks the channel."""
        guidance = memory.guidance.get(ix)
        if guidance is None:
            block(self.pool, memory, ix, channel, f"channel {channel}: no guidance (P8)")
            return None
        refused = memory.refused_on.get(channel)
        if refused is not None and refused[0] == guidance_basis(memory, ix, channel):
            # P10: a proposal from this very guidance was refused (400); the same
            # inputs give the same proposal, so wait for the provider's data to change.
            block(self.pool, memory, ix, channel, refused[1])
            return None
        usage = self._usage(ix, channel, uuid, memory)
        allocation = allocate_feature(
            channel, guidance[0].get(channel), guidance[1].get(channel), usage, request.spec
        )
        if isinstance(allocation, AllocationFailure):
            block(self.pool, memory, ix, channel, f"{allocation.reason}: {allocation.message}")
            return None
        return allocation.to_view(connection_id=uuid)

    # Long on purpose: one branch per CreateFeature outcome.
    async def _create_feature(  # noqa: PLR0912
        self,
        request: LinkRequest,
        uuid: str,
        memory: LinkMemory,
        step: link_state.CreateFeature,
    ) -> None:
        """P9-P11: propose the channel's feature on ``step.side`` (a copy, or a new allocation)."""
        ix, channel, side = step.interconnect, step.channel, step.side
        view = step.copy_of
        if view is None:
            view = self._allocate(request, uuid, memory, ix, channel)
        if view is None:
            return
        self._tentative.setdefault((ix, channel), {})[uuid] = view
        body = self._feature_body(side, ix, channel, view, request.spec)
        fid = feature_id(channel)
        rid_key, request_id = request_id_for(
            memory, "CreateFeature", side.value, ix, uuid, fid, body=body
        )
        client = self._client(side)
        try:
            created = await keyed_call(
                memory,
                rid_key,
                client.create_feature(self.environment, ix, uuid, fid, body, request_id=request_id),
            )
        except Conflict as exc:
            existing = await self._read_feature(side, ix, uuid, fid)
            if existing is None:
                _count_conflict(memory, step)
                # What conflicted is not proposed again on this channel.
                conflicted = memory.conflicted.setdefault((ix, channel), [])
                conflicted.append(view)
                del conflicted[:-MAX_CONFLICTED]
                if side is Side.RESPONDER:
                    # P10: something else took that space; restart the channel from
                    # fresh guidance (DeleteFeature of the local half drops it).
                    memory.rejected_features[channel] = sanitise(exc.message)
                else:
                    memory.guidance.pop(ix, None)
                    memory.refresh_own_guidance = True
                return
            created = existing
        except InvalidRequest as exc:
            # P10: guidance not followed (it may have changed since it was read). The
            # channel restarts from fresh guidance (the local half goes first, as
            # after a 409); a proposal from unchanged guidance is not made again.
            reason = f"P10: {side.value} refused the feature: {sanitise(exc.message)}"
            memory.refused_on[channel] = (guidance_basis(memory, ix, channel), reason)
            if side is Side.RESPONDER:
                memory.rejected_features[channel] = reason  # DeleteFeature drops guidance
            else:
                memory.guidance.pop(ix, None)
                memory.refresh_own_guidance = True
            return
        except OutcomeUnknown:
            existing = await self._read_feature(side, ix, uuid, fid)
            if existing is None:
                raise
            memory.request_ids.pop(rid_key, None)
            created = existing
        except AuthError as exc:
            raise StepFailed("ProviderAuthFailed", str(exc)) from exc
        finally:
            self._tentative.get((ix, channel), {}).pop(uuid, None)
        memory.rejected_features.pop(channel, None)
        memory.refused_on.pop(channel, None)
        # P15: a changed feature set needs fresh notifications (the peer ignores
        # one older than the change).
        memory.notified_at.clear()
        self.pool.record_feature(side, ix, uuid, channel, created)

    def _feature_body(
        self, side: Side, interconnect: str, channel: str, view: FeatureView, spec: LinkSpec
    ) -> models.Feature:
        caller = self.pool.config.provider(side).call_as
        providers = self.pool.config.providers
        bgp = [
            models.ProviderBgpConfig(
                provider=provider_name(providers[end_side]),  # spec form: providers/{p}
                asn=end.asn,
                host_ipv4=str(end.ipv4),
                host_ipv6=str(end.ipv6) if end.ipv6 is not None else None,
            )
            for end_side, end in sorted(view.bgp.items())
        ]
        config = models.L3BaseConfig(
            ipv4_subnet=str(view.ipv4_subnet.network_address),
            ipv4_subnet_prefix_length=view.ipv4_subnet.prefixlen,
            ipv6_subnet=str(view.ipv6_subnet.network_address) if view.ipv6_subnet else None,
            ipv6_subnet_prefix_length=view.ipv6_subnet.prefixlen if view.ipv6_subnet else None,
            mtu_bytes=view.mtu,
            vlan_id=view.vlan,
            provider_bgp_configs=bgp,
            md5_bgp_password=spec.md5.reveal() if spec.md5 is not None else None,
        )
        return models.Feature(
            # the channel named with the caller's own prefix (P-Objects)
            channel=channel_name(caller, self.environment, interconnect, channel),
            feature_config=models.FeatureConfig(
                feature_type=models.FeatureType.L3_BASE, l3_base_config=config
            ),
        )

    def _held_feature_id(self, side: Side, interconnect: str, uuid: str, channel: str) -> str:
        """The id of the channel's feature as ``side`` holds it: features are found by
        channel, and a peer may have named it otherwise (opaque ids, retries draft);
        our own deterministic id when the snapshot holds none."""
        snapshot = self.pool.snapshot
        held = (
            snapshot.side(side).features.get(interconnect, {}).get(uuid, {}).get(channel)
            if snapshot is not None
            else None
        )
        if held is not None and held.name:
            with contextlib.suppress(ValueError):
                return last_id(held.name)
        return feature_id(channel)

    async def _read_feature(
        self, side: Side, interconnect: str, uuid: str, fid: str
    ) -> models.Feature | None:
        try:
            return await self._client(side).get_feature(self.environment, interconnect, uuid, fid)
        except NotFound:
            return None

    async def _delete_feature(
        self, uuid: str, memory: LinkMemory, step: link_state.DeleteFeature
    ) -> None:
        """P20: remove one feature (the rejected local half after a P10 refusal)."""
        fid = self._held_feature_id(step.side, step.interconnect, uuid, step.channel)
        with contextlib.suppress(NotFound):  # already gone: the goal is reached
            await self._client(step.side).delete_feature(
                self.environment, step.interconnect, uuid, fid
            )
        self.pool.forget_feature(step.side, step.interconnect, uuid, step.channel)
        memory.notified_at.clear()
        memory.rejected_features.pop(step.channel, None)
        memory.guidance.pop(step.interconnect, None)
        memory.refresh_own_guidance = True

    # ------------------------------------------------------------------ notifications

    async def _notify(self, uuid: str, memory: LinkMemory, step: link_state.NotifyStatus) -> None:
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
