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

from interconnect_operator.api.activation_key import InvalidActivationKey, decode
from interconnect_operator.api.base_client import ResponseTooLarge, read_bounded
from interconnect_operator.api.client import ProviderClient
from interconnect_operator.api.errors import InvalidResponse, TransportError, error_for_status
from interconnect_operator.api.models import ConnectionType

PATH = "/customer/v1/activationKeys"
_OPERATION = "IssueActivationKey"
#: An issued key is a few hundred bytes; anything much larger is not one.
_MAX_BYTES = 64 * 1024


@dataclass(frozen=True)
class IssuedKey:
    """A freshly issued key; the encoded key is a secret."""

    shared_connection_uuid: str
    encoded_key: SecretStr = field(repr=False)


async def request_activation_key(
    client: ProviderClient,
    environment: str,
    bandwidth_mbps: int,
    destination_account_id: str,
    *,
    test: bool = False,
) -> IssuedKey:
    """Ask the provider behind ``client`` to issue a key (never retried: not idempotent).

    ``test``: a key for a TEST connection (upstream PR #57), which may be below
    the environment's minimum size; sent as ``connectionType`` only then.
    """
    body: dict[str, object] = {
        "environment": environment,
        "bandwidthMbps": bandwidth_mbps,
        "destinationAccountId": destination_account_id,
    }
    if test:
        body["connectionType"] = ConnectionType.TEST.value
    try:
        response = await client.send("POST", PATH, content=json.dumps(body).encode())
        try:
            raw = await read_bounded(response, _MAX_BYTES)
        finally:
            await response.aclose()
    except ResponseTooLarge:
        raise InvalidResponse(_OPERATION, f"response larger than {_MAX_BYTES} bytes") from None
    except httpx.HTTPError as exc:
        raise TransportError(_OPERATION, type(exc).__name__) from exc
    if not response.is_success:
        text = raw.decode("utf-8", errors="replace")[:300]
        raise error_for_status(_OPERATION, response.status_code, text, None)
    return _parse(raw, response.status_code)


def _parse(raw: bytes, status: int) -> IssuedKey:
    """Defensive: a JSON object whose key decodes (P1-P2) and names the UUID it claims."""
    try:
        document = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise InvalidResponse(_OPERATION, "body is not JSON", status) from None
    if not isinstance(document, dict):
        raise InvalidResponse(_OPERATION, "body is not an object", status)
    uuid, encoded = document.get("sharedConnectionUuid"), document.get("encodedKey")
    if not isinstance(uuid, str) or not isinstance(encoded, str):
        raise InvalidResponse(_OPERATION, "sharedConnectionUuid or encodedKey missing", status)
    try:
        key = decode(encoded)
    except InvalidActivationKey:
        raise InvalidResponse(_OPERATION, "encodedKey is not a valid key", status) from None
    if key.shared_connection_uuid != uuid:
        raise InvalidResponse(_OPERATION, "encodedKey names another connection", status)
    return IssuedKey(shared_connection_uuid=uuid, encoded_key=SecretStr(encoded))
