"""An aiohttp-backed httpx transport for the provider clients.

The benchmark found httpx's own connection handling (httpcore) to be most of
the operator's CPU per link; aiohttp's C-accelerated HTTP stack behind the
same httpx API costs less (bench/REPORT.md). httpx-aiohttp maps every
connection error to ``ConnectTimeout``, which would read as "never sent"; for
P33 the difference matters: a request whose connection dropped after it was
sent has an unknown outcome. This subclass restores that distinction:
only a failure to connect is "not sent", anything later is a read error.

The provider clients keep idle connections ``KEEPALIVE_SECONDS`` (httpx's
default, 5 s, was shorter than a pool's 30 s refresh interval: each refresh opened new
connections, ``connect`` 10.7 % of the N=10,000 steady window's samples; in
production a TLS handshake per connection per refresh). A kept connection
the server closes as a request crosses its close fails with no answer: for a
call whose extensions carry ``RETRY_CLOSED`` (the client sets it for the
operations P33 lets it repeat) that request is sent once more, on another
connection; for any other call it stays a read error, an unknown outcome the
caller resolves by reading first (P33). For them aiohttp's own resend of such
requests (by HTTP method: it would resend a DELETE, which the protocol treats
as mutating) is off; the Kubernetes client keeps it and httpx's 5 s.

``exchange`` takes a call's prepared parts (a yarl URL, header pairs, bytes):
the clients send their calls that way, without an httpx Request;
``handle_async_request`` (httpx's transport API, for auth flows and tests)
hands a Request's parts to it. aiohttp's errors are mapped to httpx's
classes only when one is raised.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import NoReturn

import aiohttp
import httpx
import yarl
from httpx_aiohttp import AiohttpTransport
from httpx_aiohttp.transport import AiohttpResponseStream, map_aiohttp_exceptions

KEEPALIVE_SECONDS = 50.0
"""How long an idle provider connection is kept for the next call: longer than a
pool's default refresh interval (30 s), so a refresh reuses the connections of
the one before, and shorter than the idle timeouts of common front ends (AWS
ALB 60 s, nginx 75 s, Google's front end 610 s), so the client closes an idle
connection before the server does. A server that closes earlier is seen when
its close has arrived (that connection is not reused); only a close crossing a
request remains, handled as the module docstring says."""

RETRY_CLOSED = "retry_closed"
"""Request extension: True when the request may be sent once more after its
connection closed with no answer (an operation P33 lets the client repeat)."""

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
        keepalive_seconds: float = 5.0,
        resend_by_method: bool = True,
    ) -> None:
        """``keepalive_seconds``: how long an idle connection is kept (httpx's
        default unless given; the provider clients give ``KEEPALIVE_SECONDS``).
        ``resend_by_method``: aiohttp's own resend, once, of a GET, PUT or DELETE
        whose connection closed with no answer (the Kubernetes client keeps it);
        False leaves resends to ``RETRY_CLOSED`` alone (the provider clients)."""
        self._read_ahead = read_ahead_bytes
        self._resend_by_method = resend_by_method
        super().__init__(
            verify=verify,
            trust_env=False,
            limits=httpx.Limits(
                max_connections=max_connections,
                max_keepalive_connections=max_connections,
                keepalive_expiry=keepalive_seconds,
            ),
        )
        self._timeouts: dict[tuple[float | None, ...], aiohttp.ClientTimeout] = {}

    def get_client(self) -> aiohttp.ClientSession:
        """httpx-aiohttp's session (its connector keeps idle connections
        ``keepalive_seconds``); without ``resend_by_method``, without aiohttp's
        resend by HTTP method: which calls may be sent again is then the
        protocol's to say (``RETRY_CLOSED``)."""
        session = super().get_client()
        if not self._resend_by_method:
            session._retry_connection = False  # as aiohttp's own test client sets it
        return session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """httpx's transport API (tests, auth flows that see the request): the
        request's parts handed to :meth:`exchange`."""
        # The headers go to aiohttp as the raw pairs (given the httpx Headers,
        # aiohttp rebuilds them key by key through httpx's case-insensitive lookup).
        headers = [
            (key.decode("latin-1"), value.decode("latin-1")) for key, value in request.headers.raw
        ]
        return await self.exchange(
            request.method,
            aiohttp_url(request.url),
            headers,
            request.content or None,
            self.client_timeout(request.extensions.get("timeout") or {}),
            retry_closed=bool(request.extensions.get(RETRY_CLOSED)),
            server_hostname=request.extensions.get("sni_hostname"),
            request=request,
        )

    async def exchange(
        self,
        method: str,
        url: yarl.URL,
        headers: Sequence[tuple[str, str]],
        data: bytes | None,
        timeout: aiohttp.ClientTimeout,
        *,
        retry_closed: bool,
        server_hostname: str | None = None,
        request: httpx.Request | None = None,
    ) -> httpx.Response:
        """One exchange from prepared parts: ``url`` encoded already, ``headers``
        the pairs to send as they are, ``timeout`` from :meth:`client_timeout`.
        The provider client sends its calls this way, with no httpx Request
        (``request`` is None then: the answer names none). Errors are httpx's
        classes with the P33 distinction (module docstring); ``retry_closed``
        is the ``RETRY_CLOSED`` extension."""
        try:
            try:
                return await self._send(
                    method, url, headers, data, timeout, sni=server_hostname, request=request
                )
            except _ClosedBeforeAnswer as closed:
                if not retry_closed:
                    raise closed.error from closed.error.__cause__
                # Once, on another connection (aiohttp dropped the closed one).
                try:
                    return await self._send(
                        method, url, headers, data, timeout, sni=server_hostname, request=request
                    )
                except _ClosedBeforeAnswer as again:
                    raise again.error from again.error.__cause__
        except httpx.ConnectTimeout as exc:
            cause = exc.__cause__
            if isinstance(cause, aiohttp.ClientConnectorError):
                raise httpx.ConnectError(str(exc), request=request) from cause
            if isinstance(cause, aiohttp.ClientConnectionError):
                # Disconnected after the request was (or may have been) sent.
                raise httpx.ReadError(str(exc), request=request) from cause
            raise

    async def _send(
        self,
        method: str,
        url: yarl.URL,
        headers: Sequence[tuple[str, str]],
        data: bytes | None,
        timeout: aiohttp.ClientTimeout,
        *,
        sni: str | None,
        request: httpx.Request | None,
    ) -> httpx.Response:
        """httpx-aiohttp's exchange for what the operator sends (bytes bodies, no
        proxy), without its per-request conversions."""
        if not isinstance(self.client, aiohttp.ClientSession):
            self.client = self.get_client()
        try:
            try:
                response = await self.client.request(
                    method=method,
                    url=url,
                    headers=headers,
                    data=data,
                    allow_redirects=False,
                    auto_decompress=False,
                    compress=False,
                    timeout=timeout,
                    server_hostname=sni,
                ).__aenter__()
            except Exception as error:
                _raise_mapped(error)
        except httpx.ConnectTimeout as error:
            cause = error.__cause__
            if isinstance(
                cause, aiohttp.ServerDisconnectedError | aiohttp.ClientOSError
            ) and not isinstance(cause, aiohttp.ClientConnectorError):
                # Connected (or reused), then closed before the answer began.
                raise _ClosedBeforeAnswer(error) from cause
            raise
        extensions = {"http_version": b"HTTP/1.1"}
        if response.reason:
            extensions["reason_phrase"] = response.reason.encode()
        length = response.content_length
        encoded = response.headers.get("Content-Encoding", "identity").lower() != "identity"
        if length is not None and length <= self._read_ahead and not encoded:
            # The whole answer at once, as one read: an answer already read (its
            # ``content`` set) needs no httpx stream, nor a second Response around
            # it. A connection lost meanwhile is a read error (P33), as above.
            try:
                body = await response.read()
            except Exception as error:
                _raise_mapped(error)
            finally:
                response.release()
            return _read_response(response.status, response.raw_headers, body, request, extensions)
        stream: httpx.AsyncByteStream = AiohttpResponseStream(response)
        if length is None and not encoded and self._read_ahead > 0:
            # Undeclared (chunked: the Kubernetes API server's answers over a few
            # KiB): read here up to the read-ahead bound, whole if it ends within
            # it; else what was read goes first in the stream the caller reads on.
            chunks, whole = await self._read_some(response)
            if whole:
                body = b"".join(chunks)
                return _read_response(
                    response.status, response.raw_headers, body, request, extensions
                )
            stream = _ReadFirst(chunks, stream)
        return httpx.Response(
            status_code=response.status,
            headers=response.raw_headers,
            stream=stream,
            request=request,
            extensions=extensions,
        )

    async def _read_some(self, response: aiohttp.ClientResponse) -> tuple[list[bytes], bool]:
        """The chunks of an undeclared answer up to just past the read-ahead
        bound, and whether that was all of it (the response released then)."""
        chunks: list[bytes] = []
        size = 0
        try:
            async for chunk in response.content.iter_any():
                chunks.append(chunk)
                size += len(chunk)
                if size > self._read_ahead:
                    return chunks, False
        except Exception as error:
            response.release()
            _raise_mapped(error)
        response.release()
        return chunks, True

    def client_timeout(self, timeout: Mapping[str, float | None]) -> aiohttp.ClientTimeout:
        """The aiohttp timeout of an httpx timeout (``httpx.Timeout.as_dict()``),
        built once per setting."""
        key = (timeout.get("connect"), timeout.get("read"), timeout.get("pool"))
        built = self._timeouts.get(key)
        if built is None:
            built = self._timeouts[key] = aiohttp.ClientTimeout(
                sock_connect=key[0], sock_read=key[1], connect=key[2]
            )
        return built


class _ReadFirst(httpx.AsyncByteStream):
    """A streamed answer whose first ``chunks`` the transport read already."""

    def __init__(self, chunks: list[bytes], rest: httpx.AsyncByteStream) -> None:
        self._chunks = chunks
        self._rest = rest

    async def __aiter__(self) -> AsyncIterator[bytes]:
        chunks, self._chunks = self._chunks, []
        for chunk in chunks:
            yield chunk
        async for chunk in self._rest:
            yield chunk

    async def aclose(self) -> None:
        await self._rest.aclose()


def _raise_mapped(error: Exception) -> NoReturn:
    """``error`` as httpx-aiohttp's ``map_aiohttp_exceptions`` raises it (the
    httpx class, ``error`` its cause); entered only when there is an error (the
    context manager costs a generator on every call)."""
    with map_aiohttp_exceptions():
        raise error


class _ClosedBeforeAnswer(Exception):
    """The connection closed after the request was (maybe) sent and before any
    answer began; ``error`` is what the caller sees unless the request is sent again."""

    def __init__(self, error: httpx.ConnectTimeout) -> None:
        super().__init__(str(error))
        self.error = error


def aiohttp_url(url: httpx.URL) -> yarl.URL:
    """``url`` for aiohttp, from its parts as httpx holds them (encoded).

    Given a string, aiohttp parses and re-encodes it (yarl); every call's URL is
    new (its requestId), so yarl's cache does not help. httpx has validated and
    encoded the parts already, so they are handed over as they are. A URL with
    userinfo or an IPv6 host takes the string path.
    """
    host = url.raw_host.decode("ascii")
    if url.userinfo or ":" in host:
        return yarl.URL(str(url))
    path, _, query = url.raw_path.decode("ascii").partition("?")
    return yarl.URL.build(
        scheme=url.scheme, host=host, port=url.port, path=path, query_string=query, encoded=True
    )


def _read_response(
    status: int,
    headers: Sequence[tuple[bytes, bytes]],
    body: bytes,
    request: httpx.Request | None,
    extensions: dict[str, bytes],
) -> httpx.Response:
    """An httpx Response around an answer already read whole.

    ``httpx.Response(content=...)`` encodes the body into a stream, prepares
    headers and reads the stream back through its decoders (~5x the cost of
    this); the body is plain (no Content-Encoding, checked by the caller) and
    complete, so it is set as the read content (tests/unit/api/test_transport.py
    checks ``content``, ``text``, ``json()`` and the headers of such a response).
    """
    return _ReadAnswer(status, headers, body, request, extensions)


class _ReadAnswer(httpx.Response):
    """httpx's Response as ``read()`` leaves it (content set, stream consumed
    and closed), its Headers built when first asked for: a successful call
    reads only the status and the body, and building Headers normalizes every
    pair (a Kubernetes answer carries eight)."""

    def __init__(
        self,
        status: int,
        headers: Sequence[tuple[bytes, bytes]],
        body: bytes,
        request: httpx.Request | None,
        extensions: dict[str, bytes],
    ) -> None:
        # Everything ``httpx.Response.__init__`` sets for a stream, with the
        # stream read already; the headers are kept raw until asked for.
        self.status_code = status
        self._raw_headers = headers
        self._headers: httpx.Headers | None = None
        self._request = request
        self.next_request = None
        self.extensions = extensions
        self.history = []
        self.is_closed = True
        self.is_stream_consumed = True
        self.default_encoding = "utf-8"
        self.stream = httpx.ByteStream(body)
        self._content = body
        self._num_bytes_downloaded = len(body)

    @property
    def headers(self) -> httpx.Headers:
        if self._headers is None:
            self._headers = httpx.Headers(self._raw_headers)
        return self._headers

    @headers.setter
    def headers(self, value: httpx.Headers) -> None:
        self._headers = httpx.Headers(value)
