"""Fault injection (P32/P33 from the client's side) and call statistics."""

from __future__ import annotations

from typing import Any

import pytest

from interconnect_operator.simulator import SimulatedDrop
from interconnect_operator.simulator.faults import FaultConfig, parse_fault_option
from tests.integration.simulator.conftest import MakePeer, Peer


async def _faults(peer: Peer, operations: dict[str, Any], **extra: Any) -> dict[str, Any]:
    response = await peer.client.post(
        "/admin/faults", json={"operations": operations, "hang_seconds": 0, **extra}
    )
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


async def test_p32_injected_server_error_changes_nothing(peer: Peer) -> None:
    await _faults(peer, {"CreateConnection": {"error_rate": 1.0}})
    response = await peer.create_connection("c1")
    assert response.status_code == 503
    assert (await peer.state())["connections"] == []
    # Other operations are untouched.
    assert (await peer.client.get(peer.base)).status_code == 200


async def test_p32_injected_throttle_carries_retry_after(peer: Peer) -> None:
    await _faults(peer, {"*": {"throttle_rate": 1.0, "retry_after": 7}})
    response = await peer.client.get(f"{peer.base}/interconnects")
    assert response.status_code == 429
    assert response.headers["retry-after"] == "7"


async def test_p32_injected_conflict(peer: Peer) -> None:
    await _faults(peer, {"CreateFeature": {"conflict_rate": 1.0}})
    assert (await peer.create_connection("c1")).status_code == 200
    assert (await peer.create_feature("c1", "f1", "ch1")).status_code == 409
    assert (await peer.state())["features"] == []


async def test_p33_dropped_request_is_not_applied(peer: Peer) -> None:
    await _faults(peer, {"CreateConnection": {"drop_rate": 1.0}})
    with pytest.raises(SimulatedDrop):
        await peer.create_connection("c1")
    assert (await peer.state())["connections"] == []


async def test_p33_timeout_after_commit_applies_the_change(peer: Peer) -> None:
    await _faults(peer, {"CreateConnection": {"timeout_after_commit_rate": 1.0}})
    with pytest.raises(SimulatedDrop):
        await peer.create_connection("c1")
    # The client must read before retrying: the connection is there.
    await _faults(peer, {})
    assert (await peer.client.get(peer.conn("c1"))).status_code == 200
    assert (await peer.create_connection("c1")).status_code == 409


async def test_faults_are_reproducible_with_a_seed(make_peer: MakePeer) -> None:
    outcomes = []
    for _ in range(2):
        peer: Peer = await make_peer()
        await _faults(peer, {"*": {"error_rate": 0.5}}, seed=1234)
        codes = [(await peer.client.get(peer.base)).status_code for _ in range(30)]
        outcomes.append(codes)
    assert outcomes[0] == outcomes[1]
    assert set(outcomes[0]) == {200, 503}


async def test_latency_fault_is_accepted_and_reported(peer: Peer) -> None:
    config = await _faults(peer, {"GetEnvironment": {"latency_ms": 1}})
    assert config["operations"]["GetEnvironment"]["latency_ms"] == 1
    assert (await peer.client.get(peer.base)).status_code == 200
    assert (await peer.client.get("/admin/faults")).json() == config


@pytest.mark.parametrize(
    "body",
    [
        {"operations": {"*": {"error_rate": 2}}},
        {"operations": {"*": {"bogus": 1}}},
        {"operations": {"*": {"error_rate": 0.6, "throttle_rate": 0.6}}},
        {"seed": "x"},
        {"nonsense": True},
    ],
)
async def test_invalid_fault_config_is_400(peer: Peer, body: dict[str, Any]) -> None:
    assert (await peer.client.post("/admin/faults", json=body)).status_code == 400


def test_cli_fault_option_parses() -> None:
    operation, rule = parse_fault_option("CreateConnection:error_rate=0.25,latency_ms=50")
    assert operation == "CreateConnection"
    assert (rule.error_rate, rule.latency_ms) == (0.25, 50.0)
    with pytest.raises(ValueError, match="OPERATION"):
        parse_fault_option("error_rate=0.1")
    config = FaultConfig.from_dict(FaultConfig(operations={operation: rule}, seed=3).to_dict())
    assert config.operations[operation] == rule


async def test_stats_count_calls_by_operation_and_status(peer: Peer) -> None:
    assert (await peer.create_connection("c1")).status_code == 200
    assert (await peer.create_connection("c1")).status_code == 409
    assert (await peer.client.get(peer.conn("c1"))).status_code == 200
    await _faults(peer, {"GetConnection": {"drop_rate": 1.0}})
    with pytest.raises(SimulatedDrop):
        await peer.client.get(peer.conn("c1"))
    stats = (await peer.client.get("/admin/stats")).json()
    assert stats["total"] == 4
    assert stats["byOperation"]["CreateConnection"] == {
        "total": 2,
        "byStatus": {"200": 1, "409": 1},
    }
    assert stats["byOperation"]["GetConnection"]["byStatus"] == {"200": 1, "dropped": 1}
    assert stats["byStatus"] == {"200": 2, "409": 1, "dropped": 1}
    reset = await peer.client.post("/admin/stats/reset")
    assert reset.json() == {"total": 0, "byStatus": {}, "byOperation": {}}
