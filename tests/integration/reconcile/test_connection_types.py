"""Connection types (upstream PR #57): TEST and MONITORING connections of other
customers do not count against capacity, so they never cause NoCapacity, a
migration or a smaller pool headroom."""

from __future__ import annotations

import uuid as uuid_module

from interconnect_operator.api import models
from interconnect_operator.reconcile.records import ConnectionRecord, SideView
from tests.integration.reconcile.conftest import Rig, link_objects, link_request


async def _fill(rig: Rig, interconnect: str, bandwidth: int, connection_type: str) -> None:
    for handle in (rig.gcp, rig.aws):
        response = await handle.as_peer(
            "POST",
            f"/interconnects/{interconnect}/connections",
            params={"connectionId": str(uuid_module.uuid4())},
            body={"bandwidthMbps": bandwidth, "connectionType": connection_type},
        )
        assert response.status_code == 200, response.text


async def test_test_and_monitoring_connections_leave_capacity_and_headroom(rig: Rig) -> None:
    for ix in ("ix1", "ix2"):
        await _fill(rig, ix, 100000, "CONNECTION_TYPE_TEST")
        await _fill(rig, ix, 100000, "CONNECTION_TYPE_MONITORING")
    op = rig.operator()
    await op.runtime.refresh()

    report = op.runtime.report()
    assert [(i.id, i.allocated_mbps) for i in report.interconnects] == [("ix1", 0), ("ix2", 0)]
    assert report.available_mbps == 200000

    result, _ = await rig.drive(op, link_request(bandwidth=100000, account="acct-1"))
    assert result.status is not None
    assert result.status.ready
    assert result.status.condition("Placed").is_true


def test_unknown_or_absent_types_count_against_capacity() -> None:
    view = SideView(provider="gcp")
    view.connections["ix1"] = {
        str(n): ConnectionRecord.of(models.Connection(bandwidth_mbps=1000, connection_type=kind))
        for n, kind in enumerate(
            [
                None,
                "CONNECTION_TYPE_STANDARD",
                "CONNECTION_TYPE_SOMETHING_NEW",
                "CONNECTION_TYPE_TEST",
                "CONNECTION_TYPE_MONITORING",
            ]
        )
    }
    assert view.allocated_mbps("ix1") == 3000


async def test_a_test_link_below_the_minimum_size_comes_up_on_a_full_pool(rig: Rig) -> None:
    """A MulticloudLink asking for a TEST connection: 100 Mbps (the smallest size sold
    is 1000) on interconnects with no room left; both sides hold it as TEST, it
    reserves nothing, and the pool's capacity report does not move."""
    for ix in ("ix1", "ix2"):
        await rig.fill(ix, 100000)
    op = rig.operator()
    await op.runtime.refresh()
    before = op.runtime.report()
    assert before.available_mbps == 0

    result, request = await rig.drive(
        op, link_request(bandwidth=100, account="acct-1", test_connection=True)
    )

    assert result.status is not None
    assert result.status.ready
    uuid = request.shared_uuid
    for handle in (rig.gcp, rig.aws):
        connections, features = link_objects(await handle.state(), uuid or "")
        assert [(c["bandwidthMbps"], c.get("connectionType")) for c in connections] == [
            (100, "CONNECTION_TYPE_TEST")
        ]
        assert len(features) == 4
    await op.runtime.refresh()
    after = op.runtime.report()
    assert [(i.id, i.allocated_mbps) for i in after.interconnects] == [
        (i.id, i.allocated_mbps) for i in before.interconnects
    ]


async def test_a_standard_link_below_the_minimum_size_is_refused(rig: Rig) -> None:
    op = rig.operator()
    await op.runtime.refresh()

    result = await op.reconciler.reconcile(link_request(bandwidth=100, account="acct-1"))

    assert result.status is not None
    assert result.status.condition("Ready").reason == "BandwidthNotOffered"
    assert result.persist_uuid is None
