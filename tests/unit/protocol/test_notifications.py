"""NotifyConnectionStatus rules: when to notify (P14), what it proves, when one is stale (P15)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Network

from interconnect_operator.protocol.notifications import (
    RENOTIFY_AFTER,
    live_notifications,
    notify_targets,
    verified_by_notifications,
)
from interconnect_operator.protocol.types import (
    ConnectionView,
    FeatureView,
    ProvisioningState,
    Side,
    VerificationState,
)

NOW = datetime(2026, 7, 1, 12, tzinfo=UTC)
CH = ("ch1", "ch2", "ch3", "ch4")
P, F = ProvisioningState.PENDING, ProvisioningState.FINAL
N, R = Side.NEGOTIATOR, Side.RESPONDER


def conn(
    state: ProvisioningState, *, verified: bool = False, channels: tuple[str, ...] = CH
) -> ConnectionView:
    features = {
        ch: FeatureView(ch, 1100 + i, IPv4Network(f"169.254.{i}.0/30"), 1500, {}, state=state)
        for i, ch in enumerate(channels)
    }
    verification = VerificationState.VERIFIED if verified else VerificationState.UNVERIFIED
    return ConnectionView("ic1", 1000, verification=verification, features=features)


def test_p14_no_notification_below_three_negotiated_channels() -> None:
    assert notify_targets(conn(F), conn(F), CH[:2], {}, NOW) == []


def test_p12_p14_three_of_four_is_not_enough_when_all_four_are_required() -> None:
    three = conn(F, channels=CH[:3])
    assert notify_targets(three, three, CH[:3], {}, NOW, required=CH) == []
    # an administratively disabled 4th channel is not required
    assert notify_targets(three, three, CH[:3], {}, NOW, required=CH[:3]) == [R, N]


def test_p14_the_side_whose_peer_is_final_is_told_responder_first() -> None:
    assert notify_targets(conn(F), conn(P), CH, {}, NOW) == [R]
    assert notify_targets(conn(P), conn(F), CH, {}, NOW) == [N]
    assert notify_targets(conn(F), conn(F), CH, {}, NOW) == [R, N]


def test_p14_verified_side_is_not_told_again() -> None:
    assert notify_targets(conn(F), conn(F, verified=True), CH, {}, NOW) == [N]


def test_p14_a_recent_notification_is_awaited_then_resent() -> None:
    recent = {R: NOW - RENOTIFY_AFTER + timedelta(seconds=1)}
    assert notify_targets(conn(F), conn(P), CH, recent, NOW) == []
    old = {R: NOW - RENOTIFY_AFTER}
    assert notify_targets(conn(F), conn(P), CH, old, NOW) == [R]


def test_p14_both_notified_and_both_final_imply_verified() -> None:
    final = {N: [True, True], R: [True, True]}
    assert verified_by_notifications([N, R], final)


def test_p14_one_notification_or_a_pending_feature_proves_nothing() -> None:
    assert not verified_by_notifications([R], {N: [True], R: [True]})
    assert not verified_by_notifications([N, R], {N: [True, False], R: [True]})
    assert not verified_by_notifications([N, R], {N: [], R: [True]})


def test_p15_stale_notification_is_dropped_after_a_later_read() -> None:
    notified = {R: NOW, N: NOW}
    live = live_notifications(
        notified,
        {R: 3, N: 3},
        generation=4,
        final_per_side={N: [True], R: [True]},
        unverified={R: True, N: False},
    )
    assert live == {N: NOW}


def test_p15_no_read_since_the_notification_keeps_it() -> None:
    live = live_notifications({R: NOW}, {R: 4}, 4, {N: [True], R: [True]}, {R: True, N: True})
    assert live == {R: NOW}


def test_p15_not_all_final_means_the_notification_may_still_count() -> None:
    live = live_notifications(
        {R: NOW}, {R: 3}, 4, {N: [True, False], R: [True]}, {R: True, N: True}
    )
    assert live == {R: NOW}
