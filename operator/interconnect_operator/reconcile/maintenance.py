"""Maintenance windows of one pool (P24-P25): read both sides, report, schedule.

Maintenance belongs to channels, which every link of an interconnect shares,
so the pool timer reads it: ``GetMaintenanceEvents`` per channel on both
providers (:func:`read_maintenance`). Either provider's window takes the
channel down, so the P25 check runs over the union of both sides' windows:
two channels of one interconnect in scheduled maintenance at the same time
are flagged in :class:`MaintenanceReport`; emergency windows are excepted but
still shown.

:func:`schedule` is for our own maintenance: it refuses a window that would
overlap another channel's (P25, :class:`MaintenanceConflict`), lets our
provider record it (the ``register`` hook: entering a window is each
provider's own business, not an operation of the symmetric API), then tells
the peer with ``NotifyMaintenance`` (P24), after which the peer re-reads.

The spec's ``MaintenanceEvent`` has no emergency flag; a provider that sends
one as an extra field (``emergency: true``) is understood.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from interconnect_operator.api.client import ProviderClient
from interconnect_operator.api.models import MaintenanceEvent, NotifyMaintenanceRequest
from interconnect_operator.protocol import maintenance as rules
from interconnect_operator.protocol.maintenance import MaintenanceWindow

__all__ = [
    "ChannelMaintenance",
    "MaintenanceConflict",
    "MaintenanceReport",
    "MaintenanceViolation",
    "maintenance_report",
    "read_maintenance",
    "schedule",
]

logger = logging.getLogger(__name__)


class MaintenanceConflict(Exception):
    """A proposed window overlaps scheduled maintenance of another channel (P25)."""

    def __init__(self, window: MaintenanceWindow, conflicts: Sequence[MaintenanceWindow]) -> None:
        self.window = window
        self.conflicts = tuple(conflicts)
        others = ", ".join(f"{w.maintenance_id} on {w.channel}" for w in self.conflicts)
        super().__init__(
            f"P25: maintenance {window.maintenance_id} on {window.interconnect}/{window.channel} "
            f"overlaps {others}"
        )


@dataclass(frozen=True)
class ChannelMaintenance:
    """One channel's maintenance as the pool status shows it."""

    interconnect: str
    channel: str
    active: MaintenanceWindow | None
    next_window: MaintenanceWindow | None
    conflicting_ids: tuple[str, ...]
    """Ids of windows of other channels this channel's windows overlap (P25)."""

    @property
    def next_start(self) -> datetime | None:
        return self.next_window.start if self.next_window else None


@dataclass(frozen=True)
class MaintenanceViolation:
    """Two scheduled windows of one interconnect that overlap (P25)."""

    interconnect: str
    first: MaintenanceWindow
    second: MaintenanceWindow

    @property
    def message(self) -> str:
        a, b = self.first, self.second
        return (
            f"P25: {a.channel} ({a.maintenance_id}) and {b.channel} ({b.maintenance_id}) "
            f"of {self.interconnect} are in scheduled maintenance at the same time"
        )


@dataclass(frozen=True)
class MaintenanceReport:
    taken_at: datetime
    channels: tuple[ChannelMaintenance, ...]
    violations: tuple[MaintenanceViolation, ...]
    emergencies: tuple[MaintenanceWindow, ...]
    """Emergency windows: excepted from P25, still published."""

    def channel(self, interconnect: str, channel: str) -> ChannelMaintenance:
        for status in self.channels:
            if status.interconnect == interconnect and status.channel == channel:
                return status
        raise KeyError((interconnect, channel))


def _window(ix: str, channel: str, event: MaintenanceEvent) -> MaintenanceWindow | None:
    if event.start_time is None or event.end_time is None or event.end_time <= event.start_time:
        # A window without a usable extent cannot be checked or planned around.
        logger.warning(
            "maintenance %s on %s/%s has no usable start/end; ignored",
            event.maintenance_id,
            ix,
            channel,
        )
        return None
    emergency = bool((event.model_extra or {}).get("emergency", False))
    return MaintenanceWindow(
        interconnect=ix,
        channel=channel,
        maintenance_id=event.maintenance_id or f"{channel}@{event.start_time.isoformat()}",
        start=event.start_time,
        end=event.end_time,
        emergency=emergency,
    )


async def read_maintenance(
    client_neg: ProviderClient,
    client_res: ProviderClient,
    environment: str,
    interconnects: Mapping[str, Sequence[str]],
) -> list[MaintenanceWindow]:
    """Both providers' windows on every channel of ``interconnects`` (id -> channel ids).

    2 calls per channel; the same window listed by both sides counts once.
    """
    calls = [
        (ix, ch, client)
        for ix, channels in sorted(interconnects.items())
        for ch in channels
        for client in (client_neg, client_res)
    ]
    results = await asyncio.gather(
        *(client.get_maintenance_events(environment, ix, ch) for ix, ch, client in calls)
    )
    seen: dict[tuple[str, str, str, datetime, datetime], MaintenanceWindow] = {}
    for (ix, ch, _), events in zip(calls, results, strict=True):
        for event in events:
            window = _window(ix, ch, event)
            if window is not None:
                key = (ix, ch, window.maintenance_id, window.start, window.end)
                seen.setdefault(key, window)
    return sorted(seen.values(), key=lambda w: (w.interconnect, w.start, w.channel))


def maintenance_report(
    windows: Iterable[MaintenanceWindow],
    interconnects: Mapping[str, Sequence[str]],
    now: datetime,
) -> MaintenanceReport:
    """Per channel: the window in progress, the next one, P25 conflicts."""
    all_windows = list(windows)
    pairs = rules.violations(all_windows)
    conflicting: dict[tuple[str, str], set[str]] = {}
    for a, b in pairs:
        conflicting.setdefault((a.interconnect, a.channel), set()).add(b.maintenance_id)
        conflicting.setdefault((b.interconnect, b.channel), set()).add(a.maintenance_id)
    channels = []
    for ix, channel_ids in sorted(interconnects.items()):
        mine = [w for w in all_windows if w.interconnect == ix]
        for ch in channel_ids:
            channels.append(
                ChannelMaintenance(
                    interconnect=ix,
                    channel=ch,
                    active=rules.active_window(mine, ch, now),
                    next_window=rules.next_window(mine, ch, now),
                    conflicting_ids=tuple(sorted(conflicting.get((ix, ch), ()))),
                )
            )
    return MaintenanceReport(
        taken_at=now,
        channels=tuple(channels),
        violations=tuple(MaintenanceViolation(a.interconnect, a, b) for a, b in pairs),
        emergencies=tuple(w for w in all_windows if w.emergency),
    )


async def schedule(
    peer: ProviderClient,
    environment: str,
    window: MaintenanceWindow,
    scheduled: Iterable[MaintenanceWindow],
    *,
    register: Callable[[MaintenanceWindow], Awaitable[None]] | None = None,
) -> None:
    """Schedule our maintenance ``window`` and tell the peer (P24).

    ``scheduled`` are the windows known now (from :func:`read_maintenance`).
    Raises :class:`MaintenanceConflict` before anything is done when the
    window overlaps another channel's scheduled maintenance (P25); an
    emergency window is never refused, but is published all the same.
    ``register`` records the window with our provider before the peer hears
    of it, so the peer's re-read finds it.
    """
    conflicts = rules.conflicts(window, scheduled)
    if conflicts:
        raise MaintenanceConflict(window, conflicts)
    if register is not None:
        await register(window)
    event = MaintenanceEvent(
        start_time=window.start, end_time=window.end, maintenance_id=window.maintenance_id
    )
    # ``events`` is deprecated (the peer re-reads GetMaintenanceEvents) but
    # harmless and helpful to a peer that still reads it.
    await peer.notify_maintenance(
        environment,
        window.interconnect,
        window.channel,
        NotifyMaintenanceRequest(events=[event]),
    )
    logger.info(
        "maintenance %s on %s/%s published to the peer (P24)",
        window.maintenance_id,
        window.interconnect,
        window.channel,
    )
