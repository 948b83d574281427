"""After Ready: deletion (P19), Orphan, a lost feature (P12, P20) and its repair."""

from __future__ import annotations

from dataclasses import replace

from interconnect_operator.protocol.link_state import Phase
from interconnect_operator.protocol.types import DeletionPolicy
from tests.integration.reconcile.conftest import (
    Rig,
    assert_ready_on_both,
    assert_reservations_consistent,
    is_phase,
    link_objects,
    link_request,
)


async def test_p19_delete_leaves_nothing_on_either_provider(rig: Rig) -> None:
    op = rig.operator()
    ready, request = await rig.drive(op, link_request(account="acct-1"))
    uuid = request.shared_uuid
    assert uuid is not None
    assert ready.status is not None

    result, _ = await rig.drive(
        op, replace(request, deleting=True), until=lambda r: r.finalized, rounds=2
    )

    assert result.finalized
    assert result.requeue_after is None
    neg, res = await rig.states()
    for state in (neg, res):
        assert link_objects(state, uuid) == ([], [])
        assert_reservations_consistent(state)
        assert all(ix["allocatedMbps"] == 0 for ix in state["interconnects"])
    # P19: the server invalidated the key material.
    assert [k["state"] for k in res["activationKeys"]] == ["invalidated"]


async def test_orphan_deletion_releases_the_link_and_leaves_everything(rig: Rig) -> None:
    op = rig.operator()
    ready, request = await rig.drive(
        op, link_request(account="acct-1", deletion_policy=DeletionPolicy.ORPHAN)
    )
    uuid = request.shared_uuid
    assert uuid is not None
    assert ready.status is not None
    before = await rig.states()

    result = await op.reconciler.reconcile(replace(request, deleting=True))

    assert result.finalized
    neg, res = await rig.states()
    assert_ready_on_both(
        neg, res, uuid, bandwidth=1000, interconnect=ready.status.interconnect or ""
    )
    assert [link_objects(s, uuid) for s in (neg, res)] == [link_objects(s, uuid) for s in before]


async def test_p12_p20_lost_feature_degrades_then_is_recreated(rig: Rig) -> None:
    op = rig.operator()
    ready, request = await rig.drive(op, link_request(account="acct-1"))
    uuid = request.shared_uuid
    assert uuid is not None
    assert ready.status is not None
    assert request.ever_ready
    interconnect = ready.status.interconnect or ""
    _, features = link_objects(await rig.aws.state(), uuid)
    lost = next(f for f in features if f["channel"] == "ch2")
    # The responder loses one feature (hardware move, P20): 3 of 4 left.
    await rig.aws.lose_feature(
        f"providers/gcp/environments/{lost['environment']}/interconnects/{interconnect}"
        f"/connections/{uuid}/features/{lost['feature']}"
    )
    await op.runtime.refresh()
    # What a paused link shows now: no call, the refreshed view (3 of 4 FINAL).
    paused = await op.reconciler.reconcile(
        replace(request, spec=replace(request.spec, paused=True))
    )
    assert paused.status is not None
    assert paused.calls == 0
    assert paused.status.condition("Degraded").is_true
    assert paused.status.condition("Degraded").reason == "ReducedRedundancy"
    assert not paused.status.ready

    result, _ = await rig.drive(op, request, until=is_phase(Phase.READY), rounds=3)

    assert result.status is not None
    assert result.status.ready
    neg, res = await rig.states()
    assert_ready_on_both(neg, res, uuid, bandwidth=1000, interconnect=interconnect)
    # Recreated with the parameters the negotiator still holds (copy of its half).
    neg_ch2 = next(f for f in link_objects(neg, uuid)[1] if f["channel"] == "ch2")
    assert (neg_ch2["vlanId"], neg_ch2["ipv4Subnet"]) == (lost["vlanId"], lost["ipv4Subnet"])


async def test_p15_feature_back_to_pending_is_renotified(rig: Rig) -> None:
    op = rig.operator()
    ready, request = await rig.drive(op, link_request(account="acct-1"))
    uuid = request.shared_uuid
    assert uuid is not None
    assert ready.status is not None
    interconnect = ready.status.interconnect or ""
    feature = link_objects(await rig.gcp.state(), uuid)[1][0]
    await rig.gcp.lose_feature(
        f"providers/aws/environments/{feature['environment']}/interconnects/{interconnect}"
        f"/connections/{uuid}/features/{feature['feature']}",
        mode="pending",
    )
    await op.runtime.refresh()  # the pool timer sees gcp's connection UNVERIFIED again

    result, _ = await rig.drive(op, request, until=is_phase(Phase.READY), rounds=3)

    # P15: a fresh notification to gcp only, well before the resend timer.
    assert result.calls == 1

    neg, res = await rig.states()
    assert result.status is not None
    assert_ready_on_both(neg, res, uuid, bandwidth=1000, interconnect=interconnect)


async def test_churned_links_leave_no_observations_or_memory_behind(rig: Rig) -> None:
    # The churn soak (bench/soak.py, --soak-trace) traced ~550 bytes per churned link
    # to PoolSnapshot._observations: a deleted link's last step reads both sides'
    # (now empty) observations, and nothing dropped them after the link was released,
    # so each deleted link's UUID stayed there for the operator's life.
    op = rig.operator()
    await rig.drive(op, link_request("base", account="acct-0"))
    await op.runtime.refresh()
    snapshot = op.runtime.snapshot
    assert snapshot is not None
    base_observations = len(snapshot._observations)
    base_memory = len(op.reconciler._memory)

    uuids = []
    for i in range(1, 6):
        _, request = await rig.drive(op, link_request(f"churn-{i}", account=f"acct-{i}"))
        assert request.shared_uuid is not None
        uuids.append(request.shared_uuid)
        result, _ = await rig.drive(
            op, replace(request, deleting=True), until=lambda r: r.finalized, rounds=3
        )
        assert result.finalized

    snapshot = op.runtime.snapshot
    assert snapshot is not None
    assert not set(uuids) & snapshot._observations.keys()
    assert len(snapshot._observations) <= base_observations
    assert len(op.reconciler._memory) == base_memory
