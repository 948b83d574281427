"""Fixtures for the simulator tests: an in-process app behind httpx's
ASGITransport, a fake clock, and a caller that speaks as the peer.

Every response to a spec path is validated against the pinned spec
(tests/support/spec.py), so each test is also a conformance check.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from interconnect_operator.simulator import SimulatorConfig, create_app
from interconnect_operator.simulator.app import Simulator
from tests.support.clock import FakeClock
from tests.support.spec import validate_response

ENV = "aws-gcp-us-east"
SERVER = "aws"
CALLER = "gcp"


async def _validate(response: httpx.Response) -> None:
    if not response.request.url.path.startswith("/providers"):
        return
    await response.aread()
    body = response.json() if response.content else {}
    validate_response(
        response.request.method,
        response.request.url.path,
        response.status_code,
        body,
        dict(response.request.url.params),
    )


@dataclass
class Peer:
    """Calls the simulator as provider ``caller`` (the path prefix it uses)."""

    client: httpx.AsyncClient
    sim: Simulator
    clock: FakeClock
    caller: str = CALLER
    env: str = ENV
    _vlan: int = field(default=1100)
    _subnet: int = field(default=0)

    @property
    def base(self) -> str:
        return f"/providers/{self.caller}/environments/{self.env}"

    def ix(self, ix: str = "ix1") -> str:
        return f"{self.base}/interconnects/{ix}"

    def conn(self, conn: str, ix: str = "ix1") -> str:
        return f"{self.ix(ix)}/connections/{conn}"

    def channel_name(self, channel: str, ix: str = "ix1") -> str:
        return f"{self.ix(ix)}/channels/{channel}".lstrip("/")

    async def issue_key(self, bandwidth: int = 1000, account: str = "acct-1") -> dict[str, Any]:
        response = await self.client.post(
            "/customer/v1/activationKeys",
            json={
                "environment": self.env,
                "bandwidthMbps": bandwidth,
                "destinationAccountId": account,
            },
        )
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json()
        return data

    async def confirm(self, encoded_key: str) -> httpx.Response:
        return await self.client.post(
            f"{self.base}/ConfirmActivationKey", json={"encodedKey": encoded_key}
        )

    async def create_connection(
        self, conn: str, bandwidth: int = 1000, ix: str = "ix1", **extra: Any
    ) -> httpx.Response:
        return await self.client.post(
            f"{self.ix(ix)}/connections",
            params={"connectionId": conn},
            json={"bandwidthMbps": bandwidth, **extra},
        )

    def l3(
        self,
        vlan: int | None = None,
        subnet: str | None = None,
        prefix: int = 30,
        **overrides: Any,
    ) -> dict[str, Any]:
        """A valid L3 base config (fresh VLAN and subnet unless given)."""
        if vlan is None:
            self._vlan += 1
            vlan = self._vlan
        if subnet is None:
            self._subnet += 1
            subnet = f"169.254.{10 + self._subnet // 32}.{(self._subnet % 32) * 8}"
        base_ip = [int(x) for x in subnet.split(".")]

        def host(offset: int) -> str:
            return ".".join(map(str, [*base_ip[:3], base_ip[3] + offset]))

        config: dict[str, Any] = {
            "vlanId": vlan,
            "ipv4Subnet": subnet,
            "ipv4SubnetPrefixLength": prefix,
            "mtuBytes": 8896,
            "providerBgpConfigs": [
                {"provider": f"providers/{SERVER}", "asn": 64512, "hostIpv4": host(1)},
                {"provider": f"providers/{self.caller}", "asn": 16550, "hostIpv4": host(2)},
            ],
            "md5BgpPassword": "not-a-real-secret",
        }
        config.update(overrides)
        return config

    async def create_feature(
        self,
        conn: str,
        feature: str,
        channel: str,
        l3: dict[str, Any] | None = None,
        ix: str = "ix1",
    ) -> httpx.Response:
        body = {
            "channel": self.channel_name(channel, ix),
            "featureConfig": {
                "featureType": "FEATURE_TYPE_L3_BASE",
                "l3BaseConfig": l3 if l3 is not None else self.l3(),
            },
        }
        return await self.client.post(
            f"{self.conn(conn, ix)}/features", params={"featureId": feature}, json=body
        )

    async def create_full_link(self, conn: str, bandwidth: int = 1000, ix: str = "ix1") -> None:
        """A placed connection with one feature per channel (ch1..ch4)."""
        response = await self.create_connection(conn, bandwidth, ix)
        assert response.status_code == 200, response.text
        for n in range(1, 5):
            response = await self.create_feature(conn, f"f{n}", f"ch{n}", ix=ix)
            assert response.status_code == 200, response.text

    async def state(self) -> dict[str, Any]:
        response = await self.client.get("/admin/state")
        assert response.status_code == 200
        data: dict[str, Any] = response.json()
        return data


def forge_key(**fields: Any) -> str:
    """An encodedKey with arbitrary content (for P3 mismatch tests)."""
    return base64.b64encode(json.dumps(fields).encode()).decode()


MakePeer = Callable[..., Any]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def make_peer(clock: FakeClock) -> AsyncIterator[MakePeer]:
    """Factory: ``await make_peer(**SimulatorConfig fields)`` -> Peer."""
    clients: list[tuple[httpx.AsyncClient, Simulator]] = []

    async def factory(
        *, caller: str = CALLER, headers: dict[str, str] | None = None, **config: Any
    ) -> Peer:
        config.setdefault("provider_id", SERVER)
        config.setdefault("clock", clock)
        app = create_app(SimulatorConfig(**config))
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://sim.test",
            headers=headers or {},
            event_hooks={"response": [_validate]},
        )
        sim: Simulator = app.state.simulator
        clients.append((client, sim))
        return Peer(client=client, sim=sim, clock=clock, caller=caller)

    yield factory
    for client, sim in clients:
        await client.aclose()
        sim.close()


@pytest.fixture
async def peer(make_peer: MakePeer) -> Peer:
    """gcp calling a default aws simulator (no delay, no auth)."""
    result: Peer = await make_peer()
    return result
