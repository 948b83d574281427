"""Path parameters of the spec operations, read as tuples."""

from __future__ import annotations

from starlette.requests import Request

from interconnect_operator.simulator.runtime import (
    path_param,
)


def channel_path(request: Request) -> tuple[str, str, str]:
    return (
        path_param(request, "environment"),
        path_param(request, "interconnect"),
        path_param(request, "channel"),
    )


def ix_path(request: Request) -> tuple[str, str]:
    return path_param(request, "environment"), path_param(request, "interconnect")


def conn_path(request: Request) -> tuple[str, str, str]:
    return (*ix_path(request), path_param(request, "connection"))
