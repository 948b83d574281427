"""The static inventory: defaults, agreement of both sides, YAML files."""

from __future__ import annotations

from pathlib import Path

import pytest

from interconnect_operator.simulator.inventory import (
    DEFAULT_ENVIRONMENT,
    InventoryError,
    default_asn,
    default_inventory,
    load_inventory,
)


def test_default_inventory_matches_the_documented_shape() -> None:
    inventory = default_inventory("aws")
    (env,) = inventory.environments
    assert env.id == DEFAULT_ENVIRONMENT
    assert env.peer == "gcp"
    assert env.sizes_mbps == (1000, 2000, 5000, 10000, 20000, 50000, 100000)
    assert [ix.id for ix in env.interconnects] == ["ix1", "ix2"]
    assert all(ix.state == "INTERCONNECT_STATE_ACTIVE" for ix in env.interconnects)
    assert all(ix.max_bandwidth_mbps == 100000 for ix in env.interconnects)
    assert [ch.id for ch in env.interconnects[0].channels] == ["ch1", "ch2", "ch3", "ch4"]
    assert env.guidance.asn_ranges == ((64512, 64512),)
    assert default_inventory("gcp").environments[0].guidance.asn_ranges == ((16550, 16550),)


def test_both_sides_agree_on_shared_static_facts() -> None:
    aws, gcp = default_inventory("aws"), default_inventory("gcp")
    assert gcp.environments[0].peer == "aws"
    for ix_a, ix_g in zip(
        aws.environments[0].interconnects, gcp.environments[0].interconnects, strict=True
    ):
        assert ix_a.id == ix_g.id
        for ch_a, ch_g in zip(ix_a.channels, ix_g.channels, strict=True):
            assert (ch_a.id, ch_a.macsec_manager, ch_a.cross_connect_manager) == (
                ch_g.id,
                ch_g.macsec_manager,
                ch_g.cross_connect_manager,
            )


def test_other_providers_get_a_stable_private_asn() -> None:
    asn = default_asn("azure")
    assert asn == default_asn("azure")
    assert 64513 <= asn <= 65534
    assert default_inventory("azure").environments[0].peer == "gcp"


def test_yaml_inventory(tmp_path: Path) -> None:
    path = tmp_path / "inv.yaml"
    path.write_text(
        "displayName: Test Cloud\n"
        "asn: 65001\n"
        "environments:\n"
        "  - id: e1\n"
        "    peer: azure\n"
        "    interconnectCount: 3\n"
        "    maxBandwidthMbps: 40000\n"
        "    channelsPerInterconnect: 2\n"
        "    visibility: private\n"
        "    acceptDeferral: false\n"
        "    guidance:\n"
        "      vlanRanges: [[2000, 2999]]\n"
        "      ipv4: {include: 10.0.0.0/24, prefixLengths: [31]}\n"
    )
    inventory = load_inventory(path, "oci")
    (env,) = inventory.environments
    assert inventory.display_name == "Test Cloud"
    assert (env.peer, len(env.interconnects), env.interconnects[0].max_bandwidth_mbps) == (
        "azure",
        3,
        40000,
    )
    assert len(env.interconnects[0].channels) == 2
    assert env.visibility == "ENVIRONMENT_VISIBILITY_PRIVATE"
    assert env.accept_deferral is False
    assert env.guidance.asn_ranges == ((65001, 65001),)
    assert env.guidance.vlan_ranges == ((2000, 2999),)
    assert env.guidance.ipv4_prefix_lengths == (31,)
    assert inventory.environment("azure", "e1") is env
    assert inventory.environment("gcp", "e1") is None  # not shared with gcp


@pytest.mark.parametrize(
    "text",
    [
        "environments: {}\n",
        "environments:\n  - peer: gcp\n",
        "environments:\n  - id: e\n    peer: aws\n",
        "environments:\n  - id: e\n    interconnectState: BROKEN\n",
        "environments:\n  - id: e\n  - id: e\n",
        "environments:\n  - id: e\n    guidance: {vlanRanges: [[10, 1]]}\n",
        "- just a list\n",
    ],
)
def test_bad_inventory_is_rejected(tmp_path: Path, text: str) -> None:
    path = tmp_path / "inv.yaml"
    path.write_text(text)
    with pytest.raises(InventoryError):
        load_inventory(path, "aws")
