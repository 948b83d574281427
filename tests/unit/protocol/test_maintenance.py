"""Maintenance windows (P24-P25)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from interconnect_operator.protocol.maintenance import (
    MaintenanceWindow,
    active_window,
    conflicts,
    next_window,
    violations,
)

T0 = datetime(2026, 3, 1, tzinfo=UTC)
H = timedelta(hours=1)


def w(ch: str, start: int, end: int, mid: str = "", ic: str = "ic1", emergency: bool = False):
    return MaintenanceWindow(
        ic, ch, mid or f"{ch}-{start}", T0 + start * H, T0 + end * H, emergency
    )


def test_p25_overlap_on_other_channel_conflicts() -> None:
    scheduled = [w("ch1", 0, 4), w("ch2", 10, 12), w("ch3", 2, 3, ic="ic2")]
    assert conflicts(w("ch2", 3, 5), scheduled) == (scheduled[0],)


def test_p25_same_channel_adjacent_and_other_interconnect_do_not_conflict() -> None:
    scheduled = [w("ch1", 0, 4), w("ch3", 4, 6), w("ch4", 0, 9, ic="ic2")]
    assert conflicts(w("ch1", 2, 4, mid="new"), scheduled) == ()
    assert conflicts(w("ch2", 6, 8), scheduled) == ()


def test_p25_emergency_excepted_both_ways() -> None:
    scheduled = [w("ch1", 0, 4), w("ch3", 0, 4, emergency=True)]
    assert conflicts(w("ch2", 1, 2, emergency=True), scheduled) == ()
    assert conflicts(w("ch2", 1, 2), scheduled) == (scheduled[0],)


def test_p25_violations_sweep() -> None:
    ws = [w("ch1", 0, 4), w("ch2", 3, 5), w("ch3", 5, 6), w("ch1", 4, 5, mid="b")]
    assert violations(ws) == ((ws[0], ws[1]), (ws[1], ws[3]))


def test_p24_active_and_next_window() -> None:
    ws = [w("ch1", 0, 2), w("ch1", 5, 6), w("ch1", 3, 4), w("ch2", 1, 2)]
    assert active_window(ws, "ch1", T0 + H) == ws[0]
    assert active_window(ws, "ch1", T0 + 2 * H) is None
    assert next_window(ws, "ch1", T0 + H) == ws[2]
    assert next_window(ws, "ch1", T0 + 7 * H) is None


def test_window_must_end_after_start() -> None:
    with pytest.raises(ValueError, match="end must follow start"):
        w("ch1", 2, 2)
