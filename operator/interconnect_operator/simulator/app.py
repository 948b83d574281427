"""The simulator's ASGI app: the 33 spec operations plus customer and admin endpoints.

One :class:`Simulator` holds the store, the fault injector and the call
statistics; :func:`create_app` builds a Starlette app around it. Each spec
operation goes through :meth:`Simulator.run`: authentication (401/403, P34),
fault injection, the handler, error mapping (P32) and statistics.

Endpoints outside the spec (formats in ``docs/simulator.md``):

- ``POST /customer/v1/activationKeys``: the customer's own API of P1.
- ``/admin/...``: faults, statistics, a state dump, losing a feature,
  scheduling maintenance, overriding an interconnect's state. Unauthenticated:
  the simulator is a test tool; bind it to loopback.
- ``GET /healthz``.

Error bodies follow the Google API style the spec derives from:
``{"error": {"code": 409, "status": "ABORTED", "message": "P7: ..."}}``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import bisect
import contextlib
import hashlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from interconnect_operator.api import activation_key
from interconnect_operator.api.models import (
    AddCommentRequest,
    AddCommentResponse,
    ConfirmActivationKeyRequest,
    ConfirmActivationKeyResponse,
    Connection,
    Feature,
    GenerateFeatureGuidanceResponse,
    GetMaintenanceEventsResponse,
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
    NotifyMaintenanceRequest,
    Provider,
    to_wire,
)
from interconnect_operator.api.names import provider_name
from interconnect_operator.simulator import views
from interconnect_operator.simulator.config import ANY_PROVIDER, SimulatorConfig
from interconnect_operator.simulator.faults import FaultConfig, FaultInjector, Stats
from interconnect_operator.simulator.inventory import default_inventory, display_name
from interconnect_operator.simulator.persistence import StateFile
from interconnect_operator.simulator.store import SimError, Store

__all__ = ["SimulatedDrop", "Simulator", "create_app"]

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
                    result = await handler(self, request, caller or "")
                    response = JSONResponse(result)
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


def _wire(model: BaseModel) -> dict[str, Any]:
    return to_wire(model)


def _p(request: Request, name: str) -> str:
    value: str = request.path_params[name]
    return value


# ----------------------------------------------------------------- providers


async def list_providers(sim: Simulator, request: Request, caller: str) -> Any:
    # Spec defect kept on purpose: ListProvidersResponse names the list
    # "environments"; the client model accepts either spelling.
    ids = [sim.provider_id, *sim.inventory.peers()]
    providers = [Provider(name=provider_name(p), display_name=display_name(p)) for p in ids]
    providers[0].display_name = sim.inventory.display_name
    return _wire(ListProvidersResponse(environments=providers))


async def get_provider(sim: Simulator, request: Request, caller: str) -> Any:
    if caller == sim.provider_id:
        return _wire(Provider(name=provider_name(caller), display_name=sim.inventory.display_name))
    if caller not in sim.inventory.peers():
        raise SimError(404, f"provider {caller!r} not found")
    return _wire(Provider(name=provider_name(caller), display_name=display_name(caller)))


# ----------------------------------------------------------------- environments


async def list_environments(sim: Simulator, request: Request, caller: str) -> Any:
    envs = {env.id: env for env in sim.inventory.environments_of(caller)}
    keys, token = sim.page(request, sorted(envs))
    return _wire(
        ListEnvironmentsResponse(
            environments=[views.environment_view(caller, envs[k]) for k in keys],
            next_page_token=token,
        )
    )


async def get_environment(sim: Simulator, request: Request, caller: str) -> Any:
    env = sim.store.environment(caller, _p(request, "environment"))
    return _wire(views.environment_view(caller, env))


async def confirm_activation_key(sim: Simulator, request: Request, caller: str) -> Any:
    environment = _p(request, "environment")
    sim.store.environment(caller, environment)  # 404 for an unknown environment
    # P3: a bad key is "keyValid: false", never an error.
    key = None
    try:
        body = ConfirmActivationKeyRequest.model_validate(await sim.json_body(request))
    except ValidationError:
        body = None  # e.g. a malformed deprecated "key" object
    if body is not None and body.encoded_key is not None:
        try:
            key = activation_key.decode(body.encoded_key.get_secret_value())
        except activation_key.InvalidActivationKey:
            key = None
    elif body is not None and body.key is not None:
        try:
            key = activation_key.validate(body.key)
        except activation_key.InvalidActivationKey:
            key = None
    valid = sim.store.confirm_activation_key(caller, environment, key)
    return _wire(ConfirmActivationKeyResponse(key_valid=valid))


# ----------------------------------------------------------------- interconnects & channels


async def list_interconnects(sim: Simulator, request: Request, caller: str) -> Any:
    env = sim.store.environment(caller, _p(request, "environment"))
    by_id = {ix.id: ix for ix in env.interconnects}
    keys, token = sim.page(request, sorted(by_id))
    return _wire(
        ListInterconnectsResponse(
            interconnects=[views.interconnect_view(caller, env, by_id[k], sim.store) for k in keys],
            next_page_token=token,
        )
    )


async def get_interconnect(sim: Simulator, request: Request, caller: str) -> Any:
    env, ix = sim.store.interconnect(
        caller, _p(request, "environment"), _p(request, "interconnect")
    )
    return _wire(views.interconnect_view(caller, env, ix, sim.store))


async def list_channels(sim: Simulator, request: Request, caller: str) -> Any:
    env, ix = sim.store.interconnect(
        caller, _p(request, "environment"), _p(request, "interconnect")
    )
    by_id = {ch.id: ch for ch in ix.channels}
    keys, token = sim.page(request, sorted(by_id))
    return _wire(
        ListChannelsResponse(
            channels=[views.channel_view(caller, env, ix, by_id[k]) for k in keys],
            next_page_token=token,
        )
    )


def _channel_path(request: Request) -> tuple[str, str, str]:
    return _p(request, "environment"), _p(request, "interconnect"), _p(request, "channel")


async def get_channel(sim: Simulator, request: Request, caller: str) -> Any:
    env, ix, ch = sim.store.channel(caller, *_channel_path(request))
    return _wire(views.channel_view(caller, env, ix, ch))


async def notify_maintenance(sim: Simulator, request: Request, caller: str) -> Any:
    body = await sim.parse(request, NotifyMaintenanceRequest)
    events = [to_wire(event) for event in body.events or []]
    now = sim.now()
    await sim.mutate(
        lambda: sim.store.notify_maintenance(
            caller, *_channel_path(request), events=events, now=now
        )
    )
    return {}


async def get_maintenance_events(sim: Simulator, request: Request, caller: str) -> Any:
    events = sim.store.maintenance_events(caller, *_channel_path(request), sim.now())
    return _wire(GetMaintenanceEventsResponse(events=[views.maintenance_view(e) for e in events]))


async def request_rotation(sim: Simulator, request: Request, caller: str) -> Any:
    body = await sim.parse(request, MacSecKeyRotationRequest)
    now = sim.now()
    await sim.mutate(
        lambda: sim.store.request_rotation(
            caller, *_channel_path(request), reason=body.reason or "", now=now
        )
    )
    return {}


# ----------------------------------------------------------------- MACsec keys


async def create_macsec_key(sim: Simulator, request: Request, caller: str) -> Any:
    body = await sim.parse(request, MacSecKey)
    key_id = request.query_params.get("macSecKeyId", "")
    now = sim.now()
    cak = body.cak.get_secret_value() if body.cak else None
    ckn = body.ckn.get_secret_value() if body.ckn else None
    path = _channel_path(request)
    record = await sim.mutate(
        lambda: sim.store.create_macsec_key(caller, *path, key_id, cak=cak, ckn=ckn, now=now)
    )
    active = sim.store.active_macsec_key(path, now) == record.id
    return _wire(views.macsec_view(caller, record, active))


async def list_macsec_keys(sim: Simulator, request: Request, caller: str) -> Any:
    path = _channel_path(request)
    sim.store.channel(caller, *path)
    now = sim.now()
    active = sim.store.active_macsec_key(path, now)
    records = sorted(sim.store.macsec.get(path, {}).values(), key=lambda r: r.id)
    return _wire(
        ListMacSecKeysResponse(
            mac_sec_keys=[views.macsec_view(caller, r, r.id == active) for r in records]
        )
    )


async def get_macsec_key(sim: Simulator, request: Request, caller: str) -> Any:
    path = _channel_path(request)
    record = sim.store.macsec_key(caller, *path, _p(request, "macSecKey"))
    active = sim.store.active_macsec_key(path, sim.now()) == record.id
    return _wire(views.macsec_view(caller, record, active))


async def delete_macsec_key(sim: Simulator, request: Request, caller: str) -> Any:
    now = sim.now()
    key_id = _p(request, "macSecKey")
    await sim.mutate(
        lambda: sim.store.delete_macsec_key(caller, *_channel_path(request), key_id, now=now)
    )
    return {}


# ----------------------------------------------------------------- connections


def _ix_path(request: Request) -> tuple[str, str]:
    return _p(request, "environment"), _p(request, "interconnect")


def _conn_path(request: Request) -> tuple[str, str, str]:
    return (*_ix_path(request), _p(request, "connection"))


async def list_connections(sim: Simulator, request: Request, caller: str) -> Any:
    path = _ix_path(request)
    sim.store.interconnect(caller, *path)
    records = sim.store.connections_by_ix.get(path, {})
    keys, token = sim.page(request, sorted(records))
    now = sim.now()
    return _wire(
        ListConnectionsResponse(
            connections=[views.connection_view(caller, records[k], sim.store, now) for k in keys],
            next_page_token=token,
        )
    )


async def create_connection(sim: Simulator, request: Request, caller: str) -> Any:
    body = await sim.parse(request, Connection)
    connection_id = request.query_params.get("connectionId", "")
    key_text = body.activation_key.get_secret_value() if body.activation_key else None
    now = sim.now()
    record = await sim.mutate(
        lambda: sim.store.create_connection(
            caller,
            *_ix_path(request),
            connection_id,
            bandwidth_mbps=body.bandwidth_mbps,
            defer_provisioning=bool(body.defer_provisioning),
            activation_key_text=key_text,
            now=now,
        )
    )
    return _wire(views.connection_view(caller, record, sim.store, now))


async def get_connection(sim: Simulator, request: Request, caller: str) -> Any:
    record = sim.store.connection(caller, *_conn_path(request))
    return _wire(views.connection_view(caller, record, sim.store, sim.now()))


async def update_connection(sim: Simulator, request: Request, caller: str) -> Any:
    body = await sim.parse(request, Connection)
    mask_text = request.query_params.get("updateMask")
    if mask_text:
        mask = [part.strip() for part in mask_text.split(",") if part.strip()]
    else:
        # No mask: the fields present in the body are the update (AIP-134).
        # Identifier and output-only fields of a full resource are not updates.
        sent = await sim.json_body(request)
        ignored = {"name", "adminState", "verificationState", "activationKey"}
        mask = [key for key in sent if key not in ignored]
    if not mask:
        raise SimError(400, "P16: nothing to update")
    now = sim.now()
    record = await sim.mutate(
        lambda: sim.store.update_connection(
            caller, *_conn_path(request), mask=mask, bandwidth_mbps=body.bandwidth_mbps, now=now
        )
    )
    return _wire(views.connection_view(caller, record, sim.store, now))


async def delete_connection(sim: Simulator, request: Request, caller: str) -> Any:
    await sim.mutate(lambda: sim.store.delete_connection(caller, *_conn_path(request)))
    return {}


async def generate_feature_guidance(sim: Simulator, request: Request, caller: str) -> Any:
    await sim.json_body(request)  # GenerateFeatureGuidanceRequest has no fields
    environment, interconnect, connection = _conn_path(request)
    sim.store.connection(caller, environment, interconnect, connection)
    env, ix = sim.store.interconnect(caller, environment, interconnect)
    return _wire(
        GenerateFeatureGuidanceResponse(feature_guidance=views.guidance_view(caller, env, ix))
    )


async def notify_connection_status(sim: Simulator, request: Request, caller: str) -> Any:
    await sim.json_body(request)  # NotifyConnectionStatusRequest has no fields
    now = sim.now()
    await sim.mutate(lambda: sim.store.notify_connection_status(caller, *_conn_path(request), now))
    return {}


# ----------------------------------------------------------------- features


async def list_features(sim: Simulator, request: Request, caller: str) -> Any:
    path = _conn_path(request)
    now = sim.now()
    if path[2] == "-":
        # AIP-159 wildcard: every feature of the interconnect in one list, so a
        # coordinator observes O(interconnects) instead of O(connections).
        environment, interconnect = path[0], path[1]
        sim.store.interconnect(caller, environment, interconnect)
        every = {
            f"{conn_id}/{feature_id}": feature
            for conn_id in sim.store.connections_by_ix.get((environment, interconnect), {})
            for feature_id, feature in sim.store.features.get(
                (environment, interconnect, conn_id), {}
            ).items()
        }
        page, token = sim.page(request, sorted(every))
        return _wire(
            ListFeaturesResponse(
                features=[views.feature_view(caller, every[k], sim.store, now) for k in page],
                next_page_token=token,
            )
        )
    sim.store.connection(caller, *path)
    records = sim.store.features.get(path, {})
    keys, token = sim.page(request, sorted(records))
    return _wire(
        ListFeaturesResponse(
            features=[views.feature_view(caller, records[k], sim.store, now) for k in keys],
            next_page_token=token,
        )
    )


async def create_feature(sim: Simulator, request: Request, caller: str) -> Any:
    body = await sim.parse(request, Feature)
    feature_id = request.query_params.get("featureId", "")
    config = to_wire(body.feature_config) if body.feature_config is not None else None
    now = sim.now()
    record = await sim.mutate(
        lambda: sim.store.create_feature(
            caller,
            *_conn_path(request),
            feature_id,
            channel_name=body.channel,
            config=config,
            now=now,
        )
    )
    return _wire(views.feature_view(caller, record, sim.store, now))


async def get_feature(sim: Simulator, request: Request, caller: str) -> Any:
    record = sim.store.feature(caller, *_conn_path(request), _p(request, "feature"))
    return _wire(views.feature_view(caller, record, sim.store, sim.now()))


async def delete_feature(sim: Simulator, request: Request, caller: str) -> Any:
    now = sim.now()
    feature = _p(request, "feature")
    await sim.mutate(
        lambda: sim.store.delete_feature(caller, *_conn_path(request), feature, now=now)
    )
    return {}


# ----------------------------------------------------------------- issues


async def list_issues(sim: Simulator, request: Request, caller: str) -> Any:
    records = sim.store.issues.get(caller, {})
    keys, token = sim.page(request, sorted(records), ISSUES_DEFAULT_PAGE_SIZE)
    return _wire(
        ListIssuesResponse(
            issues=[views.issue_view(records[k]) for k in keys], next_page_token=token
        )
    )


async def create_issue(sim: Simulator, request: Request, caller: str) -> Any:
    body = await sim.parse(request, Issue)
    issue_id = request.query_params.get("issueId", "")
    # Keep only what the caller may set; output-only fields are the server's.
    data = to_wire(body, exclude_output_only=True)
    data.pop("name", None)
    now = sim.now()
    record = await sim.mutate(lambda: sim.store.create_issue(caller, issue_id, data, now))
    return _wire(views.issue_view(record))


async def get_issue(sim: Simulator, request: Request, caller: str) -> Any:
    return _wire(views.issue_view(sim.store.issue(caller, _p(request, "issue"))))


async def close_issue(sim: Simulator, request: Request, caller: str) -> Any:
    await sim.json_body(request)
    issue_id = _p(request, "issue")
    record = await sim.mutate(lambda: sim.store.close_issue(caller, issue_id))
    return _wire(views.issue_view(record))


async def add_comment(sim: Simulator, request: Request, caller: str) -> Any:
    body = await sim.parse(request, AddCommentRequest)
    issue_id = _p(request, "issue")
    now = sim.now()
    comment = await sim.mutate(
        lambda: sim.store.add_comment(caller, issue_id, body.comment.body, now)
    )
    return _wire(AddCommentResponse(comment=views.comment_view(comment)))


async def list_comments(sim: Simulator, request: Request, caller: str) -> Any:
    record = sim.store.issue(caller, _p(request, "issue"))
    # Newest first (ListCommentsResponse), later additions first on equal times;
    # the page keys are positions in that order.
    ordered = [
        c for _, c in sorted(enumerate(record.comments), key=lambda p: (-p[1].create_time, -p[0]))
    ]
    by_key = {f"{index:08d}": comment for index, comment in enumerate(ordered)}
    keys, token = sim.page(request, list(by_key), ISSUES_DEFAULT_PAGE_SIZE)
    return _wire(
        ListCommentsResponse(
            comments=[views.comment_view(by_key[k]) for k in keys], next_page_token=token
        )
    )


# ----------------------------------------------------------------- routing table

_P = "/providers/{provider}"
_E = _P + "/environments/{environment}"
_I = _E + "/interconnects/{interconnect}"
_C = _I + "/channels/{channel}"
_K = _I + "/connections/{connection}"

OPERATIONS: list[tuple[str, str, str, Handler]] = [
    ("GET", "/providers", "ListProviders", list_providers),
    ("GET", _P, "GetProvider", get_provider),
    ("GET", _P + "/environments", "ListEnvironments", list_environments),
    ("GET", _E, "GetEnvironment", get_environment),
    ("POST", _E + "/ConfirmActivationKey", "ConfirmActivationKey", confirm_activation_key),
    ("GET", _E + "/interconnects", "ListInterconnects", list_interconnects),
    ("GET", _I, "GetInterconnect", get_interconnect),
    ("GET", _I + "/channels", "ListChannels", list_channels),
    ("GET", _C, "GetChannel", get_channel),
    ("POST", _C + "/NotifyMaintenance", "NotifyMaintenance", notify_maintenance),
    ("POST", _C + "/RequestMacSecKeyRotation", "RequestMacSecKeyRotation", request_rotation),
    ("GET", _C + "/maintenanceEvents", "GetMaintenanceEvents", get_maintenance_events),
    ("POST", _C + "/macSecKeys", "CreateMacSecKey", create_macsec_key),
    ("GET", _C + "/macSecKeys", "ListMacSecKeys", list_macsec_keys),
    ("GET", _C + "/macSecKeys/{macSecKey}", "GetMacSecKey", get_macsec_key),
    ("DELETE", _C + "/macSecKeys/{macSecKey}", "DeleteMacSecKey", delete_macsec_key),
    ("GET", _I + "/connections", "ListConnections", list_connections),
    ("POST", _I + "/connections", "CreateConnection", create_connection),
    ("GET", _K, "GetConnection", get_connection),
    ("PATCH", _K, "UpdateConnection", update_connection),
    ("DELETE", _K, "DeleteConnection", delete_connection),
    ("POST", _K + "/GenerateFeatureGuidance", "GenerateFeatureGuidance", generate_feature_guidance),
    ("POST", _K + "/NotifyConnectionStatus", "NotifyConnectionStatus", notify_connection_status),
    ("GET", _K + "/features", "ListFeatures", list_features),
    ("POST", _K + "/features", "CreateFeature", create_feature),
    ("GET", _K + "/features/{feature}", "GetFeature", get_feature),
    ("DELETE", _K + "/features/{feature}", "DeleteFeature", delete_feature),
    ("GET", _P + "/issues", "ListIssues", list_issues),
    ("POST", _P + "/issues", "CreateIssue", create_issue),
    ("GET", _P + "/issues/{issue}", "GetIssue", get_issue),
    ("POST", _P + "/issues/{issue}/Close", "CloseIssue", close_issue),
    ("POST", _P + "/issues/{issue}/AddComment", "AddComment", add_comment),
    ("GET", _P + "/issues/{issue}/comments", "ListComments", list_comments),
]
"""(method, path, operationId, handler) of every spec operation."""


def _operation_endpoint(
    sim: Simulator, operation: str, handler: Handler
) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        return await sim.run(operation, handler, request)

    endpoint.__name__ = operation
    return endpoint


# ----------------------------------------------------------------- customer & admin


def _admin(
    sim: Simulator, handler: Callable[[Simulator, Request], Awaitable[Any]]
) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        try:
            return JSONResponse(await handler(sim, request))
        except SimError as error:
            return error_response(error.status, error.message)

    endpoint.__name__ = handler.__name__
    return endpoint


async def customer_activation_key(sim: Simulator, request: Request) -> Any:
    """P1: the customer asks this provider for a key for the peer."""
    data = await sim.json_body(request)
    environment = data.get("environment")
    bandwidth = data.get("bandwidthMbps")
    account = data.get("destinationAccountId")
    if not isinstance(environment, str) or not isinstance(account, str):
        raise SimError(400, "environment and destinationAccountId are required strings")
    if not isinstance(bandwidth, int) or isinstance(bandwidth, bool):
        raise SimError(400, "bandwidthMbps must be an integer")
    now = sim.now()
    record = await sim.mutate(
        lambda: sim.store.issue_activation_key(environment, bandwidth, account, now)
    )
    return {
        "encodedKey": record.encoded_key,
        "sharedConnectionUuid": record.uuid,
        "environment": record.environment,
        "bandwidthMbps": record.bandwidth_mbps,
    }


async def healthz(sim: Simulator, request: Request) -> Any:
    return {"status": "ok", "provider": sim.provider_id}


async def get_faults(sim: Simulator, request: Request) -> Any:
    return sim.faults.config.to_dict()


async def set_faults(sim: Simulator, request: Request) -> Any:
    try:
        config = FaultConfig.from_dict(await sim.json_body(request))
    except ValueError as error:
        raise SimError(400, str(error)) from None
    sim.faults.configure(config)
    log.info("fault config replaced: %s", sorted(config.operations))
    return config.to_dict()


async def get_stats(sim: Simulator, request: Request) -> Any:
    return sim.stats.to_dict()


async def reset_stats(sim: Simulator, request: Request) -> Any:
    sim.stats.reset()
    return sim.stats.to_dict()


def _iso(value: float | None) -> str | None:
    return views.timestamp(value).isoformat().replace("+00:00", "Z") if value is not None else None


def _fingerprint(secret: str) -> str:
    # Lets tests compare keys across both sides without the dump holding them.
    return hashlib.sha256(secret.encode()).hexdigest()[:16]


async def get_state(sim: Simulator, request: Request) -> Any:
    """Everything dynamic, secrets replaced by fingerprints (for invariant checks)."""
    store, now = sim.store, sim.now()
    interconnects = []
    for env in sim.inventory.environments:
        for ix in env.interconnects:
            interconnects.append(
                {
                    "environment": env.id,
                    "interconnect": ix.id,
                    "state": store.interconnect_state_of(env, ix),
                    "maxBandwidthMbps": ix.max_bandwidth_mbps,
                    "allocatedMbps": store.allocated[(env.id, ix.id)],
                    "connections": len(store.connections_by_ix.get((env.id, ix.id), {})),
                    "macSecKeys": store.macsec_count[(env.id, ix.id)],
                    "lastRotationCompletedAt": _iso(store.last_rotation_done.get((env.id, ix.id))),
                }
            )
    connections = [
        {
            "environment": c.environment,
            "interconnect": c.interconnect,
            "connection": c.id,
            "bandwidthMbps": c.bandwidth_mbps,
            "verificationState": "VERIFICATION_STATE_VERIFIED"
            if store.connection_verified(c, now)
            else "VERIFICATION_STATE_UNVERIFIED",
            "deferProvisioning": c.defer_provisioning,
            "createdAt": _iso(c.created_at),
            "notifiedAt": _iso(c.notified_at),
            "features": len(store.features.get((c.environment, c.interconnect, c.id), {})),
        }
        for c in store.connections.values()
    ]
    features = []
    for feats in store.features.values():
        for f in feats.values():
            l3 = f.config.get("l3BaseConfig", {})
            features.append(
                {
                    "environment": f.environment,
                    "interconnect": f.interconnect,
                    "connection": f.connection,
                    "feature": f.id,
                    "channel": f.channel,
                    "vlanId": f.vlan,
                    "ipv4Subnet": f"{l3.get('ipv4Subnet', '').split('/')[0]}/{f.ipv4_len}",
                    "ipv6Subnet": (
                        f"{l3.get('ipv6Subnet', '').split('/')[0]}/{f.ipv6_len}"
                        if f.ipv6_len is not None
                        else None
                    ),
                    "mtuBytes": l3.get("mtuBytes"),
                    "provisioningState": "PROVISIONING_STATE_FINAL"
                    if store.feature_final(f, now)
                    else "PROVISIONING_STATE_PENDING",
                }
            )
    keys = [
        {
            "sharedConnectionUuid": k.uuid,
            "environment": k.environment,
            "bandwidthMbps": k.bandwidth_mbps,
            "state": k.state,
            "issuedAt": _iso(k.issued_at),
        }
        for k in store.keys.values()
    ]
    macsec: list[dict[str, Any]] = []
    for ch_key, records in store.macsec.items():
        active = store.active_macsec_key(ch_key, now)
        macsec.extend(
            {
                "environment": r.environment,
                "interconnect": r.interconnect,
                "channel": r.channel,
                "macSecKey": r.id,
                "startTime": _iso(r.start_time),
                "active": r.id == active,
                "cakSha256": _fingerprint(r.cak),
                "cknSha256": _fingerprint(r.ckn),
            }
            for r in records.values()
        )
    maintenance = [
        {
            "environment": m.environment,
            "interconnect": m.interconnect,
            "channel": m.channel,
            "maintenanceId": m.id,
            "startTime": _iso(m.start_time),
            "endTime": _iso(m.end_time),
            "emergency": m.emergency,
        }
        for events in store.maintenance.values()
        for m in events.values()
    ]
    peer_maintenance = [
        {
            "environment": p.environment,
            "interconnect": p.interconnect,
            "channel": p.channel,
            "receivedAt": _iso(p.received_at),
            "events": p.events,
        }
        for p in store.peer_maintenance.values()
    ]
    rotation_requests = [
        {
            "environment": r.environment,
            "interconnect": r.interconnect,
            "channel": r.channel,
            "requestedAt": _iso(r.requested_at),
            "reason": r.reason,
        }
        for requests in store.rotation_requests.values()
        for r in requests
    ]
    issues = [
        {
            "caller": i.caller,
            "issue": i.id,
            "state": i.state,
            "title": i.data.get("title"),
            "comments": len(i.comments),
        }
        for by_caller in store.issues.values()
        for i in by_caller.values()
    ]
    return {
        "provider": sim.provider_id,
        "now": _iso(now),
        "interconnects": interconnects,
        "connections": connections,
        "features": features,
        "activationKeys": keys,
        "macSecKeys": macsec,
        "maintenance": maintenance,
        "peerMaintenance": peer_maintenance,
        "rotationRequests": rotation_requests,
        "issues": issues,
    }


async def lose_feature(sim: Simulator, request: Request) -> Any:
    data = await sim.json_body(request)
    name = data.get("name")
    mode = data.get("mode", "delete")
    if not isinstance(name, str) or not isinstance(mode, str):
        raise SimError(400, "name (a feature resource name) is required")
    now = sim.now()
    record = await sim.mutate(lambda: sim.store.lose_feature(name, mode, now))
    return {"lost": name, "mode": mode, "channel": record.channel}


def _time(value: Any, label: str) -> float:
    if not isinstance(value, str):
        raise SimError(400, f"{label} must be an RFC 3339 timestamp")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise SimError(400, f"{label} must be an RFC 3339 timestamp") from None
    if parsed.tzinfo is None:
        raise SimError(400, f"{label} needs a time zone")
    return parsed.timestamp()


async def schedule_maintenance(sim: Simulator, request: Request) -> Any:
    data = await sim.json_body(request)
    fields = [data.get(k) for k in ("environment", "interconnect", "channel")]
    if not all(isinstance(f, str) and f for f in fields):
        raise SimError(400, "environment, interconnect and channel are required")
    environment, interconnect, channel = (str(f) for f in fields)
    start = _time(data.get("startTime"), "startTime")
    end = _time(data.get("endTime"), "endTime")
    maintenance_id = data.get("maintenanceId")
    if maintenance_id is not None and not isinstance(maintenance_id, str):
        raise SimError(400, "maintenanceId must be a string")
    emergency = bool(data.get("emergency", False))
    now = sim.now()
    record = await sim.mutate(
        lambda: sim.store.schedule_maintenance(
            environment,
            interconnect,
            channel,
            maintenance_id=maintenance_id,
            start=start,
            end=end,
            emergency=emergency,
            now=now,
        )
    )
    return {
        "environment": environment,
        "interconnect": interconnect,
        "channel": channel,
        "maintenanceId": record.id,
        "startTime": _iso(record.start_time),
        "endTime": _iso(record.end_time),
        "emergency": record.emergency,
    }


async def cancel_maintenance(sim: Simulator, request: Request) -> Any:
    maintenance_id = request.path_params["maintenance_id"]
    record = await sim.mutate(lambda: sim.store.cancel_maintenance(maintenance_id))
    return {"cancelled": record.id}


async def set_interconnect_state(sim: Simulator, request: Request) -> Any:
    data = await sim.json_body(request)
    environment, interconnect, state = (
        data.get("environment"),
        data.get("interconnect"),
        data.get("state"),
    )
    if not all(isinstance(v, str) for v in (environment, interconnect, state)):
        raise SimError(400, "environment, interconnect and state are required")
    state_text = str(state)
    if not state_text.startswith("INTERCONNECT_STATE_"):
        state_text = f"INTERCONNECT_STATE_{state_text.upper()}"
    await sim.mutate(
        lambda: sim.store.set_interconnect_state(str(environment), str(interconnect), state_text)
    )
    return {"environment": environment, "interconnect": interconnect, "state": state_text}


ADMIN_ROUTES: list[tuple[str, str, Callable[[Simulator, Request], Awaitable[Any]]]] = [
    ("GET", "/healthz", healthz),
    ("POST", "/customer/v1/activationKeys", customer_activation_key),
    ("GET", "/admin/faults", get_faults),
    ("POST", "/admin/faults", set_faults),
    ("GET", "/admin/stats", get_stats),
    ("POST", "/admin/stats/reset", reset_stats),
    ("GET", "/admin/state", get_state),
    ("POST", "/admin/lose-feature", lose_feature),
    ("POST", "/admin/maintenance", schedule_maintenance),
    ("DELETE", "/admin/maintenance/{maintenance_id}", cancel_maintenance),
    ("POST", "/admin/interconnect-state", set_interconnect_state),
]


def create_app(config: SimulatorConfig) -> Starlette:
    """The simulator as an ASGI app; ``app.state.simulator`` is the :class:`Simulator`."""
    sim = Simulator(config)
    routes = [
        Route(path, _operation_endpoint(sim, operation, handler), methods=[method])
        for method, path, operation, handler in OPERATIONS
    ]
    routes += [
        Route(path, _admin(sim, handler), methods=[method])
        for method, path, handler in ADMIN_ROUTES
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            sim.close()

    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.simulator = sim
    return app
