"""Allocation (P8-P11): properties against a brute-force oracle, and examples."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_network

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from interconnect_operator.protocol.allocation import (
    AllocationFailure,
    ChannelUsage,
    Constraint,
    FeatureAllocation,
    allocate_all,
    allocate_feature,
    feature_follows_guidance,
    usage_from_features,
)
from interconnect_operator.protocol.types import (
    AdminState,
    BgpEnd,
    FeatureView,
    GuidanceView,
    IntRange,
    LinkSpec,
    Secret,
    Side,
    SubnetGuidance,
)

SPACE = IPv4Network("10.0.0.0/26")  # 64 addresses: small enough to enumerate
SPEC = LinkSpec(bandwidth_mbps=1000)


def guidance(channel: str = "ch1", **kw: object) -> GuidanceView:
    base: dict[str, object] = {
        "vlan_ranges": (IntRange(1025, 4094),),
        "ipv4_subnets": (SubnetGuidance(IPv4Network("169.254.0.0/16")),),
        "ipv4_prefix_lengths": (30,),
        "mtu_ranges": (IntRange(1500, 9000),),
        "asn_ranges": (IntRange(64512, 64520),),
    }
    base.update(kw)
    return GuidanceView(channel, **base)  # type: ignore[arg-type]


def ok(result: FeatureAllocation | AllocationFailure) -> FeatureAllocation:
    assert isinstance(result, FeatureAllocation), str(result)
    return result


def fail(result: FeatureAllocation | AllocationFailure) -> AllocationFailure:
    assert isinstance(result, AllocationFailure), result
    return result


# ---------------------------------------------------------------- examples


def test_p9_basic_allocation_picks_first_free_everything() -> None:
    a = ok(allocate_feature("ch1", guidance(), guidance(), ChannelUsage(), SPEC))
    assert a.vlan == 1025
    assert a.ipv4_subnet == IPv4Network("169.254.0.0/30")
    assert a.bgp[Side.NEGOTIATOR].ipv4 == IPv4Address("169.254.0.1")
    assert a.bgp[Side.RESPONDER].ipv4 == IPv4Address("169.254.0.2")
    assert a.mtu == 9000
    assert a.bgp[Side.NEGOTIATOR].asn == 64512
    assert a.ipv6_subnet is None


def test_p9_slash29_hosts_are_first_two_usable() -> None:
    g = guidance(ipv4_prefix_lengths=(29,))
    a = ok(allocate_feature("ch1", g, g, ChannelUsage(), SPEC))
    assert a.ipv4_subnet.prefixlen == 29
    assert [a.bgp[s].ipv4 for s in Side] == [
        IPv4Address("169.254.0.1"),
        IPv4Address("169.254.0.2"),
    ]


def test_p9_ipv6_slash126_hosts_and_requested_only() -> None:
    g = guidance(
        ipv6_subnets=(SubnetGuidance(IPv6Network("fd20::/64")),), ipv6_prefix_lengths=(126,)
    )
    a = ok(allocate_feature("ch1", g, g, ChannelUsage(), LinkSpec(1000, ipv6=True)))
    assert a.ipv6_subnet == IPv6Network("fd20::/126")
    assert a.bgp[Side.NEGOTIATOR].ipv6 == IPv6Address("fd20::1")
    assert a.bgp[Side.RESPONDER].ipv6 == IPv6Address("fd20::2")


def test_p9_vlan_above_1024_even_when_ranges_start_lower() -> None:
    g = guidance(vlan_ranges=(IntRange(1, 2000),))
    a = ok(allocate_feature("ch1", g, g, ChannelUsage(), SPEC))
    assert a.vlan == 1025


def test_p9_vlan_intersection_of_both_sides_and_in_use() -> None:
    neg = guidance(vlan_ranges=(IntRange(1100, 1200),))
    resp = guidance(vlan_ranges=(IntRange(1150, 1300),))
    a = ok(allocate_feature("ch1", neg, resp, ChannelUsage(vlans=frozenset({1150, 1151})), SPEC))
    assert a.vlan == 1152


def test_p9_vlan_exhausted_reason_names_channel_range_and_count() -> None:
    used = frozenset(range(1025, 4095))
    f = fail(allocate_feature("ch2", guidance("ch2"), guidance("ch2"), ChannelUsage(used), SPEC))
    assert f.constraint is Constraint.VLAN
    assert f.reason == "NoVlanAvailable"
    assert f.message == "channel ch2: no VLAN in 1025-4094 free on both sides (3070 in use)"


def test_p9_preferred_subnet_first_when_valid() -> None:
    resp = guidance(
        ipv4_subnets=(
            SubnetGuidance(IPv4Network("169.254.0.0/16"), preferred=IPv4Network("169.254.1.16/30")),
        )
    )
    a = ok(allocate_feature("ch1", guidance(), resp, ChannelUsage(), SPEC))
    assert a.ipv4_subnet == IPv4Network("169.254.1.16/30")


def test_p9_preferred_subnet_skipped_when_in_use_or_excluded() -> None:
    pref = IPv4Network("169.254.1.16/30")
    resp = guidance(
        ipv4_subnets=(
            SubnetGuidance(
                IPv4Network("169.254.0.0/16"),
                excludes=(IPv4Network("169.254.0.0/28"),),
                preferred=pref,
            ),
        )
    )
    a = ok(allocate_feature("ch1", guidance(), resp, ChannelUsage(ipv4=(pref,)), SPEC))
    assert a.ipv4_subnet == IPv4Network("169.254.0.16/30")


def test_p9_subnet_exhausted_reason() -> None:
    g = guidance(ipv4_subnets=(SubnetGuidance(IPv4Network("169.254.0.0/29")),))
    used = (IPv4Network("169.254.0.0/30"), IPv4Network("169.254.0.4/30"))
    f = fail(allocate_feature("ch1", g, g, ChannelUsage(ipv4=used), SPEC))
    assert f.constraint is Constraint.IPV4
    assert "no IPv4 /30 inside 169.254.0.0/29 outside excludes and in-use" in f.message


def test_p9_no_common_include_subnet() -> None:
    neg = guidance(ipv4_subnets=(SubnetGuidance(IPv4Network("169.254.0.0/24")),))
    resp = guidance(ipv4_subnets=(SubnetGuidance(IPv4Network("169.254.1.0/24")),))
    f = fail(allocate_feature("ch1", neg, resp, ChannelUsage(), SPEC))
    assert "no IPv4 include subnet common to both sides" in f.message


def test_p9_no_common_prefix_length() -> None:
    f = fail(
        allocate_feature(
            "ch1", guidance(ipv4_prefix_lengths=(29,)), guidance(), ChannelUsage(), SPEC
        )
    )
    assert "prefix length" in f.message


def test_p9_highest_common_mtu_capped_by_preference() -> None:
    neg = guidance(mtu_ranges=(IntRange(1500, 1500), IntRange(8000, 9001)))
    resp = guidance(mtu_ranges=(IntRange(1400, 8500),))
    assert ok(allocate_feature("ch1", neg, resp, ChannelUsage(), SPEC)).mtu == 8500
    capped = LinkSpec(1000, mtu=4000)
    assert ok(allocate_feature("ch1", neg, resp, ChannelUsage(), capped)).mtu == 1500
    f = fail(allocate_feature("ch1", neg, resp, ChannelUsage(), LinkSpec(1000, mtu=1300)))
    assert f.constraint is Constraint.MTU


def test_p9_asn_per_side_preference_only_inside_range() -> None:
    neg = guidance(asn_ranges=(IntRange(64600, 64700),))
    resp = guidance(asn_ranges=(IntRange(16509, 16509),))
    a = ok(allocate_feature("ch1", neg, resp, ChannelUsage(), LinkSpec(1000, bgp_asn=64650)))
    assert a.bgp[Side.NEGOTIATOR].asn == 64650
    assert a.bgp[Side.RESPONDER].asn == 16509


def test_p9_overlapping_asn_ranges_still_give_distinct_asns() -> None:
    g = guidance(asn_ranges=(IntRange(64512, 64512), IntRange(64600, 64610)))
    a = ok(allocate_feature("ch1", g, g, ChannelUsage(), SPEC))
    assert a.bgp[Side.NEGOTIATOR].asn == 64512
    assert a.bgp[Side.RESPONDER].asn == 64600


def test_p9_preferred_asn_goes_to_one_end_only() -> None:
    g = guidance(asn_ranges=(IntRange(64512, 64520),))
    a = ok(allocate_feature("ch1", g, g, ChannelUsage(), LinkSpec(1000, bgp_asn=64515)))
    assert a.bgp[Side.NEGOTIATOR].asn == 64515
    assert a.bgp[Side.RESPONDER].asn == 64512


def test_p9_responder_single_asn_moves_the_negotiator_off_it() -> None:
    neg = guidance(asn_ranges=(IntRange(64512, 64520),))
    resp = guidance(asn_ranges=(IntRange(64512, 64512),))
    a = ok(allocate_feature("ch1", neg, resp, ChannelUsage(), SPEC))
    assert (a.bgp[Side.NEGOTIATOR].asn, a.bgp[Side.RESPONDER].asn) == (64513, 64512)


def test_p9_no_distinct_asn_pair_is_a_clear_failure() -> None:
    g = guidance(asn_ranges=(IntRange(64512, 64512),))
    f = fail(allocate_feature("ch1", g, g, ChannelUsage(), SPEC))
    assert f.constraint is Constraint.DISTINCT_ASN
    assert f.reason == "NoDistinctAsnPair"
    assert "64512" in f.message
    assert "distinct" in f.message


def test_p9_feature_with_equal_asns_does_not_follow_guidance() -> None:
    g = guidance()
    a = ok(allocate_feature("ch1", g, g, ChannelUsage(), SPEC))
    view = a.to_view()
    same = BgpEnd(asn=64512, ipv4=view.bgp[Side.RESPONDER].ipv4)
    clashing = FeatureView(
        channel=view.channel,
        vlan=view.vlan,
        ipv4_subnet=view.ipv4_subnet,
        mtu=view.mtu,
        bgp={Side.NEGOTIATOR: view.bgp[Side.NEGOTIATOR], Side.RESPONDER: same},
    )
    assert feature_follows_guidance(clashing, g, g, ChannelUsage()) == [
        "both BGP ends use ASN 64512"
    ]


@settings(max_examples=200, deadline=None)
@given(
    neg=st.lists(st.tuples(st.integers(64512, 64520), st.integers(0, 3)), min_size=1, max_size=3),
    resp=st.lists(st.tuples(st.integers(64512, 64520), st.integers(0, 3)), min_size=1, max_size=3),
    preference=st.none() | st.integers(64510, 64525),
)
def test_p9_asns_are_distinct_or_the_failure_says_why(
    neg: list[tuple[int, int]], resp: list[tuple[int, int]], preference: int | None
) -> None:
    gn = guidance(asn_ranges=tuple(IntRange(a, a + n) for a, n in neg))
    gr = guidance(asn_ranges=tuple(IntRange(a, a + n) for a, n in resp))
    result = allocate_feature("ch1", gn, gr, ChannelUsage(), LinkSpec(1000, bgp_asn=preference))
    allowed_n = {x for r in gn.asn_ranges for x in range(r.start, r.stop + 1)}
    allowed_r = {x for r in gr.asn_ranges for x in range(r.start, r.stop + 1)}
    possible = any(a != b for a in allowed_n for b in allowed_r)
    if not possible:
        assert fail(result).constraint is Constraint.DISTINCT_ASN
        return
    a = ok(result)
    n, r = a.bgp[Side.NEGOTIATOR].asn, a.bgp[Side.RESPONDER].asn
    assert n != r
    assert n in allowed_n
    assert r in allowed_r
    assert feature_follows_guidance(a.to_view(), gn, gr, ChannelUsage()) == []


def test_p9_disabled_channel_and_missing_guidance() -> None:
    off = guidance(admin_state=AdminState.DISABLED)
    assert fail(allocate_feature("ch1", guidance(), off, ChannelUsage(), SPEC)).constraint is (
        Constraint.CHANNEL
    )
    assert fail(allocate_feature("ch1", None, guidance(), ChannelUsage(), SPEC)).constraint is (
        Constraint.GUIDANCE
    )


def test_p9_md5_passed_through_and_never_in_repr() -> None:
    spec = LinkSpec(1000, md5=Secret("hunter2-md5"))
    a = ok(allocate_feature("ch1", guidance(), guidance(), ChannelUsage(), spec))
    assert a.md5 is not None
    assert a.md5.reveal() == "hunter2-md5"
    assert "hunter2" not in repr(a)
    assert "hunter2" not in repr(spec)


def test_p9_thousands_in_use_allocates_next_block() -> None:
    # 3000 features on the channel: the walk jumps over them instead of enumerating.
    used_v4 = tuple(ip_network(f"169.254.{i // 64}.{(i % 64) * 4}/30") for i in range(3000))
    usage = ChannelUsage(vlans=frozenset(range(1025, 4025)), ipv4=used_v4)
    a = ok(allocate_feature("ch1", guidance(), guidance(), usage, SPEC))
    assert a.vlan == 4025
    assert a.ipv4_subnet == IPv4Network("169.254.46.224/30")


def test_p9_usage_from_features_ignores_own_connection() -> None:
    end = BgpEnd(1, IPv4Address("10.0.0.1"))
    mine = FeatureView(
        "ch1", 1025, IPv4Network("10.0.0.0/30"), 1500, {Side.NEGOTIATOR: end}, connection_id="me"
    )
    other = FeatureView(
        "ch1",
        1026,
        IPv4Network("10.0.0.4/30"),
        1500,
        {Side.NEGOTIATOR: end},
        ipv6_subnet=IPv6Network("fd00::/126"),
        connection_id="other",
    )
    usage = usage_from_features([mine, other], ignore_connection="me")
    assert usage.vlans == frozenset({1026})
    assert usage.ipv4 == (IPv4Network("10.0.0.4/30"),)
    assert usage.ipv6 == (IPv6Network("fd00::/126"),)


def test_p12_allocate_all_reports_per_channel() -> None:
    g = {c: guidance(c) for c in ("ch1", "ch2")}
    off = {**g, "ch2": guidance("ch2", admin_state=AdminState.DISABLED)}
    out = allocate_all(["ch1", "ch2"], g, off, {}, SPEC)
    assert isinstance(out["ch1"], FeatureAllocation)
    assert isinstance(out["ch2"], AllocationFailure)


# ---------------------------------------------------------------- properties


small_subnets = st.builds(
    lambda start, plen: IPv4Network((int(SPACE.network_address) + start, plen), strict=False),
    st.integers(0, 63),
    st.integers(26, 31),
)


@st.composite
def side_guidance(draw: st.DrawFn) -> GuidanceView:
    includes = draw(st.lists(small_subnets, min_size=0, max_size=2))
    entries = tuple(
        SubnetGuidance(
            inc,
            excludes=tuple(draw(st.lists(small_subnets, max_size=2))),
            preferred=draw(st.none() | small_subnets),
        )
        for inc in includes
    )
    lengths = tuple(draw(st.sets(st.integers(28, 31), min_size=0, max_size=3)))
    lo = draw(st.integers(1000, 1040))
    hi = draw(st.integers(lo, 1045))
    return GuidanceView(
        "ch1",
        vlan_ranges=(IntRange(lo, hi),),
        ipv4_subnets=entries,
        ipv4_prefix_lengths=lengths,
        mtu_ranges=(IntRange(1500, draw(st.integers(1500, 9000))),),
        asn_ranges=(IntRange(64512, 64513),),
    )


def _oracle_subnets(
    neg: GuidanceView, resp: GuidanceView, used: tuple[IPv4Network, ...]
) -> set[IPv4Network]:
    if neg.ipv4_prefix_lengths and resp.ipv4_prefix_lengths:
        lengths = set(neg.ipv4_prefix_lengths) & set(resp.ipv4_prefix_lengths)
    else:
        lengths = set(neg.ipv4_prefix_lengths or resp.ipv4_prefix_lengths or (30,))
    blocked = [x for g in (neg, resp) for s in g.ipv4_subnets for x in s.excludes] + list(used)
    out: set[IPv4Network] = set()
    for plen in lengths:
        for net in SPACE.subnets(new_prefix=plen):
            inside = all(
                not g.ipv4_subnets or any(net.subnet_of(s.include) for s in g.ipv4_subnets)  # type: ignore[arg-type]
                for g in (neg, resp)
            )
            if inside and not any(net.overlaps(b) for b in blocked):
                out.add(net)
    return out


def _oracle_vlans(neg: GuidanceView, resp: GuidanceView, used: frozenset[int]) -> set[int]:
    return {
        v
        for v in range(1025, 4095)
        if all(any(v in r for r in g.vlan_ranges) for g in (neg, resp)) and v not in used
    }


@settings(max_examples=300, deadline=None)
@given(
    neg=side_guidance(),
    resp=side_guidance(),
    used=st.lists(small_subnets, max_size=6).map(tuple),
    used_vlans=st.frozensets(st.integers(1020, 1045), max_size=15),
)
def test_p9_allocation_matches_bruteforce_oracle(
    neg: GuidanceView,
    resp: GuidanceView,
    used: tuple[IPv4Network, ...],
    used_vlans: frozenset[int],
) -> None:
    if not neg.ipv4_subnets and not resp.ipv4_subnets:
        return  # the default 169.254.0.0/16 region lies outside the enumerated space
    usage = ChannelUsage(vlans=used_vlans, ipv4=used)
    result = allocate_feature("ch1", neg, resp, usage, SPEC)
    subnets = _oracle_subnets(neg, resp, used)
    vlans = _oracle_vlans(neg, resp, used_vlans)
    if not vlans:
        assert isinstance(result, AllocationFailure)
        assert result.constraint is Constraint.VLAN
        return
    if not subnets:
        assert isinstance(result, AllocationFailure)
        assert result.constraint is Constraint.IPV4
        return
    a = ok(result)
    # Within both guidances, never in an exclude, never overlapping the in-use.
    assert a.ipv4_subnet in subnets
    assert a.vlan in vlans
    assert a.vlan == min(vlans)  # first free, deterministic
    assert feature_follows_guidance(a.to_view(), neg, resp, usage) == []
    # Stable: the same inputs give the same answer.
    assert allocate_feature("ch1", neg, resp, usage, SPEC) == a


@settings(max_examples=100, deadline=None)
@given(
    plen=st.integers(120, 127),
    used_starts=st.lists(st.integers(0, 255), max_size=20),
)
def test_p9_ipv6_never_overlaps_in_use(plen: int, used_starts: list[int]) -> None:
    region = IPv6Network("fd00::/120")
    used = tuple(
        IPv6Network((int(region.network_address) + s, 126), strict=False) for s in used_starts
    )
    g = guidance(ipv6_subnets=(SubnetGuidance(region),), ipv6_prefix_lengths=(plen,))
    result = allocate_feature("ch1", g, g, ChannelUsage(ipv6=used), LinkSpec(1000, ipv6=True))
    free = [n for n in region.subnets(new_prefix=plen) if not any(n.overlaps(u) for u in used)]
    if not free:
        assert fail(result).constraint is Constraint.IPV6
    else:
        a = ok(result)
        assert a.ipv6_subnet == free[0]
        assert a.bgp[Side.NEGOTIATOR].ipv6 != a.bgp[Side.RESPONDER].ipv6


@pytest.mark.parametrize(
    ("subnet", "first", "second"),
    [
        ("10.0.0.0/30", "10.0.0.1", "10.0.0.2"),
        ("10.0.0.8/29", "10.0.0.9", "10.0.0.10"),
        ("10.0.0.4/31", "10.0.0.4", "10.0.0.5"),
    ],
)
def test_p9_bgp_hosts(subnet: str, first: str, second: str) -> None:
    from interconnect_operator.protocol.allocation import bgp_hosts

    n = ip_network(subnet)
    assert bgp_hosts(n) == (int(IPv4Address(first)), int(IPv4Address(second)))
