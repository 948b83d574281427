"""One simulated provider at run time: store, faults, statistics and the request pipeline.

:class:`Simulator` runs every spec operation the same way (:meth:`Simulator.run`):
authentication (401/403, P34), fault injection, the handler, error mapping (P32)
and statistics. It also holds what handlers share: body parsing, the mutation
lock that serialises reservations (P10), pagination and the clock.

Error bodies follow the Google API style the spec derives from:
``{"error": {"code": 409, "status": "ABORTED", "message": "P7: ..."}}``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import bisect
import hashlib
import json
import logging
import re
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from interconnect_operator.api.models import (
    to_wire,
    to_wire_json,
)
from interconnect_operator.simulator.config import ANY_PROVIDER, SimulatorConfig
from interconnect_operator.simulator.faults import FaultInjector, Stats
from interconnect_operator.simulator.feature_json import FeatureJson
from interconnect_operator.simulator.inventory import default_inventory
from interconnect_operator.simulator.persistence import StateFile
from interconnect_operator.simulator.store import SimError, Store

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "ISSUES_DEFAULT_PAGE_SIZE",
    "Handler",
    "SimulatedDrop",
    "Simulator",
    "WireJson",
    "error_response",
    "json_response",
    "path_param",
    "wire",
    "wire_json",
]

log = logging.getLogger(__name__)

T = TypeVar("T")
ModelT = TypeVar("ModelT", bound=BaseModel)

DEFAULT_PAGE_SIZE = 100
ISSUES_DEFAULT_PAGE_SIZE = 50  # issues.yaml: "at most 50 ... if unspecified"
MAX_PAGE_SIZE = 1000

_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}


class SimulatedDrop(Exception):
    """Raised after response headers to make the server abort the connection.

    uvicorn closes the transport when an app fails after the response started,
    so the client never gets a complete response; under httpx's ASGITransport
    the exception reaches the test's client call.
    """


def error_response(status: int, message: str, retry_after: float | None = None) -> JSONResponse:
    """The JSON error body of P32 statuses."""
    headers = {}
    if retry_after is not None:
        headers["Retry-After"] = str(max(0, round(retry_after)))
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="interconnect-simulator"'
    body = {
        "error": {
            "code": status,
            "status": _STATUS_NAMES.get(status, "UNKNOWN"),
            "message": message,
        }
    }
    return JSONResponse(body, status_code=status, headers=headers)


class _DroppedResponse(Response):
    """Starts a response, then fails: the connection closes without a body."""

    def __init__(self) -> None:
        super().__init__(status_code=200, media_type="application/json")
        self.headers["content-length"] = "2"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        raise SimulatedDrop("simulated lost response")


Handler = Callable[["Simulator", Request, str], Awaitable[Any]]


#: requestIds remembered per simulator (oldest forgotten first): bounded memory.
MAX_REMEMBERED_REQUESTS = 10_000
_REQUEST_ID = re.compile(r"[A-Za-z0-9._~-]{1,128}")


class RequestLog:
    """The feature-recovery draft's ``requestId``: an idempotency key per logical call.

    A mutating call that repeats a requestId with the same method, path, query
    and body gets the first call's answer again (nothing is done twice); with
    anything different, 409. Only successful answers are remembered (a failed
    call may be retried and then succeed). A call without a requestId is
    served as the pinned spec says: the draft is optional for callers.
    """

    def __init__(self) -> None:
        self._seen: OrderedDict[tuple[str, str], tuple[str, Any]] = OrderedDict()

    @staticmethod
    async def _key(request: Request, caller: str) -> tuple[tuple[str, str], str] | None:
        request_id = request.query_params.get("requestId")
        if request_id is None or request.method == "GET":
            return None
        if not _REQUEST_ID.fullmatch(request_id):
            raise SimError(400, "requestId must be 1-128 URL-safe characters")
        query = sorted((k, v) for k, v in request.query_params.multi_items() if k != "requestId")
        digest = hashlib.sha256()
        for part in (request.method, request.url.path, json.dumps(query), await request.body()):
            digest.update(part if isinstance(part, bytes) else part.encode())
            digest.update(b"\0")
        return (caller, request_id), digest.hexdigest()

    async def replay(self, request: Request, caller: str) -> Any | None:
        """The remembered answer to this very request, None when it is new; 409 on reuse."""
        found = await self._key(request, caller)
        if found is None:
            return None
        key, fingerprint = found
        seen = self._seen.get(key)
        if seen is None:
            return None
        if seen[0] != fingerprint:
            raise SimError(409, "requestId was already used for a different request")
        return seen[1]

    async def remember(self, request: Request, caller: str, result: Any) -> None:
        found = await self._key(request, caller)
        if found is None:
            return
        key, fingerprint = found
        self._seen[key] = (fingerprint, result)
        while len(self._seen) > MAX_REMEMBERED_REQUESTS:
            self._seen.popitem(last=False)


class Simulator:
    """One simulated provider: store, faults, statistics, and the handlers."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.provider_id = config.provider_id
        self.inventory = config.inventory or default_inventory(config.provider_id)
        self.clock = config.clock
        self.state_file = StateFile(config.state_path) if config.state_path else None
        self.store = Store(
            self.inventory,
            provisioning_delay=config.provisioning_delay,
            bake_time=config.bake_time,
            state_file=self.state_file,
        )
        self.faults = FaultInjector(config.faults)
        self.stats = Stats()
        self.requests = RequestLog()
        self.feature_json = FeatureJson()
        """Each listed feature's JSON while its view cannot differ (ListFeatures pages)."""
        # Store methods never await, so each is atomic in the event loop; the
        # lock makes the serialisation of reservations (P10) explicit and keeps
        # it true if a handler ever awaits between check and commit.
        self.lock = asyncio.Lock()
        # Tokens are kept hashed: the raw values never sit in the app's state.
        self._tokens = {
            hashlib.sha256(token.encode()).digest(): frozenset(allowed)
            for token, allowed in config.tokens.items()
        }

    def close(self) -> None:
        """Flush and close the state file."""
        if self.state_file is not None:
            self.state_file.close()

    # ------------------------------------------------------------- plumbing

    def _authorize(self, request: Request, operation: str, caller: str | None) -> Response | None:
        if not self._tokens:
            return None
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return error_response(401, "P34: a bearer token is required")
        allowed = self._tokens.get(hashlib.sha256(token.strip().encode()).digest())
        if allowed is None:
            return error_response(401, "P34: the bearer token is not valid")
        if caller is None or ANY_PROVIDER in allowed or caller in allowed:
            return None
        if operation == "GetProvider" and caller == self.provider_id:
            return None  # every partner may read the server's provider resource
        return error_response(403, f"P34: this token may not act as provider {caller!r}")

    async def run(self, operation: str, handler: Handler, request: Request) -> Response:
        """Serve one spec operation: auth, faults, handler, errors, stats."""
        caller = request.path_params.get("provider")
        response = self._authorize(request, operation, caller)
        if response is None:
            decision = self.faults.decide(operation)
            if decision.latency_s > 0:
                await asyncio.sleep(decision.latency_s)
            if decision.before == "drop":
                return await self._drop(operation)
            if decision.before == "error":
                response = error_response(503, "injected fault", decision.retry_after)
            elif decision.before == "throttle":
                response = error_response(429, "injected throttle", decision.retry_after)
            elif decision.before == "conflict":
                response = error_response(409, "injected conflict")
            else:
                try:
                    replayed = await self.requests.replay(request, caller or "")
                    if replayed is not None:
                        response = json_response(replayed)
                    else:
                        result = await handler(self, request, caller or "")
                        await self.requests.remember(request, caller or "", result)
                        response = json_response(result)
                except SimError as error:
                    response = error_response(error.status, error.message, error.retry_after)
                if decision.timeout_after_commit and response.status_code == 200:
                    return await self._drop(operation)
        self.stats.record(operation, str(response.status_code))
        return response

    async def _drop(self, operation: str) -> Response:
        self.stats.record(operation, "dropped")
        hang = self.faults.config.hang_seconds
        if hang > 0:
            await asyncio.sleep(hang)
        return _DroppedResponse()

    async def mutate(self, change: Callable[[], T]) -> T:
        """Run a store mutation under the lock and persist it (write-through)."""
        async with self.lock:
            try:
                result = change()
            except BaseException:
                self.store.discard()
                raise
            self.store.flush()
            return result

    # ------------------------------------------------------------- parsing

    @staticmethod
    async def json_body(request: Request) -> dict[str, Any]:
        """The request's JSON object (``{}`` for an empty body), else 400."""
        raw = await request.body()
        if not raw.strip():
            return {}
        try:
            data = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise SimError(400, "the body is not JSON") from None
        if not isinstance(data, dict):
            raise SimError(400, "the body must be a JSON object")
        return data

    async def parse(self, request: Request, model: type[ModelT]) -> ModelT:
        """The body as ``model``, else 400 naming the bad fields (never values)."""
        data = await self.json_body(request)
        try:
            return model.model_validate(data)
        except ValidationError as error:
            fields = sorted({".".join(str(p) for p in e["loc"]) or "body" for e in error.errors()})
            raise SimError(400, f"invalid fields: {', '.join(fields)}") from None

    @staticmethod
    def page(
        request: Request, keys: Sequence[str], default_size: int = DEFAULT_PAGE_SIZE
    ) -> tuple[Sequence[str], str | None]:
        """One page of sorted ``keys`` and the next page token (None: last page).

        The token is opaque (base64 JSON of the last key and the list's path),
        so a page stays correct while items are added or removed meanwhile.
        """
        size_text = request.query_params.get("pageSize")
        size = default_size
        if size_text:
            try:
                size = int(size_text)
            except ValueError:
                raise SimError(400, "pageSize must be an integer") from None
            if size < 0:
                raise SimError(400, "pageSize must not be negative")
            size = min(size, MAX_PAGE_SIZE) if size else default_size
        start = 0
        token = request.query_params.get("pageToken")
        if token:
            try:
                decoded = json.loads(base64.urlsafe_b64decode(token.encode()))
                after, path = decoded["a"], decoded["p"]
            except (binascii.Error, ValueError, KeyError, TypeError):
                raise SimError(400, "invalid pageToken") from None
            if path != request.url.path or not isinstance(after, str):
                raise SimError(400, "the pageToken belongs to another list")
            start = bisect.bisect_right(keys, after)
        items = keys[start : start + size]
        next_token = None
        if start + size < len(keys) and items:
            payload = json.dumps({"a": items[-1], "p": request.url.path}, separators=(",", ":"))
            next_token = base64.urlsafe_b64encode(payload.encode()).decode()
        return items, next_token

    def now(self) -> float:
        """The simulator's clock (epoch seconds)."""
        return self.clock()


def wire(model: BaseModel) -> dict[str, Any]:
    return to_wire(model)


@dataclass(frozen=True, slots=True)
class WireJson:
    """An answer serialized already (``to_wire_json``): a list page of 1,000
    features built as a dict and dumped again cost a 10,000-link bench's
    simulators half their CPU."""

    body: bytes


def wire_json(model: BaseModel) -> WireJson:
    return WireJson(to_wire_json(model))


def json_response(result: Any) -> Response:
    """A handler's answer as the response: a dict, or JSON serialized already."""
    if isinstance(result, WireJson):
        return Response(result.body, media_type="application/json")
    return JSONResponse(result)


def path_param(request: Request, name: str) -> str:
    value: str = request.path_params[name]
    return value
