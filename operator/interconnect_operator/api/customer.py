"""The provider's customer endpoint (outside the symmetric API): issue an activation key.

P1: the customer asks its own provider for a key. Real providers do this in
their own console or API; the reference provider serves
``POST /customer/v1/activationKeys``. The operator uses it for links that give
a ``destinationAccountId`` instead of a key.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import httpx
from pydantic import SecretStr

from interconnect_operator.api.client import ProviderClient
from interconnect_operator.api.errors import TransportError, error_for_status

PATH = "/customer/v1/activationKeys"


@dataclass(frozen=True)
class IssuedKey:
    """A freshly issued key; the encoded key is a secret."""

    shared_connection_uuid: str
    encoded_key: SecretStr = field(repr=False)


async def request_activation_key(
    client: ProviderClient, environment: str, bandwidth_mbps: int, destination_account_id: str
) -> IssuedKey:
    """Ask the provider behind ``client`` to issue a key (never retried: not idempotent)."""
    body = {
        "environment": environment,
        "bandwidthMbps": bandwidth_mbps,
        "destinationAccountId": destination_account_id,
    }
    try:
        response = await client._http.post(
            PATH, content=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
        )
    except httpx.HTTPError as exc:
        raise TransportError("IssueActivationKey", type(exc).__name__) from exc
    if not response.is_success:
        raise error_for_status(
            "IssueActivationKey", response.status_code, response.text[:300], None
        )
    document = response.json()
    return IssuedKey(
        shared_connection_uuid=str(document["sharedConnectionUuid"]),
        encoded_key=SecretStr(str(document["encodedKey"])),
    )
