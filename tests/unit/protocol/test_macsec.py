"""MACsec rotation rules (P26-P31)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from interconnect_operator.protocol.macsec import (
    BAKE_TIME,
    ChannelMacsecView,
    CreateKey,
    DeleteKey,
    InterconnectMacsecView,
    MacsecKeyView,
    NoAction,
    bake_ends,
    fail_closed,
    generate_key,
    keys_in_status,
    may_rotate,
    next_action,
)

T0 = datetime(2026, 5, 1, tzinfo=UTC)
H = timedelta(hours=1)
DAY = timedelta(days=1)


def key(name: str, at: datetime, active: bool = True, failed: bool = False) -> MacsecKeyView:
    return MacsecKeyView(name, at, active, failed)


def chan(name: str, *keys: MacsecKeyView, ours: bool = True, requested: bool = False):
    return ChannelMacsecView(name, ours, tuple(keys), requested)


def icv(*channels: ChannelMacsecView) -> InterconnectMacsecView:
    return InterconnectMacsecView("ic1", tuple(channels))


def test_p31_generated_keys_are_64_hex_and_never_in_repr() -> None:
    k1, k2 = generate_key(), generate_key()
    for s in (k1.cak, k1.ckn):
        assert re.fullmatch(r"[0-9a-f]{64}", s.reveal())
        assert s.reveal() not in repr(k1)
    assert k1.cak.reveal() != k2.cak.reveal()
    assert k1.cak.reveal() != k1.ckn.reveal()


def test_p27_manager_only() -> None:
    v = icv(chan("ch1", key("k1", T0), ours=False))
    verdict = may_rotate(v, "ch1", T0 + DAY)
    assert (verdict.allowed, verdict.reason) == (False, "NotManager")


def test_p29_bake_time_two_hours_interconnect_wide() -> None:
    v = icv(chan("ch1", key("k1", T0)), chan("ch2", key("k2", T0 - DAY)))
    assert bake_ends(v) == T0 + BAKE_TIME
    early = may_rotate(v, "ch2", T0 + H)
    assert (early.allowed, early.reason, early.not_before) == (False, "BakeTime", T0 + 2 * H)
    assert may_rotate(v, "ch2", T0 + 2 * H).allowed


def test_p29_one_rotating_channel_per_interconnect() -> None:
    v = icv(
        chan("ch1", key("old", T0 - DAY), key("new", T0 - 3 * H, active=False)),
        chan("ch2", key("k2", T0 - DAY)),
        chan("ch3", key("k3", T0 - DAY)),
        chan("ch4"),  # no key yet: N+1 = 5 leaves room, so the P29 rule decides
    )
    verdict = may_rotate(v, "ch2", T0)
    assert (verdict.allowed, verdict.reason) == (False, "OtherChannelRotating")


def test_p29_first_keys_may_be_set_in_parallel() -> None:
    v = icv(chan("ch1", key("old", T0, active=False), key("new", T0)), chan("ch2"))
    assert may_rotate(v, "ch2", T0).allowed


def test_p26_key_limits() -> None:
    full = icv(chan("ch1", key("a", T0 - DAY), key("b", T0 - DAY)))
    assert may_rotate(full, "ch1", T0).reason == "ChannelKeyLimit"
    # 2 channels -> at most 3 keys
    v = icv(chan("ch1", key("a", T0 - DAY), key("b", T0 - DAY)), chan("ch2", key("c", T0 - DAY)))
    assert may_rotate(v, "ch2", T0).reason == "InterconnectKeyLimit"


def test_p28_completed_rotation_deletes_old_key_first() -> None:
    v = icv(chan("ch1", key("old", T0 - DAY, active=False), key("new", T0)))
    action = next_action(v, T0 + H, timedelta(days=30))
    assert action == DeleteKey("ch1", "old", "P28: rotation complete")


def test_p31_failed_key_skipped_forward_not_rolled_back() -> None:
    v = icv(chan("ch1", key("old", T0 - DAY), key("new", T0, active=False, failed=True)))
    action = next_action(v, T0 + H, timedelta(days=30))
    assert isinstance(action, DeleteKey)
    assert action.key == "new"  # the old active key stays; a fresh key follows
    assert action.then_rotate
    after = icv(chan("ch1", key("old", T0 - DAY), requested=True))
    assert next_action(after, T0 + 3 * H, timedelta(days=30)) == CreateKey("ch1")


def test_p31_fail_closed_when_no_active_key() -> None:
    assert fail_closed(chan("ch1", key("k", T0, active=False)))
    assert not fail_closed(chan("ch1", key("k", T0)))
    assert not fail_closed(chan("ch1"))


def test_p30_requested_rotation_and_interval() -> None:
    fresh = icv(chan("ch1", key("k", T0 - DAY), requested=True))
    assert next_action(fresh, T0, timedelta(days=30)) == CreateKey("ch1")
    due = icv(chan("ch1", key("k", T0 - 31 * DAY)), chan("ch2", key("k2", T0 - 40 * DAY)))
    assert next_action(due, T0, timedelta(days=30)) == CreateKey("ch2")  # most overdue first
    idle = next_action(icv(chan("ch1", key("k", T0 - DAY))), T0, timedelta(days=30))
    assert isinstance(idle, NoAction)
    assert idle.reason == "NothingDue"


def test_p29_blocked_rotation_reports_when() -> None:
    v = icv(chan("ch1", key("k", T0)), chan("ch2", key("k2", T0 - 40 * DAY)))
    action = next_action(v, T0 + H, timedelta(days=30))
    assert isinstance(action, NoAction)
    assert (action.reason, action.not_before) == ("BakeTime", T0 + BAKE_TIME)


def test_p31_status_shows_no_key_material() -> None:
    out = keys_in_status([key("k", T0)])
    assert out == [{"name": "k", "startTime": T0.isoformat(), "active": True}]
