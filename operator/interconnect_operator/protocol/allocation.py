"""Guidance intersection and L3 base feature allocation (P8-P11).

Given both sides' guidance for a channel and what is already in use on that
channel on both sides, propose one complete feature (P9): a VLAN above 1024
inside both sides' ranges and unused on the channel; an IPv4 (and, when asked,
IPv6) subnet inside an include subnet of both sides, outside every exclude and
every subnet in use, of a prefix length both allow, the preferred subnet
first; the first two usable hosts as BGP addresses (negotiator first); each
side's ASN from its own ranges, the two always distinct; the highest common
MTU, capped by the link's preference.

Everything works on integer intervals: what is in use arrives as merged
intervals kept current as features come and go (``protocol.spans``), so an
allocation on a channel with thousands of features in use costs O(log n) per
step of the walk, not a merge of everything in use. Subnets and VLANs are
found by walking aligned blocks of the allowed size and jumping past the
blocked interval that overlaps, never by enumerating the address space.

Unpopulated guidance fields mean "no restriction" (specification). When
neither side restricts subnets, the link-local 169.254.0.0/16 (IPv4) and the
unique-local fd00::/8 (IPv6) are used, and /30 and /126 as prefix lengths,
the conventional choices for point-to-point BGP links.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from ipaddress import (
    IPv4Address,
    IPv4Network,
    IPv6Address,
    IPv6Network,
    ip_address,
    ip_network,
)
from typing import Final

from .spans import Interval, SpanSet, UsedSpace, merge_intervals, network_block
from .types import (
    VLAN_MAX,
    VLAN_MIN,
    AdminState,
    BgpEnd,
    FeatureView,
    GuidanceView,
    IntRange,
    IPNetwork,
    LinkSpec,
    ProvisioningState,
    Secret,
    Side,
    SubnetGuidance,
)

DEFAULT_IPV4_REGION: Final = IPv4Network("169.254.0.0/16")
DEFAULT_IPV6_REGION: Final = IPv6Network("fd00::/8")
DEFAULT_IPV4_PREFIX: Final = 30
DEFAULT_IPV6_PREFIX: Final = 126
DEFAULT_MTU: Final = 1500


class Constraint(StrEnum):
    """The constraint that ran out; names the CamelCase status reason."""

    GUIDANCE = "GuidanceMissing"
    CHANNEL = "ChannelDisabled"
    VLAN = "NoVlanAvailable"
    IPV4 = "NoIpv4SubnetAvailable"
    IPV6 = "NoIpv6SubnetAvailable"
    MTU = "NoCommonMtu"
    ASN = "NoAsnAvailable"
    DISTINCT_ASN = "NoDistinctAsnPair"


@dataclass(frozen=True)
class AllocationFailure:
    """No feature can be proposed on ``channel``: which constraint and why."""

    channel: str
    constraint: Constraint
    message: str

    @property
    def reason(self) -> str:
        return str(self.constraint)

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class ChannelUsage:
    """What is in use on one channel, on both sides together, as a value.

    The pool snapshot keeps a :class:`~.spans.UsedSpace` per channel instead,
    updated as features come and go; this form is built from scratch.
    """

    vlans: frozenset[int] = frozenset()
    ipv4: tuple[IPv4Network, ...] = ()
    ipv6: tuple[IPv6Network, ...] = ()

    @cached_property
    def space(self) -> UsedSpace:
        """The same as merged intervals (built once)."""
        return UsedSpace(self.vlans, self.ipv4, self.ipv6)


Usage = ChannelUsage | UsedSpace | tuple[UsedSpace, ...]
"""What allocation reads as in use: a value, a kept space, or spaces layered
(a shared base and the allocations still in flight on top, read as one)."""


def _layers(usage: Usage) -> tuple[UsedSpace, ...]:
    if isinstance(usage, ChannelUsage):
        return (usage.space,)
    if isinstance(usage, UsedSpace):
        return (usage,)
    return usage


def usage_from_features(
    features: Iterable[FeatureView], ignore_connection: str | None = None
) -> ChannelUsage:
    """Usage of one channel from the features both sides hold on it.

    ``ignore_connection`` leaves out the link's own features (so that a
    re-allocation after a rejection may reuse its own space).
    """
    vlans: set[int] = set()
    v4: list[IPv4Network] = []
    v6: list[IPv6Network] = []
    for f in features:
        if ignore_connection is not None and f.connection_id == ignore_connection:
            continue
        vlans.add(f.vlan)
        v4.append(f.ipv4_subnet)
        if f.ipv6_subnet is not None:
            v6.append(f.ipv6_subnet)
    return ChannelUsage(frozenset(vlans), tuple(v4), tuple(v6))


@dataclass(frozen=True)
class FeatureAllocation:
    """A complete L3 base feature proposal for one channel (P9)."""

    channel: str
    vlan: int
    ipv4_subnet: IPv4Network
    mtu: int
    bgp: Mapping[Side, BgpEnd]
    ipv6_subnet: IPv6Network | None = None
    md5: Secret | None = field(default=None, repr=False, compare=False)

    def to_view(
        self, connection_id: str | None = None, state: ProvisioningState = ProvisioningState.PENDING
    ) -> FeatureView:
        return FeatureView(
            channel=self.channel,
            vlan=self.vlan,
            ipv4_subnet=self.ipv4_subnet,
            ipv6_subnet=self.ipv6_subnet,
            mtu=self.mtu,
            bgp=dict(self.bgp),
            state=state,
            connection_id=connection_id,
        )


# ---------------------------------------------------------------- intervals


def intersect_intervals(a: Sequence[Interval], b: Sequence[Interval]) -> list[Interval]:
    """Intersection of two sorted disjoint interval lists (two-pointer walk)."""
    out: list[Interval] = []
    i = j = 0
    while i < len(a) and j < len(b):
        lo = max(a[i][0], b[j][0])
        hi = min(a[i][1], b[j][1])
        if lo <= hi:
            out.append((lo, hi))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


def _ranges(ranges: Sequence[IntRange], unrestricted: Interval) -> list[Interval]:
    if not ranges:
        return [unrestricted]
    return merge_intervals((r.start, r.stop) for r in ranges)


def _fmt_intervals(intervals: Sequence[Interval]) -> str:
    if not intervals:
        return "(empty)"
    return ",".join(f"{lo}-{hi}" if lo != hi else str(lo) for lo, hi in intervals)


class _Blocked:
    """Blocked intervals in several layers (each merged), read as their union."""

    def __init__(self, layers: Iterable[SpanSet]) -> None:
        self.layers = tuple(s for s in layers if s.starts)

    def overlap_end(self, lo: int, hi: int) -> int | None:
        """The end of a blocked interval overlapping [lo, hi], the one ending last, or None.

        Every aligned block from ``lo`` up to that end overlaps the same blocked
        interval, so a walk may jump past it."""
        found: int | None = None
        for layer in self.layers:
            end = layer.overlap_end(lo, hi)
            if end is not None and (found is None or end > found):
                found = end
        return found

    def count_within(self, allowed: Sequence[Interval]) -> int:
        """Distinct blocked integers inside ``allowed`` (sorted, disjoint)."""
        union = merge_intervals(iv for layer in self.layers for iv in layer.intervals())
        return sum(hi - lo + 1 for lo, hi in intersect_intervals(union, allowed))


_span = network_block


def _first_free(pos: int, end: int, size: int, blocked: _Blocked) -> int | None:
    """Start of the first ``size``-aligned block of ``size`` in [pos, end] clear of ``blocked``
    (``pos`` aligned)."""
    while pos + size - 1 <= end:
        hit = blocked.overlap_end(pos, pos + size - 1)
        if hit is None:
            return pos
        # Jump to the next aligned block after the blocking interval.
        pos = ((hit + 1 + size - 1) // size) * size
    return None


def first_free_block(region: IPNetwork, prefix: int, blocked: _Blocked) -> int | None:
    """Start address of the first block of ``/prefix`` in ``region`` clear of ``blocked``."""
    pos, end = _span(region)
    return _first_free(pos, end, 1 << (region.max_prefixlen - prefix), blocked)


# ---------------------------------------------------------------- subnets


def _regions(
    a: Sequence[SubnetGuidance], b: Sequence[SubnetGuidance], default: IPNetwork
) -> list[IPNetwork]:
    """Subnets inside an include subnet of both sides (CIDR blocks nest or are disjoint)."""
    inc_a = [g.include for g in a]
    inc_b = [g.include for g in b]
    if not inc_a and not inc_b:
        return [default]
    if not inc_a or not inc_b:
        found = inc_a or inc_b
    else:
        found = []
        for x in inc_a:
            for y in inc_b:
                if x.version != y.version:
                    continue
                if x.subnet_of(y):  # type: ignore[arg-type]
                    found.append(x)
                elif y.subnet_of(x):  # type: ignore[arg-type]
                    found.append(y)
    # Drop regions nested in another so a block is not walked twice.
    unique = sorted(set(found), key=lambda n: (int(n.network_address), n.prefixlen))
    out: list[IPNetwork] = []
    for net in unique:
        if out and net.subnet_of(out[-1]):  # type: ignore[arg-type]
            continue
        out.append(net)
    return out


def _prefix_lengths(a: Sequence[int], b: Sequence[int], default: int, max_len: int) -> list[int]:
    if a and b:
        lengths = set(a) & set(b)
    elif a or b:
        lengths = set(a or b)
    else:
        lengths = {default}
    # Two usable hosts are needed: /31 and /127 give exactly two (RFC 3021/6164).
    # Longest prefix first: the smallest block that works conserves space.
    return sorted((n for n in lengths if 0 <= n <= max_len), reverse=True)


def bgp_hosts(subnet: IPNetwork) -> tuple[int, int]:
    """The first two usable hosts of ``subnet`` as integers (negotiator, responder).

    /30: .1 and .2; /31 and /127: both addresses (point-to-point); IPv6 /126:
    ::1 and ::2 (the subnet-router anycast ::0 is not a host).
    """
    base = int(subnet.network_address)
    if subnet.prefixlen >= subnet.max_prefixlen - 1:
        return base, base + 1
    return base + 1, base + 2


# Long on purpose: P9's order (common regions, lengths, preferences, then the first free block).
def _allocate_subnet(
    channel: str,
    version: int,
    *,
    neg: Sequence[SubnetGuidance],
    resp: Sequence[SubnetGuidance],
    neg_lengths: Sequence[int],
    resp_lengths: Sequence[int],
    in_use: Sequence[SpanSet],
) -> IPNetwork | AllocationFailure:
    default_region: IPNetwork = DEFAULT_IPV4_REGION if version == 4 else DEFAULT_IPV6_REGION
    default_prefix = DEFAULT_IPV4_PREFIX if version == 4 else DEFAULT_IPV6_PREFIX
    max_len = 31 if version == 4 else 127
    constraint = Constraint.IPV4 if version == 4 else Constraint.IPV6
    label = f"IPv{version}"

    regions = _regions(neg, resp, default_region)
    lengths = _prefix_lengths(neg_lengths, resp_lengths, default_prefix, max_len)
    excludes = [x for g in (*neg, *resp) for x in g.excludes if x.version == version]
    blocked = _Blocked((SpanSet(_span(n) for n in excludes), *in_use))

    if not regions:
        incl = ", ".join(str(g.include) for g in (*neg, *resp)) or "(none)"
        return AllocationFailure(
            channel,
            constraint,
            f"channel {channel}: no {label} include subnet common to both sides ({incl})",
        )
    if not lengths:
        return AllocationFailure(
            channel,
            constraint,
            f"channel {channel}: no {label} prefix length allowed by both sides "
            f"(negotiator {list(neg_lengths)}, responder {list(resp_lengths)})",
        )

    # Preferences first (P9): the responder's (the guidance server's), then ours.
    for pref in (g.preferred for g in (*resp, *neg)):
        if pref is None or pref.version != version or pref.prefixlen not in lengths:
            continue
        if not any(pref.subnet_of(r) for r in regions):  # type: ignore[arg-type]
            continue
        if blocked.overlap_end(*_span(pref)) is None:
            return pref

    for prefix in lengths:
        for region in regions:
            if prefix < region.prefixlen:
                continue
            start = first_free_block(region, prefix, blocked)
            if start is not None:
                return ip_network((ip_address(start), prefix))

    where = ", ".join(str(r) for r in regions)
    sizes = ",".join(f"/{n}" for n in lengths)
    return AllocationFailure(
        channel,
        constraint,
        f"channel {channel}: no {label} {sizes} inside {where} outside excludes and in-use "
        f"({len(excludes)} excluded, {sum(len(u) for u in in_use)} in use)",
    )


# ---------------------------------------------------------------- scalars


def _allocate_vlan(
    channel: str, neg: GuidanceView, resp: GuidanceView, used: Sequence[SpanSet]
) -> int | AllocationFailure:
    allowed = [(VLAN_MIN, VLAN_MAX)]
    for g in (neg, resp):
        allowed = intersect_intervals(allowed, _ranges(g.vlan_ranges, (VLAN_MIN, VLAN_MAX)))
    taken = _Blocked(used)
    for lo, hi in allowed:
        vlan = _first_free(lo, hi, 1, taken)
        if vlan is not None:
            return vlan
    in_range = taken.count_within(allowed)
    return AllocationFailure(
        channel,
        Constraint.VLAN,
        f"channel {channel}: no VLAN in {_fmt_intervals(allowed)} free on both sides "
        f"({in_range} in use)",
    )


def _allocate_mtu(
    channel: str, neg: GuidanceView, resp: GuidanceView, preference: int | None
) -> int | AllocationFailure:
    if not neg.mtu_ranges and not resp.mtu_ranges:
        return preference if preference is not None else DEFAULT_MTU
    unrestricted = (0, 1 << 31)
    common = intersect_intervals(
        _ranges(neg.mtu_ranges, unrestricted), _ranges(resp.mtu_ranges, unrestricted)
    )
    cap = preference if preference is not None else unrestricted[1]
    best = max((min(hi, cap) for lo, hi in common if lo <= cap), default=None)
    if best is None:
        if common and preference is not None:
            return AllocationFailure(
                channel,
                Constraint.MTU,
                f"channel {channel}: MTU preference {preference} is below every MTU both "
                f"sides support ({_fmt_intervals(common)})",
            )
        return AllocationFailure(
            channel,
            Constraint.MTU,
            f"channel {channel}: no MTU supported by both sides (negotiator "
            f"{_fmt_intervals(_ranges(neg.mtu_ranges, unrestricted))}, responder "
            f"{_fmt_intervals(_ranges(resp.mtu_ranges, unrestricted))})",
        )
    return best


def _asn_candidates(guidance: GuidanceView, preference: int | None) -> list[int]:
    """Up to two distinct ASNs one side may use, best first (P9)."""
    ranges = sorted(guidance.asn_ranges, key=lambda r: (r.start, r.stop))
    found: list[int] = []
    if preference is not None and (not ranges or any(preference in r for r in ranges)):
        found.append(preference)
    for r in ranges:
        for asn in (r.start, r.start + 1):
            if asn in r and asn not in found:
                found.append(asn)
            if len(found) >= 2:
                return found
    return found


def _allocate_asns(
    channel: str, negotiator: GuidanceView, responder: GuidanceView, preference: int | None
) -> dict[Side, int] | AllocationFailure:
    """One ASN per side, always two distinct ones: equal ASNs at both BGP ends
    make each side drop the other's routes as its own (loop prevention)."""
    candidates = {
        Side.NEGOTIATOR: _asn_candidates(negotiator, preference),
        Side.RESPONDER: _asn_candidates(responder, preference),
    }
    for side, found in candidates.items():
        if not found:
            return AllocationFailure(
                channel,
                Constraint.ASN,
                f"channel {channel}: the {side} gives no ASN range and the link sets no ASN",
            )
    for neg in candidates[Side.NEGOTIATOR]:
        for resp in candidates[Side.RESPONDER]:
            if neg != resp:
                return {Side.NEGOTIATOR: neg, Side.RESPONDER: resp}
    asn = candidates[Side.NEGOTIATOR][0]
    return AllocationFailure(
        channel,
        Constraint.DISTINCT_ASN,
        f"channel {channel}: the ASN guidance of both sides leaves only ASN {asn}, "
        "and the two BGP ends need distinct ASNs",
    )


# ---------------------------------------------------------------- features


# Long on purpose: P9's fields in order (VLAN, IPv4, IPv6, MTU, ASNs), each may refuse.
def allocate_feature(
    channel: str,
    negotiator: GuidanceView | None,
    responder: GuidanceView | None,
    usage: Usage,
    spec: LinkSpec,
) -> FeatureAllocation | AllocationFailure:
    """Propose one complete L3 base feature for ``channel`` (P9), or say why not.

    Deterministic: the same inputs always give the same proposal.
    """
    layers = _layers(usage)
    for side, g in ((Side.NEGOTIATOR, negotiator), (Side.RESPONDER, responder)):
        if g is None:
            return AllocationFailure(
                channel, Constraint.GUIDANCE, f"channel {channel}: no guidance from the {side}"
            )
        if g.admin_state is AdminState.DISABLED:
            return AllocationFailure(
                channel,
                Constraint.CHANNEL,
                f"channel {channel}: administratively disabled on the {side} side",
            )
    assert negotiator is not None
    assert responder is not None

    vlan = _allocate_vlan(channel, negotiator, responder, [s.vlans for s in layers])
    if isinstance(vlan, AllocationFailure):
        return vlan
    v4 = _allocate_subnet(
        channel,
        4,
        neg=negotiator.ipv4_subnets,
        resp=responder.ipv4_subnets,
        neg_lengths=negotiator.ipv4_prefix_lengths,
        resp_lengths=responder.ipv4_prefix_lengths,
        in_use=[s.ipv4 for s in layers],
    )
    if isinstance(v4, AllocationFailure):
        return v4
    v6: IPNetwork | None = None
    if spec.ipv6:
        found = _allocate_subnet(
            channel,
            6,
            neg=negotiator.ipv6_subnets,
            resp=responder.ipv6_subnets,
            neg_lengths=negotiator.ipv6_prefix_lengths,
            resp_lengths=responder.ipv6_prefix_lengths,
            in_use=[s.ipv6 for s in layers],
        )
        if isinstance(found, AllocationFailure):
            return found
        v6 = found
    mtu = _allocate_mtu(channel, negotiator, responder, spec.mtu)
    if isinstance(mtu, AllocationFailure):
        return mtu
    asns = _allocate_asns(channel, negotiator, responder, spec.bgp_asn)
    if isinstance(asns, AllocationFailure):
        return asns

    assert isinstance(v4, IPv4Network)
    h4 = bgp_hosts(v4)
    h6 = bgp_hosts(v6) if v6 is not None else None
    bgp = {
        side: BgpEnd(
            asn=asns[side],
            ipv4=IPv4Address(h4[i]),
            ipv6=IPv6Address(h6[i]) if h6 is not None else None,
        )
        for i, side in enumerate((Side.NEGOTIATOR, Side.RESPONDER))
    }
    assert v6 is None or isinstance(v6, IPv6Network)
    return FeatureAllocation(
        channel=channel,
        vlan=vlan,
        ipv4_subnet=v4,
        ipv6_subnet=v6,
        mtu=mtu,
        bgp=bgp,
        md5=spec.md5,
    )


def allocate_all(
    channels: Sequence[str],
    negotiator: Mapping[str, GuidanceView],
    responder: Mapping[str, GuidanceView],
    usage: Mapping[str, ChannelUsage],
    spec: LinkSpec,
) -> dict[str, FeatureAllocation | AllocationFailure]:
    """Allocate one feature per channel; failures are per channel (P12 needs 3 of 4)."""
    return {
        ch: allocate_feature(
            ch, negotiator.get(ch), responder.get(ch), usage.get(ch, ChannelUsage()), spec
        )
        for ch in channels
    }


# Long on purpose: one branch per guidance field (P9).
def feature_follows_guidance(  # noqa: PLR0912
    feature: FeatureView,
    negotiator: GuidanceView,
    responder: GuidanceView,
    usage: ChannelUsage,
) -> list[str]:
    """Every P9 rule ``feature`` breaks (empty when it is valid): a responder-side check."""
    problems: list[str] = []
    if feature.vlan < VLAN_MIN or feature.vlan > VLAN_MAX:
        problems.append(f"VLAN {feature.vlan} outside {VLAN_MIN}-{VLAN_MAX}")
    for side, g in ((Side.NEGOTIATOR, negotiator), (Side.RESPONDER, responder)):
        if g.vlan_ranges and not any(feature.vlan in r for r in g.vlan_ranges):
            problems.append(f"VLAN {feature.vlan} outside the {side} ranges")
        subnets: list[tuple[IPNetwork | None, Sequence[SubnetGuidance], Sequence[int]]] = [
            (feature.ipv4_subnet, g.ipv4_subnets, g.ipv4_prefix_lengths),
            (feature.ipv6_subnet, g.ipv6_subnets, g.ipv6_prefix_lengths),
        ]
        for net, guidance, lengths in subnets:
            if net is None:
                continue
            if guidance and not any(net.subnet_of(s.include) for s in guidance):  # type: ignore[arg-type]
                problems.append(f"{net} outside the {side} include subnets")
            if any(net.overlaps(x) for s in guidance for x in s.excludes):
                problems.append(f"{net} overlaps a {side} exclude subnet")
            if lengths and net.prefixlen not in lengths:
                problems.append(f"/{net.prefixlen} not allowed by the {side}")
        if g.mtu_ranges and not any(feature.mtu in r for r in g.mtu_ranges):
            problems.append(f"MTU {feature.mtu} outside the {side} ranges")
        end = feature.bgp.get(side)
        if end is None:
            problems.append(f"no BGP end for the {side}")
        elif g.asn_ranges and not any(end.asn in r for r in g.asn_ranges):
            problems.append(f"ASN {end.asn} outside the {side} ranges")
    ends = [feature.bgp[s] for s in (Side.NEGOTIATOR, Side.RESPONDER) if s in feature.bgp]
    if len(ends) == 2 and ends[0].asn == ends[1].asn:
        problems.append(f"both BGP ends use ASN {ends[0].asn}")
    if feature.vlan in usage.vlans:
        problems.append(f"VLAN {feature.vlan} in use")
    if any(feature.ipv4_subnet.overlaps(u) for u in usage.ipv4):
        problems.append(f"{feature.ipv4_subnet} overlaps a subnet in use")
    if feature.ipv6_subnet is not None and any(feature.ipv6_subnet.overlaps(u) for u in usage.ipv6):
        problems.append(f"{feature.ipv6_subnet} overlaps a subnet in use")
    return problems
