"""Fixtures for the pool-level drivers: two simulators in process, one clock.

``gcp`` is our provider (the negotiator, whose server the negotiator client
calls as ``aws``); ``aws`` is the peer (the responder, called as ``gcp``).
Both simulators and the drivers read the same fake clock, so tests move
activation delays and the two-hour bake time (P29) forward without sleeping.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from interconnect_operator.api.client import ProviderClient
from interconnect_operator.simulator import SimulatorConfig, create_app
from interconnect_operator.simulator.app import Simulator
from interconnect_operator.simulator.inventory import load_inventory
from tests.support.clock import FakeClock

ENV = "aws-gcp-us-east"
OURS = "gcp"
PEER = "aws"


@dataclass
class Pair:
    """Our simulator and the peer's, with the operator's two clients."""

    ours: Simulator
    peer: Simulator
    negotiator: ProviderClient  # our server, called as the peer
    responder: ProviderClient  # the peer's server, called as us
    clock: FakeClock
    ours_http: httpx.AsyncClient  # admin endpoints of our simulator
    peer_http: httpx.AsyncClient

    def client_for(self, provider: str) -> ProviderClient:
        return {OURS: self.negotiator, PEER: self.responder}[provider]


MakePair = Callable[..., Any]


async def _no_sleep(seconds: float) -> None:
    """Retry backoff without waiting: the fake clock is the only time here."""


def write_inventory(tmp_path: Path, channels: list[dict[str, str]], name: str) -> Path:
    """An inventory with one interconnect ``ix1`` and the given channels."""
    path = tmp_path / f"{name}.yaml"
    document = {
        "environments": [{"id": ENV, "interconnects": [{"id": "ix1", "channels": channels}]}]
    }
    path.write_text(yaml.safe_dump(document))
    return path


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def make_pair(clock: FakeClock) -> AsyncIterator[MakePair]:
    """Factory: ``make_pair(ours_inventory=..., peer_inventory=..., **SimulatorConfig)``."""
    opened: list[tuple[Simulator, list[Any]]] = []

    def factory(
        *,
        ours_inventory: Path | None = None,
        peer_inventory: Path | None = None,
        peer_transport: Callable[[httpx.AsyncBaseTransport], httpx.AsyncBaseTransport]
        | None = None,
        **config: Any,
    ) -> Pair:
        config.setdefault("clock", clock)
        sims: dict[str, Simulator] = {}
        transports: dict[str, httpx.AsyncBaseTransport] = {}
        for provider, inventory in ((OURS, ours_inventory), (PEER, peer_inventory)):
            inv = load_inventory(inventory, provider) if inventory is not None else None
            app = create_app(SimulatorConfig(provider_id=provider, inventory=inv, **config))
            sims[provider] = app.state.simulator
            transports[provider] = httpx.ASGITransport(app=app)
        peer_t = transports[PEER]
        if peer_transport is not None:
            peer_t = peer_transport(peer_t)
        negotiator = ProviderClient(
            "http://gcp.test", PEER, transport=transports[OURS], name=OURS, sleep=_no_sleep
        )
        responder = ProviderClient(
            "http://aws.test", OURS, transport=peer_t, name=PEER, sleep=_no_sleep
        )
        ours_http = httpx.AsyncClient(transport=transports[OURS], base_url="http://gcp.test")
        peer_http = httpx.AsyncClient(transport=transports[PEER], base_url="http://aws.test")
        for provider in (OURS, PEER):
            opened.append((sims[provider], []))
        opened[-1][1].extend([negotiator, responder, ours_http, peer_http])
        return Pair(sims[OURS], sims[PEER], negotiator, responder, clock, ours_http, peer_http)

    yield factory
    for sim, clients in opened:
        for client in clients:
            await client.aclose()
        sim.close()
