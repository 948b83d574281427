"""What holds a link up, per side, from what its status records: pure.

The escalation rules (:mod:`.escalation`) take :class:`StuckSignals`: per
side, since when its features are not FINAL (P13) and since when its
connection is unverified although the other side is final (P14). This module
derives them from a :class:`LinkView` (the link's stored status reduced to
plain values), so they survive a restart: "since" is when the link last left
Ready, or last became Degraded (the conditions' transition times), never
process memory.

Impact: a link that was Ready once and is not now is an outage; one Ready but
Degraded (P12, a channel missing) runs with reduced redundancy; one never
Ready is a bring-up.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from .escalation import Impact, StuckSignals
from .types import ProvisioningState, Side, VerificationState

__all__ = ["LinkView", "stuck_signals"]

FINAL = ProvisioningState.FINAL.value
VERIFIED = VerificationState.VERIFIED.value


@dataclass(frozen=True)
class LinkView:
    """A link as its status shows it, with the maintenance its providers announced."""

    ready: bool
    ever_ready: bool
    degraded: bool
    since: datetime | None
    """When the link last left Ready (or became Degraded while Ready)."""
    feature_states: Mapping[Side, tuple[str, ...]] = field(default_factory=dict)
    """Provisioning state of every feature of the link, per side."""
    verification: Mapping[Side, str | None] = field(default_factory=dict)
    maintenance: Mapping[Side, tuple[datetime, datetime]] = field(default_factory=dict)
    """Per side, a maintenance window that provider announced on the link's
    interconnect (P24): start and end."""


def _all_final(states: tuple[str, ...]) -> bool:
    return bool(states) and all(s == FINAL for s in states)


def stuck_signals(view: LinkView) -> StuckSignals:
    """Per side what it holds up, and since when; no finding for a healthy link."""
    if view.ready and not view.degraded:
        return StuckSignals(impact=Impact.NONE, maintenance=dict(view.maintenance))
    if view.ready:
        impact = Impact.DEGRADED
    elif view.ever_ready:
        impact = Impact.OUTAGE
    else:
        impact = Impact.BRING_UP
    pending: dict[Side, datetime] = {}
    unverified: dict[Side, datetime] = {}
    if view.since is not None:
        for side in Side:
            states = view.feature_states.get(side, ())
            if any(s != FINAL for s in states):
                # P13: each side provisions its own half; a feature that is not
                # FINAL (PENDING, FAILED) at one provider is that provider's to fix.
                pending[side] = view.since
            other = view.feature_states.get(side.other, ())
            if (
                _all_final(states)
                and _all_final(other)
                and view.verification.get(side) not in (None, VERIFIED)
            ):
                # P14: both halves are live, this side has not verified.
                unverified[side] = view.since
    return StuckSignals(
        impact=impact,
        pending_since=pending,
        unverified_since=unverified,
        maintenance=dict(view.maintenance),
    )
