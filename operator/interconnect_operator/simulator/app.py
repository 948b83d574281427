"""The simulator's ASGI app: routes the 33 spec operations and the customer and admin endpoints.

The pieces live beside it: :mod:`.runtime` (the :class:`Simulator` and its
request pipeline), :mod:`.operations` (one module per resource group of the
spec), :mod:`.admin` (endpoints outside the spec, formats in
``docs/simulator.md``) and :mod:`.store` (state and rules).

- ``POST /customer/v1/activationKeys``: the customer's own API of P1.
- ``/admin/...``: faults, statistics, a state dump, losing a feature,
  scheduling maintenance, overriding an interconnect's state. Unauthenticated:
  the simulator is a test tool; bind it to loopback.
- ``GET /healthz``.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from interconnect_operator.simulator.admin import ADMIN_ROUTES
from interconnect_operator.simulator.config import SimulatorConfig
from interconnect_operator.simulator.operations import OPERATIONS
from interconnect_operator.simulator.runtime import (
    Handler,
    SimulatedDrop,
    Simulator,
    error_response,
)
from interconnect_operator.simulator.store import SimError

__all__ = ["OPERATIONS", "SimulatedDrop", "Simulator", "create_app"]


def _operation_endpoint(
    sim: Simulator, operation: str, handler: Handler
) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        return await sim.run(operation, handler, request)

    endpoint.__name__ = operation
    return endpoint


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
