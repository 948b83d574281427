"""Maintenance: NotifyMaintenance and GetMaintenanceEvents (P24), no two
channels of an interconnect in scheduled maintenance at once (P25)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from tests.integration.simulator.conftest import Peer


def _iso(peer: Peer, hours: float) -> str:
    moment = datetime.fromtimestamp(peer.clock.now, UTC) + timedelta(hours=hours)
    return moment.isoformat().replace("+00:00", "Z")


async def _schedule(
    peer: Peer, channel: str, start: float, end: float, **extra: object
) -> httpx.Response:
    return await peer.client.post(
        "/admin/maintenance",
        json={
            "environment": peer.env,
            "interconnect": "ix1",
            "channel": channel,
            "startTime": _iso(peer, start),
            "endTime": _iso(peer, end),
            **extra,
        },
    )


async def test_p24_scheduled_window_is_published_on_its_channel(peer: Peer) -> None:
    scheduled = await _schedule(peer, "ch1", 1, 3, maintenanceId="mnt-1")
    assert scheduled.status_code == 200
    assert scheduled.json()["maintenanceId"] == "mnt-1"
    events = await peer.client.get(f"{peer.ix()}/channels/ch1/maintenanceEvents")
    assert events.status_code == 200
    assert [e["maintenanceId"] for e in events.json()["events"]] == ["mnt-1"]
    other = await peer.client.get(f"{peer.ix()}/channels/ch2/maintenanceEvents")
    assert other.json() == {"events": []}
    # Windows that are over are no longer listed.
    peer.clock.advance(3 * 3600)
    ended = await peer.client.get(f"{peer.ix()}/channels/ch1/maintenanceEvents")
    assert ended.json() == {"events": []}


async def test_p24_peer_notification_is_recorded(peer: Peer) -> None:
    body = {
        "events": [
            {
                "maintenanceId": "gcp-42",
                "startTime": _iso(peer, 2),
                "endTime": _iso(peer, 4),
            }
        ]
    }
    response = await peer.client.post(f"{peer.ix()}/channels/ch3/NotifyMaintenance", json=body)
    assert response.status_code == 200
    assert response.json() == {}
    state = await peer.state()
    assert [p["channel"] for p in state["peerMaintenance"]] == ["ch3"]
    assert state["peerMaintenance"][0]["events"][0]["maintenanceId"] == "gcp-42"
    missing = await peer.client.post(f"{peer.ix()}/channels/ch9/NotifyMaintenance", json={})
    assert missing.status_code == 404


async def test_p25_overlapping_windows_on_two_channels_are_refused(peer: Peer) -> None:
    assert (await _schedule(peer, "ch1", 1, 3)).status_code == 200
    clash = await _schedule(peer, "ch2", 2, 4)
    assert clash.status_code == 409
    assert "P25" in clash.json()["error"]["message"]
    # Back to back is fine, and so is the same channel again.
    assert (await _schedule(peer, "ch2", 3, 5)).status_code == 200
    assert (await _schedule(peer, "ch1", 2, 2.5)).status_code == 200


async def test_p25_emergency_maintenance_is_excepted_but_published(peer: Peer) -> None:
    assert (await _schedule(peer, "ch1", 1, 3)).status_code == 200
    urgent = await _schedule(peer, "ch2", 1, 2, emergency=True, maintenanceId="urgent")
    assert urgent.status_code == 200
    events = await peer.client.get(f"{peer.ix()}/channels/ch2/maintenanceEvents")
    assert [e["maintenanceId"] for e in events.json()["events"]] == ["urgent"]


async def test_p25_cancelled_window_frees_the_slot(peer: Peer) -> None:
    assert (await _schedule(peer, "ch1", 1, 3, maintenanceId="m1")).status_code == 200
    assert (await _schedule(peer, "ch2", 1, 3)).status_code == 409
    assert (await peer.client.delete("/admin/maintenance/m1")).status_code == 200
    assert (await _schedule(peer, "ch2", 1, 3)).status_code == 200
    assert (await peer.client.delete("/admin/maintenance/m1")).status_code == 404


async def test_p25_invalid_windows_are_refused(peer: Peer) -> None:
    assert (await _schedule(peer, "ch1", 3, 1)).status_code == 400
    assert (await _schedule(peer, "ch1", -3, -1)).status_code == 400
    assert (await _schedule(peer, "ch9", 1, 2)).status_code == 404
