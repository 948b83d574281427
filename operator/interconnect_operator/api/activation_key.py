"""Activation keys: encode and decode the ``encodedKey`` of P1-P3.

An activation key is issued by the responder (provider A) to the customer,
handed by the customer to the negotiator (provider B), and confirmed by B at
A with ConfirmActivationKey. On the wire it is the base64 of the JSON of the
spec's ``ActivationKey`` schema (camelCase keys).

:func:`decode` does the well-formedness part of P2 (structure, types, a UUID,
a positive size, an environment resource name, a known version). Whether the
environment exists, the bandwidth is available and the account is the
caller's are server-side checks, not done here.

The encoded key is a credential: it never appears in error messages, and
callers keep it in a ``SecretStr``.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid

from pydantic import ValidationError

from interconnect_operator.api.models import ActivationKey, to_wire
from interconnect_operator.api.names import InvalidResourceName, parse_name

__all__ = [
    "CURRENT_VERSION",
    "SUPPORTED_VERSIONS",
    "ActivationKey",
    "InvalidActivationKey",
    "decode",
    "encode",
    "validate",
]

CURRENT_VERSION = 1
SUPPORTED_VERSIONS = frozenset({CURRENT_VERSION})

# Keys are small; anything much larger is garbage or an attack on the parser.
_MAX_ENCODED_LENGTH = 4096


class InvalidActivationKey(ValueError):
    """An activation key is malformed (P2). The message never holds the key."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"invalid activation key: {reason}")
        self.reason = reason


def validate(key: ActivationKey) -> ActivationKey:
    """Check the semantic rules of a decoded key; return it unchanged."""
    if key.version not in SUPPORTED_VERSIONS:
        raise InvalidActivationKey(f"unsupported version {key.version}")
    try:
        uuid.UUID(key.shared_connection_uuid)
    except ValueError:
        raise InvalidActivationKey("sharedConnectionUuid is not a UUID") from None
    if key.connection_size_mbps <= 0:
        raise InvalidActivationKey("connectionSizeMbps must be positive")
    if not key.destination_account_id.strip():
        raise InvalidActivationKey("destinationAccountId is empty")
    try:
        parsed = parse_name(key.destination_environment_uri)
    except InvalidResourceName:
        raise InvalidActivationKey(
            "destinationEnvironmentUri is not providers/{p}/environments/{e}"
        ) from None
    if parsed.kind != "environment":
        raise InvalidActivationKey(
            "destinationEnvironmentUri is not providers/{p}/environments/{e}"
        )
    return key


def encode(key: ActivationKey) -> str:
    """Base64 (standard alphabet, padded) of the key's JSON, after validation."""
    validate(key)
    payload = json.dumps(to_wire(key), separators=(",", ":"), sort_keys=True)
    return base64.b64encode(payload.encode("utf-8")).decode("ascii")


def decode(encoded: str) -> ActivationKey:
    """Parse and validate an ``encodedKey``; raise InvalidActivationKey if bad."""
    text = encoded.strip()
    if not text:
        raise InvalidActivationKey("empty")
    if len(text) > _MAX_ENCODED_LENGTH:
        raise InvalidActivationKey("too long")
    try:
        # The spec's ``format: byte`` is standard base64; accept the URL-safe
        # alphabet too, as keys are often pasted through URLs and YAML.
        alphabet_fixed = text.replace("-", "+").replace("_", "/")
        padded = alphabet_fixed + "=" * (-len(alphabet_fixed) % 4)
        raw = base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidActivationKey("not base64") from None
    try:
        document = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise InvalidActivationKey("not JSON") from None
    if not isinstance(document, dict):
        raise InvalidActivationKey("not a JSON object")
    try:
        key = ActivationKey.model_validate(document, strict=False)
    except ValidationError as error:
        # Name the offending fields only; pydantic's message would echo values.
        fields = sorted({".".join(str(p) for p in e["loc"]) for e in error.errors()})
        raise InvalidActivationKey(f"bad or missing fields: {', '.join(fields)}") from None
    return validate(key)
