"""The provider transport hands aiohttp the request as httpx built it (api/transport.py).

A real loopback server records what arrived: every header pair (the auth
header a flow added too), the body bytes, the method and the query; the
transport builds one aiohttp timeout per timeout setting, not one per call.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import yarl
from aiohttp import web

from interconnect_operator.api.transport import ProviderTransport, _read_response, aiohttp_url


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


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8081/v1/a%2Fb/%2E%2E/c?featureId=ch1&requestId=r-1",
        "https://peer.test/base/x%20y?pageToken=a%26b%3Dc+d&pageSize=5",
        "https://peer.test:8443/p",
        "http://user:pw@peer.test/p?q=1",
        "http://[::1]:8080/p?q=1",
    ],
)
def test_the_aiohttp_url_is_the_httpx_url(url: str) -> None:
    parsed = httpx.URL(url)
    built = aiohttp_url(parsed)
    assert str(built) == str(parsed)
    assert built == yarl.URL(str(parsed), encoded=True)
    assert built.raw_path_qs == parsed.raw_path.decode()


async def test_encoded_segments_arrive_as_sent(
    echo: tuple[str, list[web.Request], list[bytes]],
) -> None:
    base, seen, _ = echo
    transport = ProviderTransport(verify=False, max_connections=1)
    try:
        response = await transport.handle_async_request(
            httpx.Request("GET", f"{base}/v1/%2E%2E/a%2Fb?t=a%26b+c")
        )
        assert response.json() == {"ok": True}
    finally:
        await transport.aclose()
    assert seen[0].raw_path == "/v1/%2E%2E/a%2Fb?t=a%26b+c"


def test_an_answer_read_whole_reads_as_httpx_would_read_it() -> None:
    request = httpx.Request("GET", "https://peer.test/x")
    raw = ((b"Content-Type", b"application/json; charset=utf-8"), (b"Retry-After", b"3"))
    body = '{"name": "ü"}'.encode()
    fast = _read_response(429, raw, body, request, {"http_version": b"HTTP/1.1"})
    slow = httpx.Response(429, headers=raw, content=body, request=request)
    assert fast.content == slow.content == body
    assert fast.text == slow.text
    assert fast.json() == slow.json() == {"name": "ü"}
    assert fast.headers["Retry-After"] == "3"
    assert fast.status_code == 429
    assert not fast.is_success
    assert fast.is_closed
    assert fast.is_stream_consumed
    assert fast.request is request


async def test_an_answer_read_whole_builds_its_headers_only_when_asked_for() -> None:
    raw = (
        (b"Content-Type", b"application/json; charset=latin-1"),
        (b"Set-Cookie", b"a=1"),
        (b"set-cookie", b"b=2"),
    )
    body = '{"name": "é"}'.encode("latin-1")
    extensions = {"http_version": b"HTTP/1.1", "reason_phrase": b"Teapot"}
    fast = _read_response(418, raw, body, None, extensions)
    slow = httpx.Response(418, headers=raw, stream=httpx.ByteStream(body), extensions=extensions)
    slow.read()
    assert fast._headers is None  # a call that reads status and body builds none
    assert fast.content == body
    assert fast.status_code == 418
    assert fast._headers is None
    assert fast.headers.multi_items() == slow.headers.multi_items()
    assert fast.headers.get_list("set-cookie") == ["a=1", "b=2"]
    assert fast.encoding == slow.encoding == "latin-1"
    assert fast.text == slow.text
    assert fast.http_version == "HTTP/1.1"
    assert fast.reason_phrase == "Teapot"
    assert repr(fast) == repr(slow) == "<Response [418 Teapot]>"
    assert [chunk async for chunk in fast.aiter_bytes()] == [body]
    fast.headers = httpx.Headers({"Retry-After": "3"})
    assert fast.headers["Retry-After"] == "3"
    with pytest.raises(RuntimeError):
        fast.request  # noqa: B018 - none was built (the direct path)


@pytest.fixture
async def chunked() -> AsyncIterator[str]:
    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        for part in (b'{"items": [', b'"a", "b"', b"]}"):
            await response.write(part)
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_get("/{tail:.*}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@pytest.mark.parametrize(("read_ahead", "read_whole"), [(1024, True), (4, False), (0, False)])
async def test_an_undeclared_answer_is_read_whole_within_the_read_ahead_else_streamed_whole(
    chunked: str, read_ahead: int, read_whole: bool
) -> None:
    transport = ProviderTransport(verify=False, max_connections=1, read_ahead_bytes=read_ahead)
    try:
        response = await transport.handle_async_request(httpx.Request("GET", f"{chunked}/x"))
        try:
            response.content  # noqa: B018
        except httpx.ResponseNotRead:
            streamed = True
        else:
            streamed = False
        assert streamed is not read_whole
        # Nothing the transport read first is lost from the stream.
        assert (await response.aread()) == b'{"items": ["a", "b"]}'
        await response.aclose()
        # The connection went back whole: the next answer reads as well.
        again = await transport.handle_async_request(httpx.Request("GET", f"{chunked}/y"))
        assert (await again.aread()) == b'{"items": ["a", "b"]}'
        await again.aclose()
    finally:
        await transport.aclose()
