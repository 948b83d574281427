"""A bring-up's decisions: how many, and that carrying follow-ups keeps the protocol's order.

A step may carry the step the decision table would decide next when the
protocol orders only those two: the responder's guidance once it holds the
connection (P8), the responder's half of a feature once ours exists (P5 per
channel, P10 channels concurrent). These tests count decisions and view
builds against two simulators, and read the order of the mutating calls off
the wire.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qs

import httpx

from interconnect_operator.api import base_client, models
from interconnect_operator.protocol import link_state
from interconnect_operator.reconcile import snapshot as snapshot_module
from interconnect_operator.reconcile import views as views_module
from interconnect_operator.reconcile.link import decision as decision_module
from tests.integration.reconcile.conftest import (
    MUTATING,
    Rig,
    calls_by_operation,
    link_objects,
    link_request,
)

#: key, local connection, remote connection and guidance, features (both halves
#: per channel), notifications, Ready. Before follow-ups were carried: 8.
DECISIONS_PER_BRING_UP = 6


class CallLog(httpx.AsyncBaseTransport):
    """Records (provider host, operation, channel feature id) of every mutating call."""

    def __init__(self, inner: httpx.AsyncBaseTransport, log: list[tuple[str, str, str]]) -> None:
        self._inner = inner
        self._log = log

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method != "GET":
            path = request.url.path
            query = parse_qs(request.url.query.decode())
            if path.endswith("/features"):
                operation, detail = "CreateFeature", query["featureId"][0]
            elif path.endswith("/connections"):
                operation, detail = "CreateConnection", ""
            else:
                operation, detail = path.rsplit("/", 1)[-1], ""
            self._log.append((request.url.host, operation, detail))
        return await self._inner.handle_async_request(request)


async def test_a_bring_up_takes_six_decisions_and_reads_capacity_once(
    rig: Rig, monkeypatch: Any
) -> None:
    counts = {"decisions": 0, "views": 0, "pool_views": 0, "deciding": 0}
    real_decide, real_view = link_state.decide, snapshot_module.connection_view
    real_pool_views = snapshot_module.PoolSnapshot.interconnect_views

    def counting_decide(*args: Any, **kwargs: Any) -> Any:
        counts["decisions"] += 1
        return real_decide(*args, **kwargs)

    real_link_decide = decision_module.LinkDecider.decide

    def deciding(decider: Any, *args: Any) -> Any:
        counts["deciding"] = 1
        try:
            return real_link_decide(decider, *args)
        finally:
            counts["deciding"] = 0

    def counting_view(*args: Any, **kwargs: Any) -> Any:
        counts["views"] += 1
        return real_view(*args, **kwargs)

    def counting_pool_views(snapshot: Any, side: Any) -> Any:
        counts["pool_views"] += counts["deciding"]  # read by a decision (or for it)
        return real_pool_views(snapshot, side)

    monkeypatch.setattr(link_state, "decide", counting_decide)
    monkeypatch.setattr(decision_module.LinkDecider, "decide", deciding)
    monkeypatch.setattr(snapshot_module, "connection_view", counting_view)
    monkeypatch.setattr(snapshot_module.PoolSnapshot, "interconnect_views", counting_pool_views)
    op = rig.operator()
    await op.runtime.refresh()
    await rig.aws.reset_stats()
    await rig.gcp.reset_stats()

    result, _ = await rig.drive(op, link_request(account="acct-1"), rounds=3)

    assert result.status is not None
    assert result.status.ready
    assert counts["decisions"] == DECISIONS_PER_BRING_UP
    # One view of each side's connection per decision that follows a change of it
    # (9 with a decision per half).
    assert counts["views"] <= 7, counts
    # The pool's interconnect views (capacity) are read by placement only (P6-P7):
    # one decision, both sides; every decision read them before (2 per decision).
    assert counts["pool_views"] == 2, counts
    calls = calls_by_operation(await rig.gcp.stats(), await rig.aws.stats())
    assert sum(calls[operation] for operation in MUTATING) == 15, calls  # as before
    assert calls["CreateFeature"] == 8
    assert calls["GenerateFeatureGuidance"] == 2  # ours once per interconnect, theirs


async def test_a_bring_up_serializes_each_create_body_once(rig: Rig, monkeypatch: Any) -> None:
    # A create's requestId is keyed by its body's bytes (P33: the same body on a
    # resend); those bytes are what is sent, not a second serialization.
    serialized: dict[str, int] = {}
    real = models.request_bytes

    def counting(body: Any) -> bytes:
        name = type(body).__name__
        serialized[name] = serialized.get(name, 0) + 1
        return real(body)

    monkeypatch.setattr(models, "request_bytes", counting)
    monkeypatch.setattr(base_client, "request_bytes", counting)
    op = rig.operator()
    await op.runtime.refresh()

    result, _ = await rig.drive(op, link_request(account="acct-1"), rounds=3)

    assert result.status is not None
    assert result.status.ready
    assert serialized["Connection"] == 2  # one per side (4 when serialized twice)
    assert serialized["Feature"] == 8  # one per channel and side


async def test_equal_guidance_answers_share_one_build_of_their_views(
    rig: Rig, monkeypatch: Any
) -> None:
    # P8: guidance is per channel; an answer equal to the last one on the same
    # interconnect reuses its views (frozen) instead of parsing every subnet again.
    built: list[int] = []
    real = views_module.guidance_views

    def counting(answer: Any) -> Any:
        built.append(id(answer))
        return real(answer)

    monkeypatch.setattr(views_module, "guidance_views", counting)
    op = rig.operator()
    await op.runtime.refresh()
    homes: dict[str, int] = {}
    for name in ("a", "b", "c", "d"):
        result, request = await rig.drive(op, link_request(name, account=f"acct-{name}"), rounds=3)
        assert result.status is not None
        assert result.status.ready
        assert request.shared_uuid is not None
        home = op.reconciler._memory[request.shared_uuid].interconnect
        assert home is not None
        homes[home] = homes.get(home, 0) + 1
    # Some interconnect holds more than one link: theirs was built once per link before.
    assert max(homes.values()) > 1, homes
    # Ours once per interconnect (as before), theirs once per interconnect.
    assert len(built) == 2 * len(homes), (len(built), homes)


async def test_carried_follow_ups_keep_p5_and_p8_order_on_the_wire(rig: Rig) -> None:
    log: list[tuple[str, str, str]] = []
    op = rig.operator(wrap=lambda inner: CallLog(inner, log))
    await op.runtime.refresh()

    result, _ = await rig.drive(op, link_request(account="acct-1"), rounds=3)

    assert result.status is not None
    assert result.status.ready
    position = {entry: index for index, entry in enumerate(log)}
    local_conn = position["gcp.sim", "CreateConnection", ""]
    remote_conn = position["aws.sim", "CreateConnection", ""]
    guidance = position["aws.sim", "GenerateFeatureGuidance", ""]
    assert local_conn < remote_conn < guidance  # P5, then P8 on an existing connection
    feature_ids = sorted({detail for _, operation, detail in log if operation == "CreateFeature"})
    assert len(feature_ids) == 4
    for fid in feature_ids:
        # P5 per channel: the responder is asked only after ours was created.
        assert guidance < position["gcp.sim", "CreateFeature", fid]
        assert position["gcp.sim", "CreateFeature", fid] < position["aws.sim", "CreateFeature", fid]
    notifications = [i for i, (_, op_, _) in enumerate(log) if op_ == "NotifyConnectionStatus"]
    assert len(notifications) == 2
    assert min(notifications) > max(position[k] for k in position if k[1] == "CreateFeature")


class RefusedGuidance(httpx.AsyncBaseTransport):
    """The responder answers 400 to GenerateFeatureGuidance."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self._inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.host == "aws.sim" and request.url.path.endswith("/GenerateFeatureGuidance"):
            return httpx.Response(400, json={"code": 400, "message": "guidance withheld"})
        return await self._inner.handle_async_request(request)


async def test_a_refused_carried_guidance_is_held_as_a_refusal_of_guidance(rig: Rig) -> None:
    # P32: a 400 to the guidance the remote CreateConnection carried holds
    # RequestGuidance (not the connection's creation), and it is not asked again
    # until the spec or the provider's data changes.
    op = rig.operator(wrap=RefusedGuidance)
    await op.runtime.refresh()
    request = link_request(account="acct-1")

    result, request = await rig.drive(
        op, request, until=lambda r: any(e.reason == "ProviderRefused" for e in r.events)
    )

    uuid = request.shared_uuid
    assert uuid is not None
    assert result.status is not None
    assert "refused RequestGuidance" in result.status.message
    assert [e.reason for e in result.events] == ["ProviderRefused"]
    memory = op.reconciler._memory[uuid]
    assert [key.split(":")[0] for key in memory.refusals] == ["RequestGuidance"]
    neg, res = await rig.states()
    assert len(link_objects(neg, uuid)[0]) == len(link_objects(res, uuid)[0]) == 1
    again = await op.reconciler.reconcile(request)
    assert again.calls == 0  # held: not asked again on unchanged data


class FailedAtOnce(httpx.AsyncBaseTransport):
    """The negotiator answers every CreateFeature with the feature FAILED
    (feature-recovery draft): its provider gave up on it at once."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self._inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        if not (
            request.method == "POST"
            and request.url.host == "gcp.sim"
            and request.url.path.endswith("/features")
            and response.status_code == 200
        ):
            return response
        body = json.loads(await response.aread())
        body["provisioningState"] = "PROVISIONING_STATE_FAILED"
        return httpx.Response(200, json=body)


async def test_a_feature_failed_at_once_is_not_copied_to_the_responder(rig: Rig) -> None:
    # The failure rules come before the copy in the decision table: a local half
    # the provider reports FAILED in its answer is not mirrored (P5 carried only
    # where the next decision would have asked for it).
    op = rig.operator(wrap=FailedAtOnce)
    await op.runtime.refresh()
    await rig.aws.reset_stats()
    request = link_request(account="acct-1")
    first = await op.reconciler.reconcile(request)
    assert first.persist_uuid is not None
    request = replace(request, shared_uuid=first.persist_uuid)

    result = await op.reconciler.reconcile(request)

    assert result.status is not None
    assert not result.status.ready
    assert "FAILED" in result.status.message
    created = calls_by_operation(await rig.aws.stats())
    assert created["CreateConnection"] == 1
    assert created["CreateFeature"] == 0
