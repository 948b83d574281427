"""status.issue and the Escalated condition: round trip, hostile input, messages."""

from __future__ import annotations

from datetime import UTC, datetime

from interconnect_operator.k8s.escalations import (
    escalated_condition,
    issue_from_status,
    issue_to_status,
    link_view,
)
from interconnect_operator.protocol.types import Side
from interconnect_operator.reconcile.escalation_loop import IssueStatus

T0 = datetime(2027, 1, 1, tzinfo=UTC)
PROVIDERS = {Side.NEGOTIATOR: "gcp", Side.RESPONDER: "aws"}


def test_issue_status_round_trips_through_the_link_status() -> None:
    issue = IssueStatus(
        provider="aws",
        issue_id="u-esc2",
        state="STATE_ACTION_REQUIRED",
        side=Side.RESPONDER,
        priority="PRIORITY_P0",
        summary="features PENDING for 3.0h (P13)",
        opened_at=T0,
        issues_opened=2,
        comments=3,
        last_comment="please confirm",
        read_at=T0,
    )
    raw = issue_to_status(issue)
    assert raw["actionRequired"] is True
    assert raw["openedAt"] == "2027-01-01T00:00:00Z"
    assert issue_from_status(raw) == issue
    record = issue.record()
    assert record is not None
    assert record.issue_id == "u-esc2"


def test_unreadable_issue_status_is_none_never_an_error() -> None:
    assert issue_from_status(None) is None
    assert issue_from_status("x") is None
    assert issue_from_status({"id": "a"}) is None
    assert issue_from_status({"id": "a", "provider": "aws", "side": "elsewhere"}) is None


def test_a_closed_issue_is_no_open_record_and_its_condition_is_false() -> None:
    closed = IssueStatus("aws", "u-esc1", "STATE_CLOSED", Side.RESPONDER, opened_at=T0)
    assert closed.record() is None
    condition = escalated_condition(closed, 3)
    assert (condition.status.value, condition.reason) == ("False", "IssueClosed")


def test_open_condition_names_state_comments_and_last_comment() -> None:
    issue = IssueStatus(
        "aws",
        "u-esc1",
        "STATE_OPEN",
        Side.RESPONDER,
        "PRIORITY_P3",
        "stuck",
        T0,
        comments=2,
        last_comment="looking",
    )
    condition = escalated_condition(issue, 1)
    assert (condition.status.value, condition.reason) == ("True", "IssueOpen")
    assert "2 comment(s)" in condition.message
    assert "last: looking" in condition.message


def test_link_view_reads_the_controller_status_shape() -> None:
    status = {
        "readyTime": "2027-01-01T00:00:00Z",
        "conditions": [
            {"type": "Ready", "status": "False", "lastTransitionTime": "2027-01-02T00:00:00Z"}
        ],
        "channels": [
            {
                "id": "ch1",
                "provisioning": [
                    {"provider": "gcp", "state": "PROVISIONING_STATE_FINAL"},
                    {"provider": "aws", "state": "PROVISIONING_STATE_PENDING"},
                    {"provider": "intruder", "state": "PROVISIONING_STATE_PENDING"},
                ],
            }
        ],
        "providers": [
            {"name": "gcp", "role": "Negotiator", "verificationState": "X"},
            {"name": "aws", "role": "Responder"},
        ],
    }
    view = link_view(status, PROVIDERS, {})
    assert not view.ready
    assert view.ever_ready
    assert view.since == datetime(2027, 1, 2, tzinfo=UTC)
    assert view.feature_states == {
        Side.NEGOTIATOR: ("PROVISIONING_STATE_FINAL",),
        Side.RESPONDER: ("PROVISIONING_STATE_PENDING",),
    }
    assert view.verification[Side.NEGOTIATOR] == "X"
