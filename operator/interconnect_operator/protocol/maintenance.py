"""Maintenance window rules (P24-P25).

Channels of one interconnect must never be in scheduled maintenance at the
same time (P25): that would take more than one of the redundant channels
down together. Emergency maintenance is excepted (it cannot be scheduled
around) but is still published (P24). Windows are half-open ``[start, end)``,
so one window may end exactly when the next begins.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class MaintenanceWindow:
    interconnect: str
    channel: str
    maintenance_id: str
    start: datetime
    end: datetime
    emergency: bool = False

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValueError(f"maintenance {self.maintenance_id}: end must follow start")

    def overlaps(self, other: MaintenanceWindow) -> bool:
        return self.start < other.end and other.start < self.end

    def active_at(self, now: datetime) -> bool:
        return self.start <= now < self.end


def conflicts(
    proposed: MaintenanceWindow, scheduled: Iterable[MaintenanceWindow]
) -> tuple[MaintenanceWindow, ...]:
    """Scheduled windows of OTHER channels of the same interconnect that overlap (P25).

    An emergency window conflicts with nothing, and nothing conflicts with one.
    """
    if proposed.emergency:
        return ()
    return tuple(
        w
        for w in scheduled
        if w.interconnect == proposed.interconnect
        and w.channel != proposed.channel
        and w.maintenance_id != proposed.maintenance_id
        and not w.emergency
        and w.overlaps(proposed)
    )


def violations(
    windows: Iterable[MaintenanceWindow],
) -> tuple[tuple[MaintenanceWindow, MaintenanceWindow], ...]:
    """Every pair of scheduled windows that breaks P25, for pool status."""
    by_ic: dict[str, list[MaintenanceWindow]] = {}
    for w in windows:
        if not w.emergency:
            by_ic.setdefault(w.interconnect, []).append(w)
    out: list[tuple[MaintenanceWindow, MaintenanceWindow]] = []
    for group in by_ic.values():
        # Sweep by start time: only windows still open can overlap the next one.
        group.sort(key=lambda w: (w.start, w.channel, w.maintenance_id))
        open_: list[MaintenanceWindow] = []
        for w in group:
            open_ = [o for o in open_ if o.end > w.start]
            out.extend((o, w) for o in open_ if o.channel != w.channel)
            open_.append(w)
    return tuple(out)


def active_window(
    windows: Iterable[MaintenanceWindow], channel: str, now: datetime
) -> MaintenanceWindow | None:
    """The window of ``channel`` in progress at ``now`` (emergency first), or None."""
    active = [w for w in windows if w.channel == channel and w.active_at(now)]
    active.sort(key=lambda w: (not w.emergency, w.start, w.maintenance_id))
    return active[0] if active else None


def next_window(
    windows: Iterable[MaintenanceWindow], channel: str, now: datetime
) -> MaintenanceWindow | None:
    """The next window of ``channel`` starting after ``now``, or None."""
    future = [w for w in windows if w.channel == channel and w.start > now]
    return min(future, key=lambda w: (w.start, w.maintenance_id), default=None)
