"""The kit's own feature proposals stay inside the guidance (P9)."""

from __future__ import annotations

import ipaddress
import random

import pytest

from interconnect_operator.api.models import FeatureGuidance
from interconnect_operator.conformance.checks.proposals import (
    NoProposal,
    choose,
    excluded_block,
    feature_of,
)


def _guidance(**l3: object) -> FeatureGuidance:
    base: dict[str, object] = {
        "asnRanges": [{"start": 64512, "stop": 64512}],
        "ipv4SubnetGuidance": [
            {"includeSubnet": "169.254.0.0/24", "excludeSubnets": ["169.254.0.0/25"]}
        ],
        "ipv4AllowedSubnetPrefixLengths": [29, 30],
        "vlanRanges": [{"start": 100, "stop": 1100}],
        "mtuRanges": [{"start": 1500, "stop": 8896}],
    }
    base.update(l3)
    return FeatureGuidance.model_validate(
        {"featureType": "FEATURE_TYPE_L3_BASE", "channel": "c", "l3BaseGuidance": base}
    )


@pytest.mark.parametrize("seed", range(30))
def test_choices_follow_every_part_of_the_guidance(seed: int) -> None:
    choice = choose(_guidance(), random.Random(seed))
    assert 1025 <= choice.vlan <= 1100  # above 1024 even where the range starts lower
    assert choice.subnet.prefixlen == 30
    assert choice.subnet.subnet_of(ipaddress.IPv4Network("169.254.0.0/24"))
    assert not choice.subnet.overlaps(ipaddress.IPv4Network("169.254.0.0/25"))
    assert choice.mtu == 8896
    assert choice.peer_asn == 64512


def test_a_block_inside_an_exclude_subnet_is_found() -> None:
    block = excluded_block(_guidance())
    assert block is not None
    assert block.subnet_of(ipaddress.IPv4Network("169.254.0.0/25"))
    assert block.prefixlen == 30
    assert excluded_block(_guidance(ipv4SubnetGuidance=[{"includeSubnet": "10.0.0.0/8"}])) is None


@pytest.mark.parametrize(
    ("override", "reason"),
    [
        ({"vlanRanges": [{"start": 1, "stop": 1024}]}, "VLAN"),
        ({"mtuRanges": []}, "MTU"),
        ({"asnRanges": []}, "ASN"),
        ({"ipv4AllowedSubnetPrefixLengths": []}, "prefix length"),
        (
            {
                "ipv4SubnetGuidance": [
                    {"includeSubnet": "169.254.0.0/30", "excludeSubnets": ["169.254.0.0/30"]}
                ]
            },
            "outside",
        ),
    ],
)
def test_guidance_without_a_valid_choice_says_why(override: dict[str, object], reason: str) -> None:
    with pytest.raises(NoProposal, match=reason):
        choose(_guidance(**override), random.Random(1))


def test_the_feature_body_names_both_bgp_ends_inside_the_subnet() -> None:
    choice = choose(_guidance(), random.Random(7))
    feature = feature_of(
        choice,
        channel_name="providers/gcp/x/channels/ch1",
        caller="gcp",
        peer="aws",
        caller_asn=64999,
    )
    assert feature.feature_config is not None
    config = feature.feature_config.l3_base_config
    assert config is not None
    assert config.vlan_id == choice.vlan
    ends = {c.provider: c for c in config.provider_bgp_configs or []}
    assert set(ends) == {"providers/aws", "providers/gcp"}
    assert ends["providers/gcp"].asn == 64999
    hosts = {ipaddress.IPv4Address(c.host_ipv4 or "") for c in ends.values()}
    assert len(hosts) == 2
    assert all(h in choice.subnet and h != choice.subnet.network_address for h in hosts)
