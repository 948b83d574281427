"""Capacity: the 409 race for the last room (P6-P7), updates in place (P16), migration (P18)."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from interconnect_operator.protocol.link_state import Phase
from tests.integration.reconcile.conftest import (
    Rig,
    assert_ready_on_both,
    assert_reservations_consistent,
    calls_by_operation,
    is_phase,
    link_objects,
    link_request,
)


async def _ready_link(rig: Rig, name: str, bandwidth: int) -> tuple[str, str]:
    """A Ready link from a responder-issued key: (uuid, interconnect)."""
    issued = await rig.aws.issue_key(bandwidth=bandwidth)
    op = rig.operators[0] if rig.operators else rig.operator()
    result, _ = await rig.drive(op, link_request(name, bandwidth, key=issued["encodedKey"]))
    assert result.status is not None
    assert result.status.interconnect is not None
    return issued["sharedConnectionUuid"], result.status.interconnect


async def test_p6_p7_race_for_the_last_room_places_both_without_duplicates(rig: Rig) -> None:
    # ix1 has room for exactly one 10 Gbps link and the most free capacity, so
    # both links pick it; ix2 has room for one more.
    await rig.fill("ix1", 50000)
    await rig.fill("ix1", 20000)
    await rig.fill("ix1", 5000)  # 25000 free
    await rig.fill("ix2", 50000)
    await rig.fill("ix2", 20000)
    await rig.fill("ix2", 10000)  # 20000 free
    keys = [await rig.aws.issue_key(bandwidth=20000) for _ in range(2)]
    op = rig.operator()
    await op.runtime.refresh()

    results = await asyncio.gather(
        *(
            rig.drive(op, link_request(f"race-{n}", 20000, key=k["encodedKey"]))
            for n, k in enumerate(keys)
        )
    )

    placed = sorted(r.status.interconnect or "" for r, _ in results if r.status is not None)
    assert placed == ["ix1", "ix2"]
    neg, res = await rig.states()
    for (result, _), key in zip(results, keys, strict=True):
        assert result.status is not None
        assert_ready_on_both(
            neg,
            res,
            key["sharedConnectionUuid"],
            bandwidth=20000,
            interconnect=result.status.interconnect or "",
        )
    # The loser saw a 409 (P6) and moved on; nothing was reserved twice.
    stats = calls_by_operation(await rig.gcp.stats(), await rig.aws.stats())
    assert stats["CreateConnection"] >= 5
    for state in (neg, res):
        assert_reservations_consistent(state)
        assert {ix["interconnect"]: ix["allocatedMbps"] for ix in state["interconnects"]} == {
            "ix1": 95000,
            "ix2": 100000,
        }


async def test_p6_race_loser_without_room_waits_with_no_capacity(rig: Rig) -> None:
    await rig.fill("ix1", 50000)
    await rig.fill("ix1", 20000)
    await rig.fill("ix1", 10000)  # 20000 free: room for one
    await rig.fill("ix2", 100000)  # full
    keys = [await rig.aws.issue_key(bandwidth=20000) for _ in range(2)]
    op = rig.operator()
    await op.runtime.refresh()

    results = await asyncio.gather(
        *(
            op.reconciler.reconcile(
                link_request(f"race-{n}", 20000, key=k["encodedKey"], persisted=True)
            )
            for n, k in enumerate(keys)
        )
    )

    phases = sorted(r.status.phase.value for r in results if r.status is not None)
    assert phases == ["Placing", "Ready"]
    loser = next(r for r in results if r.status is not None and not r.status.ready)
    assert loser.status is not None
    assert loser.status.condition("Placed").reason == "NoCapacity"
    assert loser.status.condition("Stalled").is_true
    neg, res = await rig.states()
    for state in (neg, res):
        assert_reservations_consistent(state)
        assert link_objects(state, loser.shared_uuid or "") == ([], [])


async def test_p16_bandwidth_update_in_place(rig: Rig) -> None:
    uuid, interconnect = await _ready_link(rig, "grow", 1000)
    op = rig.operators[0]
    await rig.gcp.reset_stats()
    await rig.aws.reset_stats()
    issued_key = None  # the key is not needed after placement
    request = replace(
        link_request("grow", 5000, key=issued_key), shared_uuid=uuid, interconnect=interconnect
    )

    result, _ = await rig.drive(op, request)

    assert result.status is not None
    assert result.status.interconnect == interconnect
    neg, res = await rig.states()
    assert_ready_on_both(neg, res, uuid, bandwidth=5000, interconnect=interconnect)
    calls = calls_by_operation(await rig.gcp.stats(), await rig.aws.stats())
    # P16: the peer first, then our side; no new connection, no new feature.
    assert calls["UpdateConnection"] == 2
    assert calls["CreateConnection"] == calls["CreateFeature"] == 0


async def test_p18_migration_when_the_interconnect_lacks_room(rig: Rig) -> None:
    uuid, interconnect = await _ready_link(rig, "move", 1000)
    other = "ix2" if interconnect == "ix1" else "ix1"
    await rig.fill(interconnect, 50000)
    await rig.fill(interconnect, 20000)
    await rig.fill(interconnect, 20000)
    await rig.fill(interconnect, 5000)  # 4000 free: a 10 Gbps link does not fit
    op = rig.operators[0]
    await op.runtime.refresh()
    request = replace(link_request("move", 10000), shared_uuid=uuid, interconnect=interconnect)

    first = await op.reconciler.reconcile(request)
    assert first.status is not None
    assert first.status.migrating_to == other or first.status.interconnect == other
    # Upstream PR #50: the new connections name the old one as their source.
    for state in await rig.states():
        moved = [
            c
            for c in state["connections"]
            if c["connection"] == uuid and c["interconnect"] == other
        ]
        assert [c["migratedFrom"] for c in moved] == [uuid]

    result, _ = await rig.drive(op, request, until=is_phase(Phase.READY))

    assert result.status is not None
    assert result.status.interconnect == other
    assert result.status.migrating_to is None
    neg, res = await rig.states()
    # Same UUID, only on the new interconnect now (make before break).
    assert_ready_on_both(neg, res, uuid, bandwidth=10000, interconnect=other)


async def test_p2_p16_restart_after_a_bandwidth_update_is_no_key_mismatch(rig: Rig) -> None:
    issued = await rig.aws.issue_key(bandwidth=1000)
    op = rig.operator()
    _, request = await rig.drive(op, link_request("grown", 1000, key=issued["encodedKey"]))
    grown = replace(request, spec=replace(request.spec, bandwidth_mbps=2000, generation=2))
    result, _ = await rig.drive(op, grown)
    assert result.status is not None

    # A fresh operator still holds the 1000 Mbps key of the link, now 2000 Mbps.
    fresh = rig.operator()
    again = await fresh.reconciler.reconcile(replace(grown, interconnect=None))

    assert again.status is not None
    assert again.status.ready
    assert again.calls == 0
    neg, res = await rig.states()
    assert_ready_on_both(
        neg,
        res,
        issued["sharedConnectionUuid"],
        bandwidth=2000,
        interconnect=result.status.interconnect or "",
    )


async def test_p6_responder_409_undoes_the_local_half_and_places_elsewhere(rig: Rig) -> None:
    await rig.fill("ix2", 50000)  # ix1 has the most room in the snapshot
    op = rig.operator()
    await op.runtime.refresh()
    # Unknown to the snapshot: another coordinator fills ix1 at the responder only.
    response = await rig.aws.as_peer(
        "POST",
        "/interconnects/ix1/connections",
        params={"connectionId": "someone-else"},
        body={"bandwidthMbps": 100000},
    )
    assert response.status_code == 200, response.text
    issued = await rig.aws.issue_key(bandwidth=5000)

    result, _ = await rig.drive(op, link_request("moved", 5000, key=issued["encodedKey"]))

    assert result.status is not None
    assert result.status.interconnect == "ix2"
    neg, res = await rig.states()
    assert_ready_on_both(
        neg, res, issued["sharedConnectionUuid"], bandwidth=5000, interconnect="ix2"
    )
    # P5/P6: the local half created on ix1 before the peer's 409 was deleted again.
    assert {ix["interconnect"]: ix["allocatedMbps"] for ix in neg["interconnects"]} == {
        "ix1": 0,
        "ix2": 55000,
    }
    by_status = (await rig.aws.stats())["byOperation"]["CreateConnection"]["byStatus"]
    assert by_status.get("409") == 1
