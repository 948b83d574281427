"""Routing guardrails: spec.bgp.maxPrefixes against each provider's maxReceivedBgpRoutePrefixes.

The simulators' default guidance accepts 100 prefixes on each side.
"""

from __future__ import annotations

from interconnect_operator.k8s.status import link_status_body
from interconnect_operator.protocol.types import Side
from tests.integration.reconcile.conftest import Rig, link_request


async def test_a_provider_limit_below_the_request_is_a_clear_condition(rig: Rig) -> None:
    op = rig.operator()

    ready, request = await rig.drive(op, link_request(account="acct-1", max_prefixes=500))

    assert ready.status is not None
    assert ready.status.ready  # advisory: the link still comes up
    cond = ready.status.condition("WithinPrefixLimits")
    assert (cond.status.value, cond.reason) == ("False", "ProviderLimitBelowRequest")
    assert "spec.bgp.maxPrefixes is 500" in cond.message
    assert "negotiator accepts at most 100, responder accepts at most 100" in cond.message
    assert ready.status.prefix_limits == {Side.NEGOTIATOR: 100, Side.RESPONDER: 100}
    body = link_status_body(
        ready.status,
        old_status=None,
        generation=1,
        providers=op.runtime.config.providers,
        shared_uuid=request.shared_uuid,
        environment=ready.environment,
        created_at=None,
        now=rig.clock.datetime(),
    )
    assert body["routing"] == {
        "maxPrefixes": 500,
        "providerLimits": [
            {"provider": "gcp", "maxReceivedPrefixes": 100},
            {"provider": "aws", "maxReceivedPrefixes": 100},
        ],
    }


async def test_a_request_within_the_limits_and_no_request(rig: Rig) -> None:
    op = rig.operator()
    within, _ = await rig.drive(op, link_request("small", account="acct-1", max_prefixes=100))
    plain, _ = await rig.drive(op, link_request("plain", account="acct-2"))

    assert within.status is not None
    assert plain.status is not None
    cond = within.status.condition("WithinPrefixLimits")
    assert (cond.status.value, cond.reason) == ("True", "WithinLimits")
    cond = plain.status.condition("WithinPrefixLimits")
    assert (cond.status.value, cond.reason) == ("True", "NotRequested")
    assert "negotiator 100, responder 100" in cond.message


async def test_the_limits_survive_a_restart_through_the_status(rig: Rig) -> None:
    op = rig.operator()
    _, request = await rig.drive(op, link_request(account="acct-1", max_prefixes=500))
    assert request.prefix_limits == {Side.NEGOTIATOR: 100, Side.RESPONDER: 100}

    fresh = rig.operator()  # empty memory: no guidance read
    again = await fresh.reconciler.reconcile(request)

    assert again.status is not None
    assert again.status.ready
    assert again.calls == 0
    assert again.status.prefix_limits == {Side.NEGOTIATOR: 100, Side.RESPONDER: 100}
    assert again.status.condition("WithinPrefixLimits").reason == "ProviderLimitBelowRequest"


async def test_a_ready_link_keeps_its_limits_but_not_the_guidance_or_views_they_came_from(
    rig: Rig,
) -> None:
    # A Ready link's memory holds the limits read from guidance, never the answer
    # itself (a few KiB per link: both sides' channels, ranges and subnets).
    op = rig.operator()
    ready, request = await rig.drive(op, link_request(account="acct-1", max_prefixes=500))
    assert ready.status is not None
    assert ready.status.ready
    assert request.shared_uuid is not None

    memory = op.reconciler._memory[request.shared_uuid]
    assert memory.prefix_limits == {Side.NEGOTIATOR: 100, Side.RESPONDER: 100}
    assert memory.guidance == {}
    assert memory.guidance_seen == {}
    assert memory.prefix_basis is None
    # Nor does the snapshot keep the views its decisions read (built again on demand).
    snapshot = op.runtime.snapshot
    assert snapshot is not None
    assert request.shared_uuid not in snapshot._observations

    again = await op.reconciler.reconcile(request)
    assert again.status is not None
    assert again.status.prefix_limits == {Side.NEGOTIATOR: 100, Side.RESPONDER: 100}
    assert again.status.condition("WithinPrefixLimits").reason == "ProviderLimitBelowRequest"
