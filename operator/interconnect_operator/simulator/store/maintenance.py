"""Maintenance windows and interconnect admin state of the simulated provider (P24-P25)."""

from __future__ import annotations

import uuid as uuid_module
from typing import Any

from interconnect_operator.api.models import (
    InterconnectState,
)
from interconnect_operator.simulator.store.base import StoreBase
from interconnect_operator.simulator.store.records import (
    MaintenanceRecord,
    PeerMaintenanceRecord,
    SimError,
)


class MaintenanceRules(StoreBase):
    """Schedule, cancel and receive maintenance; override an interconnect's state."""

    # ----------------------------------------------------------- maintenance (P24-P25)

    def maintenance_events(
        self, caller: str, environment: str, interconnect: str, channel: str, now: float
    ) -> list[MaintenanceRecord]:
        """Scheduled or in-progress windows of this provider on the channel."""
        self.channel(caller, environment, interconnect, channel)
        events = self.maintenance.get((environment, interconnect, channel), {}).values()
        return sorted((e for e in events if e.end_time > now), key=lambda e: e.start_time)

    def notify_maintenance(
        self,
        caller: str,
        environment: str,
        interconnect: str,
        channel: str,
        *,
        events: list[dict[str, Any]],
        now: float,
    ) -> None:
        """P24: record the peer's notification (and its deprecated event list)."""
        self.channel(caller, environment, interconnect, channel)
        record = PeerMaintenanceRecord(environment, interconnect, channel, now, events)
        self.peer_maintenance[(environment, interconnect, channel)] = record
        self._put("peer_maintenance", f"{environment}/{interconnect}/{channel}", record)

    def schedule_maintenance(
        self,
        environment: str,
        interconnect: str,
        channel: str,
        *,
        maintenance_id: str | None,
        start: float,
        end: float,
        emergency: bool,
        now: float,
    ) -> MaintenanceRecord:
        """Admin: schedule a window; P25 forbids overlapping windows of two
        channels of one interconnect (emergencies excepted)."""
        peer = self._peer_of(environment)
        _, ix, _ = self.channel(peer, environment, interconnect, channel)
        if end <= start:
            raise SimError(400, "endTime must be after startTime")
        if end <= now:
            raise SimError(400, "the window is already over")
        if not emergency:
            for other in ix.channels:
                if other.id == channel:
                    continue
                for event in self.maintenance.get(
                    (environment, interconnect, other.id), {}
                ).values():
                    if event.emergency or event.end_time <= now:
                        continue
                    if event.start_time < end and start < event.end_time:
                        raise SimError(
                            409,
                            f"P25: overlaps maintenance {event.id!r} on channel {other.id!r}",
                        )
        ch_key = (environment, interconnect, channel)
        maintenance_id = maintenance_id or f"mnt-{uuid_module.uuid4().hex[:12]}"
        events = self.maintenance.setdefault(ch_key, {})
        if maintenance_id in events:
            raise SimError(409, f"maintenance {maintenance_id!r} already exists")
        record = MaintenanceRecord(
            environment, interconnect, channel, maintenance_id, start, end, emergency
        )
        events[maintenance_id] = record
        self._put("maintenance", f"{environment}/{interconnect}/{channel}/{maintenance_id}", record)
        return record

    def cancel_maintenance(self, maintenance_id: str) -> MaintenanceRecord:
        """Admin: remove a window wherever it is."""
        for ch_key, events in self.maintenance.items():
            record = events.pop(maintenance_id, None)
            if record is not None:
                self._delete("maintenance", f"{'/'.join(ch_key)}/{maintenance_id}")
                return record
        raise SimError(404, f"maintenance {maintenance_id!r} not found")

    def set_interconnect_state(self, environment: str, interconnect: str, state: str) -> None:
        """Admin: override an interconnect's state (e.g. CLOSED to new links)."""
        peer = self._peer_of(environment)
        self.interconnect(peer, environment, interconnect)
        if state not in {s.value for s in InterconnectState}:
            raise SimError(400, f"unknown interconnect state {state!r}")
        self.interconnect_state[(environment, interconnect)] = state
        if self._state is not None:
            self._state.put(
                "interconnect_state",
                f"{environment}/{interconnect}",
                {"environment": environment, "interconnect": interconnect, "state": state},
            )
