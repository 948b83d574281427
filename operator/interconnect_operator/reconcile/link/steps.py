"""Carrying out the state machine's steps against both providers: each step to its kind.

``connection_steps`` creates, updates, deletes and notifies connections;
``feature_steps`` asks for guidance and creates and deletes features. A step
may carry its follow-up when the decision table would decide exactly that
next and the protocol orders only the two of them: guidance once the
responder holds the connection (P8), the responder's half of a feature once
ours exists (P5, per channel; P10 lets channels run concurrently). A
bring-up then takes 6 decisions instead of 8 (key, local connection, remote
connection and guidance, features, notifications, Ready). Each
step calls a provider, records the answer in the pool snapshot (so the next
decision sees it at once) and in the link's memory; a retried step addresses
the same objects (the connection id is the shared UUID, the feature id is
derived from the channel). Errors a user must fix are raised as
:class:`~.types.StepFailed`; other provider errors propagate to the loop,
which retries later.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from interconnect_operator.api import models
from interconnect_operator.api.errors import InvalidRequest
from interconnect_operator.protocol import link_state
from interconnect_operator.protocol.types import Side
from interconnect_operator.reconcile.pool import PoolRuntime

from .connection_steps import ConnectionSteps
from .feature_steps import FeatureSteps
from .keys import confirm_key
from .types import FollowUpRefused, LinkMemory, LinkRequest

__all__ = ["StepRunner", "step_side"]


def step_side(step: link_state.Step) -> Side:
    """The provider a step calls (for RequestGuidance: the responder, whose answer counts)."""
    side = getattr(step, "side", None)
    if isinstance(side, Side):
        return side
    if isinstance(step, link_state.CreateLocalConnection | link_state.DeleteLocal):
        return Side.NEGOTIATOR
    return Side.RESPONDER


class StepRunner:
    """Performs steps for the links of one pool: each kind by the part that carries it out."""

    def __init__(self, pool: PoolRuntime, clock: Callable[[], dt.datetime]) -> None:
        self.pool = pool
        self._connections = ConnectionSteps(pool, clock)
        self._features = FeatureSteps(pool, clock)

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
                await self._connections.create_connection(
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
                await self._create_remote(request, uuid, memory, step)
            case link_state.RequestGuidance():
                await self._features.request_guidance(uuid, memory, step.interconnect)
            case link_state.CreateFeature():
                made = await self._features.create_feature(request, uuid, memory, step)
                mirror = self._features.mirror_of(uuid, step) if made and step.mirror else None
                if mirror is not None:
                    # P5: ours exists (the provider said so); the responder's half now.
                    await self._features.create_feature(request, uuid, memory, mirror)
            case link_state.DeleteFeature():
                await self._features.delete_feature(uuid, memory, step)
            case link_state.NotifyStatus():
                await self._connections.notify_status(uuid, memory, step)
            case link_state.UpdateBandwidth():
                await self._connections.update_bandwidth(uuid, memory, step)
            case link_state.Migrate():
                memory.migrating_to = step.to_interconnect
                # Notifications are about one connection's feature set (P14): the new
                # connection needs its own.
                memory.notified_at.clear()
            case link_state.DeleteRemote():
                await self._connections.delete_connection(
                    uuid, memory, Side.RESPONDER, step.interconnect
                )
            case link_state.DeleteLocal():
                await self._connections.delete_connection(
                    uuid, memory, Side.NEGOTIATOR, step.interconnect
                )

    async def _create_remote(
        self,
        request: LinkRequest,
        uuid: str,
        memory: LinkMemory,
        step: link_state.CreateRemoteConnection,
    ) -> None:
        """P5-P7 on the responder; then P8 in the same decision when the step carries it."""
        held = await self._connections.create_connection(
            request,
            uuid,
            memory,
            step,
            side=Side.RESPONDER,
            interconnect=step.interconnect,
            bandwidth=step.bandwidth_mbps,
            defer=step.defer_provisioning,
        )
        if not (held and step.then_guidance):
            return
        try:
            await self._features.request_guidance(uuid, memory, step.interconnect)
        except InvalidRequest as exc:
            raise FollowUpRefused(link_state.RequestGuidance(step.interconnect), exc) from exc

    async def read_connection(
        self, side: Side, interconnect: str, uuid: str
    ) -> models.Connection | None:
        """GetConnection; None when the provider does not hold it (404)."""
        return await self._connections.read_connection(side, interconnect, uuid)
