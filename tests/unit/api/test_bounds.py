"""Containment at the client: bounded responses and pages, failed token refreshes,
and the customer endpoint's answer parsed defensively."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest

from interconnect_operator.api.auth import OAuth2ServiceAccount
from interconnect_operator.api.base_client import MAX_PAGES, MAX_RESPONSE_BYTES
from interconnect_operator.api.client import ProviderClient
from interconnect_operator.api.customer import request_activation_key
from interconnect_operator.api.errors import InvalidResponse, Unauthorized
from tests.unit.api import samples


def _client(handler: Any, **kwargs: Any) -> ProviderClient:
    return ProviderClient(
        "https://peer.test", "prov-a", transport=httpx.MockTransport(handler), **kwargs
    )


async def test_a_response_larger_than_the_bound_is_refused() -> None:
    huge = json.dumps({**samples.CONNECTION, "name": "x" * (MAX_RESPONSE_BYTES + 1)})

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=huge.encode())

    async with _client(handler) as client:
        with pytest.raises(InvalidResponse, match="larger than"):
            await client.get_connection("e", "i", "k")


async def test_a_list_that_never_ends_is_cut_off() -> None:
    served = [0]

    def handler(request: httpx.Request) -> httpx.Response:
        served[0] += 1
        return httpx.Response(200, json={"connections": [], "nextPageToken": f"t{served[0]}"})

    async with _client(handler) as client:
        with pytest.raises(InvalidResponse, match="pages"):
            await client.list_connections_all("e", "i")
    assert served[0] == MAX_PAGES


class RefusingCredentials:
    """Credentials whose token endpoint refuses (google-auth raises RefreshError)."""

    token = None
    expiry = None

    def refresh(self, request: Any) -> None:
        raise RuntimeError("invalid_grant: the echoed assertion eyJhbGciOi...")


async def test_a_failed_token_refresh_is_an_auth_error_without_its_text() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=samples.CONNECTION)

    auth = OAuth2ServiceAccount(RefusingCredentials(), request_factory=object)
    async with _client(handler, auth=auth) as client:
        with pytest.raises(Unauthorized) as caught:
            await client.get_connection("e", "i", "k")
    assert "RuntimeError" in str(caught.value)
    assert "eyJ" not in str(caught.value)


def _key(uuid: str) -> str:
    document = {
        "version": 1,
        "destinationEnvironmentUri": "providers/gcp/environments/e",
        "sharedConnectionUuid": uuid,
        "connectionSizeMbps": 1000,
        "destinationAccountId": "acct-1",
    }
    return base64.b64encode(json.dumps(document).encode()).decode()


@pytest.mark.parametrize(
    ("body", "match"),
    [
        (b"not json", "not JSON"),
        (b"[1, 2]", "not an object"),
        (json.dumps({"sharedConnectionUuid": 7}).encode(), "missing"),
        (
            json.dumps({"sharedConnectionUuid": "u-1", "encodedKey": "%%%"}).encode(),
            "not a valid key",
        ),
        (
            json.dumps(
                {
                    "sharedConnectionUuid": "6f1c0e1e-0000-4000-8000-000000000001",
                    "encodedKey": _key("6f1c0e1e-0000-4000-8000-000000000002"),
                }
            ).encode(),
            "another connection",
        ),
        (b"{" + b" " * (64 * 1024 + 1) + b"}", "larger than"),
    ],
)
async def test_the_customer_endpoint_answer_is_checked(body: bytes, match: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body)

    async with _client(handler) as client:
        with pytest.raises(InvalidResponse, match=match):
            await request_activation_key(client, "e", 1000, "acct-1")
