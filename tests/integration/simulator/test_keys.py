"""Activation keys: the customer endpoint (P1) and ConfirmActivationKey (P3)."""

from __future__ import annotations

import pytest

from interconnect_operator.api import activation_key
from interconnect_operator.api.models import to_wire
from tests.integration.simulator.conftest import ENV, Peer, forge_key


async def test_p1_customer_endpoint_issues_a_decodable_key(peer: Peer) -> None:
    issued = await peer.issue_key(bandwidth=2000, account="acct-9")
    key = activation_key.decode(issued["encodedKey"])
    assert key.shared_connection_uuid == issued["sharedConnectionUuid"]
    assert key.connection_size_mbps == 2000
    assert key.destination_account_id == "acct-9"
    assert key.destination_environment_uri == f"providers/gcp/environments/{ENV}"
    state = await peer.state()
    assert [k["state"] for k in state["activationKeys"]] == ["issued"]
    assert "encodedKey" not in str(state)  # the dump never holds the key


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"environment": "nowhere", "bandwidthMbps": 1000, "destinationAccountId": "a"}, 404),
        ({"environment": ENV, "bandwidthMbps": 1234, "destinationAccountId": "a"}, 400),
        ({"environment": ENV, "bandwidthMbps": 1000, "destinationAccountId": " "}, 400),
        ({"environment": ENV, "bandwidthMbps": "1000", "destinationAccountId": "a"}, 400),
    ],
)
async def test_p1_customer_endpoint_refuses_bad_requests(
    peer: Peer, body: dict[str, object], status: int
) -> None:
    response = await peer.client.post("/customer/v1/activationKeys", json=body)
    assert response.status_code == status


async def test_p3_valid_key_is_confirmed(peer: Peer) -> None:
    issued = await peer.issue_key()
    response = await peer.confirm(issued["encodedKey"])
    assert response.status_code == 200
    assert response.json() == {"keyValid": True}
    # Confirming is not using: a retried confirmation is still valid.
    assert (await peer.confirm(issued["encodedKey"])).json() == {"keyValid": True}


async def test_p3_deprecated_key_object_is_accepted(peer: Peer) -> None:
    issued = await peer.issue_key()
    key = activation_key.decode(issued["encodedKey"])
    response = await peer.client.post(
        f"{peer.base}/ConfirmActivationKey",
        json={"key": to_wire(key)},
    )
    assert response.json() == {"keyValid": True}


async def test_p3_unknown_uuid_is_invalid(peer: Peer) -> None:
    issued = await peer.issue_key()
    key = activation_key.decode(issued["encodedKey"])
    other = key.model_copy(
        update={"shared_connection_uuid": "0b8f3c1e-0000-4000-8000-000000000001"}
    )
    response = await peer.confirm(activation_key.encode(other))
    assert response.json() == {"keyValid": False}


async def test_p3_reused_key_is_invalid(peer: Peer) -> None:
    issued = await peer.issue_key()
    placed = await peer.create_connection(issued["sharedConnectionUuid"])
    assert placed.status_code == 200
    response = await peer.confirm(issued["encodedKey"])
    assert response.status_code == 200
    assert response.json() == {"keyValid": False}


@pytest.mark.parametrize(
    "change",
    [
        {"connection_size_mbps": 2000},
        {"destination_environment_uri": "providers/gcp/environments/elsewhere"},
        {"destination_account_id": "someone-else"},
    ],
    ids=["size", "environment", "account"],
)
async def test_p3_mismatched_key_is_invalid(peer: Peer, change: dict[str, object]) -> None:
    issued = await peer.issue_key(bandwidth=1000)
    key = activation_key.decode(issued["encodedKey"]).model_copy(update=change)
    response = await peer.confirm(activation_key.encode(key))
    assert response.json() == {"keyValid": False}


@pytest.mark.parametrize(
    "encoded",
    [
        "not base64 at all!",
        forge_key(hello="world"),
        forge_key(
            version=1,
            destinationEnvironmentUri=f"providers/gcp/environments/{ENV}",
            sharedConnectionUuid="not-a-uuid",
            connectionSizeMbps=1000,
            destinationAccountId="a",
        ),
        "",
    ],
    ids=["garbage", "wrong-fields", "bad-uuid", "empty"],
)
async def test_p3_malformed_key_is_invalid_never_an_error(peer: Peer, encoded: str) -> None:
    response = await peer.confirm(encoded)
    assert response.status_code == 200
    assert response.json() == {"keyValid": False}


async def test_p3_key_confirmed_in_another_environment_path_is_404(peer: Peer) -> None:
    issued = await peer.issue_key()
    response = await peer.client.post(
        "/providers/gcp/environments/nowhere/ConfirmActivationKey",
        json={"encodedKey": issued["encodedKey"]},
    )
    assert response.status_code == 404


async def test_p19_deleted_connection_invalidates_its_key(peer: Peer) -> None:
    issued = await peer.issue_key()
    uuid = issued["sharedConnectionUuid"]
    assert (await peer.create_connection(uuid)).status_code == 200
    assert (await peer.client.delete(peer.conn(uuid))).status_code == 200
    state = await peer.state()
    assert [k["state"] for k in state["activationKeys"]] == ["invalidated"]
    assert (await peer.confirm(issued["encodedKey"])).json() == {"keyValid": False}
    # The key material cannot be used to create the connection again.
    assert (await peer.create_connection(uuid)).status_code == 400
