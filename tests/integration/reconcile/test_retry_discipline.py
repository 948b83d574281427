"""Retry discipline per link against a misbehaving peer (P6, P10, P17, P32-P33).

Each scenario plays the controller for a span of (fake) time: reconcile,
wait the ``requeue_after`` the result asks for, refresh the pool, again. The
simulators' own statistics count what reached them.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from interconnect_operator.api.retry import RetryPolicy
from interconnect_operator.protocol.conditions import LinkConditionType
from interconnect_operator.protocol.link_state import Phase
from interconnect_operator.protocol.retry_discipline import CALL_BUDGET
from interconnect_operator.protocol.types import Side
from interconnect_operator.reconcile.link import LinkRequest, LinkResult
from tests.integration.reconcile.conftest import (
    Operator,
    Rig,
    calls_by_operation,
    link_request,
)


async def _faults(rig: Rig, provider: str, operations: dict[str, Any]) -> None:
    handle = rig.aws if provider == "aws" else rig.gcp
    response = await handle.admin.post("/admin/faults", json={"operations": operations, "seed": 3})
    assert response.status_code == 200, response.text


async def _play(
    rig: Rig, op: Operator, request: LinkRequest, seconds: float
) -> tuple[list[LinkResult], LinkRequest]:
    """The controller for ``seconds``: every reconcile at its requested time."""
    end = rig.clock.now + seconds
    results: list[LinkResult] = []
    while rig.clock.now < end:
        result = await op.reconciler.reconcile(request)
        results.append(result)
        if result.persist_uuid is not None:
            request = replace(request, shared_uuid=result.persist_uuid)
            continue
        if result.status is not None and result.status.interconnect:
            request = replace(request, interconnect=result.status.interconnect)
        if result.status is not None and result.status.ready:
            request = replace(request, ever_ready=True)
        assert result.requeue_after is not None
        rig.clock.advance(max(result.requeue_after, 0.001))
        await op.runtime.refresh()
    return results, request


async def _play_until_ready(
    rig: Rig, op: Operator, request: LinkRequest, seconds: float
) -> tuple[list[LinkResult], LinkRequest]:
    """``_play`` that stops at the first Ready result."""
    end = rig.clock.now + seconds
    results: list[LinkResult] = []
    while rig.clock.now < end:
        played, request = await _play(rig, op, request, 0.0005)
        results.extend(played)
        last = played[-1]
        if last.status is not None and last.status.ready:
            break
    return results, request


def _condition(result: LinkResult, type_: str) -> tuple[str, str, str]:
    assert result.status is not None
    cond = result.status.condition(type_)
    return str(cond.status), cond.reason, cond.message


async def test_persistent_409_on_create_feature_is_bounded_and_backs_off(rig: Rig) -> None:
    await _faults(rig, "aws", {"CreateFeature": {"conflict_rate": 1.0}})
    op = rig.operator()

    results, request = await _play(rig, op, link_request(account="acct-1"), 60.0)

    creates = calls_by_operation(await rig.aws.stats(), await rig.gcp.stats())["CreateFeature"]
    # Before: 3,068 CreateFeature calls in 60 s for this one link.
    assert creates <= 100, creates
    assert all(r.calls <= CALL_BUDGET for r in results)
    last = results[-1]
    assert last.status is not None
    assert last.status.phase is Phase.NEGOTIATING
    assert _condition(last, LinkConditionType.READY)[1] == "Conflict"
    # Backoff grows: the later waits are longer than the first.
    waits = [r.requeue_after or 0 for r in results if r.calls > 0]
    assert max(waits[-3:]) > min(waits[:2])
    # P10: what conflicted is not proposed again (each retry a new VLAN on ch1).
    neg = await rig.gcp.stats()
    assert neg["byOperation"]["DeleteFeature"]["total"] > 0

    # The peer recovers: the link comes up without help.
    await _faults(rig, "aws", {})
    done, _ = await rig.drive(op, request, rounds=12)
    assert done.status is not None
    assert done.status.ready


async def test_retry_after_is_honoured_as_a_minimum(rig: Rig) -> None:
    await _faults(rig, "aws", {"CreateConnection": {"throttle_rate": 1.0, "retry_after": 120}})
    op = rig.operator()
    request = link_request(account="acct-1")

    throttled = await op.reconciler.reconcile(request)
    assert throttled.persist_uuid is not None  # P1: the key's UUID is written ahead
    request = replace(request, shared_uuid=throttled.persist_uuid)
    throttled = await op.reconciler.reconcile(request)
    assert throttled.requeue_after is not None
    assert throttled.requeue_after >= 120
    sent = calls_by_operation(await rig.aws.stats())["CreateConnection"]
    assert sent >= 1

    # Called again early (a watch event, a pool wake-up): nothing is sent.
    rig.clock.advance(60)
    early = await op.reconciler.reconcile(request)
    assert early.calls == 0
    assert calls_by_operation(await rig.aws.stats())["CreateConnection"] == sent
    assert early.requeue_after is not None
    assert 59 <= early.requeue_after <= 61
    # Even a spec change does not shorten a provider's Retry-After.
    bumped = replace(request, spec=replace(request.spec, generation=2))
    assert (await op.reconciler.reconcile(bumped)).calls == 0

    await _faults(rig, "aws", {})
    rig.clock.advance(61)
    await op.runtime.refresh()
    done, _ = await rig.drive(op, request, rounds=6)
    assert done.status is not None
    assert done.status.ready


async def test_400_on_update_is_terminal_until_the_spec_changes(rig: Rig) -> None:
    op = rig.operator()
    ready, request = await rig.drive(op, link_request(account="acct-1"))
    assert ready.status is not None
    await rig.aws.reset_stats()

    # 1500 Mbps is no size the environment sells: the provider answers 400 (P16, P32).
    unsupported = replace(request, spec=replace(request.spec, bandwidth_mbps=1500, generation=2))
    results, _ = await _play(rig, op, unsupported, 3600.0)

    updates = calls_by_operation(await rig.aws.stats(), await rig.gcp.stats())["UpdateConnection"]
    assert updates == 1  # before: one every 5 s, forever
    stalled = _condition(results[-1], LinkConditionType.STALLED)
    assert stalled[:2] == ("True", "ProviderRefused")
    assert "gcp (negotiator)" in stalled[2]  # P16: the local provider is asked first
    assert "not a supported size" in stalled[2]
    ready_cond = _condition(results[-1], LinkConditionType.READY)
    assert ready_cond[:2] == ("False", "ProviderRefused")
    refusals = [e for r in results for e in r.events if e.reason == "ProviderRefused"]
    assert len(refusals) == 1
    assert len(results) < 30  # the refusal is re-checked slowly, without calls

    # A new spec lifts the refusal at once.
    fixed = replace(request, spec=replace(request.spec, bandwidth_mbps=2000, generation=3))
    done, _ = await rig.drive(op, fixed, rounds=8)
    assert done.status is not None
    assert done.status.ready
    neg, res = await rig.states()
    assert {c["bandwidthMbps"] for c in neg["connections"] + res["connections"]} == {2000}


async def test_provider_errors_back_off_with_growing_jittered_delays(rig: Rig) -> None:
    await _faults(rig, "aws", {"ConfirmActivationKey": {"error_rate": 1.0}})
    op = rig.operator()
    # The client's own retries (P33, real time) are not what this test is about.
    for side in Side:
        op.runtime.client(side).retry = RetryPolicy(max_attempts=1)

    results, _ = await _play(rig, op, link_request(account="acct-1"), 600.0)

    waits = [r.requeue_after or 0 for r in results if r.calls > 0 and r.persist_uuid is None]
    assert all(w >= 1.0 for w in waits)
    # Before: a fixed 5 s (120 reconciles in 10 minutes, in lockstep with every link).
    assert len(waits) < 40, len(waits)
    assert _condition(results[-1], LinkConditionType.READY)[1] == "ProviderError"


async def test_p16_p17_update_local_first_peer_busy_waited_out_then_notified(rig: Rig) -> None:
    op = rig.operator()
    ready, request = await rig.drive(op, link_request(account="acct-1"))
    assert ready.status is not None
    await _faults(rig, "aws", {"UpdateConnection": {"conflict_rate": 1.0}})
    for handle in (rig.aws, rig.gcp):
        await handle.reset_stats()
    grown = replace(request, spec=replace(request.spec, bandwidth_mbps=2000, generation=2))

    results, grown = await _play(rig, op, grown, 600.0)

    # P16: the local provider took the change first; the busy peer (P17, 409) is
    # asked again after growing waits, not every few seconds.
    local = calls_by_operation(await rig.gcp.stats())["UpdateConnection"]
    peer = calls_by_operation(await rig.aws.stats())["UpdateConnection"]
    assert local == 1
    assert 2 <= peer <= 6, peer
    last = results[-1]
    assert last.status is not None
    assert last.status.phase is Phase.UPDATING
    assert "P17" in last.status.message

    await _faults(rig, "aws", {})
    done, _ = await rig.drive(op, grown, rounds=4, advance=300)
    assert done.status is not None
    assert done.status.ready
    neg, res = await rig.states()
    assert {c["bandwidthMbps"] for c in neg["connections"] + res["connections"]} == {2000}
    # P16 "notify when done": both sides, although both stayed VERIFIED.
    notified = calls_by_operation(await rig.aws.stats(), await rig.gcp.stats())
    assert notified["NotifyConnectionStatus"] == 2


async def test_random_409s_on_create_feature_do_not_push_bring_up_to_minutes(rig: Rig) -> None:
    """A reconcile that added features before a 409 made progress: the backoff
    starts over, so scattered VLAN races cost seconds, not a growing backoff.

    Seeded faults and jitter: without the restart this run takes 56 s of
    (fake) time to Ready with waits up to 23 s; with it 16 s, waits under 6 s.
    """
    await _faults(rig, "aws", {"CreateFeature": {"conflict_rate": 0.7}})
    op = rig.operator()

    results, _ = await _play_until_ready(rig, op, link_request(account="acct-1"), 600.0)

    assert results[-1].status is not None
    assert results[-1].status.ready
    conflicted = [
        r
        for r in results
        if r.status is not None and _condition(r, LinkConditionType.READY)[1] == "Conflict"
    ]
    assert len(conflicted) >= 4, "the scenario must conflict again and again"
    to_ready = sum(r.requeue_after or 0 for r in results[:-1])
    assert to_ready <= 30, [r.requeue_after for r in results]
    assert max(r.requeue_after or 0 for r in conflicted) < 8
