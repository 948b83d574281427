"""Connection types (upstream PR #57, after the pinned spec): TEST and MONITORING
connections hold no capacity, TEST may be below the minimum size, the value is
checked strictly and echoed."""

from __future__ import annotations

from tests.integration.simulator.conftest import Peer

TEST = "CONNECTION_TYPE_TEST"
MONITORING = "CONNECTION_TYPE_MONITORING"


async def _allocated(peer: Peer, ix: str = "ix1") -> int:
    state = await peer.state()
    return sum(int(i["allocatedMbps"]) for i in state["interconnects"] if i["interconnect"] == ix)


async def test_test_and_monitoring_connections_hold_no_capacity(peer: Peer) -> None:
    response = await peer.create_connection("t1", 100000, connectionType=TEST)
    assert response.status_code == 200, response.text
    assert response.json()["connectionType"] == TEST
    response = await peer.create_connection("m1", 100000, connectionType=MONITORING)
    assert response.status_code == 200, response.text
    assert await _allocated(peer) == 0
    # The whole interconnect is still free for a standard connection.
    response = await peer.create_connection("s1", 100000)
    assert response.status_code == 200, response.text
    assert "connectionType" not in response.json()  # absent stays absent (STANDARD)
    assert await _allocated(peer) == 100000
    assert (await peer.create_connection("s2", 1000)).status_code == 409


async def test_only_a_test_connection_may_be_below_the_minimum_size(peer: Peer) -> None:
    assert (await peer.create_connection("t1", 50, connectionType=TEST)).status_code == 200
    assert (await peer.create_connection("s1", 50)).status_code == 400
    standard = await peer.create_connection("s2", 50, connectionType="CONNECTION_TYPE_STANDARD")
    assert standard.status_code == 400
    assert (await peer.create_connection("m1", 50, connectionType=MONITORING)).status_code == 400


async def test_unknown_connection_type_is_refused_with_the_rule(peer: Peer) -> None:
    response = await peer.create_connection("x1", 1000, connectionType="CONNECTION_TYPE_CHEAP")
    assert response.status_code == 400
    assert "connectionType" in response.text
    assert (await peer.state())["connections"] == []


async def test_one_monitoring_connection_per_interconnect(peer: Peer) -> None:
    assert (await peer.create_connection("m1", 1000, connectionType=MONITORING)).status_code == 200
    assert (await peer.create_connection("m2", 1000, connectionType=MONITORING)).status_code == 409
    other = await peer.create_connection("m3", 1000, ix="ix2", connectionType=MONITORING)
    assert other.status_code == 200


async def test_deleting_a_test_connection_releases_nothing(peer: Peer) -> None:
    assert (await peer.create_connection("s1", 20000)).status_code == 200
    assert (await peer.create_connection("t1", 10000, connectionType=TEST)).status_code == 200
    assert (await peer.client.delete(peer.conn("t1"))).status_code == 200
    assert await _allocated(peer) == 20000
