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
from collections.abc import Callable

from interconnect_operator.api import models
from interconnect_operator.api.client import ProviderClient
from interconnect_operator.api.errors import (
    AuthError,
    Conflict,
    InvalidRequest,
    NotFound,
    OutcomeUnknown,
)
from interconnect_operator.api.names import channel_name, provider_name
from interconnect_operator.protocol import link_state
from interconnect_operator.protocol.allocation import (
    AllocationFailure,
    ChannelUsage,
    allocate_feature,
)
from interconnect_operator.protocol.notifications import verified_by_notifications
from interconnect_operator.protocol.types import FeatureView, GuidanceView, LinkSpec, Side
from interconnect_operator.reconcile import views
from interconnect_operator.reconcile.pool import PoolRuntime

from . import calls
from .keys import confirm_key
from .types import LinkMemory, LinkRequest, StepFailed, feature_id


class StepRunner:
    """Performs steps for the links of one pool; holds what links share (guidance, allocations)."""

    def __init__(self, pool: PoolRuntime, clock: Callable[[], dt.datetime]) -> None:
        self.pool = pool
        self._clock = clock
        # (interconnect, channel) -> tentative features allocated but not yet recorded
        self._tentative: dict[tuple[str, str], dict[str, FeatureView]] = {}
        # interconnect -> the negotiator's guidance per channel (P8, static part)
        self._own_guidance: dict[str, dict[str, GuidanceView]] = {}

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
                # P22: a deferring provider creates its own side deferred too.
                defer = views.deferral(self.pool.snapshot, uuid)[0]
                await self._create_connection(
                    uuid,
                    memory,
                    side=Side.NEGOTIATOR,
                    interconnect=step.interconnect,
                    bandwidth=step.bandwidth_mbps,
                    defer=defer,
                )
            case link_state.CreateRemoteConnection():
                await self._create_connection(
                    uuid,
                    memory,
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
        uuid: str,
        memory: LinkMemory,
        *,
        side: Side,
        interconnect: str,
        bandwidth: int,
        defer: bool,
    ) -> None:
        """P5-P7: create on ``side``; a 409 there means no room (P6): place elsewhere."""
        client = self._client(side)
        body = models.Connection(
            bandwidth_mbps=bandwidth,
            activation_key=memory.key.reveal() if memory.key is not None else None,
            defer_provisioning=True if defer else None,
        )
        if memory.migrating_to is None:
            memory.interconnect = interconnect
        placeholder = self._reserve(side, interconnect, uuid, bandwidth)
        try:
            created = await client.create_connection(self.environment, interconnect, uuid, body)
        except Conflict:
            existing = await self._read_connection(side, interconnect, uuid)
            if existing is None:
                self._unreserve(side, interconnect, uuid, placeholder)
                memory.rejected_at[interconnect] = self._clock()
                return
            created = existing
        except OutcomeUnknown:
            # P33: read before retrying, with the same id and body.
            existing = await self._read_connection(side, interconnect, uuid)
            if existing is None:
                raise
            created = existing
        except InvalidRequest as exc:
            self._unreserve(side, interconnect, uuid, placeholder)
            raise StepFailed("ConnectionRefused", f"P22/P32: {exc.message}") from exc
        except AuthError as exc:
            self._unreserve(side, interconnect, uuid, placeholder)
            raise StepFailed("ProviderAuthFailed", str(exc)) from exc
        except BaseException:
            self._unreserve(side, interconnect, uuid, placeholder)
            raise
        self.pool.record_connection(side, interconnect, uuid, created)

    def _reserve(
        self, side: Side, interconnect: str, uuid: str, bandwidth: int
    ) -> models.Connection | None:
        """Count the bandwidth in the snapshot before the call returns (P7).

        Links placed concurrently then see each other's reservations and spread
        over the interconnects instead of racing for the same one (P6 409s).
        Returns the placeholder, or None when the snapshot already holds one.
        """
        snapshot = self.pool.snapshot
        if snapshot is None or uuid in snapshot.side(side).connections.get(interconnect, {}):
            return None
        placeholder = models.Connection(bandwidth_mbps=bandwidth)
        self.pool.record_connection(side, interconnect, uuid, placeholder)
        return placeholder

    def _unreserve(
        self, side: Side, interconnect: str, uuid: str, placeholder: models.Connection | None
    ) -> None:
        snapshot = self.pool.snapshot
        if placeholder is None or snapshot is None:
            return
        if snapshot.side(side).connections.get(interconnect, {}).get(uuid) is placeholder:
            self.pool.forget_connection(side, interconnect, uuid)

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
        """P16-P17: the peer confirms first; our side changes after its 200."""
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
            # P17 (update in flight) or no room after all: look again after a refresh.
            memory.update_in_progress = True
            await self.pool.refresh()
            memory.update_in_progress = False
            return
        self.pool.record_connection(step.side, step.interconnect, uuid, updated)
        memory.notified_at.pop(step.side.other, None)

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
        """P8: the responder's guidance for this connection; ours once per interconnect."""
        res_client = self._client(Side.RESPONDER)
        res_task = res_client.generate_feature_guidance(self.environment, interconnect, uuid)
        own = self._own_guidance.get(interconnect)
        if own is None:
            neg_client = self._client(Side.NEGOTIATOR)
            neg_answer, res_answer = await asyncio.gather(
                neg_client.generate_feature_guidance(self.environment, interconnect, uuid),
                res_task,
            )
            own = views.guidance_views(neg_answer)
            self._own_guidance[interconnect] = own
        else:
            res_answer = await res_task
        memory.guidance[interconnect] = (own, views.guidance_views(res_answer))

    def _usage(self, interconnect: str, channel: str, uuid: str) -> ChannelUsage:
        """In use on the channel (snapshot, cached) plus allocations still in flight.

        The link's own features need no exclusion: allocation only happens on a
        channel where neither side holds one of them.
        """
        snapshot = self.pool.snapshot
        assert snapshot is not None
        base = snapshot.channel_usage(interconnect, channel)
        pending = self._tentative.get((interconnect, channel), {})
        if not pending:
            return base
        vlans = set(base.vlans)
        v4 = list(base.ipv4)
        v6 = list(base.ipv6)
        for conn_id, tentative in pending.items():
            if conn_id == uuid:
                continue
            vlans.add(tentative.vlan)
            v4.append(tentative.ipv4_subnet)
            if tentative.ipv6_subnet is not None:
                v6.append(tentative.ipv6_subnet)
        return ChannelUsage(frozenset(vlans), tuple(v4), tuple(v6))

    def _allocate(
        self, request: LinkRequest, uuid: str, memory: LinkMemory, ix: str, channel: str
    ) -> FeatureView | None:
        """P9: a feature for ``channel`` within both sides' guidance; None blocks the channel."""
        guidance = memory.guidance.get(ix)
        if guidance is None:
            memory.blocked_channels[channel] = f"channel {channel}: no guidance (P8)"
            return None
        usage = self._usage(ix, channel, uuid)
        allocation = allocate_feature(
            channel, guidance[0].get(channel), guidance[1].get(channel), usage, request.spec
        )
        if isinstance(allocation, AllocationFailure):
            memory.blocked_channels[channel] = f"{allocation.reason}: {allocation.message}"
            return None
        return allocation.to_view(connection_id=uuid)

    async def _create_feature(
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
        try:
            created = await self._client(side).create_feature(self.environment, ix, uuid, fid, body)
        except Conflict as exc:
            existing = await self._read_feature(side, ix, uuid, fid)
            if existing is None:
                if side is Side.RESPONDER:
                    # P10: something else took that space; restart the channel from
                    # fresh guidance.
                    memory.rejected_features[channel] = exc.message
                memory.guidance.pop(ix, None)
                return
            created = existing
        except InvalidRequest as exc:
            memory.blocked_channels[channel] = (
                f"P10: {side.value} refused the feature: {exc.message}"
            )
            return
        except OutcomeUnknown:
            existing = await self._read_feature(side, ix, uuid, fid)
            if existing is None:
                raise
            created = existing
        except AuthError as exc:
            raise StepFailed("ProviderAuthFailed", str(exc)) from exc
        finally:
            self._tentative.get((ix, channel), {}).pop(uuid, None)
        memory.rejected_features.pop(channel, None)
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
        with contextlib.suppress(NotFound):  # already gone: the goal is reached
            await self._client(step.side).delete_feature(
                self.environment, step.interconnect, uuid, feature_id(step.channel)
            )
        self.pool.forget_feature(step.side, step.interconnect, uuid, step.channel)
        memory.notified_at.clear()
        memory.rejected_features.pop(step.channel, None)
        memory.guidance.pop(step.interconnect, None)

    # ------------------------------------------------------------------ notifications

    async def _notify(self, uuid: str, memory: LinkMemory, step: link_state.NotifyStatus) -> None:
        """P14: tell ``step.side`` that the other side is final."""
        await self._client(step.side).notify_connection_status(
            self.environment, step.interconnect, uuid
        )
        memory.notified_at[step.side] = self._clock()
        memory.notified_generation[step.side] = self.pool.generation
        snapshot = self.pool.snapshot
        assert snapshot is not None
        finality = views.finality(snapshot, step.interconnect, uuid)
        if verified_by_notifications(list(memory.notified_at), finality):
            # Recorded in the snapshot only; the next bulk refresh replaces it with
            # what the providers say, so a provider that disagrees is seen.
            views.mark_verified(snapshot, step.interconnect, uuid)
