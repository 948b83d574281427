"""The feature-recovery draft's requestId: one logical call, done once (simulator as referee)."""

from __future__ import annotations

from tests.integration.simulator.conftest import Peer


async def _create(peer: Peer, conn: str, request_id: str, bandwidth: int = 1000) -> int:
    response = await peer.client.post(
        f"{peer.ix()}/connections",
        params={"connectionId": conn, "requestId": request_id},
        json={"bandwidthMbps": bandwidth},
    )
    return response.status_code


async def test_same_request_id_and_body_is_answered_again_without_a_second_create(
    peer: Peer,
) -> None:
    assert await _create(peer, "c1", "rid-1") == 200
    # Without the requestId the second create is a duplicate (409); with it, a replay.
    assert await _create(peer, "c1", "rid-1") == 200
    plain = await peer.create_connection("c1")
    assert plain.status_code == 409
    stats = peer.sim.stats.to_dict()["byOperation"]["CreateConnection"]
    assert stats["total"] == 3
    assert len([c for c in peer.sim.store.connections.values() if c.id == "c1"]) == 1


async def test_same_request_id_with_another_body_is_409(peer: Peer) -> None:
    assert await _create(peer, "c1", "rid-2") == 200
    assert await _create(peer, "c1", "rid-2", bandwidth=2000) == 409
    assert await _create(peer, "c2", "rid-2") == 409


async def test_request_id_must_be_url_safe_and_bounded(peer: Peer) -> None:
    assert await _create(peer, "c1", "x" * 129) == 400
    assert await _create(peer, "c1", "a b") == 400
    assert await _create(peer, "c1", "0f8fad5b-d9cb-469f-a165-70867728950e") == 200


async def test_a_failed_call_is_not_remembered(peer: Peer) -> None:
    assert await _create(peer, "c1", "rid-3", bandwidth=7) == 400
    assert await _create(peer, "c1", "rid-3", bandwidth=7) == 400
    assert await _create(peer, "c1", "rid-4") == 200
