"""Calls sent straight on the aiohttp transport (api/base_client.py ``_Direct``).

A client with the aiohttp transport and no per-request auth flow sends its
calls without building httpx's Request, Headers and URL. A raw TCP server
(no HTTP library between) records the request head and body byte for byte:
each call must arrive exactly as the httpx path (``send``) sends it, for
hostile ids and queries too. The answer is read as before (whole when
declared and small, else streamed through the bounded read), and the error
classes keep the P33 distinction: a call that could not connect was never
sent (TransportError), one whose connection dropped after it was sent has an
unknown outcome when it is mutating (OutcomeUnknown).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from interconnect_operator.api import base_client
from interconnect_operator.api.auth import BearerToken, NoAuth, SigV4
from interconnect_operator.api.base_client import RequestRecord
from interconnect_operator.api.client import ProviderClient
from interconnect_operator.api.errors import (
    InvalidResponse,
    NotFound,
    OutcomeUnknown,
    TransportError,
)
from interconnect_operator.api.models import Connection, Feature, request_bytes
from interconnect_operator.api.operations import OPERATIONS
from interconnect_operator.api.retry import RetryPolicy
from interconnect_operator.api.wire import segment
from tests.support.raw_http import read_request
from tests.unit.api import samples

E, IC = "env-1", "ic-1"
HOSTILE = ["plain", "a b/../c", "..", ".", "%2F", "a?b#c", "ünï", "semi;colon=1", "@host:1"]


@dataclass
class RawServer:
    """Records every request's head and body as bytes; answers ``answer``."""

    answer: Callable[[bytes], bytes] = lambda head: (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        b"Content-Length: 2\r\nX-Answer: 1\r\n\r\n{}"
    )
    requests: list[tuple[bytes, bytes]] = field(default_factory=list)
    drop_after_read: bool = False

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while (request := await read_request(reader)) is not None:
                head, body = request
                self.requests.append((head, body))
                if self.drop_after_read:
                    return  # sent, and no byte of an answer
                writer.write(self.answer(head))
                await writer.drain()
        finally:
            writer.close()

    def heads(self) -> list[tuple[str, list[str], bytes]]:
        """(request line, header lines in order, body) of every request."""
        out = []
        for head, body in self.requests:
            line, *headers = head.decode("latin-1").rstrip("\r\n").split("\r\n")
            out.append((line, headers, body))
        return out


@pytest.fixture
async def raw() -> AsyncIterator[tuple[RawServer, str]]:
    server = RawServer()
    listener = await asyncio.start_server(server.handle, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    try:
        yield server, f"http://127.0.0.1:{port}"
    finally:
        listener.close()
        await listener.wait_closed()


def _client(base: str, **kwargs: Any) -> ProviderClient:
    kwargs.setdefault("auth", BearerToken("tok-1"))
    kwargs.setdefault("retry", RetryPolicy(max_attempts=1))
    return ProviderClient(base, "prov-a", **kwargs)


def test_the_direct_path_is_taken_only_without_a_flow_on_the_aiohttp_transport() -> None:
    assert _client("http://peer.test")._direct is not None
    assert _client("http://peer.test", auth=NoAuth())._direct is not None
    signed = _client("http://peer.test", auth=SigV4(("AKID", "secret"), "us-east-1", "x"))
    assert signed._direct is None  # signed per request: the httpx Request its flow signs
    mocked = _client(
        "http://peer.test", transport=httpx.MockTransport(lambda r: httpx.Response(200))
    )
    assert mocked._direct is None
    assert _client("http://user:pw@peer.test")._direct is None
    assert _client("http://[::1]:8080")._direct is None


@pytest.mark.parametrize("ident", HOSTILE)
@pytest.mark.parametrize("base_path", ["", "/api/v1"])
async def test_every_call_arrives_as_the_httpx_path_sends_it(
    raw: tuple[RawServer, str], ident: str, base_path: str
) -> None:
    server, base = raw
    client = _client(base + base_path)
    assert client._direct is not None
    params = {"pageToken": "a&b=c+d/é%", "requestId": "r 1"}
    calls: list[tuple[str, str, dict[str, str] | None, bytes | None, bool]] = [
        (
            "POST",
            f"/x/{segment(ident)}/features",
            {"featureId": ident},
            b'{"a":1}',
            False,
        ),
        ("POST", "/x/NotifyConnectionStatus", None, None, True),
        ("GET", f"/x/{segment(ident)}", params, None, True),
        ("DELETE", "/x/y", {"requestId": "0f8fad5b-d9cb-469f-a165-70867728950e"}, None, False),
        ("PATCH", "/x/y", None, b"{}", False),
    ]
    async with client:
        for method, path, query, content, repeatable in calls:
            await client.send(method, path, params=query, content=content, repeatable=repeatable)
            answer = await base_client.BaseProviderClient._send_direct(
                client._direct, method, path, query, content, repeatable=repeatable
            )
            assert answer.status_code == 200
            assert answer.content == b"{}"
            assert answer.headers["X-Answer"] == "1"
    heads = server.heads()
    assert len(heads) == 2 * len(calls)
    for via_httpx, direct in zip(heads[::2], heads[1::2], strict=True):
        assert direct == via_httpx
    line, headers, body = heads[0]
    assert line.startswith(f"POST {base_path}/x/")
    assert "Authorization: Bearer tok-1" in headers
    assert "Content-Length: 7" in headers
    assert body == b'{"a":1}'
    assert "Content-Length: 0" in heads[2][1]  # an empty POST
    assert not any(h.startswith("Content-Length") for h in heads[4][1])  # a GET


async def test_operations_over_the_direct_path_parse_and_record(raw: tuple[RawServer, str]) -> None:
    server, base = raw
    feature = json.dumps(samples.FEATURE).encode()
    server.answer = lambda head: (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
        % (len(feature), feature)
    )
    records: list[RequestRecord] = []
    async with _client(base, on_request=records.append) as client:
        got = await client.create_feature(
            E, IC, "c1", "ch1", Feature.model_validate(samples.FEATURE), request_id="rid-1"
        )
    assert got == Feature.model_validate(samples.FEATURE)
    ((line, headers, body),) = server.heads()
    assert line == (
        "POST /providers/prov-a/environments/env-1/interconnects/ic-1/connections/c1/features"
        "?featureId=ch1&requestId=rid-1 HTTP/1.1"
    )
    assert "Content-Type: application/json" in headers
    assert body == request_bytes(Feature.model_validate(samples.FEATURE))
    assert [(r.operation, r.status_code, r.error) for r in records] == [
        ("CreateFeature", 200, None)
    ]


async def test_an_error_answer_is_typed_with_the_peers_message(raw: tuple[RawServer, str]) -> None:
    server, base = raw
    body = b'{"error": {"message": "no such connection"}}'
    server.answer = lambda head: (
        b"HTTP/1.1 404 Not Found\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    )
    async with _client(base) as client:
        with pytest.raises(NotFound, match="no such connection"):
            await client.get_connection(E, IC, "c1")


@pytest.mark.parametrize("bound", [1000, 40, 10])
async def test_an_undeclared_answer_is_read_whole_or_streamed_and_always_bounded(
    raw: tuple[RawServer, str], monkeypatch: pytest.MonkeyPatch, bound: int
) -> None:
    server, base = raw
    parts = (b'{"name": ', b'"providers/prov-a/x"}')
    body = b"".join(parts)

    def chunked(head: bytes) -> bytes:
        encoded = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in parts)
        return (
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n%s0\r\n\r\n" % encoded
        )

    server.answer = chunked
    # The bound is both the transport's read-ahead and the client's limit.
    monkeypatch.setattr(base_client, "MAX_RESPONSE_BYTES", bound)
    async with _client(base) as client:
        if bound >= len(body):
            connection = await client.get_connection(E, IC, "x")
            assert connection.name == "providers/prov-a/x"
        else:
            with pytest.raises(InvalidResponse, match="larger than"):
                await client.get_connection(E, IC, "x")


async def test_not_connected_is_not_sent_and_a_drop_after_sending_is_an_unknown_outcome(
    raw: tuple[RawServer, str],
) -> None:
    server, base = raw
    listener = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    closed_port = listener.sockets[0].getsockname()[1]
    listener.close()
    await listener.wait_closed()
    connection = Connection.model_validate(samples.CONNECTION)
    async with _client(f"http://127.0.0.1:{closed_port}") as client:
        with pytest.raises(TransportError):
            await client.create_connection(E, IC, "c1", connection, request_id="r1")
    server.drop_after_read = True
    async with _client(base) as client:
        with pytest.raises(OutcomeUnknown):
            await client.create_connection(E, IC, "c1", connection, request_id="r1")
        with pytest.raises(TransportError) as read:
            await client.get_connection(E, IC, "c1")
        assert not isinstance(read.value, OutcomeUnknown)
    # The mutating call went out once (never resent blindly, P33); the read
    # (repeatable) was sent once more on a new connection after the drop.
    lines = [line.split(" ")[0] for line, _, _ in server.heads()]
    assert lines == ["POST", "GET", "GET"]
    assert OPERATIONS["GetConnection"].idempotent
