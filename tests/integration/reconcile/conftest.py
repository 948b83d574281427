"""Rig for the reconcile tests: two simulators in process, a pool and its reconciler.

``aws`` is the responder (it issues activation keys, P1/P4), ``gcp`` the
negotiator. The operator calls each server with the OTHER provider's id as
path prefix (P-Objects): ``call_as="aws"`` toward gcp, ``call_as="gcp"``
toward aws. Both simulators share one fake clock, so provisioning delays
(P13) and deferral timeouts (P23) move only when a test advances it; the
reconciler and the pool read the same clock.

``Rig.drive`` plays the part of the k8s controller without a Kubernetes API:
it keeps the link's stored form (the UUID annotation written ahead on
``persist_uuid``, the status the controller computes with
``k8s.status.link_status_body``) and builds each next request from it with
the controller's own ``k8s.links.carried_over``, so what carries between
reconciles is the operator's code, not a copy. It refreshes the pool between
rounds as the pool timer would and stops at a predicate on the result.
Assertions read provider state back from both simulators (``/admin/state``),
never from the reconciler.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid as uuid_module
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from typing import Any

import httpx
import pytest

from interconnect_operator.api import activation_key
from interconnect_operator.k8s.link_request import carried_over, observed_generation
from interconnect_operator.k8s.settings import UUID_ANNOTATION
from interconnect_operator.k8s.status import link_status_body
from interconnect_operator.protocol.link_state import Phase
from interconnect_operator.protocol.types import LinkSpec, Secret, Side
from interconnect_operator.reconcile.link import (
    LinkEvent,
    LinkReconciler,
    LinkRequest,
    LinkResult,
)
from interconnect_operator.reconcile.pool import (
    PoolConfig,
    PoolRuntime,
    ProviderConfig,
    build_client,
)
from interconnect_operator.simulator import SimulatorConfig, create_app
from interconnect_operator.simulator.app import Simulator
from interconnect_operator.simulator.inventory import Inventory
from tests.support.clock import FakeClock

ENV = "aws-gcp-us-east"
NEGOTIATOR = "gcp"
RESPONDER = "aws"


class OperatorCrash(Exception):
    """The operator process died: no more calls leave it."""


@dataclass
class CrashSwitch:
    """Kills the operator at its ``after``-th mutating provider call.

    ``commit``: the fatal call reaches the provider and is applied, only the
    response is lost (the worst case of P33); otherwise it never leaves.
    Shared by both providers' transports, so the count is per operator.
    """

    after: int | None = None
    commit: bool = False
    mutating_calls: int = 0
    dead: bool = False


class SwitchedTransport(httpx.AsyncBaseTransport):
    """An ASGI transport that obeys a :class:`CrashSwitch`."""

    def __init__(self, inner: httpx.AsyncBaseTransport, switch: CrashSwitch) -> None:
        self._inner = inner
        self._switch = switch

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        switch = self._switch
        if switch.dead:
            raise OperatorCrash("operator is down")
        if request.method == "GET" or switch.after is None:
            return await self._inner.handle_async_request(request)
        switch.mutating_calls += 1
        if switch.mutating_calls < switch.after:
            return await self._inner.handle_async_request(request)
        switch.dead = True
        if switch.commit:
            response = await self._inner.handle_async_request(request)
            await response.aread()
        raise OperatorCrash(f"crashed at mutating call {switch.mutating_calls}")


@dataclass
class SimHandle:
    """One simulated provider and an admin client for it."""

    provider: str
    sim: Simulator
    transport: httpx.ASGITransport
    admin: httpx.AsyncClient

    @property
    def endpoint(self) -> str:
        return f"http://{self.provider}.sim"

    async def state(self) -> dict[str, Any]:
        response = await self.admin.get("/admin/state")
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json()
        return data

    async def stats(self) -> dict[str, Any]:
        response = await self.admin.get("/admin/stats")
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json()
        return data

    async def reset_stats(self) -> None:
        assert (await self.admin.post("/admin/stats/reset")).status_code == 200

    async def issue_key(self, bandwidth: int = 1000, account: str = "acct-1") -> dict[str, Any]:
        """P1: the customer asks this provider for a key."""
        response = await self.admin.post(
            "/customer/v1/activationKeys",
            json={"environment": ENV, "bandwidthMbps": bandwidth, "destinationAccountId": account},
        )
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json()
        return data

    async def as_peer(
        self, method: str, path: str, *, params: dict[str, str] | None = None, body: Any = None
    ) -> httpx.Response:
        """A spec call as this simulator's peer (the other provider's prefix)."""
        caller = NEGOTIATOR if self.provider == RESPONDER else RESPONDER
        url = f"/providers/{caller}/environments/{ENV}{path}"
        return await self.admin.request(method, url, params=params, json=body)

    async def lose_feature(self, name: str, mode: str = "delete", **failure: Any) -> None:
        """Admin: lose a feature; ``mode="failed"`` takes the failureInfo's
        ``code``, ``message`` and ``retryable`` (feature-recovery draft)."""
        body = {"name": name, "mode": mode, **failure}
        response = await self.admin.post("/admin/lose-feature", json=body)
        assert response.status_code == 200, response.text


def _sim(provider: str, clock: FakeClock, **config: Any) -> SimHandle:
    app = create_app(SimulatorConfig(provider_id=provider, clock=clock, **config))
    transport = httpx.ASGITransport(app=app)
    admin = httpx.AsyncClient(transport=transport, base_url=f"http://{provider}.sim")
    return SimHandle(provider, app.state.simulator, transport, admin)


def link_request(
    name: str = "link",
    bandwidth: int = 1000,
    *,
    key: str | None = None,
    account: str | None = None,
    persisted: bool = False,
    **spec: Any,
) -> LinkRequest:
    """A link as the controller passes it; ``persisted``: its key's UUID is already
    written ahead (otherwise the first reconcile asks for that)."""
    shared_uuid = None
    if persisted and key is not None:
        shared_uuid = activation_key.decode(key).shared_connection_uuid
    return LinkRequest(
        namespace="team-a",
        name=name,
        spec=LinkSpec(bandwidth_mbps=bandwidth, **spec),
        activation_key=Secret(key) if key is not None else None,
        destination_account_id=account,
        shared_uuid=shared_uuid,
    )


@dataclass
class Operator:
    """One operator process: the pool runtime, its reconciler and its crash switch."""

    runtime: PoolRuntime
    reconciler: LinkReconciler
    switch: CrashSwitch


@dataclass
class Rig:
    clock: FakeClock
    aws: SimHandle
    gcp: SimHandle
    operators: list[Operator] = field(default_factory=list)
    persisted: dict[str, str] = field(default_factory=dict)
    calls: Counter[str] = field(default_factory=Counter)
    events: list[tuple[str, LinkEvent]] = field(default_factory=list)
    """(link name, event) of every reconcile, in order."""
    """Link name -> provider calls its reconciles reported (``LinkResult.calls``)."""
    """Link name -> UUID written ahead (the controller's annotation survives a crash)."""

    def sim(self, side: Side) -> SimHandle:
        return self.gcp if side is Side.NEGOTIATOR else self.aws

    def config(self, **overrides: Any) -> PoolConfig:
        values: dict[str, Any] = {
            "name": "pool",
            "environment": ENV,
            "negotiator": ProviderConfig(
                name=NEGOTIATOR,
                endpoint=self.gcp.endpoint,
                call_as=RESPONDER,
                side=Side.NEGOTIATOR,
            ),
            "responder": ProviderConfig(
                name=RESPONDER,
                endpoint=self.aws.endpoint,
                call_as=NEGOTIATOR,
                side=Side.RESPONDER,
            ),
        }
        values.update(overrides)
        return PoolConfig(**values)

    def operator(
        self,
        switch: CrashSwitch | None = None,
        *,
        wrap: Callable[[httpx.AsyncBaseTransport], httpx.AsyncBaseTransport] | None = None,
        **overrides: Any,
    ) -> Operator:
        """A fresh operator (empty memory) with its own clients.

        ``wrap`` puts a transport of the test's own between the operator and
        each simulator (lost responses, refused wildcards...).
        """
        switch = switch or CrashSwitch()
        config = self.config(**overrides)
        clients = []
        for side in (Side.NEGOTIATOR, Side.RESPONDER):
            transport: httpx.AsyncBaseTransport = SwitchedTransport(
                self.sim(side).transport, switch
            )
            if wrap is not None:
                transport = wrap(transport)
            clients.append(build_client(config.provider(side), transport=transport))
        runtime = PoolRuntime(config, clients[0], clients[1], clock=self.clock.datetime)
        # seeded jitter: backoff delays are the same on every run
        reconciler = LinkReconciler(runtime, clock=self.clock.datetime, rng=random.Random(7))
        op = Operator(runtime, reconciler, switch)
        self.operators.append(op)
        return op

    async def drive(
        self,
        op: Operator,
        request: LinkRequest,
        *,
        until: Callable[[LinkResult], bool] | None = None,
        rounds: int = 8,
        advance: float = 0.0,
    ) -> tuple[LinkResult, LinkRequest]:
        """Reconcile like the controller would until ``until`` (default: Ready).

        Between rounds the pool is refreshed (the pool timer) and the clock
        advanced by ``advance`` seconds. Returns the last result and the
        request as the controller would build it next.
        """
        stop = until or (lambda r: r.status is not None and r.status.ready)
        stored = _stored_link(request, self.clock.datetime())
        result: LinkResult | None = None
        for _ in range(rounds):
            result = await op.reconciler.reconcile(request)
            self.calls[request.name] += result.calls
            self.events.extend((request.name, event) for event in result.events)
            if result.persist_uuid is not None:
                self.persisted[request.name] = result.persist_uuid
                stored["metadata"]["annotations"][UUID_ANNOTATION] = result.persist_uuid
            elif result.status is not None and not result.finalized:
                # The status the controller writes, then the request it builds from it.
                stored["status"] = link_status_body(
                    result.status,
                    old_status=stored["status"],
                    generation=observed_generation(request, stored["status"]),
                    providers=op.runtime.config.providers,
                    shared_uuid=result.shared_uuid,
                    environment=result.environment,
                    created_at=request.created_at,
                    now=self.clock.datetime(),
                    request_ids=result.request_ids,
                )
            request = replace(request, **carried_over(stored, request.spec.generation))
            if result.persist_uuid is not None:
                continue
            if stop(result):
                return result, request
            if result.finalized:
                break
            self.clock.advance(advance)
            # The controller requeues a link held back (Retry-After, backoff) when
            # its delay is over: move the clock there.
            retry_at = op.reconciler.retry_at(request.shared_uuid or "")
            if retry_at is not None and retry_at > self.clock.datetime():
                self.clock.advance((retry_at - self.clock.datetime()).total_seconds())
            await op.runtime.refresh()
        assert result is not None
        raise AssertionError(
            f"not converged after {rounds} rounds: phase="
            f"{result.status.phase if result.status else None} "
            f"message={result.status.message if result.status else None}"
        )

    async def states(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """(negotiator state, responder state)."""
        return await self.gcp.state(), await self.aws.state()

    async def fill(self, interconnect: str, bandwidth: int) -> str:
        """Reserve ``bandwidth`` on ``interconnect`` on both providers (another customer)."""
        filler = str(uuid_module.uuid4())
        for handle in (self.gcp, self.aws):
            response = await handle.as_peer(
                "POST",
                f"/interconnects/{interconnect}/connections",
                params={"connectionId": filler},
                body={"bandwidthMbps": bandwidth},
            )
            assert response.status_code == 200, response.text
        return filler


def _stored_link(request: LinkRequest, now: dt.datetime) -> dict[str, Any]:
    """The stored MulticloudLink a request stands for (what its earlier reconciles wrote)."""
    annotations = {UUID_ANNOTATION: request.shared_uuid} if request.shared_uuid else {}
    status: dict[str, Any] = {}
    if request.interconnect:
        status["interconnect"] = request.interconnect
    if request.ever_ready:
        status["readyTime"] = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"metadata": {"annotations": annotations}, "status": status}


def calls_by_operation(*stats: dict[str, Any]) -> Counter[str]:
    """Spec calls per operation over both simulators' statistics."""
    total: Counter[str] = Counter()
    for s in stats:
        for operation, counts in s["byOperation"].items():
            total[operation] += counts["total"]
    return total


MUTATING = (
    "ConfirmActivationKey",
    "CreateConnection",
    "UpdateConnection",
    "DeleteConnection",
    "GenerateFeatureGuidance",
    "CreateFeature",
    "DeleteFeature",
    "NotifyConnectionStatus",
)


def link_objects(state: dict[str, Any], uuid: str) -> tuple[list[dict[str, Any]], list[Any]]:
    """(connections, features) a provider holds under ``uuid``."""
    connections = [c for c in state["connections"] if c["connection"] == uuid]
    features = [f for f in state["features"] if f["connection"] == uuid]
    return connections, features


def assert_reservations_consistent(state: dict[str, Any]) -> None:
    """P7: allocated bandwidth is the sum of the live connections, never above max."""
    for ix in state["interconnects"]:
        live = sum(
            c["bandwidthMbps"]
            for c in state["connections"]
            if c["interconnect"] == ix["interconnect"] and c["environment"] == ix["environment"]
        )
        assert ix["allocatedMbps"] == live, ix
        assert ix["allocatedMbps"] <= ix["maxBandwidthMbps"], ix


def assert_ready_on_both(
    neg: dict[str, Any], res: dict[str, Any], uuid: str, *, bandwidth: int, interconnect: str
) -> None:
    """One connection per side on ``interconnect``, VERIFIED, 4 FINAL features that agree."""
    for state in (neg, res):
        connections, features = link_objects(state, uuid)
        assert [(c["interconnect"], c["bandwidthMbps"]) for c in connections] == [
            (interconnect, bandwidth)
        ]
        assert connections[0]["verificationState"] == "VERIFICATION_STATE_VERIFIED"
        assert sorted(f["channel"] for f in features) == ["ch1", "ch2", "ch3", "ch4"]
        assert all(f["provisioningState"] == "PROVISIONING_STATE_FINAL" for f in features)
        assert_reservations_consistent(state)

    def params(state: dict[str, Any]) -> dict[str, tuple[Any, ...]]:
        return {
            f["channel"]: (f["vlanId"], f["ipv4Subnet"], f["ipv6Subnet"], f["mtuBytes"])
            for f in link_objects(state, uuid)[1]
        }

    # P9-P10: the negotiated parameters are identical on both providers.
    assert params(neg) == params(res)


def is_phase(*phases: Phase) -> Callable[[LinkResult], bool]:
    return lambda r: r.status is not None and r.status.phase in phases


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def make_rig(clock: FakeClock) -> AsyncIterator[Callable[..., Rig]]:
    """Factory: ``make_rig(provisioning_delay=..., inventory=...)`` -> Rig."""
    rigs: list[Rig] = []

    def factory(
        *,
        provisioning_delay: float = 0.0,
        responder_provisioning_delay: float | None = None,
        aws_inventory: Inventory | None = None,
        gcp_inventory: Inventory | None = None,
    ) -> Rig:
        rig = Rig(
            clock,
            aws=_sim(
                RESPONDER,
                clock,
                provisioning_delay=provisioning_delay
                if responder_provisioning_delay is None
                else responder_provisioning_delay,
                inventory=aws_inventory,
            ),
            gcp=_sim(
                NEGOTIATOR, clock, provisioning_delay=provisioning_delay, inventory=gcp_inventory
            ),
        )
        rigs.append(rig)
        return rig

    yield factory
    for rig in rigs:
        for op in rig.operators:
            await op.runtime.aclose()
        for handle in (rig.aws, rig.gcp):
            await handle.admin.aclose()
            handle.sim.close()


@pytest.fixture
def rig(make_rig: Callable[..., Rig]) -> Rig:
    """Default inventory on both sides, no provisioning delay."""
    return make_rig()
