"""Evidence is recorded without secrets: redaction, operation lookup, the transport."""

from __future__ import annotations

import json

import httpx
import pytest

from interconnect_operator.conformance.recording import RecordingTransport, operation_of, redact
from interconnect_operator.conformance.results import Exchange

CONN = "/providers/gcp/environments/e/interconnects/ix1/connections/c1"


def test_secret_fields_are_replaced_at_any_depth() -> None:
    body = {
        "encodedKey": "c2VjcmV0",
        "featureConfig": {"l3BaseConfig": {"md5BgpPassword": "hunter2", "vlanId": 1100}},
        "macSecKeys": [{"cak": "00ff", "ckn": "ff00", "name": "k1"}],
    }
    text = redact(json.dumps(body).encode())
    for secret in ("c2VjcmV0", "hunter2", "00ff", "ff00"):
        assert secret not in text
    assert '"vlanId": 1100' in text
    assert '"name": "k1"' in text
    assert text.count("<redacted>") == 4


def test_a_body_that_is_not_json_is_marked_and_cut_short() -> None:
    text = redact(b"x" * 5000)
    assert text.startswith("<not JSON, 5000 bytes>")
    assert len(text) < 300
    assert redact(b"  ") == ""


def test_operations_are_found_from_method_and_path() -> None:
    assert operation_of("POST", f"{CONN}/features") == "CreateFeature"
    assert operation_of("GET", f"{CONN}/features") == "ListFeatures"
    assert operation_of("PATCH", CONN) == "UpdateConnection"
    assert operation_of("GET", "/providers/gcp") == "GetProvider"
    assert operation_of("GET", "/providers") == "ListProviders"
    assert operation_of("GET", "/healthz") == ""


async def test_the_transport_keeps_no_header_and_no_secret() -> None:
    seen: list[Exchange] = []

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"name": "k", "cak": "feedface"})

    transport = RecordingTransport(httpx.MockTransport(answer), seen.append)
    async with httpx.AsyncClient(transport=transport, base_url="http://peer.test") as client:
        response = await client.post(
            f"{CONN}/features",
            json={"encodedKey": "c2VjcmV0"},
            headers={"Authorization": "Bearer tok-123"},
        )
    assert response.json()["cak"] == "feedface"  # the caller still gets the real body
    assert len(seen) == 1
    recorded = seen[0]
    assert recorded.operation == "CreateFeature"
    assert recorded.status == 200
    assert recorded.authenticated
    dumped = repr(recorded) + recorded.request_body + recorded.response_body
    for secret in ("tok-123", "c2VjcmV0", "feedface"):
        assert secret not in dumped
    assert recorded.response_json == {"name": "k", "cak": "<redacted>"}


async def test_a_lost_response_is_recorded_without_status() -> None:
    seen: list[Exchange] = []

    def fail(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    transport = RecordingTransport(httpx.MockTransport(fail), seen.append)
    async with httpx.AsyncClient(transport=transport, base_url="http://peer.test") as client:
        with pytest.raises(httpx.ReadTimeout):
            await client.get(CONN)
    assert seen[0].status is None
    assert seen[0].error == "ReadTimeout"
    assert "no response (ReadTimeout)" in seen[0].summary()
