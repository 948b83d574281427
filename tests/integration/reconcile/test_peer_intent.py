"""Peer intent (P19 from a provider's side): a connection that existed and is gone.

The customer cancels at a provider, which deletes its connection (and tells
its peer, which deletes too). The operator must report it, never re-create
under the consumed key or shared UUID, and start over with a fresh key only
when the user opted in on a destination-account link.
"""

from __future__ import annotations

from dataclasses import replace

from interconnect_operator.api import activation_key
from interconnect_operator.protocol.conditions import LinkConditionType
from interconnect_operator.protocol.link_state import Phase
from interconnect_operator.protocol.types import PeerDeletionPolicy, Side
from interconnect_operator.reconcile.link import LinkRequest
from tests.integration.reconcile.conftest import (
    Operator,
    Rig,
    SimHandle,
    calls_by_operation,
    is_phase,
    link_objects,
    link_request,
)


async def _cancel_at(handle: SimHandle, interconnect: str, uuid: str) -> None:
    """The provider deletes the connection on its customer's word."""
    response = await handle.as_peer("DELETE", f"/interconnects/{interconnect}/connections/{uuid}")
    assert response.status_code == 200, response.text


async def _ready(rig: Rig, op: Operator, request: LinkRequest) -> tuple[LinkRequest, str, str]:
    """Bring the link to Ready: the request, its shared UUID and interconnect."""
    ready, request = await rig.drive(op, request)
    assert ready.status is not None
    assert ready.status.interconnect is not None
    assert request.shared_uuid is not None
    return request, request.shared_uuid, ready.status.interconnect


async def _creations(rig: Rig) -> int:
    return calls_by_operation(await rig.aws.stats(), await rig.gcp.stats())["CreateConnection"]


async def test_deletion_at_both_providers_is_reported_and_never_undone(rig: Rig) -> None:
    op = rig.operator()
    request, uuid, ix = await _ready(rig, op, link_request(account="acct-1"))
    await _cancel_at(rig.aws, ix, uuid)
    await _cancel_at(rig.gcp, ix, uuid)
    await op.runtime.refresh()
    before = await _creations(rig)

    failed, request = await rig.drive(op, request, until=is_phase(Phase.FAILED), rounds=2)

    assert failed.status is not None
    ready_cond = failed.status.condition(LinkConditionType.READY)
    assert (ready_cond.status, ready_cond.reason) == ("False", "DeletedByBothProviders")
    assert "aws (responder)" in ready_cond.message
    assert "gcp (negotiator)" in ready_cond.message
    reasons = [e.reason for _, e in rig.events]
    assert "DeletedByResponder" in reasons
    assert "DeletedByNegotiator" in reasons
    # Later reconciles (an hour of them) create nothing under the consumed key.
    for _ in range(6):
        rig.clock.advance(600)
        await op.runtime.refresh()
        again = await op.reconciler.reconcile(replace(request, failure=failed.status.failure))
        assert again.status is not None
        assert again.status.phase is Phase.FAILED
    assert await _creations(rig) == before
    for state in await rig.states():
        assert link_objects(state, uuid) == ([], [])


async def test_deletion_at_the_responder_names_it_and_leftovers_go_with_the_link(
    rig: Rig,
) -> None:
    op = rig.operator()
    request, uuid, ix = await _ready(rig, op, link_request(account="acct-1"))
    await _cancel_at(rig.aws, ix, uuid)
    await op.runtime.refresh()

    failed, request = await rig.drive(op, request, until=is_phase(Phase.FAILED), rounds=2)

    assert failed.status is not None
    ready_cond = failed.status.condition(LinkConditionType.READY)
    assert ready_cond.reason == "DeletedByResponder"
    assert "aws (responder) on ix" in ready_cond.message
    assert failed.status.condition(LinkConditionType.STALLED).is_true
    neg, _ = await rig.states()
    assert len(link_objects(neg, uuid)[0]) == 1  # reported, not touched

    deleted, _ = await rig.drive(
        op, replace(request, deleting=True), until=lambda r: r.finalized, rounds=3
    )
    assert deleted.finalized
    for state in await rig.states():
        assert link_objects(state, uuid) == ([], [])


async def test_a_restarted_operator_still_sees_the_deletion_from_status(rig: Rig) -> None:
    op = rig.operator()
    request, uuid, ix = await _ready(rig, op, link_request(account="acct-1"))
    await _cancel_at(rig.aws, ix, uuid)
    before = await _creations(rig)

    # A fresh process: no memory, only what the status recorded (both sides held it).
    fresh = rig.operator()
    await fresh.runtime.refresh()
    restarted = replace(request, existed_on={Side.NEGOTIATOR: ix, Side.RESPONDER: ix})
    failed, _ = await rig.drive(fresh, restarted, until=is_phase(Phase.FAILED), rounds=2)

    assert failed.status is not None
    assert failed.status.condition(LinkConditionType.READY).reason == "DeletedByResponder"
    assert await _creations(rig) == before
    stats = calls_by_operation(await rig.aws.stats())
    # no key confirmation was even attempted with the consumed key
    assert stats["ConfirmActivationKey"] == 1


async def test_opted_in_destination_account_link_starts_over_with_a_fresh_key(rig: Rig) -> None:
    op = rig.operator()
    request = link_request(account="acct-1", on_peer_deletion=PeerDeletionPolicy.RECREATE)
    request, old, ix = await _ready(rig, op, request)
    await _cancel_at(rig.aws, ix, old)
    await op.runtime.refresh()

    again, request = await rig.drive(op, request, rounds=10)

    assert again.status is not None
    assert again.status.ready
    new = request.shared_uuid
    assert new is not None
    assert new != old
    for state in await rig.states():
        # the consumed UUID is gone everywhere (the leftover was deleted), never reused
        assert link_objects(state, old) == ([], [])
        assert len(link_objects(state, new)[0]) == 1
    _, res = await rig.states()
    assert sorted(k["state"] for k in res["activationKeys"]) == ["invalidated", "placed"]
    assert "DeletedByResponder" in [e.reason for _, e in rig.events]


async def test_activation_key_links_are_never_recreated_automatically(rig: Rig) -> None:
    issued = await rig.aws.issue_key()
    op = rig.operator()
    request = link_request(key=issued["encodedKey"], on_peer_deletion=PeerDeletionPolicy.RECREATE)
    request, uuid, ix = await _ready(rig, op, request)
    assert uuid == activation_key.decode(issued["encodedKey"]).shared_connection_uuid
    await _cancel_at(rig.aws, ix, uuid)
    await op.runtime.refresh()
    before = await _creations(rig)

    failed, _ = await rig.drive(op, request, until=is_phase(Phase.FAILED), rounds=3)

    assert failed.status is not None
    assert failed.status.condition(LinkConditionType.READY).reason == "DeletedByResponder"
    assert await _creations(rig) == before
    _, res = await rig.states()
    assert [k["state"] for k in res["activationKeys"]] == ["invalidated"]
