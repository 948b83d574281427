"""Conditions helper: lastTransitionTime moves only on a status flip."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from interconnect_operator.protocol.conditions import (
    Condition,
    ConditionStatus,
    find,
    merge,
    ready_summary,
    status_of,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
T1 = T0 + timedelta(minutes=5)
T, F, U = ConditionStatus.TRUE, ConditionStatus.FALSE, ConditionStatus.UNKNOWN


def test_new_condition_gets_now() -> None:
    (c,) = merge([], [Condition("Ready", F, "Placing")], T0)
    assert c.last_transition_time == T0


def test_same_status_keeps_time_even_if_reason_changes() -> None:
    old = merge([], [Condition("Ready", F, "Placing")], T0)
    (c,) = merge(old, [Condition("Ready", F, "Negotiating", "2/4")], T1)
    assert c.last_transition_time == T0
    assert c.reason == "Negotiating"
    assert c.message == "2/4"


def test_flip_moves_time() -> None:
    old = merge([], [Condition("Ready", F, "Placing")], T0)
    (c,) = merge(old, [Condition("Ready", T, "Ready")], T1)
    assert c.last_transition_time == T1


def test_order_stable_and_unmentioned_kept() -> None:
    old = merge([], [Condition("A", T, "X"), Condition("B", T, "X"), Condition("C", T, "X")], T0)
    out = merge(old, [Condition("C", F, "Y"), Condition("A", T, "X")], T1)
    assert [c.type for c in out] == ["C", "A", "B"]
    assert find(out, "B") == old[1]


def test_duplicate_types_rejected() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        merge([], [Condition("A", T, "X"), Condition("A", F, "Y")], T0)


def test_ready_summary() -> None:
    conds = [Condition("Placed", T, "Placed"), Condition("Verified", F, "Unverified", "P14")]
    r = ready_summary(conds, ["Placed", "Verified"], 3)
    assert (r.status, r.reason, r.message, r.observed_generation) == (F, "Unverified", "P14", 3)
    assert ready_summary(conds, ["Placed"]).status is T
    assert ready_summary(conds, ["Missing"]).status is U
    assert ready_summary([Condition("X", U, "Why")], ["X"]).status is U


def test_kube_form_and_status_of() -> None:
    (c,) = merge([], [Condition("Ready", T, "Ready", "ok", 2)], T0)
    assert c.to_kube() == {
        "type": "Ready",
        "status": "True",
        "reason": "Ready",
        "message": "ok",
        "observedGeneration": 2,
        "lastTransitionTime": "2026-01-01T00:00:00Z",
    }
    assert [status_of(v) for v in (True, False, None)] == [T, F, U]


def test_not_reconciled_stalled_waiting_and_idle() -> None:
    from interconnect_operator.protocol.conditions import not_reconciled

    stalled = {c.type: c for c in not_reconciled("PolicyDenied", "no", 3, stalled=True)}
    assert stalled["Ready"].status is ConditionStatus.FALSE
    assert stalled["Stalled"].status is ConditionStatus.TRUE
    assert stalled["Stalled"].reason == "PolicyDenied"
    assert stalled["Reconciling"].status is ConditionStatus.FALSE
    assert {c.observed_generation for c in stalled.values()} == {3}

    waiting = {c.type: c for c in not_reconciled("PoolNotFound", "m", 1, stalled=False)}
    assert waiting["Reconciling"].status is ConditionStatus.TRUE
    assert waiting["Reconciling"].reason == "PoolNotFound"
    assert waiting["Stalled"].reason == "NotStalled"

    idle = {c.type: c for c in not_reconciled("Paused", "m", 1, stalled=False, idle=True)}
    assert idle["Reconciling"].status is ConditionStatus.FALSE
    assert idle["Reconciling"].reason == "Idle"
    assert idle["Stalled"].status is ConditionStatus.FALSE
