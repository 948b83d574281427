"""Async client of the Connection Coordinator API: all 33 operations.

One ``ProviderClient`` per peer endpoint, created once and closed at
shutdown (STYLE checklist 4). The caller's own provider id is the path
prefix of every call (P-Objects): ``/providers/{caller}/...``.

What the client does for every call:

- serializes request models with :func:`~.models.to_request` (camelCase,
  secrets revealed only on the wire, output-only fields dropped) and parses
  responses with tolerant models (unknown fields and enum values kept);
- maps non-2xx statuses to typed errors (P32, :mod:`.errors`);
- retries per P33 (:mod:`.retry`); a mutating call whose outcome is unknown
  raises :class:`~.errors.OutcomeUnknown`;
- bounds concurrent requests to the peer with a semaphore;
- reports each attempt to an ``on_request`` hook (metrics) and logs only
  operation, status and latency, never bodies (they may hold secrets).

List operations are async iterators over all pages; ``*_all`` variants
collect them into lists.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import ssl
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Self, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, SecretStr, ValidationError

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
from interconnect_operator.api.models import (
    AddCommentRequest,
    AddCommentResponse,
    Channel,
    CloseIssueRequest,
    Comment,
    ConfirmActivationKeyRequest,
    ConfirmActivationKeyResponse,
    Connection,
    Empty,
    Environment,
    Feature,
    GenerateFeatureGuidanceRequest,
    GenerateFeatureGuidanceResponse,
    GetMaintenanceEventsResponse,
    Interconnect,
    Issue,
    ListChannelsResponse,
    ListCommentsResponse,
    ListConnectionsResponse,
    ListEnvironmentsResponse,
    ListFeaturesResponse,
    ListInterconnectsResponse,
    ListIssuesResponse,
    ListMacSecKeysResponse,
    ListProvidersResponse,
    MacSecKey,
    MacSecKeyRotationRequest,
    MaintenanceEvent,
    NotifyConnectionStatusRequest,
    NotifyMaintenanceRequest,
    Provider,
    to_request,
)
from interconnect_operator.api.retry import (
    RetryPolicy,
    is_retryable,
    parse_retry_after,
    retry_after_of,
)
from interconnect_operator.api.transport import ProviderTransport

__all__ = ["OPERATIONS", "Operation", "ProviderClient", "RequestRecord", "collect"]

log = logging.getLogger(__name__)

ModelT = TypeVar("ModelT", bound=BaseModel)
ItemT = TypeVar("ItemT")

_PREFIX = "/providers/{provider}"
_ENV = _PREFIX + "/environments/{environment}"
_IC = _ENV + "/interconnects/{interconnect}"
_CH = _IC + "/channels/{channel}"
_CONN = _IC + "/connections/{connection}"
_ISSUE = _PREFIX + "/issues/{issue}"


@dataclass(frozen=True, slots=True)
class Operation:
    """One operation of the spec: HTTP method, path template, retry class.

    ``idempotent`` marks calls safe to repeat after an unknown outcome: the
    GETs, plus POSTs that only read (GenerateFeatureGuidance) or are refresh
    hints (NotifyConnectionStatus, NotifyMaintenance; P14, P24).
    """

    operation_id: str
    method: str
    path: str
    idempotent: bool


def _op(operation_id: str, method: str, path: str, idempotent: bool | None = None) -> Operation:
    return Operation(
        operation_id, method, path, method == "GET" if idempotent is None else idempotent
    )


OPERATIONS: dict[str, Operation] = {
    op.operation_id: op
    for op in (
        _op("ListProviders", "GET", "/providers"),
        _op("GetProvider", "GET", _PREFIX),
        _op("ListEnvironments", "GET", _PREFIX + "/environments"),
        _op("GetEnvironment", "GET", _ENV),
        _op("ConfirmActivationKey", "POST", _ENV + "/ConfirmActivationKey"),
        _op("ListInterconnects", "GET", _ENV + "/interconnects"),
        _op("GetInterconnect", "GET", _IC),
        _op("ListChannels", "GET", _IC + "/channels"),
        _op("GetChannel", "GET", _CH),
        _op("NotifyMaintenance", "POST", _CH + "/NotifyMaintenance", idempotent=True),
        _op("GetMaintenanceEvents", "GET", _CH + "/maintenanceEvents"),
        _op("RequestMacSecKeyRotation", "POST", _CH + "/RequestMacSecKeyRotation"),
        _op("CreateMacSecKey", "POST", _CH + "/macSecKeys"),
        _op("ListMacSecKeys", "GET", _CH + "/macSecKeys"),
        _op("GetMacSecKey", "GET", _CH + "/macSecKeys/{macSecKey}"),
        _op("DeleteMacSecKey", "DELETE", _CH + "/macSecKeys/{macSecKey}"),
        _op("ListConnections", "GET", _IC + "/connections"),
        _op("CreateConnection", "POST", _IC + "/connections"),
        _op("DeleteConnection", "DELETE", _CONN),
        _op("GetConnection", "GET", _CONN),
        _op("UpdateConnection", "PATCH", _CONN),
        _op("GenerateFeatureGuidance", "POST", _CONN + "/GenerateFeatureGuidance", idempotent=True),
        _op("NotifyConnectionStatus", "POST", _CONN + "/NotifyConnectionStatus", idempotent=True),
        _op("ListFeatures", "GET", _CONN + "/features"),
        _op("CreateFeature", "POST", _CONN + "/features"),
        _op("DeleteFeature", "DELETE", _CONN + "/features/{feature}"),
        _op("GetFeature", "GET", _CONN + "/features/{feature}"),
        _op("ListIssues", "GET", _PREFIX + "/issues"),
        _op("CreateIssue", "POST", _PREFIX + "/issues"),
        _op("GetIssue", "GET", _ISSUE),
        _op("CloseIssue", "POST", _ISSUE + "/Close"),
        _op("AddComment", "POST", _ISSUE + "/AddComment"),
        _op("ListComments", "GET", _ISSUE + "/comments"),
    )
}
"""operationId -> Operation, for all 33 operations of the pinned spec."""


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One HTTP attempt, as reported to the ``on_request`` hook.

    ``status_code`` is None when no response arrived; ``error`` is then the
    error class name (e.g. "OutcomeUnknown"). Bounded-cardinality fields
    only: no ids, no bodies.
    """

    provider: str
    base_url: str
    operation: str
    status_code: int | None
    error: str | None
    latency_seconds: float
    attempt: int


# httpx exceptions raised before any byte of the request left: safe to retry
# any call.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)

#: Largest response body read from a provider; larger is an InvalidResponse.
MAX_RESPONSE_BYTES = 16 * 1024 * 1024
#: Most pages one list call follows (a peer that never ends its list is cut off).
MAX_PAGES = 1000


class _TooLarge(Exception):
    pass


async def _read_bounded(response: httpx.Response, limit: int) -> bytes:
    """The (decoded) body of a streamed response, refusing more than ``limit`` bytes."""
    declared = response.headers.get("Content-Length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _TooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _seg(value: str) -> str:
    # Ids are single path segments; quote everything, including "/".
    if not value:
        raise ValueError("empty resource id")
    return quote(value, safe="")


def _error_message(response: httpx.Response) -> str:
    """The server's error message: Google-style ``{"error": {"message"}}``,
    a top-level ``message``, or the (truncated) text."""
    try:
        document = response.json()
    except (ValueError, UnicodeDecodeError):
        return response.text[:300]
    if isinstance(document, dict):
        inner = document.get("error")
        if isinstance(inner, dict) and isinstance(inner.get("message"), str):
            return str(inner["message"])
        if isinstance(inner, str):
            return inner
        if isinstance(document.get("message"), str):
            return str(document["message"])
    return response.text[:300]


async def collect(items: AsyncIterator[ItemT]) -> list[ItemT]:
    """Drain an async iterator into a list."""
    return [item async for item in items]


class ProviderClient:
    """Client of one peer's Connection Coordinator server.

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
        # TLS 1.3 minimum toward providers unless explicitly lowered.
        ssl_context = with_min_tls(self._auth.ssl_context(verify), min_tls_version)
        if transport is None:
            # aiohttp under the httpx API: less CPU per request (bench/REPORT.md).
            transport = ProviderTransport(verify=ssl_context, max_connections=max_concurrency)
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            auth=self._auth,
            transport=transport,
            verify=ssl_context,
            timeout=httpx.Timeout(timeout),
            limits=httpx.Limits(
                max_connections=max_concurrency, max_keepalive_connections=max_concurrency
            ),
            headers={"Accept": "application/json"},
            follow_redirects=False,
        )

    def __repr__(self) -> str:
        return f"ProviderClient(base_url={self.base_url!r}, caller={self.caller!r})"

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
        await self._http.aclose()

    # ------------------------------------------------------------------
    # Core: one call with retries
    # ------------------------------------------------------------------

    def _path(self, operation: Operation, **ids: str) -> str:
        quoted = {key: _seg(value) for key, value in ids.items()}
        quoted.setdefault("provider", _seg(self.caller))
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
        headers = {"Content-Type": "application/json"} if content is not None else None
        started = time.perf_counter()
        try:
            async with self._semaphore:
                request = self._http.build_request(
                    operation.method, path, params=params, content=content, headers=headers
                )
                streamed = await self._http.send(request, stream=True)
                try:
                    body = await _read_bounded(streamed, MAX_RESPONSE_BYTES)
                finally:
                    await streamed.aclose()
                kept = [
                    (k, v)
                    for k, v in streamed.headers.multi_items()
                    if k.lower() not in ("content-encoding", "content-length", "transfer-encoding")
                ]
                response = httpx.Response(
                    streamed.status_code, headers=kept, content=body, request=request
                )
        except _TooLarge:
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
        body: BaseModel | None = None,
    ) -> ModelT:
        operation = OPERATIONS[operation_id]
        path = self._path(operation, **(ids or {}))
        # Serialize once: the same bytes are resent on every retry (P33 "keep
        # the same ids and body").
        content = (
            json.dumps(to_request(body), separators=(",", ":")).encode()
            if body is not None
            else None
        )
        started = self._clock()
        attempt = 0
        while True:
            attempt += 1
            try:
                response = await self._attempt(operation, path, params, content, attempt)
                if response.is_success:
                    return self._parse(operation_id, response, response_model)
                raise error_for_status(
                    operation_id,
                    response.status_code,
                    _error_message(response),
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
        params: dict[str, str] = {}
        if page_size is not None:
            params["pageSize"] = str(page_size)
        seen: set[str] = set()
        while True:
            if len(seen) >= MAX_PAGES:
                raise InvalidResponse(operation_id, f"more than {MAX_PAGES} pages")
            page = await self._call(operation_id, page_model, ids=ids, params=params or None)
            yield page
            token = getattr(page, "next_page_token", None)
            if not token:
                return
            if token in seen:
                # A peer that repeats a token would make us loop forever.
                raise InvalidResponse(operation_id, "page token repeated")
            seen.add(token)
            params["pageToken"] = token

    # ------------------------------------------------------------------
    # Providers
    # ------------------------------------------------------------------

    async def list_providers(self) -> AsyncGenerator[Provider, None]:
        """ListProviders (``/providers``). Reads both list keys (spec defect)."""
        async for page in self._pages("ListProviders", ListProvidersResponse):
            for item in page.items:
                yield item

    async def list_providers_all(self) -> list[Provider]:
        """All providers as a list."""
        return await collect(self.list_providers())

    async def get_provider(self, provider: str | None = None) -> Provider:
        """GetProvider; by default our own provider id (the caller prefix)."""
        return await self._call("GetProvider", Provider, ids={"provider": provider or self.caller})

    # ------------------------------------------------------------------
    # Environments
    # ------------------------------------------------------------------

    async def list_environments(
        self, *, page_size: int | None = None
    ) -> AsyncGenerator[Environment, None]:
        """ListEnvironments, all pages."""
        async for page in self._pages(
            "ListEnvironments", ListEnvironmentsResponse, page_size=page_size
        ):
            for item in page.environments or ():
                yield item

    async def list_environments_all(self, *, page_size: int | None = None) -> list[Environment]:
        """All environments as a list."""
        return await collect(self.list_environments(page_size=page_size))

    async def get_environment(self, environment: str) -> Environment:
        """GetEnvironment."""
        return await self._call("GetEnvironment", Environment, ids={"environment": environment})

    async def confirm_activation_key(
        self, environment: str, encoded_key: str | SecretStr
    ) -> ConfirmActivationKeyResponse:
        """ConfirmActivationKey (P3): ``keyValid`` tells whether to proceed."""
        secret = encoded_key if isinstance(encoded_key, SecretStr) else SecretStr(encoded_key)
        return await self._call(
            "ConfirmActivationKey",
            ConfirmActivationKeyResponse,
            ids={"environment": environment},
            body=ConfirmActivationKeyRequest(encoded_key=secret),
        )

    # ------------------------------------------------------------------
    # Interconnects and channels
    # ------------------------------------------------------------------

    async def list_interconnects(
        self, environment: str, *, page_size: int | None = None
    ) -> AsyncGenerator[Interconnect, None]:
        """ListInterconnects, all pages."""
        async for page in self._pages(
            "ListInterconnects",
            ListInterconnectsResponse,
            ids={"environment": environment},
            page_size=page_size,
        ):
            for item in page.interconnects or ():
                yield item

    async def list_interconnects_all(
        self, environment: str, *, page_size: int | None = None
    ) -> list[Interconnect]:
        """All interconnects of an environment as a list."""
        return await collect(self.list_interconnects(environment, page_size=page_size))

    async def get_interconnect(self, environment: str, interconnect: str) -> Interconnect:
        """GetInterconnect."""
        return await self._call(
            "GetInterconnect",
            Interconnect,
            ids={"environment": environment, "interconnect": interconnect},
        )

    async def list_channels(
        self, environment: str, interconnect: str, *, page_size: int | None = None
    ) -> AsyncGenerator[Channel, None]:
        """ListChannels, all pages."""
        async for page in self._pages(
            "ListChannels",
            ListChannelsResponse,
            ids={"environment": environment, "interconnect": interconnect},
            page_size=page_size,
        ):
            for item in page.channels or ():
                yield item

    async def list_channels_all(
        self, environment: str, interconnect: str, *, page_size: int | None = None
    ) -> list[Channel]:
        """All channels of an interconnect as a list."""
        return await collect(self.list_channels(environment, interconnect, page_size=page_size))

    async def get_channel(self, environment: str, interconnect: str, channel: str) -> Channel:
        """GetChannel."""
        return await self._call(
            "GetChannel",
            Channel,
            ids={"environment": environment, "interconnect": interconnect, "channel": channel},
        )

    async def notify_maintenance(
        self,
        environment: str,
        interconnect: str,
        channel: str,
        request: NotifyMaintenanceRequest | None = None,
    ) -> None:
        """NotifyMaintenance (P24): the peer then re-reads maintenance events."""
        await self._call(
            "NotifyMaintenance",
            Empty,
            ids={"environment": environment, "interconnect": interconnect, "channel": channel},
            body=request or NotifyMaintenanceRequest(),
        )

    async def get_maintenance_events(
        self, environment: str, interconnect: str, channel: str
    ) -> list[MaintenanceEvent]:
        """GetMaintenanceEvents of a channel."""
        response = await self._call(
            "GetMaintenanceEvents",
            GetMaintenanceEventsResponse,
            ids={"environment": environment, "interconnect": interconnect, "channel": channel},
        )
        return list(response.events or ())

    async def request_mac_sec_key_rotation(
        self, environment: str, interconnect: str, channel: str, reason: str | None = None
    ) -> None:
        """RequestMacSecKeyRotation (P30): ask the channel's MACsec manager to rotate."""
        await self._call(
            "RequestMacSecKeyRotation",
            Empty,
            ids={"environment": environment, "interconnect": interconnect, "channel": channel},
            body=MacSecKeyRotationRequest(reason=reason),
        )

    # ------------------------------------------------------------------
    # MACsec keys
    # ------------------------------------------------------------------

    async def create_mac_sec_key(
        self,
        environment: str,
        interconnect: str,
        channel: str,
        mac_sec_key_id: str,
        key: MacSecKey,
    ) -> MacSecKey:
        """CreateMacSecKey (P28); the server sets ``startTime``."""
        return await self._call(
            "CreateMacSecKey",
            MacSecKey,
            ids={"environment": environment, "interconnect": interconnect, "channel": channel},
            params={"macSecKeyId": mac_sec_key_id},
            body=key,
        )

    async def list_mac_sec_keys(
        self, environment: str, interconnect: str, channel: str
    ) -> AsyncGenerator[MacSecKey, None]:
        """ListMacSecKeys (one page per spec; a token is followed if sent)."""
        async for page in self._pages(
            "ListMacSecKeys",
            ListMacSecKeysResponse,
            ids={"environment": environment, "interconnect": interconnect, "channel": channel},
        ):
            for item in page.mac_sec_keys or ():
                yield item

    async def list_mac_sec_keys_all(
        self, environment: str, interconnect: str, channel: str
    ) -> list[MacSecKey]:
        """All MACsec keys of a channel as a list."""
        return await collect(self.list_mac_sec_keys(environment, interconnect, channel))

    async def get_mac_sec_key(
        self, environment: str, interconnect: str, channel: str, mac_sec_key: str
    ) -> MacSecKey:
        """GetMacSecKey."""
        return await self._call(
            "GetMacSecKey",
            MacSecKey,
            ids={
                "environment": environment,
                "interconnect": interconnect,
                "channel": channel,
                "macSecKey": mac_sec_key,
            },
        )

    async def delete_mac_sec_key(
        self, environment: str, interconnect: str, channel: str, mac_sec_key: str
    ) -> None:
        """DeleteMacSecKey (P28: an active key cannot be deleted, 409/400)."""
        await self._call(
            "DeleteMacSecKey",
            Empty,
            ids={
                "environment": environment,
                "interconnect": interconnect,
                "channel": channel,
                "macSecKey": mac_sec_key,
            },
        )

    # ------------------------------------------------------------------
    # Connections
    # ------------------------------------------------------------------

    async def list_connections(
        self, environment: str, interconnect: str, *, page_size: int | None = None
    ) -> AsyncGenerator[Connection, None]:
        """ListConnections, all pages."""
        async for page in self._pages(
            "ListConnections",
            ListConnectionsResponse,
            ids={"environment": environment, "interconnect": interconnect},
            page_size=page_size,
        ):
            for item in page.connections or ():
                yield item

    async def list_connections_all(
        self, environment: str, interconnect: str, *, page_size: int | None = None
    ) -> list[Connection]:
        """All connections of an interconnect as a list."""
        return await collect(self.list_connections(environment, interconnect, page_size=page_size))

    async def create_connection(
        self, environment: str, interconnect: str, connection_id: str, connection: Connection
    ) -> Connection:
        """CreateConnection (P5-P7, P22); 409 means the interconnect cannot fit it."""
        return await self._call(
            "CreateConnection",
            Connection,
            ids={"environment": environment, "interconnect": interconnect},
            params={"connectionId": connection_id},
            body=connection,
        )

    async def delete_connection(self, environment: str, interconnect: str, connection: str) -> None:
        """DeleteConnection (P19): implies deleting its features."""
        await self._call(
            "DeleteConnection",
            Empty,
            ids={
                "environment": environment,
                "interconnect": interconnect,
                "connection": connection,
            },
        )

    async def get_connection(
        self, environment: str, interconnect: str, connection: str
    ) -> Connection:
        """GetConnection."""
        return await self._call(
            "GetConnection",
            Connection,
            ids={
                "environment": environment,
                "interconnect": interconnect,
                "connection": connection,
            },
        )

    async def update_connection(
        self,
        environment: str,
        interconnect: str,
        connection_id: str,
        connection: Connection,
        *,
        update_mask: Sequence[str] | None = None,
    ) -> Connection:
        """UpdateConnection (P16-P17): PATCH with ``updateMask`` (camelCase paths)."""
        params = {"updateMask": ",".join(update_mask)} if update_mask else None
        return await self._call(
            "UpdateConnection",
            Connection,
            ids={
                "environment": environment,
                "interconnect": interconnect,
                "connection": connection_id,
            },
            params=params,
            body=connection,
        )

    async def generate_feature_guidance(
        self, environment: str, interconnect: str, connection: str
    ) -> GenerateFeatureGuidanceResponse:
        """GenerateFeatureGuidance (P8): one guidance entry per channel."""
        return await self._call(
            "GenerateFeatureGuidance",
            GenerateFeatureGuidanceResponse,
            ids={
                "environment": environment,
                "interconnect": interconnect,
                "connection": connection,
            },
            body=GenerateFeatureGuidanceRequest(),
        )

    async def notify_connection_status(
        self, environment: str, interconnect: str, connection: str
    ) -> None:
        """NotifyConnectionStatus (P14): a refresh hint for the peer."""
        await self._call(
            "NotifyConnectionStatus",
            Empty,
            ids={
                "environment": environment,
                "interconnect": interconnect,
                "connection": connection,
            },
            body=NotifyConnectionStatusRequest(),
        )

    # ------------------------------------------------------------------
    # Features
    # ------------------------------------------------------------------

    async def list_features(
        self,
        environment: str,
        interconnect: str,
        connection: str,
        *,
        page_size: int | None = None,
    ) -> AsyncGenerator[Feature, None]:
        """ListFeatures, all pages."""
        async for page in self._pages(
            "ListFeatures",
            ListFeaturesResponse,
            ids={
                "environment": environment,
                "interconnect": interconnect,
                "connection": connection,
            },
            page_size=page_size,
        ):
            for item in page.features or ():
                yield item

    async def list_features_all(
        self,
        environment: str,
        interconnect: str,
        connection: str,
        *,
        page_size: int | None = None,
    ) -> list[Feature]:
        """All features of a connection as a list."""
        return await collect(
            self.list_features(environment, interconnect, connection, page_size=page_size)
        )

    async def create_feature(
        self,
        environment: str,
        interconnect: str,
        connection: str,
        feature_id: str,
        feature: Feature,
    ) -> Feature:
        """CreateFeature (P9-P11): accepted in full (200) or rejected (400/409)."""
        return await self._call(
            "CreateFeature",
            Feature,
            ids={
                "environment": environment,
                "interconnect": interconnect,
                "connection": connection,
            },
            params={"featureId": feature_id},
            body=feature,
        )

    async def delete_feature(
        self, environment: str, interconnect: str, connection: str, feature: str
    ) -> None:
        """DeleteFeature (P20)."""
        await self._call(
            "DeleteFeature",
            Empty,
            ids={
                "environment": environment,
                "interconnect": interconnect,
                "connection": connection,
                "feature": feature,
            },
        )

    async def get_feature(
        self, environment: str, interconnect: str, connection: str, feature: str
    ) -> Feature:
        """GetFeature."""
        return await self._call(
            "GetFeature",
            Feature,
            ids={
                "environment": environment,
                "interconnect": interconnect,
                "connection": connection,
                "feature": feature,
            },
        )

    # ------------------------------------------------------------------
    # Issues
    # ------------------------------------------------------------------

    async def list_issues(self, *, page_size: int | None = None) -> AsyncGenerator[Issue, None]:
        """ListIssues, all pages."""
        async for page in self._pages("ListIssues", ListIssuesResponse, page_size=page_size):
            for item in page.issues or ():
                yield item

    async def list_issues_all(self, *, page_size: int | None = None) -> list[Issue]:
        """All issues as a list."""
        return await collect(self.list_issues(page_size=page_size))

    async def create_issue(self, issue_id: str, issue: Issue) -> Issue:
        """CreateIssue (escalation, README.md)."""
        return await self._call("CreateIssue", Issue, params={"issueId": issue_id}, body=issue)

    async def get_issue(self, issue: str) -> Issue:
        """GetIssue."""
        return await self._call("GetIssue", Issue, ids={"issue": issue})

    async def close_issue(self, issue: str) -> Issue:
        """CloseIssue; returns the closed issue."""
        return await self._call("CloseIssue", Issue, ids={"issue": issue}, body=CloseIssueRequest())

    async def add_comment(self, issue: str, comment: Comment) -> AddCommentResponse:
        """AddComment."""
        return await self._call(
            "AddComment",
            AddCommentResponse,
            ids={"issue": issue},
            body=AddCommentRequest(comment=comment),
        )

    async def list_comments(
        self, issue: str, *, page_size: int | None = None
    ) -> AsyncGenerator[Comment, None]:
        """ListComments, all pages."""
        async for page in self._pages(
            "ListComments", ListCommentsResponse, ids={"issue": issue}, page_size=page_size
        ):
            for item in page.comments or ():
                yield item

    async def list_comments_all(self, issue: str, *, page_size: int | None = None) -> list[Comment]:
        """All comments of an issue as a list."""
        return await collect(self.list_comments(issue, page_size=page_size))
