"""An aiohttp-backed httpx transport for the provider clients.

The benchmark found httpx's own connection handling (httpcore) to be most of
the operator's CPU per link; aiohttp's C-accelerated HTTP stack behind the
same httpx API costs less (bench/REPORT.md). httpx-aiohttp maps every
connection error to ``ConnectTimeout``, which would read as "never sent"; for
P33 the difference matters: a request whose connection dropped after it was
sent has an unknown outcome. This subclass restores that distinction:
only a failure to connect is "not sent", anything later is a read error.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport
from httpx_aiohttp.transport import AiohttpResponseStream, map_aiohttp_exceptions

READ_AHEAD_BYTES = 1024 * 1024
"""Answers declaring at most this many bytes (not compressed) are read in the
transport; larger or undeclared ones are streamed to the caller's bounded read."""


class ProviderTransport(AiohttpTransport):
    """httpx transport over aiohttp, with P33-faithful error classes."""

    def __init__(
        self,
        *,
        verify: ssl.SSLContext | bool,
        max_connections: int,
        read_ahead_bytes: int = READ_AHEAD_BYTES,
    ) -> None:
        self._read_ahead = read_ahead_bytes
        super().__init__(
            verify=verify,
            trust_env=False,
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
        )
        self._timeouts: dict[tuple[float | None, ...], aiohttp.ClientTimeout] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return await self._send(request)
        except httpx.ConnectTimeout as exc:
            cause = exc.__cause__
            if isinstance(cause, aiohttp.ClientConnectorError):
                raise httpx.ConnectError(str(exc), request=request) from cause
            if isinstance(cause, aiohttp.ClientConnectionError):
                # Disconnected after the request was (or may have been) sent.
                raise httpx.ReadError(str(exc), request=request) from cause
            raise

    async def _send(self, request: httpx.Request) -> httpx.Response:
        """httpx-aiohttp's exchange for what the operator sends (bytes bodies, no
        proxy), without its per-request conversions: the headers go to aiohttp as
        the raw pairs (given the httpx Headers, aiohttp rebuilds them key by key
        through httpx's case-insensitive lookup) and the aiohttp timeout is built
        once per timeout setting."""
        if not isinstance(self.client, aiohttp.ClientSession):
            self.client = self.get_client()
        data = request.content or None
        headers = [
            (key.decode("latin-1"), value.decode("latin-1")) for key, value in request.headers.raw
        ]
        with map_aiohttp_exceptions():
            response = await self.client.request(
                method=request.method,
                url=str(request.url),
                headers=headers,
                data=data,
                allow_redirects=False,
                auto_decompress=False,
                compress=False,
                timeout=self._timeout(request.extensions.get("timeout") or {}),
                server_hostname=request.extensions.get("sni_hostname"),
            ).__aenter__()
        extensions = {"http_version": b"HTTP/1.1"}
        if response.reason:
            extensions["reason_phrase"] = response.reason.encode()
        length = response.content_length
        encoded = response.headers.get("Content-Encoding", "identity").lower() != "identity"
        if length is not None and length <= self._read_ahead and not encoded:
            # The whole answer at once, as one read: an answer already read (its
            # ``content`` set) needs no httpx stream, nor a second Response around
            # it. A connection lost meanwhile is a read error (P33), as above.
            with map_aiohttp_exceptions():
                try:
                    body = await response.read()
                finally:
                    response.release()
            return httpx.Response(
                status_code=response.status,
                headers=response.raw_headers,
                content=body,
                request=request,
                extensions=extensions,
            )
        return httpx.Response(
            status_code=response.status,
            headers=response.raw_headers,
            stream=AiohttpResponseStream(response),
            request=request,
            extensions=extensions,
        )

    def _timeout(self, timeout: Mapping[str, float | None]) -> aiohttp.ClientTimeout:
        key = (timeout.get("connect"), timeout.get("read"), timeout.get("pool"))
        built = self._timeouts.get(key)
        if built is None:
            built = self._timeouts[key] = aiohttp.ClientTimeout(
                sock_connect=key[0], sock_read=key[1], connect=key[2]
            )
        return built
