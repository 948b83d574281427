"""One call of the Connection Coordinator API, for every operation alike.

`BaseProviderClient` holds the HTTP client of one peer and does what every
call needs: the path from the operation table, the body serialized once,
a bounded read of the answer, typed errors (P32), retries (P33), pages
followed with a bound, and a record of each attempt for the metrics hook.
Bulk readers can follow pages digested (``_digested_pages``, the walk of
``pages.digested_pages``): each raw body
is hashed before any parse, and a page whose digest the reader already holds
is neither decoded nor converted again.
`ProviderClient` (client.py) adds one typed method per operation; a request's
parts and the bounded read are in ``wire``, the page bounds and digests in
``pages``.

A bring-up makes 14 calls, so the per-call cost of building a request is paid
~14,000 times per 1,000 links. The request is built from parts prepared once
per client (the base URL parsed, the headers with Host and a fixed auth
header) and the answer handed over read whole: the client layer above the
transport costs ~40 us per call instead of ~100 (no I/O, a CreateFeature),
and a call against a simulator ~490 us of client CPU instead of ~640
(5,700 calls of a bring-up's kinds, back to back). What is left is mostly
aiohttp's exchange and the body's serialization and validation.
With the aiohttp transport and no per-request auth flow (no auth, a fixed
token), a call is sent straight on the transport (``_Direct``): the URL
built by yarl from parts already encoded and the header pairs prepared once,
with no httpx Request, Headers, URL or stream per call; the answer is the
same httpx Response as before. A CreateFeature and a GetFeature against a
loopback server: 654-686 -> 557-561 us of client CPU per pair (min of five
runs of 1,000 pairs, back to back). ``send`` (the httpx path) remains for
auth flows (SigV4, OAuth2, Entra tokens) and other transports (tests).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import ssl
import time
from collections.abc import (
    AsyncGenerator,
    Awaitable,
    Callable,
    Iterable,
    Mapping,
    Sequence,
)
from dataclasses import dataclass
from types import TracebackType
from typing import Self, TypeVar

import aiohttp
import httpx
import yarl
from pydantic import BaseModel, ValidationError

from interconnect_operator.api.auth import (
    DEFAULT_MIN_TLS,
    Auth,
    NoAuth,
    TokenRefreshFailed,
    Verify,
    with_min_tls,
)
from interconnect_operator.api.errors import (
    ApiError,
    InvalidResponse,
    OutcomeUnknown,
    TransportError,
    Unauthorized,
    error_for_status,
)
from interconnect_operator.api.lanes import BULK_IN_FLIGHT, bulk_turn, in_bulk_read
from interconnect_operator.api.models import request_bytes
from interconnect_operator.api.operations import OPERATIONS, Operation
from interconnect_operator.api.pages import (
    MAX_PAGES,
    ConvertedT,
    DigestedPage,
    collect,
    digested_pages,
    first_page,
    next_page,
    page_digest,
)
from interconnect_operator.api.retry import (
    RetryPolicy,
    is_retryable,
    parse_retry_after,
    retry_after_of,
)
from interconnect_operator.api.transport import (
    KEEPALIVE_SECONDS,
    RETRY_CLOSED,
    ProviderTransport,
)
from interconnect_operator.api.wire import (
    MAX_RESPONSE_BYTES,
    REQUEST_ID_PARAM,
    USER_AGENT,
    RequestRecord,
    ResponseTooLarge,
    already_read,
    error_message,
    join_url,
    mutating,
    new_request_id,
    query_string,
    read_bounded,
    segment,
)

__all__ = [
    "MAX_PAGES",
    "MAX_RESPONSE_BYTES",
    "BaseProviderClient",
    "DigestedPage",
    "RequestRecord",
    "ResponseTooLarge",
    "collect",
    "new_request_id",
    "page_digest",
    "read_bounded",
]

log = logging.getLogger(__name__)
_ANY_LANE = contextlib.nullcontext()
"""A call outside a bulk read: no bound but the client's own (``lanes``)."""

ModelT = TypeVar("ModelT", bound=BaseModel)
ResultT = TypeVar("ResultT")

# httpx exceptions raised before any byte of the request left: safe to retry
# any call.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


@dataclass(frozen=True, slots=True)
class _Direct:
    """A client's calls sent straight on its aiohttp transport, from parts
    prepared once: the base URL's parts (the per-call URL is built from parts
    already encoded, no parse) and the header pairs of a call without a body,
    with an empty one, and with one (Content-Length added per call).
    An httpx Request, its Headers, URL and stream cost ~30-40 us per call
    (bench: the same calls against a loopback server, back to back)."""

    transport: ProviderTransport
    scheme: str
    host: str
    port: int | None
    path: str
    headers: tuple[tuple[str, str], ...]
    empty_body_headers: tuple[tuple[str, str], ...]
    body_headers: tuple[tuple[str, str], ...]
    timeout: aiohttp.ClientTimeout


class BaseProviderClient:
    """The HTTP core of a client of one peer's Connection Coordinator server.

    ``caller`` is OUR provider id, used as the path prefix of every call.
    ``name`` labels the peer in :class:`RequestRecord` (default: base_url).
    ``sleep``, ``rng`` and ``clock`` are injectable for tests.
    """

    def __init__(
        self,
        base_url: str,
        caller: str,
        *,
        auth: Auth | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        verify: Verify = True,
        min_tls_version: ssl.TLSVersion = DEFAULT_MIN_TLS,
        timeout: float = 10.0,
        max_concurrency: int = 32,
        retry: RetryPolicy = RetryPolicy(),  # noqa: B008 - frozen dataclass, safe to share
        on_request: Callable[[RequestRecord], None] | None = None,
        name: str | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not caller or "/" in caller:
            raise ValueError("caller must be a provider id")
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        self.base_url = base_url.rstrip("/")
        self.caller = caller
        self.name = name or self.base_url
        self.retry = retry
        self._auth = auth or NoAuth()
        self._on_request = on_request
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._clock = clock
        self._semaphore = asyncio.Semaphore(max_concurrency)
        self._bulk_gate = asyncio.Semaphore(min(BULK_IN_FLIGHT, max_concurrency))
        """Bulk reads' requests in flight (``lanes``): a link's calls never queue behind many."""
        # TLS 1.3 minimum toward providers unless explicitly lowered.
        ssl_context = with_min_tls(self._auth.ssl_context(verify), min_tls_version)
        if transport is None:
            # aiohttp under the httpx API: less CPU per request (bench/REPORT.md).
            transport = ProviderTransport(
                verify=ssl_context,
                max_connections=max_concurrency,
                read_ahead_bytes=MAX_RESPONSE_BYTES,
                # Kept across refreshes; resent only as P33 allows (RETRY_CLOSED).
                keepalive_seconds=KEEPALIVE_SECONDS,
                resend_by_method=False,
            )
        # Requests go straight to the transport (`send`): httpx's client layer
        # (base-URL merging, cookies, redirects, hooks) cost more CPU per call
        # than the transport itself and the protocol needs none of it.
        self._transport = transport
        self._timeout_s = timeout
        self._extensions: dict[str, object] = {"timeout": httpx.Timeout(timeout).as_dict()}
        # Calls P33 lets the client repeat may be sent once more when their
        # connection closes with no answer (transport.RETRY_CLOSED).
        self._repeatable_extensions = {**self._extensions, RETRY_CLOSED: True}
        # The base URL is parsed and validated here, once (see ``join_url``).
        self._base = httpx.URL(self.base_url)
        if self._base.query or self._base.fragment or not self._base.host:
            raise ValueError("base_url must be an absolute URL without query or fragment")
        # Headers built once, Host and the auth's fixed headers included (a Request
        # copies a Headers' pairs as they are, no re-parse): only Content-Length
        # and what a per-request auth flow adds are set per call.
        fixed = self._auth.static_headers()
        self._flow = fixed is None
        common = {
            "Host": self._base.netloc.decode("ascii"),
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
            **(fixed or {}),
        }
        self._headers = httpx.Headers(common)
        self._body_headers = httpx.Headers({**common, "Content-Type": "application/json"})
        self._direct = self._direct_parts(transport, common)

    def _direct_parts(
        self, transport: httpx.AsyncBaseTransport, common: Mapping[str, str]
    ) -> _Direct | None:
        """What a call sent straight on the aiohttp transport is built from, or
        None when it needs httpx's Request (another transport, a per-request
        auth flow, a base URL yarl would have to parse: userinfo or IPv6)."""
        host = self._base.raw_host.decode("ascii")
        if (
            not isinstance(transport, ProviderTransport)
            or self._flow
            or self._base.userinfo
            or ":" in host
        ):
            return None
        pairs = tuple(common.items())
        body = (*pairs, ("Content-Type", "application/json"))
        return _Direct(
            transport=transport,
            scheme=self._base.scheme,
            host=host,
            port=self._base.port,
            path=self._base.raw_path.decode("ascii").rstrip("/"),
            headers=pairs,
            empty_body_headers=(*pairs, ("Content-Length", "0")),
            body_headers=body,
            timeout=transport.client_timeout(httpx.Timeout(self._timeout_s).as_dict()),
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r}, caller={self.caller!r})"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._transport.aclose()

    # ------------------------------------------------------------------
    # Core: one call with retries
    # ------------------------------------------------------------------

    async def send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        content: bytes | None = None,
        repeatable: bool = False,
    ) -> httpx.Response:
        """One HTTP exchange (no retry): the request through the auth flow
        (which may resend it once, e.g. after a 401 with a refreshed token) and
        the transport (which sends a ``repeatable`` request once more when its
        connection closes with no answer). The answer is streamed: the caller
        reads and closes it."""
        url = join_url(self._base, path, query_string(params) if params else None)
        headers = self._headers if content is None else self._body_headers
        # Given a stream, httpx adds no headers: Host is in ``headers``, and
        # Content-Length is set as httpx would (the body's length; 0 for a
        # POST, PUT or PATCH without one; none otherwise).
        request = httpx.Request(
            method,
            url,
            headers=headers,
            stream=httpx.ByteStream(content or b""),
            extensions=self._repeatable_extensions if repeatable else self._extensions,
        )
        if content is not None:
            request.headers["Content-Length"] = str(len(content))
        elif method in ("POST", "PUT", "PATCH"):
            request.headers["Content-Length"] = "0"
        request.read()
        if not self._flow:
            # No per-request auth (none, or fixed headers already in ``headers``).
            response = await self._transport.handle_async_request(request)
            response.request = request
            return response
        flow = self._auth.async_auth_flow(request)
        try:
            request = await flow.__anext__()
            while True:
                response = await self._transport.handle_async_request(request)
                response.request = request
                try:
                    request = await flow.asend(response)
                except StopAsyncIteration:
                    return response
                await response.aclose()
        finally:
            await flow.aclose()

    @staticmethod
    async def _send_direct(
        direct: _Direct,
        method: str,
        path: str,
        params: Mapping[str, str] | None,
        content: bytes | None,
        *,
        repeatable: bool,
    ) -> httpx.Response:
        """One exchange (no retry) sent straight on the aiohttp transport, as
        ``send`` sends it without an auth flow: the same URL, header pairs in
        the same order, the same body and the same error classes, without
        building an httpx Request, Headers and URL per call (``_Direct``)."""
        url = yarl.URL.build(
            scheme=direct.scheme,
            host=direct.host,
            port=direct.port,
            path=direct.path + path,
            query_string=query_string(params) if params else "",
            encoded=True,
        )
        if content is not None:
            headers: Sequence[tuple[str, str]] = (
                *direct.body_headers,
                ("Content-Length", str(len(content))),
            )
        elif method in ("POST", "PUT", "PATCH"):
            headers = direct.empty_body_headers
        else:
            headers = direct.headers
        return await direct.transport.exchange(
            method, url, headers, content, direct.timeout, retry_closed=repeatable
        )

    def _path(self, operation: Operation, **ids: str) -> str:
        quoted = {key: segment(value) for key, value in ids.items()}
        quoted.setdefault("provider", segment(self.caller))
        return operation.path.format(**quoted)

    def _record(
        self, operation: str, status: int | None, error: str | None, started: float, attempt: int
    ) -> None:
        latency = time.perf_counter() - started
        if self._on_request is not None:
            try:
                self._on_request(
                    RequestRecord(
                        self.name, self.base_url, operation, status, error, latency, attempt
                    )
                )
            except Exception:  # a metrics hook must never break a call
                log.exception("on_request hook failed")

    async def _attempt(
        self,
        operation: Operation,
        path: str,
        params: Mapping[str, str] | None,
        content: bytes | None,
        attempt: int,
    ) -> httpx.Response:
        started = time.perf_counter()
        try:
            async with self._semaphore:
                if self._direct is not None:
                    streamed = await self._send_direct(
                        self._direct,
                        operation.method,
                        path,
                        params,
                        content,
                        repeatable=operation.idempotent,
                    )
                else:
                    streamed = await self.send(
                        operation.method,
                        path,
                        params=params,
                        content=content,
                        repeatable=operation.idempotent,
                    )
                if already_read(streamed):
                    # Read whole by the transport (a declared, plain answer within
                    # the bound), or by a test's transport: the bound still holds.
                    if len(streamed.content) > MAX_RESPONSE_BYTES:
                        raise ResponseTooLarge
                    response = streamed
                else:
                    try:
                        body = await read_bounded(streamed, MAX_RESPONSE_BYTES)
                    finally:
                        await streamed.aclose()
                    kept = [
                        (k, v)
                        for k, v in streamed.headers.multi_items()
                        if k.lower()
                        not in ("content-encoding", "content-length", "transfer-encoding")
                    ]
                    response = httpx.Response(
                        streamed.status_code, headers=kept, content=body, request=streamed._request
                    )
        except ResponseTooLarge:
            self._record(operation.operation_id, None, "InvalidResponse", started, attempt)
            raise InvalidResponse(
                operation.operation_id, f"response larger than {MAX_RESPONSE_BYTES} bytes"
            ) from None
        except TokenRefreshFailed as error:
            self._record(operation.operation_id, None, "Unauthorized", started, attempt)
            raise Unauthorized(operation.operation_id, str(error), None) from error
        except _NOT_SENT as error:
            self._record(operation.operation_id, None, "TransportError", started, attempt)
            raise TransportError(operation.operation_id, type(error).__name__) from error
        except httpx.HTTPError as error:
            # Sent (or partly sent) and no answer: for a mutating call the peer
            # may have applied it (P33).
            kind = TransportError if operation.idempotent else OutcomeUnknown
            self._record(operation.operation_id, None, kind.__name__, started, attempt)
            raise kind(operation.operation_id, type(error).__name__) from error
        self._record(operation.operation_id, response.status_code, None, started, attempt)
        log.debug(
            "%s %s -> %s (attempt %d)",
            operation.operation_id,
            self.name,
            response.status_code,
            attempt,
        )
        return response

    async def _call(
        self,
        operation_id: str,
        response_model: type[ModelT],
        *,
        ids: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        body: BaseModel | bytes | None = None,
        request_id: str | None = None,
    ) -> ModelT:
        return await self._exchange(
            operation_id,
            lambda response: self._parse(operation_id, response, response_model),
            ids=ids,
            params=params,
            body=body,
            request_id=request_id,
        )

    async def _exchange(
        self,
        operation_id: str,
        read: Callable[[httpx.Response], ResultT],
        *,
        ids: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        body: BaseModel | bytes | None = None,
        request_id: str | None = None,
    ) -> ResultT:
        """One logical call with its retries (P33); ``read`` turns a success
        into the result inside the retry loop, so an unreadable answer is
        handled exactly as it always was (an :class:`InvalidResponse`)."""
        operation = OPERATIONS[operation_id]
        path = self._path(operation, **(ids or {}))
        if mutating(operation):
            # Feature-recovery draft: an idempotency key per logical call, the same on
            # every retry below (and, when the caller passes one, across reconciles
            # after an unknown outcome). A peer on the pinned spec ignores it.
            params = {**(params or {}), REQUEST_ID_PARAM: request_id or new_request_id()}
        # Serialize once: the same bytes are resent on every retry (P33 "keep
        # the same ids and body"). Bytes are a body the caller serialized already
        # (a create's requestId is keyed by them: ``reconcile.link.step_calls``).
        content = body if isinstance(body, bytes) or body is None else request_bytes(body)
        started = self._clock()
        bulk = in_bulk_read()
        lane = self._bulk_gate if bulk else _ANY_LANE
        attempt = 0
        while True:
            attempt += 1
            try:
                if bulk:  # a page asked for later while a few links are at work (lanes)
                    await bulk_turn()
                async with lane:
                    response = await self._attempt(operation, path, params, content, attempt)
                if response.is_success:
                    return read(response)
                raise error_for_status(
                    operation_id,
                    response.status_code,
                    error_message(response),
                    parse_retry_after(response.headers.get("Retry-After")),
                )
            except ApiError as error:
                if attempt >= self.retry.max_attempts or not is_retryable(
                    error, idempotent=operation.idempotent
                ):
                    raise
                delay = self.retry.backoff(attempt, self._rng, retry_after_of(error))
                if self._clock() - started + delay > self.retry.max_elapsed_s:
                    raise
                log.info(
                    "%s to %s failed (%s), retry %d in %.2fs",
                    operation_id,
                    self.name,
                    type(error).__name__,
                    attempt,
                    delay,
                )
                await self._sleep(delay)

    @staticmethod
    def _parse(operation_id: str, response: httpx.Response, model: type[ModelT]) -> ModelT:
        raw = response.content
        try:
            if not raw.strip():
                return model.model_validate({})
            # Parse and validate in one pass (pydantic-core reads the bytes).
            return model.model_validate_json(raw)
        except ValidationError as error:
            if any(e["type"] == "json_invalid" for e in error.errors()):
                raise InvalidResponse(
                    operation_id, "body is not JSON", response.status_code
                ) from None
            # Locations only: values could be secrets echoed by the peer.
            where = ", ".join(
                sorted({".".join(str(p) for p in e["loc"]) or "<root>" for e in error.errors()})
            )
            raise InvalidResponse(
                operation_id, f"unexpected body shape at {where}", response.status_code
            ) from None

    async def _pages(
        self,
        operation_id: str,
        page_model: type[ModelT],
        *,
        ids: Mapping[str, str] | None = None,
        page_size: int | None = None,
    ) -> AsyncGenerator[ModelT, None]:
        params = first_page(page_size)
        seen: set[str] = set()
        while True:
            page = await self._call(operation_id, page_model, ids=ids, params=params or None)
            yield page
            if not next_page(operation_id, getattr(page, "next_page_token", None), seen, params):
                return

    def _digested_pages(
        self,
        operation_id: str,
        page_model: type[ModelT],
        convert: Callable[[ModelT], Iterable[ConvertedT]],
        known: Mapping[bytes, DigestedPage[ConvertedT]],
        *,
        ids: Mapping[str, str] | None = None,
        page_size: int | None = None,
    ) -> AsyncGenerator[DigestedPage[ConvertedT], None]:
        """All pages of a list digested (``pages.digested_pages``); a page
        whose digest is new is parsed whole into ``page_model`` (the same
        errors as ``_pages``) and ``convert`` yields its items."""
        return digested_pages(
            operation_id,
            lambda read, params: self._exchange(operation_id, read, ids=ids, params=params or None),
            lambda response: self._parse(operation_id, response, page_model),
            lambda model: (getattr(model, "next_page_token", None), convert(model)),
            known=known,
            page_size=page_size,
        )
