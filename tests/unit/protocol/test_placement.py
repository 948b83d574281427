"""Placement and capacity (P6-P7)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from interconnect_operator.protocol.placement import (
    REJECTION_MEMORY,
    InterconnectCapacity,
    NoCapacity,
    PlacementPolicy,
    candidates,
    live_rejections,
    place,
    policy_violation,
    pool_capacity,
)
from interconnect_operator.protocol.types import InterconnectState, InterconnectView

A = InterconnectState.ACTIVE


def ic(id_: str, max_: int, alloc: int = 0, state: InterconnectState = A) -> InterconnectView:
    return InterconnectView(id_, state, max_, alloc)


def test_p7_free_is_min_over_both_sides() -> None:
    neg = [ic("ic1", 10_000, 2_000)]
    resp = [ic("ic1", 10_000, 7_000)]
    assert candidates(neg, resp, 3_000, "u") == [InterconnectCapacity("ic1", neg[0], resp[0])]
    assert candidates(neg, resp, 3_001, "u") == []


def test_p7_only_active_on_both_sides() -> None:
    neg = [ic("ic1", 10_000), ic("ic2", 10_000), ic("ic3", 10_000)]
    resp = [ic("ic1", 10_000, state=InterconnectState.CLOSED), ic("ic2", 10_000)]
    assert [c.id for c in candidates(neg, resp, 1_000, "u")] == ["ic2"]


def test_p6_most_free_first_then_next_after_409() -> None:
    neg = [ic("ic1", 10_000, 5_000), ic("ic2", 10_000, 1_000), ic("ic3", 10_000, 3_000)]
    order = [c.id for c in candidates(neg, neg, 1_000, "u")]
    assert order == ["ic2", "ic3", "ic1"]
    nxt = place(neg, neg, 1_000, "u", exclude={"ic2"})
    assert isinstance(nxt, InterconnectCapacity)
    assert nxt.id == "ic3"


def test_p6_ties_spread_by_shared_uuid() -> None:
    neg = [ic(f"ic{i}", 10_000) for i in range(8)]
    firsts = {candidates(neg, neg, 1_000, f"uuid-{n}")[0].id for n in range(64)}
    assert len(firsts) > 1  # concurrent links do not all pick the same interconnect
    assert candidates(neg, neg, 1_000, "uuid-1") == candidates(neg, neg, 1_000, "uuid-1")


def test_p7_no_capacity_names_each_interconnect() -> None:
    neg = [ic("ic1", 10_000, 9_500), ic("ic2", 10_000, state=InterconnectState.PENDING)]
    resp = [ic("ic1", 10_000, 9_000), ic("ic2", 10_000)]
    r = place(neg, resp, 1_000, "u", exclude=())
    assert isinstance(r, NoCapacity)
    assert r.reason == "NoCapacity"
    assert "ic1: 500 Mbps free of 10000" in r.message
    assert "ic2: PENDING on the negotiator side" in r.message
    assert "1000 Mbps" in r.message


def test_p7_unknown_on_one_side_is_not_a_candidate() -> None:
    r = place([ic("ic1", 10_000)], [], 1_000, "u")
    assert isinstance(r, NoCapacity)
    assert "unknown to the responder" in r.message


def test_pool_capacity_totals_and_policy() -> None:
    neg = [ic("ic1", 10_000, 4_000), ic("ic2", 5_000, 0, InterconnectState.CLOSED)]
    pool = pool_capacity(neg, neg)
    assert pool.max_mbps == 15_000
    assert pool.allocated_mbps == 4_000
    assert pool.available_mbps == 6_000  # CLOSED takes no new connections
    assert pool.largest_free_mbps == 6_000
    assert policy_violation(2_000, PlacementPolicy(max_link_mbps=1_000)) is not None
    assert policy_violation(2_000, PlacementPolicy(headroom_mbps=5_000), pool) is not None
    assert policy_violation(1_000, PlacementPolicy(headroom_mbps=5_000), pool) is None
    assert policy_violation(300, PlacementPolicy(), None, [1000, 2000]) is not None
    refused = place(neg, neg, 2_000, "u", policy=PlacementPolicy(max_link_mbps=1_000))
    assert isinstance(refused, NoCapacity)
    assert "policy" in refused.message


views = st.lists(
    st.builds(
        lambda i, m, a, s: ic(f"ic{i}", m, min(a, m + 500), s),
        st.integers(0, 5),
        st.integers(0, 20_000),
        st.integers(0, 20_000),
        st.sampled_from(list(InterconnectState)),
    ),
    max_size=6,
    unique_by=lambda v: v.id,
)


@settings(max_examples=200, deadline=None)
@given(neg=views, resp=views, bw=st.integers(1, 10_000), uuid=st.text(max_size=8))
def test_p7_candidates_never_over_max_only_active_deterministic(
    neg: list[InterconnectView], resp: list[InterconnectView], bw: int, uuid: str
) -> None:
    found = candidates(neg, resp, bw, uuid)
    by_n = {v.id: v for v in neg}
    by_r = {v.id: v for v in resp}
    for c in found:
        for side in (by_n[c.id], by_r[c.id]):
            assert side.state is InterconnectState.ACTIVE
            assert side.allocated_mbps + bw <= side.max_bandwidth_mbps
    frees = [c.free_mbps for c in found]
    assert frees == sorted(frees, reverse=True)
    assert candidates(list(reversed(neg)), list(reversed(resp)), bw, uuid) == found
    r = place(neg, resp, bw, uuid)
    assert (r == found[0]) if found else isinstance(r, NoCapacity)


def test_p6_refusals_expire_after_the_rejection_memory() -> None:
    now = datetime(2026, 7, 1, 12, tzinfo=UTC)
    rejected = {"ic1": now - REJECTION_MEMORY, "ic2": now - REJECTION_MEMORY / 2}
    assert live_rejections(rejected, now) == {"ic2": rejected["ic2"]}
    assert live_rejections(rejected, now, memory=timedelta(0)) == {}
