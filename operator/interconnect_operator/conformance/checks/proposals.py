"""The kit's own proposals of L3 features from guidance (P9), read from the rules.

Deliberately not the operator's allocator: the kit must judge a provider by
an independent reading. The choices are simple and valid: a random VLAN in
the guidance's ranges above 1024, a random aligned IPv4 block of an allowed
prefix length inside an include subnet and outside every exclude subnet, the
highest MTU offered, the provider's ASN from its ranges, the two first
usable host addresses for the two BGP ends.
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Sequence
from dataclasses import dataclass

from interconnect_operator.api.models import (
    Feature,
    FeatureConfig,
    FeatureGuidance,
    L3BaseConfig,
    ProviderBgpConfig,
    SubnetGuidance,
)
from interconnect_operator.conformance.session import Blocked

__all__ = ["L3_BASE", "Choice", "NoProposal", "choose", "excluded_block", "feature_of"]

L3_BASE = "FEATURE_TYPE_L3_BASE"
VLAN_FLOOR = 1025  # P9: VLAN 1024 and lower are reserved


class NoProposal(Blocked):
    """The guidance leaves no valid choice (or is incomplete): the scenario cannot go on."""


@dataclass(frozen=True, slots=True)
class Choice:
    """The parameters of one proposed feature."""

    vlan: int
    subnet: ipaddress.IPv4Network
    mtu: int
    peer_asn: int


def _prefix_length(allowed: list[int]) -> int:
    if not allowed:
        raise NoProposal("no allowed IPv4 prefix length")
    usable = [length for length in allowed if length <= 30]
    return max(usable) if usable else max(allowed)


def choose(guidance: FeatureGuidance, rng: random.Random) -> Choice:
    """A random valid choice inside ``guidance``."""
    l3 = guidance.l3_base_guidance
    if l3 is None:
        raise NoProposal("no l3BaseGuidance")
    vlans = [
        (max(r.start or 0, VLAN_FLOOR), r.stop or 0)
        for r in l3.vlan_ranges or []
        if (r.stop or 0) >= VLAN_FLOOR
    ]
    if not vlans:
        raise NoProposal("no VLAN range above 1024")
    low, high = rng.choice(vlans)
    mtus = [r.stop or r.start or 0 for r in l3.mtu_ranges or []]
    asns = [r.start for r in l3.asn_ranges or [] if r.start is not None]
    if not mtus or not max(mtus):
        raise NoProposal("no MTU range")
    if not asns:
        raise NoProposal("no ASN range for the provider")
    return Choice(
        vlan=rng.randint(low, high),
        subnet=_subnet(l3.ipv4_subnet_guidance or [], l3.ipv4_allowed_subnet_prefix_lengths, rng),
        mtu=max(mtus),
        peer_asn=asns[0],
    )


def _subnet(
    guidance: Sequence[SubnetGuidance], allowed: Sequence[int] | None, rng: random.Random
) -> ipaddress.IPv4Network:
    length = _prefix_length(list(allowed or []))
    includes: list[tuple[ipaddress.IPv4Network, list[ipaddress.IPv4Network]]] = []
    for entry in guidance:
        if not entry.include_subnet:
            continue
        network = ipaddress.ip_network(entry.include_subnet, strict=False)
        excludes = [
            excluded
            for text in entry.exclude_subnets or []
            if isinstance(
                excluded := ipaddress.ip_network(text, strict=False), ipaddress.IPv4Network
            )
        ]
        if isinstance(network, ipaddress.IPv4Network) and network.prefixlen <= length:
            includes.append((network, excludes))
    if not includes:
        raise NoProposal(f"no IPv4 include subnet holds a /{length}")
    for _ in range(200):
        network, excludes = rng.choice(includes)
        blocks = 2 ** (length - network.prefixlen)
        offset = rng.randrange(blocks) * 2 ** (32 - length)
        candidate = ipaddress.IPv4Network((int(network.network_address) + offset, length))
        if not any(candidate.overlaps(excluded) for excluded in excludes):
            return candidate
    raise NoProposal("no block outside the exclude subnets")


def excluded_block(guidance: FeatureGuidance) -> ipaddress.IPv4Network | None:
    """A block of an allowed length inside an exclude subnet (None: no such block)."""
    l3 = guidance.l3_base_guidance
    if l3 is None:
        return None
    allowed = sorted(l3.ipv4_allowed_subnet_prefix_lengths or [], reverse=True)
    for entry in l3.ipv4_subnet_guidance or []:
        for text in entry.exclude_subnets or []:
            excluded = ipaddress.ip_network(text, strict=False)
            for length in allowed:
                if isinstance(excluded, ipaddress.IPv4Network) and length >= excluded.prefixlen:
                    return ipaddress.IPv4Network((int(excluded.network_address), length))
    return None


def feature_of(
    choice: Choice,
    *,
    channel_name: str,
    caller: str,
    peer: str,
    caller_asn: int,
    vlan: int | None = None,
    subnet: ipaddress.IPv4Network | None = None,
) -> Feature:
    """The Feature body for ``choice`` (``vlan``/``subnet`` override it)."""
    network = subnet or choice.subnet
    hosts = [network.network_address + 1, network.network_address + 2]
    return Feature(
        channel=channel_name,
        feature_config=FeatureConfig(
            feature_type=L3_BASE,
            l3_base_config=L3BaseConfig(
                ipv4_subnet=str(network.network_address),
                ipv4_subnet_prefix_length=network.prefixlen,
                mtu_bytes=choice.mtu,
                vlan_id=choice.vlan if vlan is None else vlan,
                provider_bgp_configs=[
                    ProviderBgpConfig(
                        provider=f"providers/{peer}", asn=choice.peer_asn, host_ipv4=str(hosts[0])
                    ),
                    ProviderBgpConfig(
                        provider=f"providers/{caller}", asn=caller_asn, host_ipv4=str(hosts[1])
                    ),
                ],
            ),
        ),
    )
