"""In-use space kept incrementally (protocol.spans) against from-scratch computation (P9).

Random sequences of adds and removes of nesting aligned blocks must leave
the same merged union, counts and digest as building the set again from
what is held; and allocation reading an incrementally kept space (with an
in-flight layer on top) must propose exactly what the from-scratch
computation this replaced proposes: the reference below is that former
code (merge every subnet in use, then walk), kept here only as an oracle.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from ipaddress import IPv4Network, IPv6Network, ip_address, ip_network

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from interconnect_operator.protocol.allocation import (
    AllocationFailure,
    ChannelUsage,
    Constraint,
    FeatureAllocation,
    allocate_feature,
)
from interconnect_operator.protocol.spans import SpanSet, UsedSpace, merge_intervals, network_block
from interconnect_operator.protocol.types import (
    GuidanceView,
    IntRange,
    IPNetwork,
    LinkSpec,
    SubnetGuidance,
)

# ---------------------------------------------------------------- reference (former code)


def _ref_overlap_end(merged: Sequence[tuple[int, int]], lo: int, hi: int) -> int | None:
    starts = [s for s, _ in merged]
    idx = bisect_right(starts, hi) - 1
    if idx >= 0 and merged[idx][1] >= lo:
        return merged[idx][1]
    return None


def _ref_first_free(region: IPNetwork, prefix: int, merged: list[tuple[int, int]]) -> int | None:
    size = 1 << (region.max_prefixlen - prefix)
    pos, end = int(region.network_address), int(region.broadcast_address)
    while pos + size - 1 <= end:
        hit = _ref_overlap_end(merged, pos, pos + size - 1)
        if hit is None:
            return pos
        pos = ((hit + 1 + size - 1) // size) * size
    return None


def _ref_subnet(
    neg: Sequence[SubnetGuidance],
    resp: Sequence[SubnetGuidance],
    lengths: Sequence[int],
    in_use: Iterable[IPNetwork],
) -> IPNetwork | None:
    """The former ``_allocate_subnet`` for guidance whose includes are equal on both sides."""
    regions = sorted({g.include for g in (*neg, *resp)}, key=lambda n: int(n.network_address))
    excludes = [x for g in (*neg, *resp) for x in g.excludes]
    merged = merge_intervals(
        (int(n.network_address), int(n.broadcast_address)) for n in (*excludes, *in_use)
    )
    for pref in (g.preferred for g in (*resp, *neg)):
        if pref is None or pref.prefixlen not in lengths:
            continue
        if not any(pref.subnet_of(r) for r in regions):  # type: ignore[arg-type]
            continue
        if _ref_overlap_end(merged, int(pref.network_address), int(pref.broadcast_address)) is None:
            return pref
    for prefix in sorted(lengths, reverse=True):
        for region in regions:
            start = _ref_first_free(region, prefix, merged)
            if start is not None:
                return ip_network((ip_address(start), prefix))
    return None


def _ref_vlan(lo: int, hi: int, used: Iterable[int]) -> int | None:
    taken = sorted(set(used))
    vlan = lo
    idx = bisect_left(taken, vlan)
    while idx < len(taken) and taken[idx] == vlan and vlan <= hi:
        vlan += 1
        idx += 1
    return vlan if vlan <= hi else None


# ---------------------------------------------------------------- the span set


def _blocks(universe_bits: int) -> st.SearchStrategy[tuple[int, int]]:
    def block(bits: int, index: int) -> tuple[int, int]:
        size = 1 << bits
        lo = (index * size) % (1 << universe_bits)
        return lo, lo + size - 1

    return st.builds(block, st.integers(0, 5), st.integers(0, 1 << universe_bits))


def _check(spans: SpanSet, held: list[tuple[int, int]]) -> None:
    fresh = SpanSet(held)
    assert spans.intervals() == merge_intervals(held) == fresh.intervals()
    assert spans.total == len(held) == fresh.total
    assert spans.digest == fresh.digest
    assert list(spans.blocks()) == sorted(set(held))
    for lo, hi in set(held):
        assert spans.count(lo, hi) == held.count((lo, hi))


@settings(max_examples=300, deadline=None)
@given(
    ops=st.lists(st.tuples(st.booleans(), _blocks(8), st.integers(0, 1000)), max_size=60),
    queries=st.lists(st.tuples(st.integers(0, 255), st.integers(0, 40)), max_size=10),
)
def test_span_set_add_and_discard_match_a_fresh_merge(
    ops: list[tuple[bool, tuple[int, int], int]], queries: list[tuple[int, int]]
) -> None:
    spans = SpanSet()
    held: list[tuple[int, int]] = []
    for add, block, pick in ops:
        if add or not held:
            spans.add(*block)
            held.append(block)
        else:
            # Remove one copy of something held (nested blocks, duplicates).
            victim = held.pop(pick % len(held))
            spans.discard(*victim)
        _check(spans, held)
        merged = merge_intervals(held)
        for lo, width in queries:
            assert spans.overlap_end(lo, lo + width) == _ref_overlap_end(merged, lo, lo + width)


def test_span_set_keeps_a_block_covered_by_a_larger_one_and_refuses_unaligned() -> None:
    spans = SpanSet([(0, 7)])
    spans.add(4, 7)
    spans.add(8, 11)
    assert spans.intervals() == [(0, 11)]
    spans.discard(4, 7)  # still inside (0, 7)
    assert spans.intervals() == [(0, 11)]
    spans.add(2, 2)
    spans.discard(0, 7)  # only (2, 2) and (8, 11) remain
    assert spans.intervals() == [(2, 2), (8, 11)]
    with pytest.raises(KeyError):
        spans.discard(0, 7)
    with pytest.raises(ValueError, match="aligned"):
        spans.add(1, 2)
    with pytest.raises(ValueError, match="aligned"):
        spans.add(2, 4)


def test_used_space_repr_follows_content_not_history() -> None:
    a = UsedSpace([1100], [IPv4Network("169.254.0.0/30")])
    b = UsedSpace()
    b.add(1101, IPv4Network("169.254.0.4/30"), IPv6Network("fd00::/126"))
    b.add(1100, IPv4Network("169.254.0.0/30"), None)
    assert repr(a) != repr(b)
    b.discard(1101, IPv4Network("169.254.0.4/30"), IPv6Network("fd00::/126"))
    assert repr(a) == repr(b)
    b.add(1100, None, None)  # a second holder is a change of what is held
    assert repr(a) != repr(b)


# ---------------------------------------------------------------- allocation on a kept space


REGION = IPv4Network("10.0.0.0/24")
REGION6 = IPv6Network("fd00::/120")
SPEC6 = LinkSpec(1000, ipv6=True)
small_v4 = st.builds(
    lambda start, plen: IPv4Network((int(REGION.network_address) + start, plen), strict=False),
    st.integers(0, 255),
    st.integers(27, 31),
)


@st.composite
def guidance_pair(draw: st.DrawFn) -> tuple[GuidanceView, GuidanceView]:
    entry = SubnetGuidance(
        REGION,
        excludes=tuple(draw(st.lists(small_v4, max_size=2))),
        preferred=draw(st.none() | small_v4),
    )
    lengths = tuple(sorted(draw(st.sets(st.integers(28, 31), min_size=1, max_size=2))))
    hi = draw(st.integers(1025, 1100))
    views = tuple(
        GuidanceView(
            "ch1",
            vlan_ranges=(IntRange(1025, hi),),
            ipv4_subnets=(entry,),
            ipv4_prefix_lengths=lengths,
            ipv6_subnets=(SubnetGuidance(REGION6),),
            ipv6_prefix_lengths=(126,),
            asn_ranges=(IntRange(64512, 64520),),
        )
        for _ in range(2)
    )
    return views[0], views[1]


Held = tuple[int, IPv4Network, IPv6Network | None]


def _reference(
    neg: GuidanceView, resp: GuidanceView, held: Sequence[Held], extra: Sequence[Held]
) -> tuple[int, IPNetwork, IPNetwork | None] | Constraint:
    everything = [*held, *extra]
    vlan = _ref_vlan(1025, neg.vlan_ranges[0].stop, (h[0] for h in everything))
    if vlan is None:
        return Constraint.VLAN
    v4 = _ref_subnet(
        neg.ipv4_subnets, resp.ipv4_subnets, neg.ipv4_prefix_lengths, (h[1] for h in everything)
    )
    if v4 is None:
        return Constraint.IPV4
    v6 = _ref_subnet(
        neg.ipv6_subnets, resp.ipv6_subnets, (126,), (h[2] for h in everything if h[2] is not None)
    )
    if v6 is None:
        return Constraint.IPV6
    return vlan, v4, v6


def _outcome(
    result: FeatureAllocation | AllocationFailure,
) -> tuple[int, IPNetwork, IPNetwork | None] | Constraint:
    if isinstance(result, AllocationFailure):
        return result.constraint
    return result.vlan, result.ipv4_subnet, result.ipv6_subnet


@settings(max_examples=200, deadline=None)
@given(
    pair=guidance_pair(),
    ops=st.lists(
        st.tuples(st.sampled_from(["allocate", "twin", "remove", "change"]), st.integers(0, 999)),
        max_size=40,
    ),
    extra_count=st.integers(0, 3),
)
def test_allocation_on_a_kept_space_matches_the_former_from_scratch_computation(
    pair: tuple[GuidanceView, GuidanceView],
    ops: list[tuple[str, int]],
    extra_count: int,
) -> None:
    neg, resp = pair
    space = UsedSpace()
    held: list[Held] = []  # the multiset the space should hold (both sides' copies)
    for op, pick in ops:
        if op == "allocate" or not held:
            # Some held features are also in flight elsewhere: a small layer on top.
            extra = [held[(pick + i) % len(held)] for i in range(extra_count)] if held else []
            layer = UsedSpace(
                (h[0] for h in extra), (h[1] for h in extra), (h[2] for h in extra if h[2])
            )
            usage = (space, layer) if extra else space
            result = allocate_feature("ch1", neg, resp, usage, SPEC6)
            assert _outcome(result) == _reference(neg, resp, held, extra)
            scratch = ChannelUsage(
                frozenset(h[0] for h in [*held, *extra]),
                tuple(h[1] for h in [*held, *extra]),
                tuple(h[2] for h in [*held, *extra] if h[2] is not None),
            )
            assert result == allocate_feature("ch1", neg, resp, scratch, SPEC6)
            if isinstance(result, FeatureAllocation):
                assert isinstance(result.ipv4_subnet, IPv4Network)
                assert isinstance(result.ipv6_subnet, IPv6Network)
                item: Held = (result.vlan, result.ipv4_subnet, result.ipv6_subnet)
                space.add(*item)
                held.append(item)
        elif op == "twin":  # the other side records its copy of a feature
            item = held[pick % len(held)]
            space.add(*item)
            held.append(item)
        elif op == "remove":
            item = held.pop(pick % len(held))
            space.discard(*item)
        else:  # a feature recorded again with other values (replaced)
            old = held.pop(pick % len(held))
            new: Held = (old[0] + 1, IPv4Network((int(old[1].network_address), 31)), None)
            space.discard(*old)
            space.add(*new)
            held.append(new)
        fresh = UsedSpace(
            (h[0] for h in held), (h[1] for h in held), (h[2] for h in held if h[2] is not None)
        )
        assert repr(space) == repr(fresh)
        for mine, theirs in ((space.vlans, fresh.vlans), (space.ipv4, fresh.ipv4)):
            assert mine.intervals() == theirs.intervals()
        assert space.ipv6.intervals() == fresh.ipv6.intervals()


def test_failure_counts_every_copy_in_use_across_layers() -> None:
    g = GuidanceView(
        "ch1",
        vlan_ranges=(IntRange(1025, 1026),),
        ipv4_subnets=(SubnetGuidance(IPv4Network("10.0.0.0/29")),),
        ipv4_prefix_lengths=(30,),
    )
    base = UsedSpace([1025, 1025], [IPv4Network("10.0.0.0/30")] * 2)
    extra = UsedSpace([1025], [IPv4Network("10.0.0.4/30")])
    f = allocate_feature("ch1", g, g, (base, extra), LinkSpec(1000))
    assert isinstance(f, AllocationFailure)
    assert f.constraint is Constraint.IPV4
    assert "(0 excluded, 3 in use)" in f.message
    extra.add(1026, None, None)
    f = allocate_feature("ch1", g, g, (base, extra), LinkSpec(1000))
    assert isinstance(f, AllocationFailure)
    assert f.message == "channel ch1: no VLAN in 1025-1026 free on both sides (2 in use)"


@pytest.mark.parametrize(
    "cidr",
    [
        "10.0.0.0/30",
        "169.254.7.4/30",
        "10.0.0.1/32",
        "0.0.0.0/0",
        "fd00:1::/126",
        "::/0",
        "fd00::1/128",
    ],
)
def test_a_network_block_is_its_first_and_last_address_and_caches_nothing(cidr: str) -> None:
    net, same = ip_network(cidr), ip_network(cidr)
    held = dict(vars(net))

    assert network_block(net) == (int(same[0]), int(same[-1]))
    # Nothing cached on the network: the snapshot keeps one per feature and family.
    assert vars(net) == held
