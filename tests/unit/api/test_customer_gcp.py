"""The Google transports client against recorded request/response pairs.

``recordings/gcp_transports.json`` holds one session of the client against
the fake (``record_gcp.py`` re-records it). Replaying it checks that the
client sends exactly those requests (method, path, query, body: requestIds
derived from the intent, updateMask from the fields), parses what came back,
honours Retry-After on 429, and maps Google's error JSON. The recordings are
themselves checked against the discovery document, so they are not free-form.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from interconnect_operator.api.auth import BearerToken
from interconnect_operator.api.customer_gcp import (
    GoogleTransportsClient,
    Operation,
    OperationFailed,
    TransportSpec,
    bandwidth_enum,
    request_id,
)
from interconnect_operator.api.errors import (
    Conflict,
    Forbidden,
    InvalidRequest,
    NotFound,
    OutcomeUnknown,
    ServerError,
)
from interconnect_operator.api.retry import RetryPolicy
from interconnect_operator.fakes import gcp_discovery

PAIRS: list[dict[str, Any]] = json.loads(
    (Path(__file__).parent / "recordings" / "gcp_transports.json").read_text()
)
PROJECT, LOCATION = "demo-project", "us-east4"
ENDPOINT = "https://networkconnectivity.test"


class Replay(httpx.AsyncBaseTransport):
    """Answers each request with the next recorded response, after checking it matches."""

    def __init__(self, pairs: list[dict[str, Any]]) -> None:
        self._pairs: Iterator[dict[str, Any]] = iter(pairs)
        self.served = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        pair = next(self._pairs)
        expected = pair["request"]
        assert request.method == expected["method"]
        assert request.url.path == expected["path"]
        assert dict(request.url.params) == expected["query"]
        body = json.loads(request.content) if request.content else None
        assert body == expected["body"]
        assert request.headers["Authorization"] == "Bearer token"
        self.served += 1
        answer = pair["response"]
        return httpx.Response(answer["status"], headers=answer["headers"], json=answer["body"])


def client(transport: httpx.AsyncBaseTransport, delays: list[float]) -> GoogleTransportsClient:
    async def sleep(seconds: float) -> None:
        delays.append(seconds)

    return GoogleTransportsClient(
        PROJECT,
        LOCATION,
        auth=BearerToken("token"),
        endpoint=ENDPOINT,
        transport=transport,
        retry=RetryPolicy(max_attempts=3, base_delay_s=0.01),
        sleep=sleep,
    )


async def test_recorded_session_replays() -> None:
    replay = Replay(PAIRS)
    delays: list[float] = []
    gcp = client(replay, delays)
    profiles = await gcp.list_remote_transport_profiles()
    assert [(p.id, p.provider_site, p.flow) for p in profiles] == [
        ("aws-us-east-1", "us-east-1", "INPUT_OR_OUTPUT")
    ]
    assert 1000 in profiles[0].supported_mbps
    spec = TransportSpec(
        remote_profile=profiles[0].name,
        network=f"projects/{PROJECT}/global/networks/default",
        bandwidth_mbps=1000,
        remote_account_id="111122223333",
    )
    op = await gcp.create_transport("recorded", spec, request=request_id("recorded", "create"))
    created = (await gcp.wait(op)).transport()
    assert created is not None
    assert created.state == "PENDING_KEY"
    assert created.generated_activation_key is not None
    assert (await gcp.get_transport("recorded")).state == "ACTIVE"
    patch = await gcp.set_bandwidth("recorded", 2000, request=request_id("recorded", "2000"))
    resized = (await gcp.wait(patch)).transport()
    assert resized is not None
    assert resized.bandwidth_mbps == 2000
    assert [t.id for t in await gcp.list_transports()] == ["recorded"]
    deletion = await gcp.delete_transport("recorded", request=request_id("recorded", "delete"))
    deleted = await gcp.wait(deletion)
    assert deleted.done
    assert deleted.transport() is None  # google.protobuf.Empty
    with pytest.raises(NotFound, match="NOT_FOUND"):
        await gcp.get_transport("recorded")
    await gcp.list_remote_transport_profiles()  # 429 first: retried after Retry-After
    assert replay.served == len(PAIRS)
    assert max(delays) >= 1.0
    await gcp.aclose()


def _schema_of(pair: dict[str, Any]) -> str | None:
    request, path = pair["request"], pair["request"]["path"]
    if pair["response"]["status"] != 200:
        return "GoogleRpcStatus"
    if request["method"] in ("POST", "PATCH", "DELETE") or "/operations/" in path:
        return "GoogleLongrunningOperation"
    if path.endswith("/remoteTransportProfiles"):
        return "ListRemoteTransportProfilesResponse"
    if path.endswith("/transports"):
        return "ListTransportsResponse"
    return "Transport"


@pytest.mark.parametrize("index", range(len(PAIRS)))
def test_recordings_conform_to_the_discovery_document(index: int) -> None:
    pair = PAIRS[index]
    body = pair["response"]["body"]
    schema = _schema_of(pair)
    assert schema is not None
    if schema == "GoogleRpcStatus":
        body = body["error"]
        body = {k: v for k, v in body.items() if k != "status"}  # the REST envelope adds status
    assert gcp_discovery.validate_body(schema, body, request=False) == []
    if pair["request"]["body"] is not None:
        assert gcp_discovery.validate_body("Transport", pair["request"]["body"], request=True) == []


def _answer(status: int, status_name: str, message: str = "nope") -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        body = {"error": {"code": status, "message": message, "status": status_name}}
        return httpx.Response(status, json=body)

    return httpx.MockTransport(handler)


@pytest.mark.parametrize(
    ("status", "name", "error"),
    [
        (400, "INVALID_ARGUMENT", InvalidRequest),
        (403, "PERMISSION_DENIED", Forbidden),
        (404, "NOT_FOUND", NotFound),
        (409, "ALREADY_EXISTS", Conflict),
        (500, "INTERNAL", ServerError),
    ],
)
async def test_google_error_json_maps_to_typed_errors(
    status: int, name: str, error: type[Exception]
) -> None:
    gcp = client(_answer(status, name), [])
    with pytest.raises(error, match=name):
        await gcp.get_transport("t")
    await gcp.aclose()


async def test_reads_retry_5xx_but_creates_do_not() -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.method)
        return httpx.Response(500, json={"error": {"code": 500, "status": "INTERNAL"}})

    gcp = client(httpx.MockTransport(handler), [])
    with pytest.raises(ServerError):
        await gcp.get_transport("t")
    assert calls == ["GET"] * 3
    calls.clear()
    with pytest.raises(ServerError):
        await gcp.create_transport("t", TransportSpec(remote_profile="p"), request="r")
    assert calls == ["POST"]  # a 500 may have been applied: the caller reads first (P33)
    await gcp.aclose()


async def test_lost_response_to_a_create_is_outcome_unknown() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("lost", request=request)

    gcp = client(httpx.MockTransport(handler), [])
    with pytest.raises(OutcomeUnknown):
        await gcp.create_transport("t", TransportSpec(remote_profile="p"), request="r")
    await gcp.aclose()


async def test_failed_operation_raises() -> None:
    gcp = client(_answer(200, "OK"), [])
    failed = Operation.parse(
        {
            "name": f"projects/{PROJECT}/locations/{LOCATION}/operations/operation-1",
            "done": True,
            "error": {"code": 9, "message": "the key was not confirmed"},
            "metadata": {"verb": "create"},
        }
    )
    with pytest.raises(OperationFailed, match="not confirmed") as caught:
        await gcp.wait(failed)
    assert caught.value.code == 9
    with pytest.raises(ValueError, match="not an operation"):
        await gcp.get_operation("projects/other/locations/x/operations/operation-1")
    await gcp.aclose()


def test_transport_spec_bodies_for_both_flows() -> None:
    google_first = TransportSpec(
        remote_profile="p", network="n", bandwidth_mbps=10000, remote_account_id="123456789012"
    )
    assert google_first.body() == {
        "remoteProfile": "p",
        "network": "n",
        "bandwidth": "BPS_10G",
        "remoteAccountId": "123456789012",
    }
    partner_first = TransportSpec(
        remote_profile="p",
        hub="h",
        provided_activation_key=SecretStr("KEY-MATERIAL"),
        advertised_routes=("10.0.0.0/8",),
    )
    assert partner_first.body()["providedActivationKey"] == "KEY-MATERIAL"
    assert "KEY-MATERIAL" not in repr(partner_first)
    for body in (google_first.body(), partner_first.body()):
        assert gcp_discovery.validate_body("Transport", body, request=True) == []


def test_bandwidths_and_request_ids() -> None:
    assert bandwidth_enum(1000) == "BPS_1G"
    assert bandwidth_enum(50) == "BPS_50M"
    with pytest.raises(ValueError, match="no 1500 Mbps"):
        bandwidth_enum(1500)
    assert request_id("ns/link", "create", "1") == request_id("ns/link", "create", "1")
    assert request_id("ns/link", "create", "1") != request_id("ns/link", "create", "2")
    assert len(request_id("x")) == 36
