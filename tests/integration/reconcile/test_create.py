"""Bring-up of a link against two simulators (P1-P14) and the cost of observing it."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import httpx

from interconnect_operator import redaction
from interconnect_operator.protocol import link_state
from interconnect_operator.protocol.link_state import LinkStatus, Phase
from interconnect_operator.protocol.types import Side
from tests.integration.reconcile.conftest import (
    MUTATING,
    Rig,
    assert_ready_on_both,
    calls_by_operation,
    is_phase,
    link_objects,
    link_request,
)

#: The protocol minimum to bring one link up (README.md, Architecture: bulk reads):
#: ConfirmActivationKey, CreateConnection x2, GenerateFeatureGuidance at the
#: responder, CreateFeature x8, NotifyConnectionStatus x2, plus the
#: negotiator's own guidance once per interconnect.
CALLS_PER_LINK_MAX = 15


def _status_matches_providers(result_status: LinkStatus, state: dict[str, Any], uuid: str) -> None:
    """The status shows what the provider holds, channel by channel."""
    _, features = link_objects(state, uuid)
    by_channel = {f["channel"]: f for f in features}
    assert {c.channel for c in result_status.channels} == set(by_channel)
    for channel in result_status.channels:
        wire = by_channel[channel.channel]
        assert channel.vlan == wire["vlanId"]
        assert str(channel.ipv4_subnet) == wire["ipv4Subnet"]
        assert channel.mtu == wire["mtuBytes"]
        assert set(channel.provisioning) == {Side.NEGOTIATOR, Side.RESPONDER}


async def test_p1_p14_destination_account_link_becomes_ready(rig: Rig) -> None:
    op = rig.operator()
    await op.runtime.refresh()
    await rig.aws.reset_stats()
    await rig.gcp.reset_stats()

    result, request = await rig.drive(op, link_request(account="acct-1"), rounds=3)

    assert result.status is not None
    assert result.status.phase is Phase.READY
    uuid = request.shared_uuid
    assert uuid is not None
    assert result.shared_uuid == uuid
    interconnect = result.status.interconnect
    assert interconnect in ("ix1", "ix2")
    neg, res = await rig.states()
    assert_ready_on_both(neg, res, uuid, bandwidth=1000, interconnect=interconnect)
    _status_matches_providers(result.status, neg, uuid)
    # The key the operator obtained is held for redaction, as its own (everywhere).
    issued = op.reconciler._memory[uuid].key
    assert issued is not None
    assert redaction.redact(issued.reveal(), "any-namespace") == redaction.MASK
    # P1: the responder issued the key; CreateConnection consumed it.
    assert [k["state"] for k in res["activationKeys"] if k["sharedConnectionUuid"] == uuid] == [
        "placed"
    ]

    calls = calls_by_operation(await rig.gcp.stats(), await rig.aws.stats())
    spec_calls = sum(calls[op_id] for op_id in MUTATING)
    assert spec_calls <= CALLS_PER_LINK_MAX, calls
    assert calls["CreateConnection"] == 2
    assert calls["CreateFeature"] == 8
    assert calls["NotifyConnectionStatus"] == 2
    assert calls["ConfirmActivationKey"] == 1
    # Everything else came from the one bulk refresh before the link: no per-link reads.
    assert calls["GetConnection"] == calls["GetFeature"] == calls["ListFeatures"] == 0


async def test_p2_p3_activation_key_link_becomes_ready_after_write_ahead(rig: Rig) -> None:
    issued = await rig.aws.issue_key(bandwidth=2000, account="acct-7")
    op = rig.operator()
    request = link_request(bandwidth=2000, key=issued["encodedKey"])

    # Write-ahead first: no provider object before the UUID is recorded.
    ahead = await op.reconciler.reconcile(request)
    assert ahead.persist_uuid == issued["sharedConnectionUuid"]
    assert ahead.requeue_after == 0.0
    assert ahead.calls == 0
    uuid = issued["sharedConnectionUuid"]
    assert all(link_objects(s, uuid) == ([], []) for s in await rig.states())

    result, request = await rig.drive(op, request, rounds=2)

    assert result.shared_uuid == uuid
    assert result.status is not None
    assert result.status.ready
    assert result.status.condition("KeyConfirmed").is_true
    neg, res = await rig.states()
    assert_ready_on_both(
        neg, res, uuid, bandwidth=2000, interconnect=result.status.interconnect or ""
    )
    providers = {p.side: p for p in result.status.providers}
    assert providers[Side.NEGOTIATOR].bandwidth_mbps == 2000
    assert providers[Side.RESPONDER].bandwidth_mbps == 2000
    assert result.calls <= CALLS_PER_LINK_MAX
    # The next bulk refresh confirms the inferred verification (P14).
    await op.runtime.refresh()
    again = await op.reconciler.reconcile(request)
    assert again.status is not None
    assert again.status.ready
    assert again.calls == 0


async def test_bulk_refresh_lists_features_once_per_interconnect(rig: Rig) -> None:
    op = rig.operator()
    interconnects = set()
    for n in range(4):
        result, _ = await rig.drive(op, link_request(f"link-{n}", account=f"acct-{n}"), rounds=3)
        assert result.status is not None
        interconnects.add(result.status.interconnect)
    # Per link: the customer key request and the 14 calls of the protocol
    # minimum; the negotiator's own guidance once per interconnect on top.
    assert all(rig.calls[f"link-{n}"] in (15, 16) for n in range(4)), rig.calls
    assert sum(rig.calls.values()) == 4 * 15 + len(interconnects)
    await rig.gcp.reset_stats()
    await rig.aws.reset_stats()

    snapshot = await op.runtime.refresh()

    for handle in (rig.gcp, rig.aws):
        calls = calls_by_operation(await handle.stats())
        # AIP-159 wildcard: one ListFeatures per interconnect, whatever the link count.
        assert calls["ListFeatures"] == 2, calls
        assert calls["ListConnections"] == 2, calls
    linked = {
        uuid for by_id in snapshot.negotiator.features.values() for uuid in by_id if by_id[uuid]
    }
    assert len(linked) == 4


async def test_p13_link_waits_in_provisioning_then_notifies(
    make_rig: Callable[..., Rig],
) -> None:
    rig = make_rig(provisioning_delay=120.0)
    issued = await rig.aws.issue_key()
    op = rig.operator()
    request = link_request(key=issued["encodedKey"], persisted=True)

    result = await op.reconciler.reconcile(request)

    assert result.status is not None
    assert result.status.phase is Phase.PROVISIONING
    assert result.requeue_after is not None
    assert result.requeue_after > 0
    uuid = issued["sharedConnectionUuid"]
    neg, res = await rig.states()
    for state in (neg, res):
        connections, features = link_objects(state, uuid)
        assert connections[0]["verificationState"] == "VERIFICATION_STATE_UNVERIFIED"
        assert {f["provisioningState"] for f in features} == {"PROVISIONING_STATE_PENDING"}
    # P14: nothing to notify while the features are PENDING.
    assert (
        calls_by_operation(await rig.gcp.stats(), await rig.aws.stats())["NotifyConnectionStatus"]
        == 0
    )

    rig.clock.advance(121.0)
    await op.runtime.refresh()
    result, _ = await rig.drive(op, request, rounds=2, until=is_phase(Phase.READY))

    assert result.status is not None
    neg, res = await rig.states()
    assert_ready_on_both(
        neg, res, uuid, bandwidth=1000, interconnect=result.status.interconnect or ""
    )
    assert (
        calls_by_operation(await rig.gcp.stats(), await rig.aws.stats())["NotifyConnectionStatus"]
        == 2
    )


async def test_p9_p10_concurrent_links_share_channels_without_conflicts(rig: Rig) -> None:
    op = rig.operator()
    await op.runtime.refresh()
    await rig.gcp.reset_stats()
    await rig.aws.reset_stats()

    results = await asyncio.gather(
        *(rig.drive(op, link_request(f"link-{n}", account=f"acct-{n}")) for n in range(6))
    )

    neg, res = await rig.states()
    for result, request in results:
        assert result.status is not None
        assert request.shared_uuid is not None
        assert_ready_on_both(
            neg,
            res,
            request.shared_uuid,
            bandwidth=1000,
            interconnect=result.status.interconnect or "",
        )
    # P9: no VLAN or subnet is used twice on a channel, on either provider.
    for state in (neg, res):
        per_channel = [(f["interconnect"], f["channel"], f["vlanId"]) for f in state["features"]]
        assert len(per_channel) == len(set(per_channel)) == 24
    # The reconciler's own reservations kept every proposal acceptable (no 409 retries).
    calls = calls_by_operation(await rig.gcp.stats(), await rig.aws.stats())
    assert calls["CreateFeature"] == 6 * 8


async def test_p10_refused_features_restart_from_fresh_guidance(rig: Rig) -> None:
    # The responder answers 409 to a share of the proposals (P10: something
    # else took that space meanwhile); seeded, so the test is deterministic.
    response = await rig.aws.admin.post(
        "/admin/faults",
        json={"operations": {"CreateFeature": {"conflict_rate": 0.4}}, "seed": 7},
    )
    assert response.status_code == 200, response.text
    op = rig.operator()

    result, request = await rig.drive(op, link_request(account="acct-1"), rounds=6)

    assert request.shared_uuid is not None
    assert result.status is not None
    refused = (await rig.aws.stats())["byOperation"]["CreateFeature"]["byStatus"].get("409", 0)
    assert refused > 0
    neg, res = await rig.states()
    assert_ready_on_both(
        neg, res, request.shared_uuid, bandwidth=1000, interconnect=result.status.interconnect or ""
    )
    # The refused local halves were deleted (P10) before the channel was proposed again.
    calls = calls_by_operation(await rig.gcp.stats())
    assert calls["DeleteFeature"] == refused


async def test_a_bring_up_builds_one_status_per_reconcile_not_one_per_decision(
    rig: Rig, monkeypatch: Any
) -> None:
    # The decide/act loop decides after every step; only the decision a reconcile
    # ends on is shown, so only its status is built (Decision.status is lazy).
    decide_mod = sys.modules["interconnect_operator.protocol.link_state.decide"]
    decisions = builds = 0
    real_decide, real_status = link_state.decide, decide_mod.link_status

    def counting_decide(*args: Any, **kwargs: Any) -> Any:
        nonlocal decisions
        decisions += 1
        return real_decide(*args, **kwargs)

    def counting_status(*args: Any, **kwargs: Any) -> LinkStatus:
        nonlocal builds
        builds += 1
        return real_status(*args, **kwargs)

    monkeypatch.setattr(decide_mod, "link_status", counting_status)
    monkeypatch.setattr(link_state, "decide", counting_decide)
    op = rig.operator()
    await op.runtime.refresh()
    reconciles = 0
    real_reconcile = op.reconciler.reconcile

    async def counting_reconcile(request: Any) -> Any:
        nonlocal reconciles
        reconciles += 1
        return await real_reconcile(request)

    monkeypatch.setattr(op.reconciler, "reconcile", counting_reconcile)
    result, _ = await rig.drive(op, link_request(account="acct-1"), rounds=3)
    assert result.status is not None
    assert result.status.ready
    assert decisions >= 6  # key, connections, guidance, features, notifications, settled
    assert builds <= reconciles < decisions


class _HeldReads(httpx.AsyncBaseTransport):
    """Holds the answers of GETs (a bulk read) while ``hold`` is set, until released."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self._inner = inner
        self.hold = False
        self.release = asyncio.Event()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        if self.hold and request.method == "GET":
            await response.aread()
            await self.release.wait()
        return response


async def test_notifications_answered_during_a_bulk_read_are_not_sent_again(rig: Rig) -> None:
    # P14/P15: a read in flight listed the peers before they took the notifications.
    # Its snapshot must neither make them look discarded (sent again: a repeated
    # decision, NoProgress) nor lose the verification they let the link infer.
    held: list[_HeldReads] = []

    def wrap(inner: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
        held.append(_HeldReads(inner))
        return held[-1]

    op = rig.operator(wrap=wrap)
    await op.runtime.refresh()
    request = link_request(account="acct-1")
    ahead = await op.reconciler.reconcile(request)
    assert ahead.persist_uuid is not None
    request = replace(request, shared_uuid=ahead.persist_uuid)
    for transport in held:
        transport.hold = True
    reading = asyncio.create_task(op.runtime.refresh())
    while not op.runtime.reading:
        await asyncio.sleep(0)
    first = await asyncio.wait_for(op.reconciler.reconcile(request), 10)
    assert first.status is not None
    assert first.status.ready
    for transport in held:
        transport.hold = False
        transport.release.set()
    await reading  # installs a snapshot listed before the link's calls
    await rig.aws.reset_stats()
    await rig.gcp.reset_stats()
    again = await op.reconciler.reconcile(request)
    assert again.status is not None
    assert again.status.ready
    assert again.calls == 0
    calls = calls_by_operation(await rig.gcp.stats(), await rig.aws.stats())
    assert calls["NotifyConnectionStatus"] == 0
