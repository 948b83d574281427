"""Pagination of list operations: pageSize (default 100, max 1000), opaque pageToken."""

from __future__ import annotations

from pathlib import Path

from interconnect_operator.simulator.inventory import load_inventory
from tests.integration.simulator.conftest import MakePeer, Peer


async def test_pages_cover_every_item_once(peer: Peer) -> None:
    for n in range(25):
        assert (await peer.create_connection(f"c{n:02d}")).status_code == 200
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        params: dict[str, str | int] = {"pageSize": 10}
        if token:
            params["pageToken"] = token
        body = (await peer.client.get(f"{peer.ix()}/connections", params=params)).json()
        seen += [c["name"].rsplit("/", 1)[1] for c in body["connections"]]
        pages += 1
        token = body.get("nextPageToken")
        if not token:
            break
    assert pages == 3
    assert seen == [f"c{n:02d}" for n in range(25)]


async def test_pages_stay_consistent_when_items_change_between_calls(peer: Peer) -> None:
    for n in range(6):
        assert (await peer.create_connection(f"c{n}")).status_code == 200
    first = (await peer.client.get(f"{peer.ix()}/connections", params={"pageSize": 3})).json()
    assert (await peer.client.delete(peer.conn("c0"))).status_code == 200
    second = (
        await peer.client.get(
            f"{peer.ix()}/connections",
            params={"pageSize": 3, "pageToken": first["nextPageToken"]},
        )
    ).json()
    assert [c["name"][-2:] for c in second["connections"]] == ["c3", "c4", "c5"]
    assert "nextPageToken" not in second


async def test_default_page_size_and_cap(make_peer: MakePeer, tmp_path: Path) -> None:
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text("environments:\n  - id: aws-gcp-us-east\n    maxBandwidthMbps: 200000\n")
    peer: Peer = await make_peer(inventory=load_inventory(inventory, "aws"))
    for n in range(101):
        assert (await peer.create_connection(f"c{n:03d}")).status_code == 200
    default = (await peer.client.get(f"{peer.ix()}/connections")).json()
    assert len(default["connections"]) == 100
    assert default["nextPageToken"]
    capped = (await peer.client.get(f"{peer.ix()}/connections", params={"pageSize": 5000})).json()
    assert len(capped["connections"]) == 101
    assert "nextPageToken" not in capped


async def test_bad_page_parameters_are_400(peer: Peer) -> None:
    url = f"{peer.ix()}/connections"
    assert (await peer.client.get(url, params={"pageSize": -1})).status_code == 400
    assert (await peer.client.get(url, params={"pageToken": "garbage"})).status_code == 400
    for n in range(3):
        assert (await peer.create_connection(f"c{n}")).status_code == 200
    token = (await peer.client.get(url, params={"pageSize": 1})).json()["nextPageToken"]
    other_list = await peer.client.get(f"{peer.ix('ix2')}/connections", params={"pageToken": token})
    assert other_list.status_code == 400


async def test_every_list_paginates(peer: Peer) -> None:
    await peer.create_full_link("c1")
    for url, key in [
        (f"{peer.base.rsplit('/', 2)[0]}/environments", "environments"),
        (f"{peer.base}/interconnects", "interconnects"),
        (f"{peer.ix()}/channels", "channels"),
        (f"{peer.conn('c1')}/features", "features"),
    ]:
        body = (await peer.client.get(url, params={"pageSize": 1})).json()
        assert len(body[key]) == 1, url
        if key != "environments":  # one environment: a single page
            assert body["nextPageToken"], url
