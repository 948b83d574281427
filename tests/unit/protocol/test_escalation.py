"""Escalation decisions (Issues API)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from interconnect_operator.protocol.escalation import (
    CloseIssue,
    CommentIssue,
    Impact,
    NoEscalation,
    OpenIssue,
    OpenIssueRecord,
    Priority,
    StuckSignals,
    decide_escalation,
)
from interconnect_operator.protocol.types import Side

T0 = datetime(2026, 6, 1, tzinfo=UTC)
H = timedelta(hours=1)


def test_p13_features_pending_too_long_opens_issue_with_responsible_side() -> None:
    s = StuckSignals(Impact.BRING_UP, pending_since={Side.RESPONDER: T0})
    assert isinstance(decide_escalation(s, None, T0 + H, "c1"), NoEscalation)
    action = decide_escalation(s, None, T0 + 3 * H, "c1")
    assert isinstance(action, OpenIssue)
    assert action.side is Side.RESPONDER
    assert action.priority is Priority.P3
    assert "PENDING" in action.title


def test_priority_by_impact() -> None:
    s = StuckSignals(Impact.OUTAGE, unverified_since={Side.NEGOTIATOR: T0})
    action = decide_escalation(s, None, T0 + 3 * H, "c1")
    assert isinstance(action, OpenIssue)
    assert (action.priority, action.side) == (Priority.P0, Side.NEGOTIATOR)


def test_refusals_are_worst_finding() -> None:
    s = StuckSignals(
        Impact.DEGRADED,
        pending_since={Side.NEGOTIATOR: T0},
        refusals={Side.RESPONDER: 6},
        last_refusal={Side.RESPONDER: "409 VLAN taken"},
    )
    action = decide_escalation(s, None, T0 + 3 * H, "c1")
    assert isinstance(action, OpenIssue)
    assert action.side is Side.RESPONDER
    assert "409 VLAN taken" in action.body


def test_comment_on_change_or_period_and_close_on_recovery() -> None:
    s = StuckSignals(Impact.BRING_UP, pending_since={Side.RESPONDER: T0})
    opened = decide_escalation(s, None, T0 + 3 * H, "c1")
    assert isinstance(opened, OpenIssue)
    rec = OpenIssueRecord("i1", Side.RESPONDER, opened.priority, opened.summary, T0 + 3 * H)
    # Only lasting longer (3.0h, then 5.0h) is no news: no comment. Run on every
    # pool refresh, a comment per changed figure would be one every six minutes.
    assert isinstance(decide_escalation(s, rec, T0 + 5 * H, "c1"), NoEscalation)
    # A different finding is news: comment.
    changed = StuckSignals(Impact.BRING_UP, unverified_since={Side.RESPONDER: T0})
    later = decide_escalation(changed, rec, T0 + 5 * H, "c1")
    assert isinstance(later, CommentIssue)
    assert "unverified" in later.summary
    # So is a day without one (comment_every).
    assert isinstance(decide_escalation(s, rec, T0 + 28 * H, "c1"), CommentIssue)
    same = OpenIssueRecord("i1", Side.RESPONDER, opened.priority, later.summary, T0 + 5 * H)
    assert isinstance(decide_escalation(changed, same, T0 + 6 * H, "c1"), NoEscalation)
    closed = decide_escalation(StuckSignals(Impact.NONE), rec, T0 + 6 * H, "c1")
    assert isinstance(closed, CloseIssue)
    assert closed.issue_id == "i1"


def test_p24_no_escalation_during_an_announced_maintenance_window() -> None:
    window = (T0 + 2 * H, T0 + 6 * H)
    s = StuckSignals(
        Impact.OUTAGE, pending_since={Side.RESPONDER: T0}, maintenance={Side.RESPONDER: window}
    )
    held = decide_escalation(s, None, T0 + 3 * H, "c1")
    assert isinstance(held, NoEscalation)
    assert held.reason == "MaintenanceWindow"
    record = OpenIssueRecord("i-1", Side.RESPONDER, Priority.P0, "x", T0)
    # an open issue is neither closed nor commented on meanwhile
    assert isinstance(decide_escalation(s, record, T0 + 3 * H, "c1"), NoEscalation)
    # past the window, the stuck link is raised as before
    assert isinstance(decide_escalation(s, None, T0 + 7 * H, "c1"), OpenIssue)
