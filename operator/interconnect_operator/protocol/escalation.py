"""Escalation to the responsible provider through the Issues API: pure decisions.

When a link stays stuck past a threshold (features PENDING too long,
verification missing, repeated refusals), the operator opens an issue with
the provider that holds it up, comments when the situation changes (or
periodically while it lasts), and closes it when the link recovers. This
module only decides; the reconcile layer performs the calls and records the
open issue in the link's status.

Priority follows impact: a link that carried traffic and now carries none
is P0; one running with reduced redundancy (P12, 3 of 4) is P2; a new link
that does not come up is P3.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from .types import Side

_FIGURES = re.compile(r"\d+(?:\.\d+)?")


class Priority(StrEnum):
    P0 = "PRIORITY_P0"
    P1 = "PRIORITY_P1"
    P2 = "PRIORITY_P2"
    P3 = "PRIORITY_P3"
    P4 = "PRIORITY_P4"


class Impact(StrEnum):
    OUTAGE = "Outage"
    DEGRADED = "Degraded"
    BRING_UP = "BringUp"
    NONE = "None"


PRIORITY_BY_IMPACT: Mapping[Impact, Priority] = {
    Impact.OUTAGE: Priority.P0,
    Impact.DEGRADED: Priority.P2,
    Impact.BRING_UP: Priority.P3,
    Impact.NONE: Priority.P4,
}


@dataclass(frozen=True)
class Thresholds:
    features_pending: timedelta = timedelta(hours=2)
    verification_missing: timedelta = timedelta(hours=2)
    refusals: int = 5
    comment_every: timedelta = timedelta(hours=24)


@dataclass(frozen=True)
class StuckSignals:
    """Per side: since when its features are PENDING, since when its connection
    is unverified although the other side is final, how many refusals in a row."""

    impact: Impact
    pending_since: Mapping[Side, datetime] = field(default_factory=dict)
    unverified_since: Mapping[Side, datetime] = field(default_factory=dict)
    refusals: Mapping[Side, int] = field(default_factory=dict)
    last_refusal: Mapping[Side, str] = field(default_factory=dict)
    maintenance: Mapping[Side, tuple[datetime, datetime]] = field(default_factory=dict)
    """Per side, a maintenance window that provider announced (P24) on the link's
    channels: start and end. What it holds up during the window is expected."""


@dataclass(frozen=True)
class OpenIssueRecord:
    """The issue recorded in the link's status."""

    issue_id: str
    side: Side
    priority: Priority
    summary: str
    opened_at: datetime
    last_comment_at: datetime | None = None


@dataclass(frozen=True)
class OpenIssue:
    side: Side
    priority: Priority
    title: str
    body: str
    summary: str
    kind: str = field(default="OpenIssue", init=False)


@dataclass(frozen=True)
class CommentIssue:
    issue_id: str
    side: Side
    body: str
    summary: str
    kind: str = field(default="CommentIssue", init=False)


@dataclass(frozen=True)
class CloseIssue:
    issue_id: str
    side: Side
    body: str
    kind: str = field(default="CloseIssue", init=False)


@dataclass(frozen=True)
class NoEscalation:
    reason: str
    kind: str = field(default="NoEscalation", init=False)


EscalationAction = OpenIssue | CommentIssue | CloseIssue | NoEscalation


@dataclass(frozen=True)
class _Finding:
    side: Side
    summary: str
    severity: int  # lower is worse


def _findings(signals: StuckSignals, now: datetime, t: Thresholds) -> list[_Finding]:
    out: list[_Finding] = []
    for side in (Side.RESPONDER, Side.NEGOTIATOR):
        count = signals.refusals.get(side, 0)
        if count >= t.refusals:
            last = signals.last_refusal.get(side, "")
            detail = f": {last}" if last else ""
            out.append(_Finding(side, f"{count} refusals in a row{detail}", 0))
        since = signals.pending_since.get(side)
        if since is not None and now - since >= t.features_pending:
            hours = (now - since).total_seconds() / 3600
            out.append(_Finding(side, f"features PENDING for {hours:.1f}h (P13)", 1))
        since = signals.unverified_since.get(side)
        if since is not None and now - since >= t.verification_missing:
            hours = (now - since).total_seconds() / 3600
            out.append(_Finding(side, f"connection unverified for {hours:.1f}h (P14)", 2))
    out.sort(key=lambda f: (f.severity, f.side.value))
    return out


def _in_maintenance(signals: StuckSignals, side: Side, now: datetime) -> bool:
    """P24: the provider announced maintenance that covers now: no new finding
    against it (an open issue stays open; it is neither commented on nor closed)."""
    window = signals.maintenance.get(side)
    return window is not None and window[0] <= now < window[1]


def _gist(summary: str) -> str:
    """A summary without its figures: a finding that only lasted longer (3.0h,
    then 3.1h) or counted one more refusal is no news worth a comment."""
    return _FIGURES.sub("#", summary)


def decide_escalation(
    signals: StuckSignals,
    open_issue: OpenIssueRecord | None,
    now: datetime,
    connection: str,
    thresholds: Thresholds | None = None,
) -> EscalationAction:
    """Open, comment on, or close an issue, or do nothing.

    One issue per link at a time, against the provider of the worst finding.
    A comment when the summary changes or ``comment_every`` passed; the issue
    is closed when no finding remains. Nothing is raised against a provider
    during a maintenance window it announced (P24).
    """
    t = thresholds or Thresholds()
    found = _findings(signals, now, t)
    findings = [f for f in found if not _in_maintenance(signals, f.side, now)]
    if not findings:
        if len(found) > len(findings):
            return NoEscalation("MaintenanceWindow")
        if open_issue is not None:
            return CloseIssue(
                open_issue.issue_id, open_issue.side, f"{connection}: recovered, closing."
            )
        return NoEscalation("NotStuck")
    worst = findings[0]
    summary = "; ".join(f.summary for f in findings if f.side is worst.side)
    if open_issue is None:
        priority = PRIORITY_BY_IMPACT[signals.impact]
        return OpenIssue(
            side=worst.side,
            priority=priority,
            title=f"Connection {connection} stuck: {worst.summary}",
            body=(
                f"Connection {connection} needs action on the {worst.side.value} side: "
                f"{summary}. Impact: {signals.impact.value}."
            ),
            summary=summary,
        )
    last = open_issue.last_comment_at or open_issue.opened_at
    if _gist(summary) != _gist(open_issue.summary) or now - last >= t.comment_every:
        return CommentIssue(
            open_issue.issue_id, open_issue.side, f"{connection}: still stuck: {summary}", summary
        )
    return NoEscalation("AlreadyReported")
