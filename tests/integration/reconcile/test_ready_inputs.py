"""What a Ready link's decision read (``views.ready_inputs``), against the simulators.

The confirmation path (k8s.confirm) compares these: they must be equal while
nothing changes at either provider, including across the refresh right after
the link became Ready (its Ready status carries their digest, which a
restarted operator recomputes from its first snapshot), and differ as soon as
a provider changes something the link's status shows.
"""

from __future__ import annotations

from interconnect_operator.reconcile import views
from tests.integration.reconcile.conftest import Rig, link_objects, link_request


async def test_ready_inputs_hold_across_refreshes_and_a_restart(rig: Rig) -> None:
    op = rig.operator()
    ready, request = await rig.drive(op, link_request(account="acct-1"))
    uuid = request.shared_uuid
    assert uuid is not None
    assert ready.ready_inputs is not None
    for _ in range(2):
        snapshot = await op.runtime.refresh(fresh=True)
        assert views.ready_inputs(snapshot, uuid) == ready.ready_inputs
    # A new process reads the same providers: the same inputs, and the same repr
    # (what the status's digest is computed from).
    fresh = rig.operator()
    snapshot = await fresh.runtime.refresh()
    assert views.ready_inputs(snapshot, uuid) == ready.ready_inputs
    assert repr(views.ready_inputs(snapshot, uuid)) == repr(ready.ready_inputs)
    again = await fresh.reconciler.reconcile(request)
    assert again.ready_inputs == ready.ready_inputs


async def test_ready_inputs_change_when_a_provider_loses_a_feature(rig: Rig) -> None:
    op = rig.operator()
    ready, request = await rig.drive(op, link_request(account="acct-1"))
    uuid = request.shared_uuid
    assert uuid is not None
    assert ready.status is not None
    _, features = link_objects(await rig.aws.state(), uuid)
    feature = next(f for f in features if f["channel"] == "ch2")
    await rig.aws.lose_feature(
        f"providers/gcp/environments/{feature['environment']}/interconnects/"
        f"{ready.status.interconnect}/connections/{uuid}/features/{feature['feature']}"
    )
    snapshot = await op.runtime.refresh(fresh=True)
    assert views.ready_inputs(snapshot, uuid) != ready.ready_inputs
