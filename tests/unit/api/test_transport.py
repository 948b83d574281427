"""The provider transport hands aiohttp the request as httpx built it (api/transport.py).

A real loopback server records what arrived: every header pair (the auth
header a flow added too), the body bytes, the method and the query; the
transport builds one aiohttp timeout per timeout setting, not one per call.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from aiohttp import web

from interconnect_operator.api.transport import ProviderTransport


@pytest.fixture
async def echo() -> AsyncIterator[tuple[str, list[web.Request], list[bytes]]]:
    seen: list[web.Request] = []
    bodies: list[bytes] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append(request)
        bodies.append(await request.read())
        return web.json_response({"ok": True}, headers={"X-Answer": "1"})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}", seen, bodies
    finally:
        await runner.cleanup()


async def test_headers_body_and_query_arrive_as_built(
    echo: tuple[str, list[web.Request], list[bytes]],
) -> None:
    base, seen, bodies = echo
    transport = ProviderTransport(verify=False, max_connections=2)
    timeout = {"timeout": httpx.Timeout(10.0).as_dict()}
    headers = httpx.Headers({"Accept": "application/json", "Content-Type": "application/json"})
    try:
        request = httpx.Request(
            "POST",
            f"{base}/v1/a%2Fb/features?featureId=ch1&requestId=r-1",
            headers=headers,
            content=b'{"x":1}',
            extensions=timeout,
        )
        request.headers["Authorization"] = "Bearer t"  # as an auth flow adds it
        response = await transport.handle_async_request(request)
        assert response.status_code == 200
        assert (await response.aread()) == b'{"ok": true}'
        assert response.headers["X-Answer"] == "1"
        got = await transport.handle_async_request(
            httpx.Request("GET", f"{base}/v1/x", headers=headers, extensions=timeout)
        )
        await got.aread()
    finally:
        await transport.aclose()
    first, second = seen
    assert first.method == "POST"
    assert first.raw_path == "/v1/a%2Fb/features?featureId=ch1&requestId=r-1"
    assert first.headers["Authorization"] == "Bearer t"
    assert first.headers["Content-Type"] == "application/json"
    assert first.headers["Content-Length"] == "7"
    assert bodies == [b'{"x":1}', b""]
    assert second.method == "GET"
    assert "Authorization" not in second.headers  # the shared Headers were not changed
    assert len(transport._timeouts) == 1


@pytest.mark.parametrize(("read_ahead", "read_whole"), [(1024, True), (4, False)])
async def test_a_small_declared_answer_is_read_whole_a_larger_one_streamed(
    echo: tuple[str, list[web.Request], list[bytes]], read_ahead: int, read_whole: bool
) -> None:
    base, _, _ = echo
    transport = ProviderTransport(verify=False, max_connections=2, read_ahead_bytes=read_ahead)
    try:
        response = await transport.handle_async_request(httpx.Request("GET", f"{base}/v1/x"))
        try:
            response.content  # noqa: B018
        except httpx.ResponseNotRead:
            streamed = True
        else:
            streamed = False
        assert streamed is not read_whole
        assert (await response.aread()) == b'{"ok": true}'
        await response.aclose()
    finally:
        await transport.aclose()
