"""A channel's usage is kept current as features are recorded, not rebuilt (reconcile.snapshot).

The pool records each provider answer into its snapshot (``PoolRuntime``
``record_feature``, ``forget_feature``, ``forget_connection``). Random
sequences of those must leave each channel's kept space exactly as a fresh
snapshot over the same records computes it, and as the former from-scratch
computation (every feature of the channel, both sides) does; and the space
is built once per snapshot and channel, not once per recorded feature.
"""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from interconnect_operator.api import models
from interconnect_operator.protocol.spans import UsedSpace
from interconnect_operator.protocol.types import Side
from interconnect_operator.reconcile import snapshot as snapshot_module
from interconnect_operator.reconcile.pool import PoolRuntime
from interconnect_operator.reconcile.records import SideView
from interconnect_operator.reconcile.snapshot import PoolSnapshot
from tests.support.offline_pool import offline_runtime

CHANNELS = ("ch1", "ch2")
UUIDS = tuple(f"u{i}" for i in range(5))
SUBNETS = ("10.0.0.0/30", "10.0.0.4/30", "10.0.0.0/29", "10.0.0.8/31", "10.0.0.6/31", "bad")


def _runtime() -> PoolRuntime:
    runtime = offline_runtime()
    runtime.snapshot = PoolSnapshot(
        "e", SideView(provider="gcp"), SideView(provider="aws"), taken_at=datetime.now(UTC)
    )
    return runtime


def _feature(channel: str, vlan: int | None, subnet: str, v6: bool) -> models.Feature:
    address, _, plen = subnet.partition("/")
    config: dict[str, Any] = {
        "vlanId": vlan,
        "ipv4Subnet": address,
        "ipv4SubnetPrefixLength": int(plen) if plen else None,
        "mtuBytes": 1500,
    }
    if v6:
        config |= {"ipv6Subnet": f"fd00::{vlan or 0:x}0", "ipv6SubnetPrefixLength": 126}
    ix = "providers/aws/environments/e/interconnects/ix1"
    return models.Feature.model_validate(
        {
            "name": f"{ix}/connections/u/features/{channel}",
            "channel": f"{ix}/channels/{channel}",
            "provisioningState": "PROVISIONING_STATE_FINAL",
            "featureConfig": {"featureType": "FEATURE_TYPE_L3_BASE", "l3BaseConfig": config},
        }
    )


def _former(snapshot: PoolSnapshot, channel: str) -> UsedSpace:
    """The former ``channel_usage``: every feature of the channel on both sides."""
    vlans: set[int] = set()
    v4: list[ipaddress.IPv4Network] = []
    v6: list[ipaddress.IPv6Network] = []
    copies: list[int] = []
    for view in (snapshot.negotiator, snapshot.responder):
        for features in view.features.get("ix1", {}).values():
            feature = features.get(channel)
            if feature is None:
                continue
            if feature.vlan is not None:
                vlans.add(feature.vlan)
                copies.append(feature.vlan)
            if feature.ipv4 is not None:
                v4.append(feature.ipv4)
            if feature.ipv6 is not None:
                v6.append(feature.ipv6)
    space = UsedSpace(copies, v4, v6)
    assert [lo for lo, _ in space.vlans.intervals()] == [
        v for v in sorted(vlans) if v - 1 not in vlans
    ]
    return space


def _same(kept: UsedSpace, expected: UsedSpace) -> None:
    assert repr(kept) == repr(expected)
    for mine, theirs in zip(
        (kept.vlans, kept.ipv4, kept.ipv6),
        (expected.vlans, expected.ipv4, expected.ipv6),
        strict=True,
    ):
        assert mine.intervals() == theirs.intervals()
        assert list(mine.blocks()) == list(theirs.blocks())


op = st.tuples(
    st.sampled_from(["record", "record", "record", "forget_feature", "forget_connection"]),
    st.sampled_from(list(Side)),
    st.sampled_from(UUIDS),
    st.sampled_from(CHANNELS),
    st.one_of(st.none(), st.integers(1025, 1030)),
    st.sampled_from(SUBNETS),
    st.booleans(),
)


@settings(max_examples=150, deadline=None)
@given(ops=st.lists(op, max_size=40), read_every=st.integers(1, 3))
def test_kept_usage_equals_a_fresh_computation_after_any_sequence(
    ops: list[tuple[str, Side, str, str, int | None, str, bool]], read_every: int
) -> None:
    runtime = _runtime()
    snapshot = runtime.snapshot
    assert snapshot is not None
    for n, (kind, side, uuid, channel, vlan, subnet, v6) in enumerate(ops):
        if kind == "record":
            runtime.record_feature(side, "ix1", uuid, channel, _feature(channel, vlan, subnet, v6))
        elif kind == "forget_feature":
            runtime.forget_feature(side, "ix1", uuid, channel)
        else:
            runtime.forget_connection(side, "ix1", uuid)
        if n % read_every:
            continue  # some changes land on a kept space, some on none yet
        for ch in CHANNELS:
            fresh = PoolSnapshot("e", snapshot.negotiator, snapshot.responder, snapshot.taken_at)
            expected = fresh.channel_usage("ix1", ch)
            _same(snapshot.channel_usage("ix1", ch), expected)
            _same(expected, _former(snapshot, ch))


def test_recording_features_updates_the_kept_space_without_rebuilding_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    builds: list[str] = []
    original = snapshot_module.ChannelSpace.of.__func__  # type: ignore[attr-defined]

    def counted(cls: type, snapshot: PoolSnapshot, interconnect: str, channel: str) -> Any:
        builds.append(channel)
        return original(cls, snapshot, interconnect, channel)

    monkeypatch.setattr(snapshot_module.ChannelSpace, "of", classmethod(counted))
    runtime = _runtime()
    snapshot = runtime.snapshot
    assert snapshot is not None
    before = snapshot.channel_usage("ix1", "ch1")
    for i in range(50):
        net = ipaddress.IPv4Network(("10.0.0.0", 24)).network_address + 4 * i
        feature = _feature("ch1", 1025 + i, f"{net}/30", False)
        for side in Side:
            runtime.record_feature(side, "ix1", f"u{i}", "ch1", feature)
        assert snapshot.channel_usage("ix1", "ch1") is before
    assert builds == ["ch1"]  # built once; 100 recorded features each added to it
    assert before.ipv4.intervals() == [(0x0A000000, 0x0A000000 + 199)]
    assert before.ipv4.total == 100
    assert before.vlans.intervals() == [(1025, 1074)]
    runtime.forget_connection(Side.NEGOTIATOR, "ix1", "u0")
    assert before.ipv4.intervals() == [(0x0A000000, 0x0A000000 + 199)]  # the responder holds it
    runtime.forget_connection(Side.RESPONDER, "ix1", "u0")
    assert before.ipv4.intervals() == [(0x0A000004, 0x0A000000 + 199)]
    assert before.vlans.intervals() == [(1026, 1074)]
    assert builds == ["ch1"]
    snapshot.invalidate("ix1", "ch1")  # no uuid: forgotten, built again on the next read
    assert snapshot.channel_usage("ix1", "ch1") is not before
    assert builds == ["ch1", "ch1"]
