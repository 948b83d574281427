"""Refused keys (P2-P3): the link fails and nothing is left on either provider."""

from __future__ import annotations

import uuid as uuid_module
from dataclasses import replace

from interconnect_operator.api import activation_key
from interconnect_operator.api.models import ActivationKey
from interconnect_operator.protocol.link_state import Phase
from interconnect_operator.protocol.types import DeletionPolicy, Secret
from tests.integration.reconcile.conftest import (
    ENV,
    Rig,
    calls_by_operation,
    is_phase,
    link_objects,
    link_request,
)


async def _nothing_left(rig: Rig, uuid: str) -> None:
    for state in await rig.states():
        assert link_objects(state, uuid) == ([], [])
        assert all(ix["allocatedMbps"] == 0 for ix in state["interconnects"])


async def test_p3_unknown_key_fails_key_refused_and_leaves_nothing(rig: Rig) -> None:
    forged = activation_key.encode(
        ActivationKey(
            version=activation_key.CURRENT_VERSION,
            destination_environment_uri=f"providers/gcp/environments/{ENV}",
            shared_connection_uuid=str(uuid_module.uuid4()),
            connection_size_mbps=1000,
            destination_account_id="acct-1",
        )
    )
    op = rig.operator()

    result, _ = await rig.drive(op, link_request(key=forged), until=is_phase(Phase.FAILED))

    assert result.status is not None
    assert result.status.failure is not None
    assert result.status.failure.reason == "KeyRefused"
    assert result.status.condition("Stalled").is_true
    assert result.requeue_after is None
    assert any(e.reason == "KeyRefused" for e in result.events)
    await _nothing_left(rig, activation_key.decode(forged).shared_connection_uuid)
    calls = calls_by_operation(await rig.gcp.stats(), await rig.aws.stats())
    assert calls["CreateConnection"] == 0


async def test_p3_reused_key_of_a_deleted_link_is_refused(rig: Rig) -> None:
    issued = await rig.aws.issue_key()
    uuid = issued["sharedConnectionUuid"]
    op = rig.operator()
    first, request = await rig.drive(op, link_request("first", key=issued["encodedKey"]))
    assert first.status is not None
    assert first.status.ready
    await rig.drive(op, replace(request, deleting=True), until=lambda r: r.finalized)
    # P19 invalidated the key: a second link (another operator) cannot use it again.
    other = rig.operator()

    result, _ = await rig.drive(
        other, link_request("second", key=issued["encodedKey"]), until=is_phase(Phase.FAILED)
    )

    assert result.status is not None
    assert result.status.failure is not None
    assert result.status.failure.reason == "KeyRefused"
    await _nothing_left(rig, uuid)


async def test_p2_size_mismatch_fails_before_any_provider_call(rig: Rig) -> None:
    issued = await rig.aws.issue_key(bandwidth=1000)
    op = rig.operator()

    result = await op.reconciler.reconcile(link_request(bandwidth=2000, key=issued["encodedKey"]))

    assert result.status is not None
    assert result.status.phase is Phase.FAILED
    assert result.status.failure is not None
    assert result.status.failure.reason == "KeySizeMismatch"
    assert "P2" in result.status.message
    await _nothing_left(rig, issued["sharedConnectionUuid"])
    calls = calls_by_operation(await rig.gcp.stats(), await rig.aws.stats())
    assert calls["ConfirmActivationKey"] == calls["CreateConnection"] == 0
    # The key is still good for a link of the right size.
    fixed, _ = await rig.drive(op, link_request(bandwidth=1000, key=issued["encodedKey"]))
    assert fixed.status is not None
    assert fixed.status.ready


async def test_p2_deleting_a_failed_link_touches_nothing(rig: Rig) -> None:
    issued = await rig.aws.issue_key(bandwidth=1000)
    op = rig.operator()
    request = link_request(
        bandwidth=5000, key=issued["encodedKey"], deletion_policy=DeletionPolicy.DELETE
    )
    await op.reconciler.reconcile(request)

    result = await op.reconciler.reconcile(replace(request, deleting=True, activation_key=None))

    assert result.finalized
    await _nothing_left(rig, issued["sharedConnectionUuid"])


async def test_p3_changed_key_of_a_placed_link_fails_and_keeps_the_old_link(rig: Rig) -> None:
    first = await rig.aws.issue_key()
    op = rig.operator()
    ready, request = await rig.drive(op, link_request(key=first["encodedKey"]))
    assert ready.status is not None
    second = await rig.aws.issue_key()

    result = await op.reconciler.reconcile(
        replace(request, activation_key=Secret(second["encodedKey"]))
    )

    assert result.status is not None
    assert result.status.failure is not None
    assert result.status.failure.reason == "KeyChanged"
    assert result.shared_uuid == first["sharedConnectionUuid"]
    assert result.persist_uuid is None
    neg, res = await rig.states()
    assert link_objects(neg, second["sharedConnectionUuid"]) == ([], [])
    assert len(link_objects(res, first["sharedConnectionUuid"])[1]) == 4
