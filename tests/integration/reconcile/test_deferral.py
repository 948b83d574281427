"""Deferral (P22-P23): an environment that demands it, and the rollback on timeout.

The simulator accepts deferred connections but, as a passive peer, never
drives their provisioning, which is exactly the case P23 guards against.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import yaml

from interconnect_operator.protocol.link_state import Phase
from interconnect_operator.simulator.inventory import Inventory, load_inventory
from tests.integration.reconcile.conftest import (
    ENV,
    NEGOTIATOR,
    RESPONDER,
    Rig,
    calls_by_operation,
    is_phase,
    link_objects,
    link_request,
)


def _deferring(tmp_path: Path, provider: str) -> Inventory:
    path = tmp_path / f"{provider}.yaml"
    document = {
        "environments": [
            {"id": ENV, "deferConnectionProvisioning": True, "deferralTimeoutHours": 2}
        ]
    }
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return load_inventory(path, provider)


async def test_p22_p23_deferred_link_is_rolled_back_after_the_timeout(
    make_rig: Callable[..., Rig], tmp_path: Path
) -> None:
    rig = make_rig(
        aws_inventory=_deferring(tmp_path, RESPONDER),
        gcp_inventory=_deferring(tmp_path, NEGOTIATOR),
    )
    op = rig.operator()
    request = replace(link_request(account="acct-1"), created_at=rig.clock.datetime())

    waiting, request = await rig.drive(op, request, until=is_phase(Phase.NEGOTIATING))

    assert waiting.status is not None
    assert "P22" in waiting.status.message
    uuid = request.shared_uuid
    assert uuid is not None
    neg, res = await rig.states()
    # P22: the flag goes to the peer only (it tells the peer that we defer to it);
    # the peer (not us) would drive the features.
    assert [c["deferProvisioning"] for c in link_objects(neg, uuid)[0]] == [False]
    assert [c["deferProvisioning"] for c in link_objects(res, uuid)[0]] == [True]
    for state in (neg, res):
        assert link_objects(state, uuid)[1] == []
    assert (
        calls_by_operation(await rig.gcp.stats(), await rig.aws.stats())["GenerateFeatureGuidance"]
        == 0
    )

    # Within the timeout nothing changes.
    rig.clock.advance(3600)
    await op.runtime.refresh()
    still = await op.reconciler.reconcile(request)
    assert still.status is not None
    assert still.status.phase is not Phase.FAILED
    assert still.calls == 0

    rig.clock.advance(3601)  # past deferralTimeoutHours (2h) since the deferred creation
    await op.runtime.refresh()
    failed, _ = await rig.drive(op, request, until=is_phase(Phase.FAILED), rounds=2)

    assert failed.status is not None
    assert failed.status.failure is not None
    assert failed.status.failure.reason == "DeferralTimeout"
    assert "P23" in failed.status.failure.message
    for state in await rig.states():
        assert link_objects(state, uuid) == ([], [])
        assert all(ix["allocatedMbps"] == 0 for ix in state["interconnects"])


async def _free(rig: Rig, interconnect: str, filler: str) -> None:
    for handle in (rig.gcp, rig.aws):
        response = await handle.as_peer(
            "DELETE", f"/interconnects/{interconnect}/connections/{filler}"
        )
        assert response.status_code == 200, response.text


async def test_p23_timeout_counts_from_the_deferred_creation_not_from_the_link(
    make_rig: Callable[..., Rig], tmp_path: Path
) -> None:
    rig = make_rig(
        aws_inventory=_deferring(tmp_path, RESPONDER),
        gcp_inventory=_deferring(tmp_path, NEGOTIATOR),
    )
    fillers = {ix: await rig.fill(ix, 100000) for ix in ("ix1", "ix2")}
    op = rig.operator()
    request = replace(link_request(account="acct-1"), created_at=rig.clock.datetime())
    waiting, request = await rig.drive(op, request, until=is_phase(Phase.PLACING))
    assert waiting.status is not None
    assert "NoCapacity" in {c.reason for c in waiting.status.conditions}

    # Three hours without room (longer than the 2 h timeout), then room appears.
    rig.clock.advance(3 * 3600)
    await _free(rig, "ix1", fillers["ix1"])
    await op.runtime.refresh()
    placed, request = await rig.drive(op, request, until=is_phase(Phase.NEGOTIATING))

    # Before: rolled back right after placement (the link was older than 2 h).
    assert placed.status is not None
    assert placed.status.deferred_since == rig.clock.datetime()
    uuid = request.shared_uuid
    assert uuid is not None
    for state in await rig.states():
        assert len(link_objects(state, uuid)[0]) == 1
    assert calls_by_operation(await rig.aws.stats())["DeleteConnection"] == 1  # the filler

    rig.clock.advance(2 * 3600 + 1)
    await op.runtime.refresh()
    failed, _ = await rig.drive(op, request, until=is_phase(Phase.FAILED), rounds=2)
    assert failed.status is not None
    assert failed.status.failure is not None
    assert failed.status.failure.reason == "DeferralTimeout"


async def test_p23_a_finalised_deferred_link_is_never_rolled_back(rig: Rig) -> None:
    """A deferred link the peer brought to Ready stays, past the timeout, even when a
    feature goes back to PENDING (P15)."""
    op = rig.operator()
    created = replace(link_request(account="acct-1"), created_at=rig.clock.datetime())
    ready, request = await rig.drive(op, created)
    uuid = request.shared_uuid
    assert uuid is not None
    assert ready.status is not None
    ix = ready.status.interconnect
    assert ix is not None
    # The link is one the peer drove (P22): its connection there carries the flag.
    rig.aws.sim.store.connections[(ENV, ix, uuid)].defer_provisioning = True
    deferred_since = rig.clock.datetime()
    rig.clock.advance(30 * 24 * 3600)  # 30 days, far past the 24 h timeout
    _, features = link_objects(await rig.aws.state(), uuid)
    await rig.aws.lose_feature(
        f"providers/gcp/environments/{ENV}/interconnects/{ix}/connections/{uuid}"
        f"/features/{features[0]['feature']}",
        mode="pending",
    )
    await op.runtime.refresh()
    await rig.aws.reset_stats()

    fresh = rig.operator()  # a restart: only the status remembers
    await fresh.runtime.refresh()
    restarted = replace(request, deferred_since=deferred_since, ever_ready=True)
    result = await fresh.reconciler.reconcile(restarted)

    assert result.status is not None
    assert result.status.phase is not Phase.FAILED
    assert result.status.deferred_since == deferred_since
    assert calls_by_operation(await rig.aws.stats())["DeleteConnection"] == 0
    for state in await rig.states():
        assert len(link_objects(state, uuid)[0]) == 1
