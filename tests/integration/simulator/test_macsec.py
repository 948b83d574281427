"""MACsec keys (P26-P30), called by gcp on aws's simulator.

In the default inventory the sorted pair (aws, gcp) alternates the manager:
ch1 and ch3 are aws's, ch2 and ch4 are gcp's.
"""

from __future__ import annotations

from typing import Any

import httpx

from interconnect_operator.simulator.inventory import load_inventory
from tests.integration.simulator.conftest import MakePeer, Peer


def _keys(peer: Peer, channel: str) -> str:
    return f"{peer.ix()}/channels/{channel}/macSecKeys"


async def _create(peer: Peer, channel: str, key_id: str) -> httpx.Response:
    return await peer.client.post(
        _keys(peer, channel),
        params={"macSecKeyId": key_id},
        json={"cak": f"cak-{key_id}", "ckn": f"ckn-{key_id}"},
    )


async def _all_gcp_managed(make_peer: MakePeer, tmp_path: Any, **config: Any) -> Peer:
    path = tmp_path / "inventory.yaml"
    channels = ", ".join(f"{{id: ch{n}, macsecManagerProvider: gcp}}" for n in range(1, 5))
    path.write_text(
        "environments:\n  - id: aws-gcp-us-east\n    interconnects:\n"
        f"      - {{id: ix1, channels: [{channels}]}}\n"
    )
    peer: Peer = await make_peer(inventory=load_inventory(path, "aws"), **config)
    return peer


async def test_p27_manager_alternates_and_both_sides_agree(make_peer: MakePeer) -> None:
    aws_side: Peer = await make_peer(provider_id="aws", caller="gcp")
    gcp_side: Peer = await make_peer(provider_id="gcp", caller="aws")
    for side in (aws_side, gcp_side):
        listed = (await side.client.get(f"{side.ix()}/channels")).json()["channels"]
        managers = [c["macsecManagerProvider"] for c in listed]
        assert managers == ["providers/aws", "providers/gcp"] * 2


async def test_p27_only_the_manager_may_create_or_delete(peer: Peer) -> None:
    refused = await _create(peer, "ch1", "k1")  # ch1 is aws's
    assert refused.status_code == 403
    assert "P27" in refused.json()["error"]["message"]
    assert (await _create(peer, "ch2", "k1")).status_code == 200
    deleted = await peer.client.delete(f"{_keys(peer, 'ch1')}/k1")
    assert deleted.status_code == 403


async def test_p28_server_sets_start_time_and_reports_the_active_key(make_peer: MakePeer) -> None:
    peer: Peer = await make_peer(provisioning_delay=5)
    created = await _create(peer, "ch2", "k1")
    assert created.status_code == 200
    body = created.json()
    assert body["startTime"].startswith("2027-01-15")  # the fake clock's date
    assert body["active"] is False  # the router has not switched yet
    assert body["cak"] == "cak-k1"
    peer.clock.advance(5)
    got = (await peer.client.get(f"{_keys(peer, 'ch2')}/k1")).json()
    assert got["active"] is True


async def test_p28_active_key_cannot_be_deleted_and_rotation_completes(
    make_peer: MakePeer,
) -> None:
    peer: Peer = await make_peer(provisioning_delay=5)
    assert (await _create(peer, "ch2", "old")).status_code == 200
    peer.clock.advance(5)
    assert (await _create(peer, "ch2", "new")).status_code == 200
    # The new key is standby: the old one is still active and stays.
    blocked = await peer.client.delete(f"{_keys(peer, 'ch2')}/old")
    assert blocked.status_code == 409
    assert "P28" in blocked.json()["error"]["message"]
    peer.clock.advance(5)
    listed = (await peer.client.get(_keys(peer, "ch2"))).json()["macSecKeys"]
    assert {k["name"].rsplit("/", 1)[1]: k["active"] for k in listed} == {
        "new": True,
        "old": False,
    }
    assert (await peer.client.delete(f"{_keys(peer, 'ch2')}/old")).status_code == 200
    assert (await peer.client.delete(f"{_keys(peer, 'ch2')}/new")).status_code == 409


async def test_p26_a_channel_holds_at_most_two_keys(peer: Peer) -> None:
    assert (await _create(peer, "ch2", "k1")).status_code == 200
    assert (await _create(peer, "ch2", "k2")).status_code == 200
    third = await _create(peer, "ch2", "k3")
    assert third.status_code == 409
    assert "P26" in third.json()["error"]["message"]


async def test_p26_an_interconnect_holds_at_most_n_plus_one_keys(
    make_peer: MakePeer, tmp_path: Any
) -> None:
    peer = await _all_gcp_managed(make_peer, tmp_path)
    # First keys on new channels may go in parallel.
    for n in range(1, 5):
        assert (await _create(peer, f"ch{n}", "k1")).status_code == 200
    assert (await _create(peer, "ch1", "k2")).status_code == 200  # N+1 = 5
    over = await _create(peer, "ch3", "k2")
    assert over.status_code == 409
    assert "P26" in over.json()["error"]["message"] or "P29" in over.json()["error"]["message"]
    state = await peer.state()
    assert state["interconnects"][0]["macSecKeys"] == 5
    assert all("cak" not in key for key in state["macSecKeys"])  # fingerprints only


async def test_p29_one_rotating_channel_per_interconnect(
    make_peer: MakePeer, tmp_path: Any
) -> None:
    peer = await _all_gcp_managed(make_peer, tmp_path)
    assert (await _create(peer, "ch1", "k1")).status_code == 200
    assert (await _create(peer, "ch2", "k1")).status_code == 200
    assert (await _create(peer, "ch1", "k2")).status_code == 200  # ch1 rotates
    second = await _create(peer, "ch2", "k2")
    assert second.status_code == 409
    assert "P29" in second.json()["error"]["message"]


async def test_p29_bake_time_after_a_rotation(make_peer: MakePeer, tmp_path: Any) -> None:
    peer = await _all_gcp_managed(make_peer, tmp_path, bake_time=600)
    assert (await _create(peer, "ch1", "k1")).status_code == 200
    assert (await _create(peer, "ch2", "k1")).status_code == 200
    assert (await _create(peer, "ch1", "k2")).status_code == 200
    assert (await peer.client.delete(f"{_keys(peer, 'ch1')}/k1")).status_code == 200
    early = await _create(peer, "ch2", "k2")
    assert early.status_code == 409
    assert "bake" in early.json()["error"]["message"]
    peer.clock.advance(600)
    assert (await _create(peer, "ch2", "k2")).status_code == 200


async def test_p30_rotation_request_is_recorded(peer: Peer) -> None:
    # gcp asks aws (manager of ch1) to rotate.
    url = f"{peer.ix()}/channels/ch1/RequestMacSecKeyRotation"
    response = await peer.client.post(url, json={"reason": "suspected compromise"})
    assert response.status_code == 200
    assert response.json() == {}
    state = await peer.state()
    assert [(r["channel"], r["reason"]) for r in state["rotationRequests"]] == [
        ("ch1", "suspected compromise")
    ]
    # The manager of ch2 (gcp itself) does not ask, it rotates.
    own = await peer.client.post(f"{peer.ix()}/channels/ch2/RequestMacSecKeyRotation", json={})
    assert own.status_code == 400


async def test_p26_unknown_channel_and_key_are_404(peer: Peer) -> None:
    assert (await _create(peer, "ch9", "k1")).status_code == 404
    assert (await peer.client.get(f"{_keys(peer, 'ch2')}/nope")).status_code == 404
    duplicate = await _create(peer, "ch2", "k1")
    assert duplicate.status_code == 200
    assert (await _create(peer, "ch2", "k1")).status_code == 409
