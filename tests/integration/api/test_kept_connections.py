"""Kept provider connections the server closes (api.transport, P33).

A real HTTP/1.1 server over TCP (no mocks) that answers the first request of
each connection and keeps the connection open, then closes the connection
with no answer when a request arrives on it again: a server whose idle
timeout fires just as the client's next request crosses it. The client keeps
idle connections (``KEEPALIVE_SECONDS``), so its second call goes out on the
kept connection and meets that close.

- A call P33 lets the client repeat (a GET, NotifyConnectionStatus) is sent
  once more on a new connection at once: it succeeds in one attempt, with no
  backoff.
- A mutating call (CreateFeature, DeleteFeature) is never sent again blindly:
  the server sees it once and the caller gets OutcomeUnknown, which it
  resolves by reading first (P33). aiohttp's own resend by HTTP method would
  have sent the DELETE twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import aiohttp
import httpx
import pytest

from interconnect_operator.api import transport
from interconnect_operator.api.base_client import RequestRecord
from interconnect_operator.api.client import ProviderClient
from interconnect_operator.api.errors import OutcomeUnknown
from interconnect_operator.api.models import Feature
from interconnect_operator.reconcile.pool import PoolConfig
from interconnect_operator.simulator.config import SimulatorConfig
from interconnect_operator.simulator.server import uvicorn_config


@dataclass
class ClosingServer:
    """Answers each connection's first request; closes it, unanswered, at the next."""

    connections: int = 0
    seen: list[tuple[str, int]] = field(default_factory=list)
    """(method, connection number) of every request received, answered or not."""
    unanswered: list[tuple[str, int]] = field(default_factory=list)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        number = self.connections
        answered = 0
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except asyncio.IncompleteReadError:
                    return  # the client closed the connection
                lines = head.decode("latin-1").split("\r\n")
                method = lines[0].split(" ")[0]
                length = next(
                    (
                        int(line.partition(":")[2])
                        for line in lines[1:]
                        if line.lower().startswith("content-length:")
                    ),
                    0,
                )
                if length:
                    await reader.readexactly(length)
                self.seen.append((method, number))
                if answered:
                    self.unanswered.append((method, number))
                    return  # closed as the request arrived: no byte of an answer
                body = b"{}"
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
                )
                await writer.drain()
                answered += 1
        finally:
            writer.close()


@dataclass
class Rig:
    server: ClosingServer
    client: ProviderClient
    records: list[RequestRecord]
    sleeps: list[float]


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    server = ClosingServer()
    listener = await asyncio.start_server(server.handle, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    records: list[RequestRecord] = []
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    client = ProviderClient(
        f"http://127.0.0.1:{port}", "gcp", on_request=records.append, sleep=sleep
    )
    try:
        yield Rig(server, client, records, sleeps)
    finally:
        await client.aclose()
        listener.close()
        await listener.wait_closed()


async def test_a_read_on_a_kept_connection_the_server_closed_is_sent_again_at_once(
    rig: Rig,
) -> None:
    await rig.client.get_connection("env", "ix", "c1")
    await rig.client.get_connection("env", "ix", "c1")  # on the kept connection: closed
    await rig.client.notify_connection_status("env", "ix", "c1")  # POST, repeatable (P14)
    assert rig.server.unanswered == [("GET", 1), ("POST", 2)]
    assert rig.server.seen == [("GET", 1), ("GET", 1), ("GET", 2), ("POST", 2), ("POST", 3)]
    # One attempt each at the client's level: no backoff, no error recorded.
    assert [(r.operation, r.status_code, r.attempt) for r in rig.records] == [
        ("GetConnection", 200, 1),
        ("GetConnection", 200, 1),
        ("NotifyConnectionStatus", 200, 1),
    ]
    assert rig.sleeps == []


async def test_a_mutating_call_on_a_kept_connection_the_server_closed_is_an_unknown_outcome(
    rig: Rig,
) -> None:
    await rig.client.get_connection("env", "ix", "c1")
    with pytest.raises(OutcomeUnknown):
        await rig.client.delete_feature("env", "ix", "c1", "f1")
    await rig.client.get_connection("env", "ix", "c1")  # a read first (P33), new connection
    with pytest.raises(OutcomeUnknown):
        await rig.client.create_feature("env", "ix", "c1", "f1", Feature())
    # Each mutating call reached the server once and was never sent again.
    assert rig.server.unanswered == [("DELETE", 1), ("POST", 2)]
    assert [method for method, _ in rig.server.seen] == ["GET", "DELETE", "GET", "POST"]
    assert [(r.operation, r.error) for r in rig.records] == [
        ("GetConnection", None),
        ("DeleteFeature", "OutcomeUnknown"),
        ("GetConnection", None),
        ("CreateFeature", "OutcomeUnknown"),
    ]
    assert rig.sleeps == []


def test_idle_connections_outlive_a_refresh_interval_and_the_simulator_keeps_them_longer() -> None:
    """The client keeps a connection from one refresh to the next, and closes it
    before a provider's front end (here the simulator) would."""
    refresh = PoolConfig.__dataclass_fields__["refresh_interval"].default
    assert isinstance(refresh, float)
    assert refresh < transport.KEEPALIVE_SECONDS
    server = uvicorn_config(SimulatorConfig())
    assert server.timeout_keep_alive > transport.KEEPALIVE_SECONDS


async def test_the_provider_connector_keeps_idle_connections_keepalive_seconds(rig: Rig) -> None:
    await rig.client.get_connection("env", "ix", "c1")
    kept = rig.client._transport
    assert isinstance(kept, transport.ProviderTransport)
    session = kept.client
    assert isinstance(session, aiohttp.ClientSession)
    assert session.connector is not None
    assert session.connector._keepalive_timeout == transport.KEEPALIVE_SECONDS
    assert session._retry_connection is False


async def test_the_transport_left_as_built_keeps_aiohttps_resend_and_keepalive() -> None:
    """The Kubernetes client's use: httpx's keep-alive, aiohttp's resend by method."""
    plain = transport.ProviderTransport(verify=False, max_connections=4)
    session = plain.get_client()
    try:
        assert session.connector is not None
        assert session.connector._keepalive_timeout == httpx.Limits().keepalive_expiry
        assert session._retry_connection is True
    finally:
        await session.close()
