"""Maintenance driver against two simulators: P24 (notify) and P25 (no overlap)."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
import pytest

from interconnect_operator.protocol.maintenance import MaintenanceWindow
from interconnect_operator.reconcile.maintenance import (
    MaintenanceConflict,
    maintenance_report,
    read_maintenance,
    schedule,
)
from tests.integration.drivers.conftest import ENV, MakePair, Pair

CHANNELS = {"ix1": ["ch1", "ch2", "ch3", "ch4"]}
HOUR = timedelta(hours=1)


async def admin_schedule(http: httpx.AsyncClient, window: MaintenanceWindow) -> None:
    """Enter a window in a simulator (a provider's own, out-of-band scheduling)."""
    response = await http.post(
        "/admin/maintenance",
        json={
            "environment": ENV,
            "interconnect": window.interconnect,
            "channel": window.channel,
            "maintenanceId": window.maintenance_id,
            "startTime": window.start.isoformat(),
            "endTime": window.end.isoformat(),
            "emergency": window.emergency,
        },
    )
    assert response.status_code == 200, response.text


def window(pair: Pair, channel: str, mid: str, start_h: float, hours: float) -> MaintenanceWindow:
    start: datetime = pair.clock.datetime() + start_h * HOUR
    return MaintenanceWindow("ix1", channel, mid, start, start + hours * HOUR)


async def test_read_both_sides_and_flag_overlap_across_providers_P25(
    make_pair: MakePair,
) -> None:
    pair = make_pair()
    # Each provider alone respects P25; together two channels go down at once.
    await admin_schedule(pair.peer_http, window(pair, "ch1", "aws-m1", 1, 2))
    await admin_schedule(pair.ours_http, window(pair, "ch2", "gcp-m1", 2, 2))
    await admin_schedule(pair.ours_http, window(pair, "ch3", "gcp-m2", 5, 1))

    windows = await read_maintenance(pair.negotiator, pair.responder, ENV, CHANNELS)
    assert sorted(w.maintenance_id for w in windows) == ["aws-m1", "gcp-m1", "gcp-m2"]

    report = maintenance_report(windows, CHANNELS, pair.clock.datetime())
    [violation] = report.violations
    assert {violation.first.maintenance_id, violation.second.maintenance_id} == {
        "aws-m1",
        "gcp-m1",
    }
    assert "P25" in violation.message
    assert report.channel("ix1", "ch1").conflicting_ids == ("gcp-m1",)
    assert report.channel("ix1", "ch3").conflicting_ids == ()
    assert report.channel("ix1", "ch3").next_start == pair.clock.datetime() + 5 * HOUR
    assert report.channel("ix1", "ch4").next_window is None

    pair.clock.advance(1.5 * 3600)
    later = maintenance_report(windows, CHANNELS, pair.clock.datetime())
    active = later.channel("ix1", "ch1").active
    assert active is not None
    assert active.maintenance_id == "aws-m1"
    assert later.channel("ix1", "ch1").next_window is None


def test_emergency_is_excepted_but_published_P25() -> None:
    now = datetime.fromisoformat("2030-01-01T00:00:00+00:00")
    planned = MaintenanceWindow("ix1", "ch1", "m1", now, now + 2 * HOUR)
    emergency = MaintenanceWindow("ix1", "ch2", "e1", now, now + HOUR, emergency=True)
    report = maintenance_report([planned, emergency], CHANNELS, now)
    assert report.violations == ()
    assert report.emergencies == (emergency,)
    assert report.channel("ix1", "ch2").active == emergency


async def test_schedule_refuses_overlap_and_tells_peer_nothing_P25(make_pair: MakePair) -> None:
    pair = make_pair()
    await admin_schedule(pair.peer_http, window(pair, "ch1", "aws-m1", 1, 2))
    known = await read_maintenance(pair.negotiator, pair.responder, ENV, CHANNELS)
    registered: list[MaintenanceWindow] = []

    async def register(w: MaintenanceWindow) -> None:
        registered.append(w)

    proposed = window(pair, "ch2", "gcp-m1", 2, 1)
    with pytest.raises(MaintenanceConflict) as refused:
        await schedule(pair.responder, ENV, proposed, known, register=register)
    assert [w.maintenance_id for w in refused.value.conflicts] == ["aws-m1"]
    assert "P25" in str(refused.value)
    assert registered == []
    assert pair.peer.store.peer_maintenance == {}


async def test_schedule_registers_then_notifies_peer_P24(make_pair: MakePair) -> None:
    pair = make_pair()
    await admin_schedule(pair.peer_http, window(pair, "ch1", "aws-m1", 1, 2))
    known = await read_maintenance(pair.negotiator, pair.responder, ENV, CHANNELS)

    async def register(w: MaintenanceWindow) -> None:
        await admin_schedule(pair.ours_http, w)  # our provider records it first

    proposed = window(pair, "ch2", "gcp-m1", 3, 1)  # after aws-m1 ends: allowed
    await schedule(pair.responder, ENV, proposed, known, register=register)

    notified = pair.peer.store.peer_maintenance[(ENV, "ix1", "ch2")]
    assert [e["maintenanceId"] for e in notified.events] == ["gcp-m1"]
    # The peer's re-read (what P24 asks of it) finds the window on our server.
    seen = await read_maintenance(pair.negotiator, pair.responder, ENV, {"ix1": ["ch2"]})
    assert [w.maintenance_id for w in seen] == ["gcp-m1"]


async def test_emergency_schedule_is_published_despite_overlap_P24_P25(
    make_pair: MakePair,
) -> None:
    pair = make_pair()
    await admin_schedule(pair.peer_http, window(pair, "ch1", "aws-m1", 1, 2))
    known = await read_maintenance(pair.negotiator, pair.responder, ENV, CHANNELS)
    start = pair.clock.datetime() + HOUR
    urgent = MaintenanceWindow("ix1", "ch2", "gcp-e1", start, start + HOUR, emergency=True)
    await schedule(pair.responder, ENV, urgent, known)
    assert (ENV, "ix1", "ch2") in pair.peer.store.peer_maintenance
