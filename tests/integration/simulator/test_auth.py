"""Authentication (P34): bearer tokens mapped to the provider ids they may act as."""

from __future__ import annotations

from tests.integration.simulator.conftest import MakePeer, Peer

TOKENS = {"gcp-token": frozenset({"gcp"}), "ops-token": frozenset({"*"})}


async def test_p34_missing_token_is_401(make_peer: MakePeer) -> None:
    peer: Peer = await make_peer(tokens=TOKENS)
    response = await peer.client.get(f"{peer.base}/interconnects")
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert (await peer.client.get("/admin/stats")).json()["byStatus"] == {"401": 1}


async def test_p34_invalid_token_is_401(make_peer: MakePeer) -> None:
    peer: Peer = await make_peer(tokens=TOKENS, headers={"Authorization": "Bearer wrong"})
    assert (await peer.client.get(peer.base)).status_code == 401
    basic: Peer = await make_peer(tokens=TOKENS, headers={"Authorization": "Basic Z2NwOng="})
    assert (await basic.client.get(basic.base)).status_code == 401


async def test_p34_token_outside_its_provider_ids_is_403(make_peer: MakePeer) -> None:
    peer: Peer = await make_peer(tokens=TOKENS, headers={"Authorization": "Bearer gcp-token"})
    assert (await peer.client.get(peer.base)).status_code == 200
    assert (await peer.client.get("/providers/azure/environments")).status_code == 403
    # Every partner may read the server's own provider resource, and list providers.
    own = await peer.client.get("/providers/aws")
    assert own.status_code == 200
    assert own.json() == {"name": "providers/aws", "displayName": "Amazon Web Services"}
    listed = (await peer.client.get("/providers")).json()
    assert [p["name"] for p in listed["environments"]] == ["providers/aws", "providers/gcp"]


async def test_p34_wildcard_token_may_act_as_anyone(make_peer: MakePeer) -> None:
    peer: Peer = await make_peer(tokens=TOKENS, headers={"Authorization": "Bearer ops-token"})
    assert (await peer.client.get(peer.base)).status_code == 200
    # Allowed, but azure shares no environment with this provider.
    assert (
        await peer.client.get("/providers/azure/environments/aws-gcp-us-east")
    ).status_code == 404


async def test_p34_admin_and_customer_endpoints_need_no_token(make_peer: MakePeer) -> None:
    peer: Peer = await make_peer(tokens=TOKENS)
    assert (await peer.client.get("/healthz")).status_code == 200
    assert (await peer.issue_key())["encodedKey"]
