"""Channel health of a pool: MACsec rotation and maintenance, on a slow cadence.

MACsec keys and maintenance belong to channels, which every link of an
interconnect shares, so they are pool-level (README.md, Architecture). Reading them costs
calls per channel on both sides, so they run every ``interval`` seconds
(default 5 minutes), not on every bulk refresh: the steady-state refresh
stays at its few list calls per interconnect.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

from interconnect_operator.api.errors import ApiError
from interconnect_operator.protocol.types import Side
from interconnect_operator.reconcile.macsec import MacsecDriver, MacsecReport
from interconnect_operator.reconcile.maintenance import (
    MaintenanceReport,
    maintenance_report,
    read_maintenance,
)
from interconnect_operator.reconcile.pool import PoolRuntime

logger = logging.getLogger(__name__)

DEFAULT_INTERVAL_SECONDS = 300.0


@dataclass(frozen=True)
class ChannelHealth:
    """What the pool status and metrics show about one channel (never a key)."""

    interconnect: str
    channel: str
    macsec_manager: str | None
    macsec_key_age_seconds: float | None
    rotating: bool
    maintenance_active: bool
    next_maintenance_start: dt.datetime | None
    maintenance_overlap: bool
    windows: tuple[tuple[str, dt.datetime, dt.datetime], ...]
    """(maintenance id, start, end) of current and future windows."""


class ChannelWatch:
    """Runs the MACsec driver and reads maintenance for one pool."""

    def __init__(
        self,
        runtime: PoolRuntime,
        *,
        interval: float = DEFAULT_INTERVAL_SECONDS,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        config = runtime.config
        self._runtime = runtime
        self._interval = interval
        self._clock = clock
        self._last: dt.datetime | None = None
        self.health: dict[tuple[str, str], ChannelHealth] = {}
        self.macsec = MacsecDriver(
            runtime.client(Side.NEGOTIATOR),
            runtime.client(Side.RESPONDER),
            config.environment,
            our_provider=config.negotiator.name,
            peer_provider=config.responder.name,
            rotation_interval=dt.timedelta(hours=config.macsec_rotation_interval_hours),
            enabled=config.macsec_rotate,
            clock=clock,
        )

    def due(self) -> bool:
        now = self._clock()
        return self._last is None or (now - self._last).total_seconds() >= self._interval

    async def run(self) -> dict[tuple[str, str], ChannelHealth]:
        """One pass: MACsec (P26-P31) then maintenance (P24-P25); errors are logged, not raised."""
        self._last = self._clock()
        snapshot = self._runtime.snapshot
        if snapshot is None:
            return self.health
        channels = {
            ix: [c.id for c in snapshot.negotiator.channels.get(ix, [])]
            for ix in snapshot.negotiator.interconnects
        }
        macsec: MacsecReport | None = None
        try:
            macsec = await self.macsec.run_once(list(channels))
        except ApiError as exc:
            logger.warning("MACsec pass failed: %s", exc, extra={"pool": self._runtime.config.name})
        maintenance: MaintenanceReport | None = None
        try:
            windows = await read_maintenance(
                self._runtime.client(Side.NEGOTIATOR),
                self._runtime.client(Side.RESPONDER),
                self._runtime.config.environment,
                channels,
            )
            maintenance = maintenance_report(windows, channels, self._clock())
        except ApiError as exc:
            logger.warning(
                "maintenance read failed: %s", exc, extra={"pool": self._runtime.config.name}
            )
        self.health = _combine(channels, macsec, maintenance)
        return self.health


def _combine(
    channels: dict[str, list[str]],
    macsec: MacsecReport | None,
    maintenance: MaintenanceReport | None,
) -> dict[tuple[str, str], ChannelHealth]:
    result: dict[tuple[str, str], ChannelHealth] = {}
    by_channel = {
        (m.interconnect, m.channel): m for m in (maintenance.channels if maintenance else ())
    }
    keys_by_channel = {(k.interconnect, k.channel): k for k in (macsec.channels if macsec else ())}
    for ix, ids in channels.items():
        for ch in ids:
            key_status = keys_by_channel.get((ix, ch))
            ages = [
                k.age_seconds
                for k in (key_status.keys if key_status is not None else ())
                if k.active and k.age_seconds is not None
            ]
            maint = by_channel.get((ix, ch))
            windows: list[tuple[str, dt.datetime, dt.datetime]] = []
            if maint is not None:
                for w in (maint.active, maint.next_window):
                    if w is not None:
                        windows.append((w.maintenance_id, w.start, w.end))
            result[(ix, ch)] = ChannelHealth(
                interconnect=ix,
                channel=ch,
                macsec_manager=key_status.manager if key_status is not None else None,
                macsec_key_age_seconds=min(ages) if ages else None,
                rotating=bool(key_status and key_status.rotating),
                maintenance_active=bool(maint and maint.active is not None),
                next_maintenance_start=maint.next_window.start
                if maint is not None and maint.next_window is not None
                else None,
                maintenance_overlap=bool(maint and maint.conflicting_ids),
                windows=tuple(windows),
            )
    return result
