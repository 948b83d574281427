"""Link state machine: table tests of next step and status for each phase."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from interconnect_operator.protocol.conditions import ConditionStatus
from interconnect_operator.protocol.link_state import (
    RENOTIFY_AFTER,
    ConfirmKey,
    CreateFeature,
    CreateLocalConnection,
    CreateRemoteConnection,
    Decision,
    DeleteFeature,
    DeleteLocal,
    DeleteRemote,
    Done,
    Fail,
    Migrate,
    NotifyStatus,
    Phase,
    RequestGuidance,
    UpdateBandwidth,
    Wait,
)
from interconnect_operator.protocol.types import (
    AdminState,
    DeletionPolicy,
    InterconnectState,
    InterconnectView,
    Side,
)
from tests.unit.protocol.link_state_fixtures import (
    ALL,
    CH,
    FA,
    NEGOTIATED,
    NOW,
    SPEC,
    F,
    P,
    T,
    U,
    conn,
    feat,
    run,
)


def cond(d: Decision, type_: str) -> tuple[ConditionStatus, str]:
    c = d.status.condition(type_)
    return c.status, c.reason


# ---------------------------------------------------------------- key and placement


def test_p3_pending_confirms_key_first() -> None:
    d = run(key_confirmed=False)
    assert d.step == ConfirmKey()
    assert d.status.phase is Phase.PENDING
    assert cond(d, "KeyConfirmed") == (U, "AwaitingConfirmation")
    assert cond(d, "Ready")[0] is FA
    assert cond(d, "Reconciling") == (T, "ConfirmKey")


def test_p3_refused_key_fails_and_cleans_what_it_created() -> None:
    d = run(key_confirmed=False, key_refused="key already used")
    assert isinstance(d.step, Fail)
    assert d.step.reason == "KeyRefused"
    assert d.status.phase is Phase.FAILED
    assert d.status.failure is not None
    assert cond(d, "KeyConfirmed") == (FA, "KeyRefused")
    assert cond(d, "Stalled") == (T, "KeyRefused")
    leftover = run(neg=(conn(),), key_confirmed=False, key_refused="bad size")
    assert leftover.step == DeleteLocal("ic1")


def test_p3_remote_connection_implies_confirmed_key() -> None:
    d = run(neg=(conn(),), resp=(conn(),), key_confirmed=False)
    assert not isinstance(d.step, ConfirmKey)
    assert cond(d, "KeyConfirmed")[0] is T


def test_p6_p7_places_on_most_free_interconnect_local_first() -> None:
    d = run()
    assert d.step == CreateLocalConnection("ic1", 1000)
    assert d.status.phase is Phase.PLACING
    assert d.status.interconnect == "ic1"
    assert cond(d, "Placed") == (FA, "NotPlaced")


def test_p7_no_capacity_waits_stalled_with_reason() -> None:
    full = [InterconnectView("ic1", InterconnectState.ACTIVE, 1000, 500)]
    d = run(pool=full)
    assert isinstance(d.step, Wait)
    assert d.step.reason == "NoCapacity"
    assert cond(d, "Placed") == (FA, "NoCapacity")
    assert cond(d, "Stalled") == (T, "NoCapacity")
    assert "ic1: 500 Mbps free of 1000" in d.status.condition("Placed").message


def test_p5_remote_after_local_then_p8_guidance_in_the_same_decision() -> None:
    d = run(neg=(conn(),), interconnect="ic1")
    assert d.step == CreateRemoteConnection("ic1", 1000, False, then_guidance=True)
    assert d.status.phase is Phase.PLACING


def test_remote_carries_no_guidance_when_another_step_comes_first() -> None:
    # P16: the local side holds another bandwidth than the spec asks: the update
    # is decided next, not guidance. P22: the peer asks for guidance itself.
    d = run(neg=(conn(bw=2000),), interconnect="ic1")
    assert d.step == CreateRemoteConnection("ic1", 2000, False, then_guidance=False)
    d2 = run(neg=(conn(),), interconnect="ic1", deferred=True)
    assert d2.step == CreateRemoteConnection("ic1", 1000, True, then_guidance=False)


def test_p6_409_undoes_local_then_places_elsewhere() -> None:
    d = run(neg=(conn(),), interconnect="ic1", rejected_interconnects=frozenset({"ic1"}))
    assert d.step == DeleteLocal("ic1")
    d2 = run(interconnect="ic1", rejected_interconnects=frozenset({"ic1"}))
    assert d2.step == CreateLocalConnection("ic2", 1000)
    assert d2.status.interconnect == "ic2"


# ---------------------------------------------------------------- negotiation


def test_p8_guidance_once_both_connections_exist() -> None:
    d = run(neg=(conn(),), resp=(conn(),), interconnect="ic1")
    assert d.step == RequestGuidance("ic1")
    assert d.status.phase is Phase.NEGOTIATING
    assert cond(d, "Placed")[0] is T


def test_p9_p10_features_local_first_all_channels_concurrently() -> None:
    d = run(neg=(conn(),), resp=(conn(),), **NEGOTIATED)
    # P5 per channel: each carries its responder half (mirror), channels concurrent (P10).
    assert d.step == CreateFeature("ic1", "ch1", Side.NEGOTIATOR, mirror=True)
    assert [s.channel for s in d.concurrent] == list(CH)  # type: ignore[union-attr]
    assert all(s.side is Side.NEGOTIATOR for s in d.concurrent)  # type: ignore[union-attr]
    assert cond(d, "Negotiated") == (FA, "Negotiating")


def test_p5_remote_feature_copies_local() -> None:
    d = run(neg=(conn(states={"ch1": P}),), resp=(conn(),), **NEGOTIATED)
    assert d.step == CreateFeature("ic1", "ch1", Side.RESPONDER, copy_of=feat("ch1"))
    assert len(d.concurrent) == 4


def test_p10_refused_feature_restarts_from_fresh_guidance() -> None:
    d = run(
        neg=(conn(states=dict.fromkeys(CH, P)),),
        resp=(conn(states=dict.fromkeys(CH[1:], P)),),
        rejected_features={"ch1": "409 VLAN taken"},
        **NEGOTIATED,
    )
    assert isinstance(d.step, DeleteFeature)
    assert (d.step.channel, d.step.side) == ("ch1", Side.NEGOTIATOR)


def test_p12_fewer_than_three_channels_possible_is_stalled() -> None:
    blocked = dict.fromkeys(CH[:2], "no VLAN")
    d = run(neg=(conn(),), resp=(conn(),), blocked_channels=blocked, **NEGOTIATED)
    # ch3 and ch4 can still be created: keep going
    assert isinstance(d.step, CreateFeature)
    both = dict.fromkeys(CH[2:], P)
    d2 = run(
        neg=(conn(states=both),), resp=(conn(states=both),), blocked_channels=blocked, **NEGOTIATED
    )
    assert isinstance(d2.step, Wait)
    assert d2.step.reason == "NegotiationFailed"
    assert cond(d2, "Stalled") == (T, "NegotiationFailed")


# ---------------------------------------------------------------- provisioning


def test_p13_waits_for_final() -> None:
    pend = dict.fromkeys(CH, P)
    d = run(neg=(conn(states=pend),), resp=(conn(states=pend),), **NEGOTIATED)
    assert isinstance(d.step, Wait)
    assert d.step.reason == "WaitingForProvisioning"
    assert d.status.phase is Phase.PROVISIONING
    assert cond(d, "Negotiated") == (T, "Negotiated")
    assert cond(d, "Provisioned") == (FA, "FeaturesPending")


def test_p14_notify_the_side_whose_peer_is_final() -> None:
    d = run(neg=(conn(states=ALL),), resp=(conn(states=dict.fromkeys(CH, P)),), **NEGOTIATED)
    assert d.step == NotifyStatus("ic1", Side.RESPONDER)
    assert len(d.concurrent) == 1


def test_p14_both_final_notifies_both_and_renotifies_later() -> None:
    d = run(neg=(conn(states=ALL),), resp=(conn(states=ALL),), **NEGOTIATED)
    assert set(d.concurrent) == {
        NotifyStatus("ic1", Side.RESPONDER),
        NotifyStatus("ic1", Side.NEGOTIATOR),
    }
    assert d.status.phase is Phase.VERIFYING
    recent = {Side.RESPONDER: NOW, Side.NEGOTIATOR: NOW}
    d2 = run(neg=(conn(states=ALL),), resp=(conn(states=ALL),), notified_at=recent, **NEGOTIATED)
    assert isinstance(d2.step, Wait)
    assert d2.step.reason == "WaitingForVerification"
    old = {Side.RESPONDER: NOW - RENOTIFY_AFTER, Side.NEGOTIATOR: NOW}
    d3 = run(neg=(conn(states=ALL),), resp=(conn(states=ALL),), notified_at=old, **NEGOTIATED)
    assert d3.concurrent == (NotifyStatus("ic1", Side.RESPONDER),)


def test_p14_ready_when_verified_and_all_final_on_both_sides() -> None:
    d = run(
        neg=(conn(verified=True, states=ALL),),
        resp=(conn(verified=True, states=ALL),),
        **NEGOTIATED,
    )
    assert isinstance(d.step, Done)
    assert d.status.phase is Phase.READY
    assert d.status.ready
    for t in ("Ready", "KeyConfirmed", "Placed", "Negotiated", "Provisioned", "Verified"):
        assert cond(d, t)[0] is T, t
    assert cond(d, "Degraded")[0] is FA
    assert cond(d, "Reconciling")[0] is FA
    assert cond(d, "Stalled")[0] is FA
    ch1 = d.status.channels[0]
    assert (ch1.channel, ch1.vlan, ch1.mtu) == ("ch1", 1025, 9000)
    assert ch1.bgp[Side.RESPONDER].asn == 16509
    assert ch1.provisioning == {Side.NEGOTIATOR: F, Side.RESPONDER: F}
    assert d.status.providers[0].connection_name == "conn-ic1"
    assert "md5-very-secret" not in repr(d)


def test_p14_one_side_unverified_is_not_ready() -> None:
    d = run(
        neg=(conn(verified=True, states=ALL),),
        resp=(conn(verified=False, states=ALL),),
        notified_at={Side.RESPONDER: NOW},
        **NEGOTIATED,
    )
    assert not d.status.ready
    assert cond(d, "Verified") == (FA, "Unverified")
    assert "responder" in d.status.condition("Verified").message


def test_p12_three_of_four_with_blocked_fourth_is_degraded() -> None:
    three = dict.fromkeys(CH[:3], F)
    d = run(
        neg=(conn(verified=True, states=three),),
        resp=(conn(verified=True, states=three),),
        blocked_channels={"ch4": "channel disabled"},
        **NEGOTIATED,
    )
    assert d.status.phase is Phase.DEGRADED
    assert cond(d, "Degraded") == (T, "ReducedRedundancy")
    assert not d.status.ready
    assert d.status.channels[3].blocked == "channel disabled"
    assert not any(isinstance(s, CreateFeature) for s in d.concurrent)


def test_p12_three_of_four_during_bring_up_is_provisioning_not_degraded() -> None:
    states = {**dict.fromkeys(CH[:3], F), "ch4": P}
    d = run(neg=(conn(states=states),), resp=(conn(states=states),), **NEGOTIATED)
    assert d.status.phase is Phase.PROVISIONING
    assert cond(d, "Degraded")[0] is FA
    again = run(
        neg=(conn(states=states),), resp=(conn(states=states),), ever_ready=True, **NEGOTIATED
    )
    assert again.status.phase is Phase.DEGRADED  # P15: was ready, a feature went back


def test_disabled_connection_is_not_ready() -> None:
    d = run(
        neg=(conn(verified=True, states=ALL),),
        resp=(conn(verified=True, states=ALL, admin=AdminState.DISABLED),),
        **NEGOTIATED,
    )
    assert cond(d, "Ready") == (FA, "ConnectionDisabled")


# ---------------------------------------------------------------- update and migration

READY1 = conn(verified=True, states=ALL)


def test_p16_in_place_update_local_first_then_peer_then_notify() -> None:
    spec = replace(SPEC, bandwidth_mbps=2000)
    d = run(neg=(READY1,), resp=(READY1,), spec=spec, **NEGOTIATED)
    assert d.step == UpdateBandwidth("ic1", Side.NEGOTIATOR, 2000)
    assert d.status.phase is Phase.UPDATING
    d2 = run(neg=(replace(READY1, bandwidth_mbps=2000),), resp=(READY1,), spec=spec, **NEGOTIATED)
    assert d2.step == UpdateBandwidth("ic1", Side.RESPONDER, 2000)
    both = replace(READY1, bandwidth_mbps=2000)
    d3 = run(
        neg=(both,), resp=(both,), spec=spec, notify_after_update=frozenset(Side), **NEGOTIATED
    )
    assert d3.concurrent == (
        NotifyStatus("ic1", Side.RESPONDER),
        NotifyStatus("ic1", Side.NEGOTIATOR),
    )


def test_p17_peer_busy_waits() -> None:
    spec = replace(SPEC, bandwidth_mbps=2000)
    d = run(neg=(READY1,), resp=(READY1,), spec=spec, update_in_progress=True, **NEGOTIATED)
    assert isinstance(d.step, Wait)
    assert d.step.reason == "UpdateInProgress"


def test_p18_no_room_migrates_make_before_break() -> None:
    spec = replace(SPEC, bandwidth_mbps=5000)
    pool = [
        InterconnectView("ic1", InterconnectState.ACTIVE, 10_000, 8_000),
        InterconnectView("ic2", InterconnectState.ACTIVE, 10_000, 1_000),
    ]
    d = run(neg=(READY1,), resp=(READY1,), spec=spec, pool=pool, **NEGOTIATED)
    assert d.step == Migrate("ic1", "ic2", 5000)
    assert d.status.phase is Phase.MIGRATING
    assert d.status.migrating_to == "ic2"
    assert d.status.ready  # the old connection still carries traffic

    mig = {**NEGOTIATED, "migrating_to": "ic2"}
    d2 = run(neg=(READY1, conn("ic2", 5000)), resp=(READY1,), spec=spec, pool=pool, **mig)
    assert d2.step == CreateRemoteConnection("ic2", 5000, False)
    assert d2.status.phase is Phase.MIGRATING

    new = conn("ic2", 5000, verified=True, states=ALL)
    d3 = run(neg=(READY1, new), resp=(READY1, new), spec=spec, pool=pool, **mig)
    assert d3.step == DeleteRemote("ic1")
    d4 = run(neg=(READY1, new), resp=(new,), spec=spec, pool=pool, **mig)
    assert d4.step == DeleteLocal("ic1")
    d5 = run(neg=(new,), resp=(new,), spec=spec, pool=pool, **mig)
    assert isinstance(d5.step, Done)
    assert (d5.status.interconnect, d5.status.migrating_to) == ("ic2", None)
    assert d5.status.phase is Phase.READY


def test_p18_no_room_anywhere_is_stalled() -> None:
    spec = replace(SPEC, bandwidth_mbps=5000)
    pool = [
        InterconnectView("ic1", InterconnectState.ACTIVE, 10_000, 8_000),
        InterconnectView("ic2", InterconnectState.ACTIVE, 10_000, 8_000),
    ]
    d = run(neg=(READY1,), resp=(READY1,), spec=spec, pool=pool, **NEGOTIATED)
    assert isinstance(d.step, Wait)
    assert d.step.reason == "NoCapacity"
    assert cond(d, "Stalled") == (T, "NoCapacity")


# ---------------------------------------------------------------- deletion, pause, deferral


def test_p19_delete_remote_first_then_local_then_done() -> None:
    d = run(neg=(READY1,), resp=(READY1,), deleting=True, **NEGOTIATED)
    assert d.step == DeleteRemote("ic1")
    assert d.status.phase is Phase.DELETING
    assert not d.status.ready
    assert run(neg=(READY1,), deleting=True, **NEGOTIATED).step == DeleteLocal("ic1")
    assert run(deleting=True, **NEGOTIATED).step == Done("Deleted")


def test_p19_orphan_touches_nothing() -> None:
    spec = replace(SPEC, deletion_policy=DeletionPolicy.ORPHAN)
    d = run(neg=(READY1,), resp=(READY1,), spec=spec, deleting=True, **NEGOTIATED)
    assert d.step == Done("Orphaned")
    assert d.concurrent == (Done("Orphaned"),)


def test_paused_does_nothing() -> None:
    d = run(spec=replace(SPEC, paused=True))
    assert isinstance(d.step, Wait)
    assert d.status.phase is Phase.PAUSED
    assert cond(d, "Reconciling")[0] is FA


def test_p22_deferred_creates_remote_with_flag_and_waits_for_peer() -> None:
    d = run(neg=(conn(),), interconnect="ic1", deferred=True)
    assert d.step == CreateRemoteConnection("ic1", 1000, True)
    d2 = run(
        neg=(conn(),),
        resp=(conn(),),
        interconnect="ic1",
        deferred=True,
        deferral_timeout=timedelta(hours=24),
        deferred_since=NOW - timedelta(hours=1),
    )
    assert isinstance(d2.step, Wait)
    assert d2.step.reason == "DeferredToPeer"


def test_p23_deferral_timeout_rolls_back_then_fails() -> None:
    kw = {
        "interconnect": "ic1",
        "deferred": True,
        "deferral_timeout": timedelta(hours=24),
        "deferred_since": NOW - timedelta(hours=25),
    }
    assert run(neg=(conn(),), resp=(conn(),), **kw).step == DeleteRemote("ic1")
    assert run(neg=(conn(),), **kw).step == DeleteLocal("ic1")
    d = run(**kw)
    assert isinstance(d.step, Fail)
    assert d.step.reason == "DeferralTimeout"
    assert "24h" in d.step.message
    assert d.status.phase is Phase.FAILED
    assert d.status.failure is not None


def test_p23_failure_sticks_until_spec_changes() -> None:
    record = run(
        interconnect="ic1",
        deferred=True,
        deferral_timeout=timedelta(hours=1),
        deferred_since=NOW - timedelta(hours=2),
    ).status.failure
    assert record is not None
    d = run(failure=record)
    assert isinstance(d.step, Fail)
    retry = run(spec=replace(SPEC, generation=2), failure=record)
    assert retry.step == CreateLocalConnection("ic1", 1000)


@pytest.mark.parametrize(
    ("kw", "phase"),
    [
        ({"key_confirmed": False}, Phase.PENDING),
        ({}, Phase.PLACING),
        ({"deleting": True}, Phase.DELETING),
    ],
)
def test_conditions_complete_and_generation_stamped(kw: dict[str, object], phase: Phase) -> None:
    d = run(spec=replace(SPEC, generation=7), **kw)
    assert d.status.phase is phase
    types = [c.type for c in d.status.conditions]
    assert types == [
        "Ready",
        "KeyConfirmed",
        "Placed",
        "Negotiated",
        "Provisioned",
        "Verified",
        "Degraded",
        "Resilient",
        "WithinPrefixLimits",
        "Reconciling",
        "Stalled",
    ]
    assert all(c.observed_generation == 7 for c in d.status.conditions)
    assert all(
        c.reason and c.reason[0].isupper() and " " not in c.reason for c in d.status.conditions
    )
