"""The AWS ``interconnect`` customer API, faked: awsJson 1.0 on ``POST /``, checked by botocore.

Real clients (boto3, aiobotocore, the operator's
:mod:`~interconnect_operator.api.customer_aws`) talk to it unchanged with
``endpoint_url``. This module is the wire: the ``X-Amz-Target`` dispatch,
SigV4 (:mod:`.aws_auth`), every request body checked against the operation's
input shape and every response against its output shape (:mod:`.aws_model`),
errors as ``__type``/``x-amzn-ErrorType`` with the model's error shapes. A
response that fails its own check is answered 500 and counted, so tests can
assert the fake never served one. What the operations do is
:mod:`.aws_service`'s.

Test hooks under ``/_fake/``: ``state`` (connections and counters),
``throttle`` (answer the next N calls 429 ThrottlingException), ``override``
(pin a connection's state, e.g. ``failed`` or ``down``).
"""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from interconnect_operator.fakes import aws_model
from interconnect_operator.fakes.aws_auth import Signed, SigningPolicy, auth_problem
from interconnect_operator.fakes.aws_service import (
    OPERATIONS,
    AwsError,
    AwsFake,
    AwsFakeConfig,
)

__all__ = ["CONTENT_TYPE", "create_app"]

log = logging.getLogger(__name__)

CONTENT_TYPE = "application/x-amz-json-1.0"
_OVERRIDABLE = ("down", "failed", "available", "pending")


class _Refused(Exception):
    """A request answered with an error before any operation ran."""

    def __init__(self, code: str, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


def _error(code: str, message: str, status: int | None = None) -> Response:
    if status is None:
        shape = aws_model.service_model().shape_for(code)
        status = int(shape.metadata.get("error", {}).get("httpStatusCode", 400))
    body = {"__type": f"com.amazonaws.interconnect#{code}", "message": message}
    return JSONResponse(
        body,
        status_code=status,
        media_type=CONTENT_TYPE,
        headers={"x-amzn-ErrorType": code, "x-amzn-RequestId": str(uuid.uuid4())},
    )


def _operation(request: Request) -> str:
    prefix, _, operation = request.headers.get("x-amz-target", "").partition(".")
    if prefix != aws_model.service_model().metadata["targetPrefix"] or operation not in OPERATIONS:
        raise _Refused("UnknownOperationException", "unknown operation", 400)
    return operation


def _params(operation: str, request: Request, raw: bytes) -> dict[str, Any]:
    if not request.headers.get("content-type", "").startswith(CONTENT_TYPE):
        raise _Refused("InterconnectValidationException", f"Content-Type must be {CONTENT_TYPE}")
    try:
        params = json.loads(raw) if raw.strip() else {}
    except (json.JSONDecodeError, UnicodeDecodeError):
        params = None
    if not isinstance(params, dict):
        raise _Refused("InterconnectValidationException", "the body must be a JSON object")
    problems = aws_model.validate_input(operation, params)
    if problems:
        raise _Refused("InterconnectValidationException", "; ".join(problems)[:1000])
    return params


async def api(request: Request) -> Response:
    """``POST /``: one call of the ``interconnect`` API."""
    fake: AwsFake = request.app.state.fake
    counters = fake.counters
    counters.requests += 1
    try:
        operation = _operation(request)
        counters.by_operation[operation] = counters.by_operation.get(operation, 0) + 1
        raw = await request.body()
        signed = Signed(request.method, request.url.path, dict(request.headers), raw)
        problem = auth_problem(signed, request.app.state.signing)
        if problem is not None:
            raise _Refused("AccessDeniedException", problem)
        if counters.throttle_next > 0:
            counters.throttle_next -= 1
            return _error("ThrottlingException", "Rate exceeded")
        params = _params(operation, request, raw)
    except _Refused as refused:
        counters.rejected_requests += 1
        return _error(refused.code, refused.message, refused.status)
    try:
        body = await OPERATIONS[operation](fake, params)
    except AwsError as error:
        return _error(error.code, error.message)
    problems = aws_model.validate_output(operation, body)
    if problems:
        counters.invalid_responses += 1
        log.error("%s: response fails the model: %s", operation, problems)
        return _error("InterconnectServerException", "internal error")
    return JSONResponse(
        body, media_type=CONTENT_TYPE, headers={"x-amzn-RequestId": str(uuid.uuid4())}
    )


async def state_hook(request: Request) -> Response:
    fake: AwsFake = request.app.state.fake
    connections = [
        {
            "id": c.id,
            "sharedId": c.shared_id,
            "state": fake.state(c),
            "bandwidth": fake.summary(c)["bandwidth"],
            "environmentId": c.environment.id,
        }
        for c in fake.connections.values()
    ]
    counters = fake.counters
    return JSONResponse(
        {
            "connections": connections,
            "requests": counters.requests,
            "rejectedRequests": counters.rejected_requests,
            "invalidResponses": counters.invalid_responses,
            "byOperation": counters.by_operation,
        }
    )


async def throttle_hook(request: Request) -> Response:
    fake: AwsFake = request.app.state.fake
    data = await request.json()
    fake.counters.throttle_next = int(data.get("count", 1))
    return JSONResponse({"throttleNext": fake.counters.throttle_next})


async def override_hook(request: Request) -> Response:
    fake: AwsFake = request.app.state.fake
    data = await request.json()
    connection = fake.connections.get(str(data.get("id")))
    wanted = data.get("state")
    if connection is None:
        return JSONResponse({"error": "no such connection"}, status_code=404)
    if wanted is not None and wanted not in _OVERRIDABLE:
        return JSONResponse({"error": f"state must be one of {_OVERRIDABLE}"}, status_code=400)
    connection.override = wanted
    return JSONResponse({"id": connection.id, "state": fake.state(connection)})


async def healthz(request: Request) -> Response:
    fake: AwsFake = request.app.state.fake
    return JSONResponse({"status": "ok", "fronts": fake.config.own.provider})


def create_app(config: AwsFakeConfig) -> Starlette:
    """The ASGI app of one fake AWS account."""
    fake = AwsFake(config)

    app = Starlette(
        routes=[
            Route("/", api, methods=["POST"]),
            Route("/_fake/state", state_hook, methods=["GET"]),
            Route("/_fake/throttle", throttle_hook, methods=["POST"]),
            Route("/_fake/override", override_hook, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ],
        lifespan=lambda _app: fake.handoff.running(),
    )
    app.state.fake = fake
    app.state.signing = SigningPolicy(
        service=aws_model.SERVICE,
        region=config.region,
        access_keys=config.access_keys,
        secret_keys=config.secret_keys,
    )
    return app
