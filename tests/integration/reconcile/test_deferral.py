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
    for state in await rig.states():
        connections, features = link_objects(state, uuid)
        # P22: both sides deferred; the peer (not us) would drive the features.
        assert [c["deferProvisioning"] for c in connections] == [True]
        assert features == []
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

    rig.clock.advance(3601)  # past deferralTimeoutHours (2h)
    await op.runtime.refresh()
    failed, _ = await rig.drive(op, request, until=is_phase(Phase.FAILED), rounds=2)

    assert failed.status is not None
    assert failed.status.failure is not None
    assert failed.status.failure.reason == "DeferralTimeout"
    assert "P23" in failed.status.failure.message
    for state in await rig.states():
        assert link_objects(state, uuid) == ([], [])
        assert all(ix["allocatedMbps"] == 0 for ix in state["interconnects"])
