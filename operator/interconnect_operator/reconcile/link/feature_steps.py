"""The feature steps: guidance (P8), allocation and CreateFeature (P9-P11), DeleteFeature (P20).

What is not per link is held once for the pool's links: the negotiator's
own guidance per interconnect (read again after ``OWN_GUIDANCE_TTL``) and
the features allocated but not yet recorded, so links allocating on the
same channel at once do not propose the same space.
The feature id is derived from the channel, so a retried create addresses the
same object. A channel no feature fits on is blocked (``channel_blocks``).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import Callable

from interconnect_operator.api import models
from interconnect_operator.api.errors import (
    AuthError,
    Conflict,
    InvalidRequest,
    NotFound,
    OutcomeUnknown,
)
from interconnect_operator.api.names import channel_name, last_id, provider_name
from interconnect_operator.protocol import link_state
from interconnect_operator.protocol.allocation import (
    AllocationFailure,
    Usage,
    allocate_feature,
)
from interconnect_operator.protocol.retry_discipline import sanitise
from interconnect_operator.protocol.spans import UsedSpace
from interconnect_operator.protocol.types import FeatureView, GuidanceView, LinkSpec, Side
from interconnect_operator.reconcile import views
from interconnect_operator.reconcile.pool import PoolRuntime
from interconnect_operator.reconcile.records import feature_view

from .channel_blocks import block, guidance_basis
from .step_calls import ProviderSteps, count_conflict, keyed_call, request_id_for
from .types import LinkMemory, LinkRequest, StepFailed, feature_id

__all__ = ["MAX_CONFLICTED", "OWN_GUIDANCE_TTL", "FeatureSteps"]

#: Proposals remembered per channel as conflicting (P10 409), newest last.
MAX_CONFLICTED = 8

#: The negotiator's own guidance is reused for this long, then read again (P8).
OWN_GUIDANCE_TTL = dt.timedelta(hours=1)


class FeatureSteps(ProviderSteps):
    """Asks for guidance, allocates, creates and deletes the features of the links of one pool."""

    def __init__(self, pool: PoolRuntime, clock: Callable[[], dt.datetime]) -> None:
        super().__init__(pool, clock)
        # (interconnect, channel) -> tentative features allocated but not yet recorded
        self._tentative: dict[tuple[str, str], dict[str, FeatureView]] = {}
        # interconnect -> when the negotiator's guidance was read, and its views
        # per channel (P8, static part; read again after OWN_GUIDANCE_TTL)
        self._own_guidance: dict[str, tuple[dt.datetime, dict[str, GuidanceView]]] = {}
        # interconnect -> the responder's last answer and its views (``_their_views``)
        self._their_guidance: dict[
            str, tuple[models.GenerateFeatureGuidanceResponse, dict[str, GuidanceView]]
        ] = {}

    async def request_guidance(self, uuid: str, memory: LinkMemory, interconnect: str) -> None:
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
        memory.guidance[interconnect] = (own, self._their_views(interconnect, res_answer))
        memory.guidance_seen[interconnect] = memory.guidance[interconnect]

    def _their_views(
        self, interconnect: str, answer: models.GenerateFeatureGuidanceResponse
    ) -> dict[str, GuidanceView]:
        """The views of the responder's guidance: those of its last answer on this
        interconnect when this one is equal, else built (and kept) anew.

        Guidance is per channel (P8): the links of an interconnect mostly get the
        same answer, and building views parses every subnet again (~170 us per
        answer of 4 channels; comparing it with the last one ~25 us). The views
        are frozen and only read, so links share them as they share ours.
        """
        last = self._their_guidance.get(interconnect)
        if last is not None and last[0] == answer:
            return last[1]
        built = views.guidance_views(answer)
        self._their_guidance[interconnect] = (answer, built)
        return built

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
    async def create_feature(  # noqa: PLR0912, PLR0915
        self,
        request: LinkRequest,
        uuid: str,
        memory: LinkMemory,
        step: link_state.CreateFeature,
    ) -> bool:
        """P9-P11: propose the channel's feature on ``step.side`` (a copy, or a new allocation).

        True when the provider answered that it holds the feature (created, or
        found after a 409 or an unknown outcome); False when nothing was made.
        """
        ix, channel, side = step.interconnect, step.channel, step.side
        view = step.copy_of
        if view is None:
            view = self._allocate(request, uuid, memory, ix, channel)
        if view is None:
            return False
        allocated = step.copy_of is None
        if allocated:
            # In flight, not yet in the snapshot: links allocating on the channel now
            # must not propose it. A copy needs no entry: the half it copies is
            # recorded, and the channel's space counts both sides together.
            self._tentative.setdefault((ix, channel), {})[uuid] = view
        body = self._feature_body(side, ix, channel, view, request.spec)
        fid = feature_id(channel)
        rid_key, request_id, encoded = request_id_for(
            memory, "CreateFeature", side.value, ix, uuid, fid, body=body
        )
        client = self._client(side)
        try:
            created = await keyed_call(
                memory,
                rid_key,
                client.create_feature(
                    self.environment, ix, uuid, fid, body, request_id=request_id, encoded=encoded
                ),
            )
        except Conflict as exc:
            existing = await self._read_feature(side, ix, uuid, fid)
            if existing is None:
                count_conflict(memory, step)
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
                return False
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
            return False
        except OutcomeUnknown:
            existing = await self._read_feature(side, ix, uuid, fid)
            if existing is None:
                raise
            memory.request_ids.pop(rid_key, None)
            created = existing
        except AuthError as exc:
            raise StepFailed("ProviderAuthFailed", str(exc)) from exc
        finally:
            if allocated:
                self._tentative.get((ix, channel), {}).pop(uuid, None)
        memory.rejected_features.pop(channel, None)
        memory.refused_on.pop(channel, None)
        # P15: a changed feature set needs fresh notifications (the peer ignores
        # one older than the change).
        memory.notified_at.clear()
        self.pool.record_feature(side, ix, uuid, channel, created)
        return True

    def mirror_of(
        self, uuid: str, step: link_state.CreateFeature
    ) -> link_state.CreateFeature | None:
        """The responder's half of ``step``'s channel (P5: a copy of ours, just created),
        as the next decision would propose it; None when that decision would not
        (the responder holds one already, ours carries no usable L3 config, or
        our provider reports it FAILED)."""
        snapshot = self.pool.snapshot
        if snapshot is None:
            return None
        ix, channel = step.interconnect, step.channel
        if channel in snapshot.responder.features.get(ix, {}).get(uuid, {}):
            return None
        record = snapshot.negotiator.features.get(ix, {}).get(uuid, {}).get(channel)
        if record is None:
            return None
        view = feature_view(channel, record, self.pool.config.providers)
        if view is None or view.failed:
            # FAILED at once: the decision's failure rules come before the copy.
            return None
        return link_state.CreateFeature(ix, channel, Side.RESPONDER, copy_of=view)

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

    async def delete_feature(
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
