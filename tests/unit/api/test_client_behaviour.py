"""Client behaviour: error mapping (P32), retries (P33), pagination, hooks, limits."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import pytest
from pydantic import SecretStr

from interconnect_operator.api.client import ProviderClient, RequestRecord
from interconnect_operator.api.errors import (
    ApiError,
    AuthError,
    Conflict,
    Forbidden,
    InvalidRequest,
    InvalidResponse,
    NotFound,
    OutcomeUnknown,
    ServerError,
    Throttled,
    TransportError,
    Unauthorized,
    UnexpectedStatus,
)
from interconnect_operator.api.lanes import BULK_IN_FLIGHT, bulk_reads
from interconnect_operator.api.models import Connection, Feature, FeatureConfig, L3BaseConfig
from interconnect_operator.api.retry import RetryPolicy, is_retryable, parse_retry_after
from tests.support.clock import FakeClock
from tests.unit.api import samples
from tests.unit.api.conftest import Peer

E, IC, K = "env-1", "ic-1", "conn-1"


def error_body(code: int, message: str) -> dict[str, object]:
    return {"error": {"code": code, "message": message, "status": "X"}}


# --------------------------------------------------------------------------
# P32: status -> typed error
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error_type"),
    [
        (400, InvalidRequest),
        (401, Unauthorized),
        (403, Forbidden),
        (404, NotFound),
        (409, Conflict),
        (405, UnexpectedStatus),
        (501, ServerError),
    ],
)
async def test_p32_status_maps_to_typed_error(
    status: int, error_type: type[ApiError], peer: Peer, client: ProviderClient
) -> None:
    peer.reply(status, error_body(status, "refused: guidance not followed"))
    with pytest.raises(error_type) as caught:
        await client.get_connection(E, IC, K)
    assert caught.value.status == status
    assert caught.value.operation == "GetConnection"
    assert caught.value.message == "refused: guidance not followed"
    assert len(peer.requests) == 1  # none of these is retried on a GET (501 is not transient)


def test_auth_errors_share_a_base() -> None:
    assert issubclass(Unauthorized, AuthError)
    assert issubclass(Forbidden, AuthError)
    assert issubclass(OutcomeUnknown, TransportError)


async def test_error_message_falls_back_to_text(peer: Peer, client: ProviderClient) -> None:
    peer.replies.append(httpx.Response(409, text="capacity exhausted"))
    with pytest.raises(Conflict, match="capacity exhausted"):
        await client.get_connection(E, IC, K)


async def test_errors_never_carry_request_secrets(peer: Peer, client: ProviderClient) -> None:
    peer.reply(400, error_body(400, "bad vlan"))
    feature = Feature(
        feature_config=FeatureConfig(
            l3_base_config=L3BaseConfig(vlan_id=5, md5_bgp_password=SecretStr("pw-s3cret"))
        )
    )
    with pytest.raises(InvalidRequest) as caught:
        await client.create_feature(E, IC, K, "f-1", feature)
    assert b"pw-s3cret" in peer.last.content  # it did go on the wire...
    assert "pw-s3cret" not in str(caught.value)  # ...but not into the error
    assert "pw-s3cret" not in repr(caught.value.args)


async def test_non_json_success_body_is_invalid_response(
    peer: Peer, client: ProviderClient
) -> None:
    peer.replies.append(httpx.Response(200, text="<html>"))
    with pytest.raises(InvalidResponse):
        await client.get_connection(E, IC, K)


async def test_wrong_shape_success_body_is_invalid_response(
    peer: Peer, client: ProviderClient
) -> None:
    peer.reply(200, {"bandwidthMbps": "lots", "activationKey": ["x"]})
    with pytest.raises(InvalidResponse, match="bandwidthMbps"):
        await client.get_connection(E, IC, K)


async def test_empty_body_is_accepted_for_empty_responses(
    peer: Peer, client: ProviderClient
) -> None:
    peer.replies.append(httpx.Response(200, content=b""))
    await client.delete_connection(E, IC, K)
    assert peer.last.method == "DELETE"


# --------------------------------------------------------------------------
# P33: retries
# --------------------------------------------------------------------------


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
async def test_p33_get_retried_on_transient_status(
    status: int, peer: Peer, client: ProviderClient, fake_time: FakeClock
) -> None:
    peer.reply(status, error_body(status, "busy"), times=2)
    peer.reply(200, samples.CONNECTION)
    connection = await client.get_connection(E, IC, K)
    assert connection.bandwidth_mbps == 1000
    assert len(peer.requests) == 3
    assert len(fake_time.sleeps) == 2


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409])
async def test_p33_never_retry_answers(
    status: int, peer: Peer, client: ProviderClient, fake_time: FakeClock
) -> None:
    peer.reply(status, error_body(status, "no"), times=3)
    with pytest.raises(ApiError):
        await client.create_connection(E, IC, K, Connection(bandwidth_mbps=1000))
    with pytest.raises(ApiError):
        await client.get_connection(E, IC, K)
    assert len(peer.requests) == 2
    assert fake_time.sleeps == []


async def test_p33_retry_after_is_a_minimum(
    peer: Peer, client: ProviderClient, fake_time: FakeClock
) -> None:
    peer.reply(429, error_body(429, "slow down"), headers={"Retry-After": "7"})
    peer.reply(200, samples.CONNECTION)
    await client.get_connection(E, IC, K)
    # base 0.5s with jitter is far below 7: the server's value wins.
    assert fake_time.sleeps == [7.0]


async def test_p33_backoff_grows_and_is_jittered(
    peer: Peer, make_client: Callable[..., ProviderClient], fake_time: FakeClock
) -> None:
    policy = RetryPolicy(max_attempts=6, base_delay_s=1.0, max_delay_s=4.0, max_elapsed_s=100)
    client = make_client(retry=policy)
    peer.reply(503, error_body(503, "down"), times=6)
    with pytest.raises(ServerError):
        await client.get_connection(E, IC, K)
    assert len(peer.requests) == 6
    ceilings = [1.0, 2.0, 4.0, 4.0, 4.0]
    assert len(fake_time.sleeps) == len(ceilings)
    for delay, ceiling in zip(fake_time.sleeps, ceilings, strict=True):
        assert 0.0 <= delay <= ceiling
    assert len(set(fake_time.sleeps)) > 1  # jitter, not a fixed schedule


def test_backoff_full_jitter_bounds() -> None:
    policy = RetryPolicy(base_delay_s=0.5, max_delay_s=3.0)
    rng = random.Random(1)
    samples_ = [policy.backoff(4, rng) for _ in range(500)]
    assert max(samples_) <= 3.0
    assert min(samples_) >= 0.0
    assert max(samples_) > 2.0  # spans the range (full jitter)
    assert policy.backoff(1, rng, retry_after=9.0) == 9.0


async def test_p33_elapsed_budget_stops_retries(
    peer: Peer, make_client: Callable[..., ProviderClient], fake_time: FakeClock
) -> None:
    client = make_client(retry=RetryPolicy(max_attempts=10, max_elapsed_s=5.0))
    peer.reply(429, error_body(429, "later"), headers={"Retry-After": "3"}, times=10)
    with pytest.raises(Throttled) as caught:
        await client.get_connection(E, IC, K)
    assert caught.value.retry_after == 3.0
    assert sum(fake_time.sleeps) <= 5.0
    assert len(peer.requests) == 2  # 3s waited; another 3s would cross 5s


@pytest.mark.parametrize("status", [429, 503])
async def test_p33_mutating_call_retried_when_not_applied(
    status: int, peer: Peer, client: ProviderClient
) -> None:
    peer.reply(status, error_body(status, "not now"))
    peer.reply(200, samples.CONNECTION)
    await client.create_connection(E, IC, K, Connection(bandwidth_mbps=1000))
    assert [r.method for r in peer.requests] == ["POST", "POST"]
    # P33: same ids and body on the retry.
    assert peer.requests[0].content == peer.requests[1].content
    assert peer.requests[0].url == peer.requests[1].url


@pytest.mark.parametrize("status", [500, 502, 504])
async def test_p33_mutating_call_not_retried_on_ambiguous_5xx(
    status: int, peer: Peer, client: ProviderClient
) -> None:
    peer.reply(status, error_body(status, "oops"))
    with pytest.raises(ServerError):
        await client.create_connection(E, IC, K, Connection(bandwidth_mbps=1000))
    assert len(peer.requests) == 1


@pytest.mark.parametrize(
    "error",
    [
        httpx.ReadTimeout("timed out"),
        httpx.RemoteProtocolError("server disconnected"),
        httpx.WriteTimeout("write timed out"),
    ],
)
async def test_p33_post_with_unknown_outcome_raises_outcome_unknown(
    error: Exception, peer: Peer, client: ProviderClient, records: list[RequestRecord]
) -> None:
    peer.fail(error)
    with pytest.raises(OutcomeUnknown) as caught:
        await client.create_connection(E, IC, K, Connection(bandwidth_mbps=1000))
    assert caught.value.status is None
    assert len(peer.requests) == 1  # never blindly retried
    assert records[-1].error == "OutcomeUnknown"


async def test_p33_patch_and_delete_timeouts_are_outcome_unknown(
    peer: Peer, client: ProviderClient
) -> None:
    peer.fail(httpx.ReadTimeout("t"), times=2)
    with pytest.raises(OutcomeUnknown):
        await client.update_connection(E, IC, K, Connection(bandwidth_mbps=2000))
    with pytest.raises(OutcomeUnknown):
        await client.delete_connection(E, IC, K)
    assert len(peer.requests) == 2


async def test_p33_get_timeout_is_retried(peer: Peer, client: ProviderClient) -> None:
    peer.fail(httpx.ReadTimeout("t"))
    peer.reply(200, samples.CONNECTION)
    assert (await client.get_connection(E, IC, K)).name == samples.CONN
    assert len(peer.requests) == 2


async def test_p14_notification_timeout_is_retried(peer: Peer, client: ProviderClient) -> None:
    # NotifyConnectionStatus is a refresh hint: repeating it is harmless.
    peer.fail(httpx.ReadTimeout("t"))
    await client.notify_connection_status(E, IC, K)
    assert len(peer.requests) == 2


async def test_p33_connect_error_on_post_is_retried(peer: Peer, client: ProviderClient) -> None:
    # Not sent at all: safe to retry even a mutating call.
    peer.fail(httpx.ConnectError("refused"))
    peer.reply(200, samples.CONNECTION)
    await client.create_connection(E, IC, K, Connection(bandwidth_mbps=1000))
    assert len(peer.requests) == 2


async def test_transport_error_after_max_attempts(
    peer: Peer, client: ProviderClient, fake_time: FakeClock
) -> None:
    peer.fail(httpx.ConnectError("refused"), times=4)
    with pytest.raises(TransportError) as caught:
        await client.get_connection(E, IC, K)
    assert not isinstance(caught.value, OutcomeUnknown)
    assert len(peer.requests) == 4  # max_attempts of the fixture policy
    assert len(fake_time.sleeps) == 3


def test_is_retryable_matrix() -> None:
    assert is_retryable(ServerError("Op", status=500), idempotent=True)
    assert not is_retryable(ServerError("Op", status=500), idempotent=False)
    assert is_retryable(ServerError("Op", status=503), idempotent=False)
    assert is_retryable(Throttled("Op"), idempotent=False)
    assert not is_retryable(OutcomeUnknown("Op"), idempotent=True)
    assert not is_retryable(Conflict("Op", status=409), idempotent=True)


def test_parse_retry_after_forms() -> None:
    now = datetime(2026, 5, 18, 10, 0, 0, tzinfo=UTC)
    assert parse_retry_after("5") == 5.0
    assert parse_retry_after("Mon, 18 May 2026 10:00:30 GMT", now) == 30.0
    assert parse_retry_after("Mon, 18 May 2026 09:00:00 GMT", now) == 0.0
    assert parse_retry_after("-3") is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_retry_policy_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=0)


# --------------------------------------------------------------------------
# Pagination
# --------------------------------------------------------------------------


async def test_list_follows_every_page(peer: Peer, client: ProviderClient) -> None:
    def conn(n: int) -> dict[str, object]:
        return {**samples.CONNECTION, "name": f"{samples.IC}/connections/c{n}"}

    peer.reply(200, {"connections": [conn(1), conn(2)], "nextPageToken": "t1"})
    peer.reply(200, {"connections": [], "nextPageToken": "t2"})  # empty page mid-way
    peer.reply(200, {"connections": [conn(3)]})
    names = [c.name for c in await client.list_connections_all(E, IC, page_size=2)]
    assert [str(n).rsplit("/", 1)[1] for n in names] == ["c1", "c2", "c3"]
    assert [r.url.params.get("pageToken") for r in peer.requests] == [None, "t1", "t2"]
    assert all(r.url.params["pageSize"] == "2" for r in peer.requests)


async def test_list_is_lazy(peer: Peer, client: ProviderClient) -> None:
    peer.reply(200, {"features": [samples.FEATURE], "nextPageToken": "more"})
    iterator = client.list_features(E, IC, K)
    first = await anext(iterator)
    assert first.channel == samples.CH
    assert len(peer.requests) == 1  # second page not fetched until needed
    await iterator.aclose()


async def test_repeated_page_token_is_an_error(peer: Peer, client: ProviderClient) -> None:
    peer.reply(200, {"channels": [], "nextPageToken": "same"}, times=3)
    with pytest.raises(InvalidResponse, match="page token repeated"):
        await client.list_channels_all(E, IC)
    assert len(peer.requests) == 2


# --------------------------------------------------------------------------
# Tolerance, hooks, secrets in logs, limits
# --------------------------------------------------------------------------


async def test_unknown_fields_and_enum_values_are_tolerated(
    peer: Peer, client: ProviderClient
) -> None:
    peer.reply(
        200,
        {
            **samples.CONNECTION,
            "adminState": "ADMIN_STATE_QUARANTINED",
            "newField": {"nested": [1, 2]},
        },
    )
    connection = await client.get_connection(E, IC, K)
    assert connection.admin_state == "ADMIN_STATE_QUARANTINED"
    assert connection.model_extra == {"newField": {"nested": [1, 2]}}


async def test_on_request_hook_gets_each_attempt(
    peer: Peer, client: ProviderClient, records: list[RequestRecord]
) -> None:
    peer.reply(503, error_body(503, "x"))
    peer.reply(200, samples.CONNECTION)
    await client.get_connection(E, IC, K)
    assert [(r.operation, r.status_code, r.attempt) for r in records] == [
        ("GetConnection", 503, 1),
        ("GetConnection", 200, 2),
    ]
    assert all(r.latency_seconds >= 0 for r in records)
    assert records[0].base_url == "https://peer.test"


async def test_a_failing_hook_does_not_break_the_call(
    peer: Peer, make_client: Callable[..., ProviderClient]
) -> None:
    def broken(record: RequestRecord) -> None:
        raise RuntimeError("metrics down")

    client = make_client(on_request=broken)
    peer.reply(200, samples.CONNECTION)
    assert (await client.get_connection(E, IC, K)).bandwidth_mbps == 1000


async def test_secrets_stay_out_of_logs(
    peer: Peer, client: ProviderClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    peer.reply(503, error_body(503, "x"))
    peer.reply(200, samples.FEATURE)
    feature = await client.get_feature(E, IC, K, "f-1")
    peer.reply(200, {"keyValid": True})
    await client.confirm_activation_key(E, "ZW5jb2RlZC1rZXk=")
    logging.getLogger("test").info("feature=%s", feature)
    text = caplog.text + repr(feature) + str(feature)
    assert "bgp-md5-secret" not in text
    assert "ZW5jb2RlZC1rZXk=" not in text
    assert "GetFeature" in caplog.text  # the log did say something


async def test_concurrency_is_bounded(
    peer: Peer, make_client: Callable[..., ProviderClient]
) -> None:
    in_flight = 0
    peak = 0
    release = asyncio.Event()

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        peer.requests.append(request)
        in_flight += 1
        peak = max(peak, in_flight)
        await release.wait()
        in_flight -= 1
        return httpx.Response(200, json=samples.CONNECTION)

    client = make_client(transport=httpx.MockTransport(handler), max_concurrency=3)
    tasks = [asyncio.create_task(client.get_connection(E, IC, f"c{n}")) for n in range(10)]
    for _ in range(20):
        await asyncio.sleep(0)
    assert peak == 3
    release.set()
    results = await asyncio.gather(*tasks)
    assert len(results) == 10
    assert peak == 3


async def test_bulk_reads_keep_few_requests_in_flight_and_other_calls_pass_them(
    peer: Peer, make_client: Callable[..., ProviderClient]
) -> None:
    """A refresh's lists (api.lanes) take at most BULK_IN_FLIGHT of the client's
    requests at once; a link's call made meanwhile is sent at once, not after them."""
    in_flight = {"list": 0, "other": 0}
    peak = 0
    release = asyncio.Event()

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal peak
        peer.requests.append(request)
        if request.method == "GET" and request.url.path.endswith("/connections"):
            in_flight["list"] += 1
            peak = max(peak, in_flight["list"])
            await release.wait()
            in_flight["list"] -= 1
            return httpx.Response(200, json={"connections": []})
        return httpx.Response(200, json=samples.CONNECTION)

    client = make_client(transport=httpx.MockTransport(handler), max_concurrency=16)

    async def list_one(ix: str) -> list[object]:
        return [c async for c in client.list_connections(E, ix)]

    with bulk_reads():
        lists = [asyncio.create_task(list_one(f"ic-{n}")) for n in range(8)]
    for _ in range(20):
        await asyncio.sleep(0)
    assert peak == BULK_IN_FLIGHT
    # Not a bulk read: sent while every bulk slot is held.
    await asyncio.wait_for(client.get_connection(E, IC, K), 5.0)
    assert not any(task.done() for task in lists)
    release.set()
    assert all(r == [] for r in await asyncio.gather(*lists))
    assert peak == BULK_IN_FLIGHT


async def test_caller_is_the_path_prefix(
    peer: Peer, make_client: Callable[..., ProviderClient]
) -> None:
    client = ProviderClient(
        "https://peer.test/api/", "prov-b", transport=httpx.MockTransport(peer.handle)
    )
    peer.validate = False  # the /api base path is not part of the spec's paths
    await client.get_connection(E, IC, K)
    assert (
        peer.last.url.path
        == f"/api/providers/prov-b/environments/{E}/interconnects/{IC}/connections/{K}"
    )
    await client.aclose()


def test_constructor_validates() -> None:
    with pytest.raises(ValueError, match="caller"):
        ProviderClient("https://x", "a/b")
    with pytest.raises(ValueError, match="max_concurrency"):
        ProviderClient("https://x", "a", max_concurrency=0)
    assert "prov-a" in repr(ProviderClient("https://x", "prov-a"))
