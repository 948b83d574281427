"""Google Network Connectivity v1 transports, faked: the REST mapping, checked by discovery.

Serves ``projects.locations.transports`` (create, get, list, patch, delete),
``projects.locations.remoteTransportProfiles`` (get, list) and
``projects.locations.operations`` (get) for one project and location, so that
real clients (google-api-python-client built from its shipped document, the
operator's :mod:`~interconnect_operator.api.customer_gcp`, plain REST) talk to
it unchanged. This module is the wire: a bearer token is required (any, or
the one given); every query and request body is checked against the
discovery document (types, enums, readOnly, unknown fields:
:mod:`.gcp_discovery`), every response body against its schema (the
operations' metadata and resource too); errors are Google's JSON (``code``,
``message``, ``status``, ``details``). A response failing its own check is
answered 500 and counted. What the methods do is :mod:`.gcp_service`'s.

Test hooks under ``/_fake/``: ``state``, ``throttle`` (answer the next N calls
429 RESOURCE_EXHAUSTED), ``suspend`` (``{"transport": id, "suspended": bool}``).
"""

from __future__ import annotations

import json
import logging
import secrets
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from interconnect_operator.fakes import gcp_discovery
from interconnect_operator.fakes.gcp_service import (
    TRANSPORT_TYPE,
    GcpFake,
    GcpFakeConfig,
    GoogleError,
    dispatch,
)

__all__ = ["create_app"]

log = logging.getLogger(__name__)

_API = "networkconnectivity.projects.locations"
_BASE = "/v1/projects/{project}/locations/{location}"
_OPERATION = "GoogleLongrunningOperation"
# (path under _BASE, HTTP method, discovery method id, response schema)
_METHODS = (
    ("/transports", "POST", "transports.create", _OPERATION),
    ("/transports", "GET", "transports.list", "ListTransportsResponse"),
    ("/transports/{transport}", "GET", "transports.get", "Transport"),
    ("/transports/{transport}", "PATCH", "transports.patch", _OPERATION),
    ("/transports/{transport}", "DELETE", "transports.delete", _OPERATION),
    (
        "/remoteTransportProfiles",
        "GET",
        "remoteTransportProfiles.list",
        "ListRemoteTransportProfilesResponse",
    ),
    (
        "/remoteTransportProfiles/{profile}",
        "GET",
        "remoteTransportProfiles.get",
        "RemoteTransportProfile",
    ),
    ("/operations/{operation}", "GET", "operations.get", _OPERATION),
)


def _error_response(error: GoogleError) -> Response:
    details: list[dict[str, Any]] = []
    if error.violations:
        details.append(
            {
                "@type": "type.googleapis.com/google.rpc.BadRequest",
                "fieldViolations": [{"field": f, "description": d} for f, d in error.violations],
            }
        )
    headers = {}
    if error.code == 429:
        details.append({"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "1s"})
        headers["Retry-After"] = "1"
    body: dict[str, Any] = {
        "error": {"code": error.code, "message": error.message, "status": error.status}
    }
    if details:
        body["error"]["details"] = details
    return JSONResponse(body, status_code=error.code, headers=headers)


def _authenticate(request: Request, token: str | None) -> None:
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        raise GoogleError(
            401,
            "Request is missing required authentication credential. Expected OAuth 2 access token.",
        )
    if token is not None and not secrets.compare_digest(given.strip(), token):
        raise GoogleError(401, "Request had invalid authentication credentials.")


async def _json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise GoogleError(400, "Invalid JSON payload received.") from None
    if not isinstance(data, dict):
        raise GoogleError(400, "Invalid JSON payload received. Expected an object.")
    return data


async def _checked_request(
    request: Request, method_id: str
) -> tuple[dict[str, str], dict[str, Any]]:
    """(query, body) of a call, refused with the field violations the document shows."""
    query = {k: request.query_params.getlist(k) for k in request.query_params}
    problems = gcp_discovery.validate_query(f"{_API}.{method_id}", query)
    body: dict[str, Any] = {}
    request_schema = gcp_discovery.method(f"{_API}.{method_id}").get("request", {})
    if request_schema:
        body = await _json_body(request)
        problems += gcp_discovery.validate_body(request_schema["$ref"], body, request=True)
    if problems:
        raise GoogleError(
            400,
            "Invalid JSON payload received. " + "; ".join(f"{f}: {d}" for f, d in problems),
            violations=problems,
        )
    return {k: v[-1] for k, v in query.items()}, body


def _response_problems(result: dict[str, Any], schema: str) -> list[tuple[str, str]]:
    problems = gcp_discovery.validate_body(schema, result, request=False)
    if schema != _OPERATION:
        return problems
    # The Operation schema types metadata and response as ``any``: check what they wrap.
    metadata = {k: v for k, v in result["metadata"].items() if k != "@type"}
    problems += gcp_discovery.validate_body("OperationMetadata", metadata, request=False)
    response = result.get("response")
    if isinstance(response, dict) and response.get("@type") == TRANSPORT_TYPE:
        inner = {k: v for k, v in response.items() if k != "@type"}
        problems += gcp_discovery.validate_body("Transport", inner, request=False)
    if "error" in result:
        problems += gcp_discovery.validate_body("GoogleRpcStatus", result["error"], request=False)
    return problems


async def _call(request: Request, method_id: str, response_schema: str) -> Response:
    fake: GcpFake = request.app.state.fake
    fake.requests_total += 1
    try:
        _authenticate(request, fake.config.token)
        if fake.throttle_next > 0:
            fake.throttle_next -= 1
            raise GoogleError(429, "Quota exceeded for quota metric 'Requests'")
        path = request.path_params
        fake.check_parent(path["project"], path["location"])
        try:
            query, body = await _checked_request(request, method_id)
        except GoogleError:
            fake.rejected_requests += 1
            raise
        result = await dispatch(fake, method_id, path, query, body)
    except GoogleError as error:
        return _error_response(error)
    problems = _response_problems(result, response_schema)
    if problems:
        fake.invalid_responses += 1
        log.error("%s: response fails the discovery document: %s", method_id, problems)
        return _error_response(GoogleError(500, "Internal error encountered."))
    return JSONResponse(result)


def _route(path: str, method: str, method_id: str, response_schema: str) -> Route:
    async def endpoint(request: Request) -> Response:
        return await _call(request, method_id, response_schema)

    endpoint.__name__ = method_id.replace(".", "_")
    return Route(_BASE + path, endpoint, methods=[method])


async def state_hook(request: Request) -> Response:
    fake: GcpFake = request.app.state.fake
    transports = [
        {
            "id": t.id,
            "sharedId": t.shared_id,
            "state": fake.state(t),
            "bandwidth": fake.render(t).get("bandwidth"),
        }
        for t in fake.transports.values()
    ]
    return JSONResponse(
        {
            "transports": transports,
            "requests": fake.requests_total,
            "rejectedRequests": fake.rejected_requests,
            "invalidResponses": fake.invalid_responses,
        }
    )


async def throttle_hook(request: Request) -> Response:
    fake: GcpFake = request.app.state.fake
    fake.throttle_next = int((await request.json()).get("count", 1))
    return JSONResponse({"throttleNext": fake.throttle_next})


async def suspend_hook(request: Request) -> Response:
    fake: GcpFake = request.app.state.fake
    data = await request.json()
    transport = fake.transports.get(str(data.get("transport")))
    if transport is None:
        return JSONResponse({"error": "no such transport"}, status_code=404)
    transport.suspended = bool(data.get("suspended", True))
    return JSONResponse({"transport": transport.id, "state": fake.state(transport)})


async def healthz(request: Request) -> Response:
    fake: GcpFake = request.app.state.fake
    return JSONResponse({"status": "ok", "fronts": fake.config.own.provider})


def create_app(config: GcpFakeConfig) -> Starlette:
    """The ASGI app of one fake project and location."""
    fake = GcpFake(config)

    app = Starlette(
        routes=[
            *(_route(*method) for method in _METHODS),
            Route("/_fake/state", state_hook, methods=["GET"]),
            Route("/_fake/throttle", throttle_hook, methods=["POST"]),
            Route("/_fake/suspend", suspend_hook, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ],
        lifespan=lambda _app: fake.handoff.running(),
    )
    app.state.fake = fake
    return app
