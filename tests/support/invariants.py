"""What must hold on the two providers after any scenario, faults or not.

Read from the simulators' admin state dumps (``GET /admin/state``), never
from the operator's own view, so a bug in the operator cannot hide itself:

- at most one connection per shared UUID per provider (a second placement of
  the same UUID is a duplicate unless the link is migrating, P18), and no
  connection whose UUID no link knows (a link that lost its write-ahead UUID
  and made a second connection: a duplicate too);
- at most one L3 feature per (connection, channel) (P11);
- an interconnect's allocated bandwidth equals the sum of its live
  connections (P7: bandwidth is reserved at creation, released at deletion);
- nothing left on either provider for deleted links (P19, Delete policy):
  no connection, no feature, no activation key still usable;
- every live link is on the same interconnect on both providers.

``check`` returns a report (counts for the scenario's summary line, and the
violations as text); ``assert_clean`` fails with all violations at once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

#: Activation key states (simulator) that still reserve a UUID for a placement.
USABLE_KEY_STATES = frozenset({"issued", "placed"})


@dataclass
class InvariantReport:
    """Counts and violations over both providers."""

    connections: dict[str, int] = field(default_factory=dict)
    """provider -> number of connections it holds."""
    duplicates: int = 0
    leaks: int = 0
    violations: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations

    def summary(self) -> str:
        held = ", ".join(f"{p}={n}" for p, n in sorted(self.connections.items()))
        return f"connections[{held}] duplicates={self.duplicates} leaks={self.leaks}"


def _provider(state: Mapping[str, Any]) -> str:
    return str(state.get("provider") or "?")


def check(
    states: Iterable[Mapping[str, Any]],
    *,
    live: Iterable[str] | None = None,
    deleted: Iterable[str] = (),
    migrating: Iterable[str] = (),
) -> InvariantReport:
    """Check the invariants over the state dumps of both providers of a pool.

    ``live``: the shared UUIDs of links that exist (None: do not check for
    connections no link knows); ``deleted``: UUIDs of links deleted with the
    Delete policy; ``migrating``: UUIDs allowed on two interconnects (P18).
    """
    report = InvariantReport()
    states = list(states)
    live_set = set(live) if live is not None else None
    deleted_set = set(deleted)
    migrating_set = set(migrating)
    placements: dict[str, dict[str, set[str]]] = {}
    for state in states:
        provider = _provider(state)
        connections = list(state.get("connections") or [])
        report.connections[provider] = len(connections)

        # One placement per UUID (P6/P18).
        per_uuid: dict[str, set[str]] = {}
        for conn in connections:
            per_uuid.setdefault(str(conn["connection"]), set()).add(str(conn["interconnect"]))
        placements[provider] = per_uuid
        for uuid, interconnects in sorted(per_uuid.items()):
            if len(interconnects) > 1 and uuid not in migrating_set:
                report.duplicates += len(interconnects) - 1
                report.violations.append(
                    f"{provider}: connection {uuid} on {len(interconnects)} interconnects "
                    f"({', '.join(sorted(interconnects))})"
                )
            if live_set is not None and uuid not in live_set and uuid not in deleted_set:
                report.duplicates += 1
                report.violations.append(
                    f"{provider}: connection {uuid} belongs to no link (a duplicate or a stray)"
                )

        # One L3 feature per (connection, channel) (P11).
        per_channel = Counter(
            (f["interconnect"], f["connection"], f["channel"]) for f in state.get("features") or []
        )
        for (ix, uuid, channel), count in sorted(per_channel.items()):
            if count > 1:
                report.duplicates += count - 1
                report.violations.append(
                    f"{provider}: {count} features for connection {uuid} on {ix}/{channel}"
                )

        # Allocated bandwidth == sum of live connections (P7, P19).
        booked: Counter[tuple[str, str]] = Counter()
        for conn in connections:
            booked[(conn["environment"], conn["interconnect"])] += int(conn["bandwidthMbps"])
        for ix in state.get("interconnects") or []:
            key = (ix["environment"], ix["interconnect"])
            if int(ix["allocatedMbps"]) != booked.get(key, 0):
                report.violations.append(
                    f"{provider}: {key[1]} allocates {ix['allocatedMbps']} Mbps but its "
                    f"connections add up to {booked.get(key, 0)}"
                )

        # Nothing left for deleted links (P19).
        for uuid in sorted(deleted_set):
            if uuid in per_uuid:
                report.leaks += len(per_uuid[uuid])
                report.violations.append(f"{provider}: deleted link {uuid} still has a connection")
            feats = [f for f in state.get("features") or [] if f["connection"] == uuid]
            if feats:
                report.leaks += len(feats)
                report.violations.append(
                    f"{provider}: deleted link {uuid} still has {len(feats)} features"
                )
            keys = [
                k
                for k in state.get("activationKeys") or []
                if k["sharedConnectionUuid"] == uuid and k["state"] in USABLE_KEY_STATES
            ]
            if keys:
                report.leaks += len(keys)
                report.violations.append(
                    f"{provider}: deleted link {uuid} still has a usable activation key "
                    f"({keys[0]['state']})"
                )

    # Both sides agree on where each live link is.
    if len(placements) == 2 and live_set is not None:
        (a_name, a), (b_name, b) = sorted(placements.items())
        for uuid in sorted(live_set - migrating_set):
            if a.get(uuid, set()) != b.get(uuid, set()):
                report.violations.append(
                    f"link {uuid}: {a_name} has it on {sorted(a.get(uuid, set()))}, "
                    f"{b_name} on {sorted(b.get(uuid, set()))}"
                )
    return report


def assert_clean(report: InvariantReport, context: str = "") -> None:
    """Fail with every violation (not just the first)."""
    if report.violations:
        head = f"{context}: " if context else ""
        raise AssertionError(
            head
            + f"{len(report.violations)} invariant violations:\n  "
            + "\n  ".join(report.violations[:50])
        )
