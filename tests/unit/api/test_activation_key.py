"""Activation keys (P1-P3): encode/decode round trip and validation errors."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from interconnect_operator.api.activation_key import (
    ActivationKey,
    InvalidActivationKey,
    decode,
    encode,
)

VALID: dict[str, Any] = {
    "version": 1,
    "destinationEnvironmentUri": "providers/prov-a/environments/env-1",
    "sharedConnectionUuid": "0b6f2c1e-3b1e-4c55-9d1a-6a1d2b3c4d5e",
    "connectionSizeMbps": 1000,
    "destinationAccountId": "123456789012",
}


def b64(document: Any) -> str:
    return base64.b64encode(json.dumps(document).encode()).decode()


def test_p1_round_trip() -> None:
    key = ActivationKey.model_validate(VALID)
    encoded = encode(key)
    assert json.loads(base64.b64decode(encoded)) == VALID  # camelCase JSON in base64
    assert decode(encoded) == key


def test_p2_decode_accepts_url_safe_and_unpadded() -> None:
    encoded = base64.urlsafe_b64encode(json.dumps(VALID).encode()).decode().rstrip("=")
    assert decode(f"  {encoded}\n").shared_connection_uuid == VALID["sharedConnectionUuid"]


@pytest.mark.parametrize(
    ("encoded", "reason"),
    [
        ("", "empty"),
        ("!!!not base64!!!", "not base64"),
        (base64.b64encode(b"\xff\xfe").decode(), "not JSON"),
        (base64.b64encode(b"{nope").decode(), "not JSON"),
        (b64([VALID]), "not a JSON object"),
        (
            b64({k: v for k, v in VALID.items() if k != "destinationAccountId"}),
            "destinationAccountId",
        ),
        (b64({**VALID, "connectionSizeMbps": "a lot"}), "connectionSizeMbps"),
        (b64({**VALID, "version": 2}), "unsupported version 2"),
        (b64({**VALID, "sharedConnectionUuid": "not-a-uuid"}), "not a UUID"),
        (b64({**VALID, "connectionSizeMbps": 0}), "must be positive"),
        (b64({**VALID, "destinationAccountId": "  "}), "destinationAccountId is empty"),
        (b64({**VALID, "destinationEnvironmentUri": "env-1"}), "destinationEnvironmentUri"),
        (
            b64(
                {**VALID, "destinationEnvironmentUri": "providers/p/environments/e/interconnects/i"}
            ),
            "destinationEnvironmentUri",
        ),
        ("A" * 5000, "too long"),
    ],
)
def test_p2_malformed_keys_are_rejected(encoded: str, reason: str) -> None:
    with pytest.raises(InvalidActivationKey) as caught:
        decode(encoded)
    assert reason in caught.value.reason


def test_error_message_never_contains_the_key() -> None:
    encoded = b64({**VALID, "sharedConnectionUuid": "secret-material-xyz"})
    with pytest.raises(InvalidActivationKey) as caught:
        decode(encoded)
    assert "secret-material-xyz" not in str(caught.value)
    assert encoded not in str(caught.value)


def test_invalid_activation_key_is_a_value_error() -> None:
    assert issubclass(InvalidActivationKey, ValueError)


def test_encode_refuses_an_invalid_key() -> None:
    with pytest.raises(InvalidActivationKey, match="positive"):
        encode(ActivationKey.model_validate({**VALID, "connectionSizeMbps": -1}))
