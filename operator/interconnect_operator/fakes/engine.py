"""The one seam between the fakes and reconcile/: the project's engine in the providers' role.

A fake that receives an activation key brings the link up the way the
provider that received it would (P4): as negotiator, toward the provider that
issued it. It does so by running reconcile/'s public :class:`LinkReconciler`
over a pool of two simulators: its own (called as the peer, the way the
operator calls it) and the peer's (called as itself). Updates (P16) and
deletions (P19) run the same way from whichever side the customer asked.

Everything the fakes need from reconcile/ goes through this module, so a
change of reconcile/'s surface is fixed here only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field

from interconnect_operator.api.auth import BearerToken
from interconnect_operator.protocol.link_state import Phase
from interconnect_operator.protocol.types import LinkSpec, Secret, Side
from interconnect_operator.reconcile.link import LinkReconciler, LinkRequest
from interconnect_operator.reconcile.pool import (
    PoolConfig,
    PoolRuntime,
    ProviderConfig,
    build_client,
)

__all__ = ["EngineOutcome", "LinkEngine", "ObservedConnection", "SimulatorEndpoint"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SimulatorEndpoint:
    """Where a provider's simulator serves the symmetric API, and who it is."""

    provider: str
    url: str
    token: str | None = field(default=None, repr=False)
    """Bearer token to present when calling it (``simulate --token``)."""


@dataclass(frozen=True)
class ObservedConnection:
    """What the fake's own simulator shows for one shared UUID."""

    bandwidth_mbps: int
    verified: bool


@dataclass(frozen=True)
class EngineOutcome:
    """How a drive ended."""

    ready: bool = False
    finalized: bool = False
    failed: bool = False
    reason: str = ""
    message: str = ""


class LinkEngine:
    """One reconciler over (own simulator, peer simulator) for one environment."""

    def __init__(
        self,
        own: SimulatorEndpoint,
        peer: SimulatorEndpoint,
        environment: str,
        *,
        round_delay: float = 0.5,
    ) -> None:
        self.own = own
        self.peer = peer
        self.environment = environment
        self._round_delay = round_delay
        config = PoolConfig(
            name=f"{own.provider}-as-provider",
            environment=environment,
            negotiator=_provider(own, call_as=peer.provider, side=Side.NEGOTIATOR),
            responder=_provider(peer, call_as=own.provider, side=Side.RESPONDER),
            refresh_interval=1.0,
        )
        self._runtime = PoolRuntime(
            config,
            build_client(config.negotiator, max_concurrency=16),
            build_client(config.responder, max_concurrency=16),
        )
        self._reconciler = LinkReconciler(self._runtime)
        self._lock = asyncio.Lock()

    async def aclose(self) -> None:
        await self._runtime.aclose()

    async def drive(
        self,
        shared_uuid: str,
        bandwidth_mbps: int,
        *,
        key: str | None = None,
        deleting: bool = False,
        timeout: float = 300.0,
    ) -> EngineOutcome:
        """Reconcile the link of ``shared_uuid`` until Ready, gone, failed or ``timeout``."""
        request = LinkRequest(
            namespace=self.own.provider,
            name=shared_uuid,
            spec=LinkSpec(bandwidth_mbps=bandwidth_mbps),
            activation_key=Secret(key) if key is not None else None,
            shared_uuid=shared_uuid,
            deleting=deleting,
        )
        deadline = time.monotonic() + timeout
        self._reconciler.forget(shared_uuid)
        while True:
            result = await self._reconciler.reconcile(request)
            status = result.status
            if result.finalized:
                return EngineOutcome(finalized=True)
            if status is not None and status.ready and not deleting:
                return EngineOutcome(ready=True, message=status.message)
            if status is not None and status.phase is Phase.FAILED:
                reason = status.failure.reason if status.failure else "Failed"
                return EngineOutcome(failed=True, reason=reason, message=status.message)
            if time.monotonic() >= deadline:
                message = status.message if status is not None else "no progress"
                return EngineOutcome(failed=True, reason="Timeout", message=message)
            delay = self._round_delay
            if result.requeue_after is not None:
                delay = min(max(result.requeue_after, 0.05), 2.0)
            await asyncio.sleep(delay)
            with contextlib.suppress(Exception):  # an unreadable side shows in the next round
                await self._runtime.refresh(fresh=True)

    async def observe(self) -> dict[str, ObservedConnection] | None:
        """The own simulator's connections by shared UUID; None if it cannot be read now."""
        async with self._lock:
            snapshot = await self._runtime.refresh(fresh=True)
        if self.own.provider in snapshot.errors:
            return None
        seen: dict[str, ObservedConnection] = {}
        for connections in snapshot.negotiator.connections.values():
            for uuid, connection in connections.items():
                verified = connection.verification_state == "VERIFICATION_STATE_VERIFIED"
                previous = seen.get(uuid)
                # During a migration (P18) two connections share the UUID; either verified counts.
                seen[uuid] = ObservedConnection(
                    bandwidth_mbps=connection.bandwidth_mbps or 0,
                    verified=verified or (previous is not None and previous.verified),
                )
        return seen


def _provider(endpoint: SimulatorEndpoint, *, call_as: str, side: Side) -> ProviderConfig:
    return ProviderConfig(
        name=endpoint.provider,
        endpoint=endpoint.url,
        call_as=call_as,
        side=side,
        auth=BearerToken(endpoint.token) if endpoint.token else None,
    )
