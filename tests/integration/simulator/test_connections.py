"""Connections: placement and capacity (P6-P7), update (P16-P17), migration
(P18), deletion (P19) and deferral (P22)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from interconnect_operator.simulator.inventory import Inventory, load_inventory
from tests.integration.simulator.conftest import MakePeer, Peer


def _inventory(tmp_path: Path, text: str, provider: str = "aws") -> Inventory:
    path = tmp_path / "inventory.yaml"
    path.write_text(text)
    return load_inventory(path, provider)


async def test_p6_create_connection_places_the_pending_key_record(peer: Peer) -> None:
    issued = await peer.issue_key(bandwidth=5000)
    uuid = issued["sharedConnectionUuid"]
    response = await peer.create_connection(uuid, 5000)
    assert response.status_code == 200
    body = response.json()
    assert body["name"] == f"{peer.conn(uuid)}".lstrip("/")
    assert body["bandwidthMbps"] == 5000
    assert body["verificationState"] == "VERIFICATION_STATE_UNVERIFIED"
    assert body["adminState"] == "ADMIN_STATE_ENABLED"
    # The server keeps the key it issued with the connection.
    assert body["activationKey"] == issued["encodedKey"]
    state = await peer.state()
    assert state["activationKeys"][0]["state"] == "placed"
    ix1 = next(i for i in state["interconnects"] if i["interconnect"] == "ix1")
    assert ix1["allocatedMbps"] == 5000


async def test_p6_connection_without_a_key_record_is_created(peer: Peer) -> None:
    # The negotiator's own side (B) has no key record: creating is allowed.
    response = await peer.create_connection("c-local", 1000)
    assert response.status_code == 200
    assert (await peer.client.get(peer.conn("c-local"))).json()["bandwidthMbps"] == 1000


async def test_p6_existing_connection_id_is_conflict(peer: Peer) -> None:
    assert (await peer.create_connection("c1")).status_code == 200
    again = await peer.create_connection("c1")
    assert again.status_code == 409
    state = await peer.state()
    assert state["interconnects"][0]["allocatedMbps"] == 1000  # reserved once


async def test_p6_key_record_size_must_match(peer: Peer) -> None:
    issued = await peer.issue_key(bandwidth=1000)
    response = await peer.create_connection(issued["sharedConnectionUuid"], 2000)
    assert response.status_code == 400


async def test_p7_interconnect_that_cannot_fit_is_conflict(peer: Peer) -> None:
    assert (await peer.create_connection("big", 100000)).status_code == 200
    full = await peer.create_connection("one-more", 1000)
    assert full.status_code == 409
    assert "P7" in full.json()["error"]["message"]
    # The other interconnect of the environment still has room (P6: retry there).
    assert (await peer.create_connection("one-more", 1000, ix="ix2")).status_code == 200


async def test_p7_concurrent_reservations_never_overbook(peer: Peer) -> None:
    responses = await asyncio.gather(*(peer.create_connection(f"c{n}", 10000) for n in range(25)))
    codes = sorted(r.status_code for r in responses)
    assert codes.count(200) == 10
    assert codes.count(409) == 15
    state = await peer.state()
    ix1 = next(i for i in state["interconnects"] if i["interconnect"] == "ix1")
    assert ix1["allocatedMbps"] == 100000 == ix1["maxBandwidthMbps"]


async def test_p7_only_active_interconnects_take_connections(
    make_peer: MakePeer, tmp_path: Path
) -> None:
    inventory = _inventory(
        tmp_path,
        "environments:\n"
        "  - id: aws-gcp-us-east\n"
        "    interconnects:\n"
        "      - {id: ix1, state: PENDING}\n"
        "      - {id: ix2, state: CLOSED}\n"
        "      - {id: ix3}\n",
    )
    peer: Peer = await make_peer(inventory=inventory)
    assert (await peer.create_connection("a", ix="ix1")).status_code == 409
    assert (await peer.create_connection("b", ix="ix2")).status_code == 409
    assert (await peer.create_connection("c", ix="ix3")).status_code == 200
    # An admin can close an interconnect to new connections.
    closed = await peer.client.post(
        "/admin/interconnect-state",
        json={"environment": peer.env, "interconnect": "ix3", "state": "CLOSED"},
    )
    assert closed.status_code == 200
    assert (await peer.create_connection("d", ix="ix3")).status_code == 409
    ix3 = (await peer.client.get(peer.ix("ix3"))).json()
    assert ix3["state"] == "INTERCONNECT_STATE_CLOSED"


@pytest.mark.parametrize("bandwidth", [999, 0, -1000])
async def test_p7_unsupported_size_is_invalid(peer: Peer, bandwidth: int) -> None:
    assert (await peer.create_connection("c1", bandwidth)).status_code == 400


async def test_p7_capacity_is_configurable_by_inventory(
    make_peer: MakePeer, tmp_path: Path
) -> None:
    inventory = _inventory(
        tmp_path,
        "environments:\n  - id: aws-gcp-us-east\n    interconnectCount: 5\n"
        "    maxBandwidthMbps: 2000\n    supportedConnectionSizeMbps: [1000]\n",
    )
    peer: Peer = await make_peer(inventory=inventory)
    listed = (await peer.client.get(f"{peer.base}/interconnects")).json()["interconnects"]
    assert [ix["maxBandwidthMbps"] for ix in listed] == [2000] * 5
    assert (await peer.create_connection("a")).status_code == 200
    assert (await peer.create_connection("b")).status_code == 200
    assert (await peer.create_connection("c")).status_code == 409


async def test_p16_update_changes_bandwidth_and_reservation(peer: Peer) -> None:
    assert (await peer.create_connection("c1", 1000)).status_code == 200
    response = await peer.client.patch(
        peer.conn("c1"), params={"updateMask": "bandwidthMbps"}, json={"bandwidthMbps": 10000}
    )
    assert response.status_code == 200
    assert response.json()["bandwidthMbps"] == 10000
    state = await peer.state()
    assert state["interconnects"][0]["allocatedMbps"] == 10000


@pytest.mark.parametrize(
    ("mask", "body"),
    [
        ("bandwidthMbps,deferProvisioning", {"bandwidthMbps": 2000, "deferProvisioning": True}),
        ("activationKey", {"activationKey": "x"}),
        (None, {"deferProvisioning": True}),
    ],
    ids=["extra-field", "other-field", "no-mask-other-field"],
)
async def test_p16_only_bandwidth_can_be_updated(
    peer: Peer, mask: str | None, body: dict[str, object]
) -> None:
    assert (await peer.create_connection("c1", 1000)).status_code == 200
    params = {"updateMask": mask} if mask else {}
    response = await peer.client.patch(peer.conn("c1"), params=params, json=body)
    assert response.status_code == 400
    assert (await peer.client.get(peer.conn("c1"))).json()["bandwidthMbps"] == 1000


async def test_p16_update_that_does_not_fit_is_conflict(peer: Peer) -> None:
    assert (await peer.create_connection("c1", 50000)).status_code == 200
    assert (await peer.create_connection("c2", 50000)).status_code == 200
    response = await peer.client.patch(
        peer.conn("c1"), params={"updateMask": "bandwidthMbps"}, json={"bandwidthMbps": 100000}
    )
    assert response.status_code == 409
    state = await peer.state()
    assert state["interconnects"][0]["allocatedMbps"] == 100000


async def test_p17_update_while_one_is_in_flight_is_conflict(make_peer: MakePeer) -> None:
    peer: Peer = await make_peer(provisioning_delay=30)
    assert (await peer.create_connection("c1", 1000)).status_code == 200
    mask = {"updateMask": "bandwidthMbps"}
    first = await peer.client.patch(peer.conn("c1"), params=mask, json={"bandwidthMbps": 2000})
    assert first.status_code == 200
    second = await peer.client.patch(peer.conn("c1"), params=mask, json={"bandwidthMbps": 5000})
    assert second.status_code == 409
    assert "P17" in second.json()["error"]["message"]
    peer.clock.advance(30)
    third = await peer.client.patch(peer.conn("c1"), params=mask, json={"bandwidthMbps": 5000})
    assert third.status_code == 200


async def test_p18_same_uuid_on_another_interconnect_for_migration(peer: Peer) -> None:
    issued = await peer.issue_key(bandwidth=1000)
    uuid = issued["sharedConnectionUuid"]
    await peer.create_full_link(uuid, ix="ix1")
    # Make before break: the same shared UUID under another interconnect.
    assert (await peer.create_connection(uuid, 1000, ix="ix2")).status_code == 200
    assert (await peer.client.delete(peer.conn(uuid, "ix1"))).status_code == 200
    # The new placement keeps working and its key is not invalidated yet.
    assert (await peer.client.get(peer.conn(uuid, "ix2"))).status_code == 200
    state = await peer.state()
    assert state["activationKeys"][0]["state"] == "placed"
    assert (await peer.client.delete(peer.conn(uuid, "ix2"))).status_code == 200
    assert (await peer.state())["activationKeys"][0]["state"] == "invalidated"


async def test_p19_delete_releases_bandwidth_and_takes_features(peer: Peer) -> None:
    await peer.create_full_link("c1", 10000)
    assert (await peer.client.delete(peer.conn("c1"))).status_code == 200
    assert (await peer.client.get(peer.conn("c1"))).status_code == 404
    assert (await peer.client.get(f"{peer.conn('c1')}/features/f1")).status_code == 404
    state = await peer.state()
    assert state["interconnects"][0]["allocatedMbps"] == 0
    assert state["features"] == []
    # The VLANs and subnets of the deleted features are free again.
    await peer.create_full_link("c2", 10000)
    assert (await peer.client.delete(peer.conn("missing"))).status_code == 404


async def test_p22_deferral_accepted_by_default(peer: Peer) -> None:
    response = await peer.create_connection("c1", deferProvisioning=True)
    assert response.status_code == 200
    assert response.json()["deferProvisioning"] is True


async def test_p22_deferral_refused_per_inventory(make_peer: MakePeer, tmp_path: Path) -> None:
    inventory = _inventory(
        tmp_path, "environments:\n  - id: aws-gcp-us-east\n    acceptDeferral: false\n"
    )
    peer: Peer = await make_peer(inventory=inventory)
    refused = await peer.create_connection("c1", deferProvisioning=True)
    assert refused.status_code == 400
    assert "P22" in refused.json()["error"]["message"]
    assert (await peer.create_connection("c1")).status_code == 200


async def test_p22_environment_that_demands_deferral(make_peer: MakePeer, tmp_path: Path) -> None:
    inventory = _inventory(
        tmp_path,
        "environments:\n  - id: aws-gcp-us-east\n    deferConnectionProvisioning: true\n",
    )
    peer: Peer = await make_peer(inventory=inventory)
    env = (await peer.client.get(peer.base)).json()
    assert env["deferConnectionProvisioning"] is True
    # The key's issuer is the peer the deferring provider asks (P22): flag required.
    issued = await peer.issue_key()
    uuid = issued["sharedConnectionUuid"]
    assert (await peer.create_connection(uuid)).status_code == 400
    assert (await peer.create_connection(uuid, deferProvisioning=True)).status_code == 200
    # The CreateConnection description's spelling is the same flag (spec defect).
    other = (await peer.issue_key())["sharedConnectionUuid"]
    created = await peer.create_connection(other, deferConnection=True)
    assert created.status_code == 200
    assert created.json()["deferProvisioning"] is True
    # The deferring provider's own record carries no flag (it defers, it is not asked).
    assert (await peer.create_connection("own-side")).status_code == 200
