"""Stuck signals from a link's stored status: who holds it up, since when, what impact."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from interconnect_operator.protocol.escalation import Impact
from interconnect_operator.protocol.stuck import LinkView, stuck_signals
from interconnect_operator.protocol.types import Side

T0 = datetime(2027, 1, 1, tzinfo=UTC)
FINAL = "PROVISIONING_STATE_FINAL"
PENDING = "PROVISIONING_STATE_PENDING"
VERIFIED = "VERIFICATION_STATE_VERIFIED"
UNVERIFIED = "VERIFICATION_STATE_UNVERIFIED"


def view(**kwargs: object) -> LinkView:
    values: dict[str, object] = {
        "ready": False,
        "ever_ready": False,
        "degraded": False,
        "since": T0,
        "feature_states": {Side.NEGOTIATOR: (FINAL, FINAL), Side.RESPONDER: (FINAL, PENDING)},
        "verification": {Side.NEGOTIATOR: UNVERIFIED, Side.RESPONDER: UNVERIFIED},
    }
    values.update(kwargs)
    return LinkView(**values)  # type: ignore[arg-type]


def test_p13_the_side_with_a_feature_not_final_holds_the_link_up() -> None:
    signals = stuck_signals(view())
    assert signals.impact is Impact.BRING_UP
    assert dict(signals.pending_since) == {Side.RESPONDER: T0}
    assert dict(signals.unverified_since) == {}


def test_p14_both_halves_live_the_side_that_has_not_verified() -> None:
    both_final = {Side.NEGOTIATOR: (FINAL,), Side.RESPONDER: (FINAL,)}
    signals = stuck_signals(
        view(
            feature_states=both_final,
            verification={Side.NEGOTIATOR: VERIFIED, Side.RESPONDER: UNVERIFIED},
        )
    )
    assert dict(signals.pending_since) == {}
    assert dict(signals.unverified_since) == {Side.RESPONDER: T0}


def test_impact_outage_after_ready_degraded_while_ready_none_when_healthy() -> None:
    assert stuck_signals(view(ever_ready=True)).impact is Impact.OUTAGE
    assert stuck_signals(view(ready=True, ever_ready=True, degraded=True)).impact is Impact.DEGRADED
    healthy = stuck_signals(view(ready=True, ever_ready=True))
    assert healthy.impact is Impact.NONE
    assert not healthy.pending_since
    assert not healthy.unverified_since


def test_without_a_since_nothing_is_old_enough_to_raise() -> None:
    signals = stuck_signals(view(since=None))
    assert not signals.pending_since
    assert not signals.unverified_since


def test_maintenance_is_carried_through_p24() -> None:
    window = (T0, T0 + timedelta(hours=4))
    signals = stuck_signals(view(maintenance={Side.RESPONDER: window}))
    assert dict(signals.maintenance) == {Side.RESPONDER: window}
