"""A pool runtime whose clients fail any provider call (unit tests of the snapshot)."""

from __future__ import annotations

import httpx

from interconnect_operator.protocol.types import Side
from interconnect_operator.reconcile.pool import (
    PoolConfig,
    PoolRuntime,
    ProviderConfig,
    build_client,
)


def offline_runtime() -> PoolRuntime:
    """Pool ``pool`` in environment ``e``: gcp negotiates, aws responds; no snapshot yet."""

    def unused(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"no provider call expected: {request.url}")

    providers = [
        ProviderConfig(name=n, endpoint="http://sim.invalid", call_as=peer, side=side)
        for n, peer, side in (("gcp", "aws", Side.NEGOTIATOR), ("aws", "gcp", Side.RESPONDER))
    ]
    config = PoolConfig("pool", "e", providers[0], providers[1])
    clients = [build_client(p, transport=httpx.MockTransport(unused)) for p in providers]
    return PoolRuntime(config, clients[0], clients[1])
