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

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport


class ProviderTransport(AiohttpTransport):
    """httpx transport over aiohttp, with P33-faithful error classes."""

    def __init__(self, *, verify: ssl.SSLContext | bool, max_connections: int) -> None:
        super().__init__(
            verify=verify,
            trust_env=False,
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return await super().handle_async_request(request)
        except httpx.ConnectTimeout as exc:
            cause = exc.__cause__
            if isinstance(cause, aiohttp.ClientConnectorError):
                raise httpx.ConnectError(str(exc), request=request) from cause
            if isinstance(cause, aiohttp.ClientConnectionError):
                # Disconnected after the request was (or may have been) sent.
                raise httpx.ReadError(str(exc), request=request) from cause
            raise
