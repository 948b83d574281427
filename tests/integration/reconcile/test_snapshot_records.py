"""The pool snapshot keeps records of what decisions read, not the wire models (reconcile.records).

A refresh converts each listed connection and feature once; the records
must carry every field a decision reads (capacity, verification, deferral,
the creation key, VLAN and subnets for P9, BGP ends, provisioning state)
and hold no pydantic model.
"""

from __future__ import annotations

import ipaddress
import sys
from datetime import UTC, datetime

from pydantic import BaseModel, SecretStr

from interconnect_operator.api import models
from interconnect_operator.protocol.types import ProvisioningState, Side
from interconnect_operator.reconcile.records import (
    ConnectionRecord,
    FeatureRecord,
    SideView,
    feature_view,
)
from interconnect_operator.reconcile.snapshot import PoolSnapshot

PROVIDERS = {Side.NEGOTIATOR: "gcp", Side.RESPONDER: "aws"}


def _feature(**l3: object) -> models.Feature:
    config = {
        "vlanId": 1100,
        "ipv4Subnet": "169.254.10.0",
        "ipv4SubnetPrefixLength": 30,
        "mtuBytes": 1500,
        "providerBgpConfigs": [
            {"provider": "providers/gcp", "asn": 16550, "hostIpv4": "169.254.10.1"},
            {"provider": "providers/aws", "asn": 64512, "hostIpv4": "169.254.10.2"},
        ],
        **l3,
    }
    return models.Feature.model_validate(
        {
            "name": "providers/aws/environments/e/interconnects/ix1/connections/u/features/l3-ch1",
            "channel": "providers/aws/environments/e/interconnects/ix1/channels/ch1",
            "provisioningState": "PROVISIONING_STATE_FINAL",
            "featureConfig": {"featureType": "FEATURE_TYPE_L3_BASE", "l3BaseConfig": config},
        }
    )


def test_connection_record_keeps_what_decisions_read() -> None:
    wire = models.Connection.model_validate(
        {
            "name": "providers/aws/environments/e/interconnects/ix1/connections/u",
            "bandwidthMbps": 2000,
            "verificationState": "VERIFICATION_STATE_VERIFIED",
            "adminState": "ADMIN_STATE_ENABLED",
            "deferConnection": True,
            "connectionType": "CONNECTION_TYPE_TEST",
            "activationKey": "a2V5",
        }
    )
    record = ConnectionRecord.of(wire)
    assert record.bandwidth_mbps == 2000
    assert record.verification_state == "VERIFICATION_STATE_VERIFIED"
    assert record.admin_state == "ADMIN_STATE_ENABLED"
    assert record.deferred is True  # the spec's other spelling (P22)
    assert record.counts_against_capacity is False  # TEST (upstream PR #57)
    assert isinstance(record.activation_key, SecretStr)
    assert record.activation_key.get_secret_value() == "a2V5"
    assert "a2V5" not in repr(record)
    assert not hasattr(record, "__dict__")  # slotted


def test_feature_record_parses_subnets_once_and_converts_to_the_same_view() -> None:
    record = FeatureRecord.of(_feature(ipv6Subnet="fd00::8", ipv6SubnetPrefixLength=126))
    assert record.vlan == 1100
    assert record.ipv4 == ipaddress.IPv4Network("169.254.10.0/30")
    assert record.ipv6 == ipaddress.IPv6Network("fd00::8/126")
    assert not hasattr(record, "__dict__")
    assert not any(isinstance(getattr(record, f), BaseModel) for f in record.__slots__)
    view = feature_view("ch1", record, PROVIDERS)
    assert view is not None
    assert view.vlan == 1100
    assert view.ipv4_subnet == ipaddress.IPv4Network("169.254.10.0/30")
    assert view.state is ProvisioningState.FINAL
    assert view.bgp[Side.NEGOTIATOR].asn == 16550
    assert str(view.bgp[Side.RESPONDER].ipv4) == "169.254.10.2"


def test_a_feature_without_usable_l3_config_has_no_view() -> None:
    # A missing prefix length reads as /30 (the point-to-point default).
    assert FeatureRecord.of(_feature(ipv4SubnetPrefixLength=None)).ipv4 == (
        ipaddress.IPv4Network("169.254.10.0/30")
    )
    for bad in (
        {"ipv4Subnet": "not-an-address"},
        {"ipv6Subnet": "zz::1"},
        {"vlanId": None},
        {"ipv4Subnet": None},
    ):
        assert feature_view("ch1", FeatureRecord.of(_feature(**bad)), PROVIDERS) is None, bad


def test_equal_bgp_ends_and_states_are_one_shared_value() -> None:
    # Every channel of a link, on both sides, lists the same two peers: their
    # records are one tuple; the enum texts one string.
    first = FeatureRecord.of(_feature())
    item = models.ListFeaturesPage.model_validate_json(
        '{"features": [' + _feature().model_dump_json(by_alias=True) + "]}"
    ).features[0]
    second = FeatureRecord.of_item(item)
    assert second == first
    assert second.bgp is first.bgp
    assert second.provisioning_state is first.provisioning_state
    other = FeatureRecord.of(
        _feature(
            providerBgpConfigs=[
                {"provider": "providers/gcp", "asn": 16550, "hostIpv4": "169.254.10.5"},
                {"provider": "providers/aws", "asn": 64512, "hostIpv4": "169.254.10.6"},
            ]
        )
    )
    assert other.bgp is not first.bgp
    assert [end.host_ipv4 for end in other.bgp] == ["169.254.10.5", "169.254.10.6"]
    assert [end.provider for end in other.bgp] == ["gcp", "aws"]


def test_records_are_smaller_than_the_wire_models() -> None:
    wire = _feature()
    record = FeatureRecord.of(wire)
    assert sys.getsizeof(record) < sys.getsizeof(wire) + sys.getsizeof(wire.__dict__)


def _ix(name: str) -> models.Interconnect:
    return models.Interconnect.model_validate(
        {"name": f"providers/aws/environments/e/interconnects/{name}", "maxBandwidthMbps": 10000}
    )


def _two_interconnects() -> PoolSnapshot:
    sides = []
    for provider in ("gcp", "aws"):
        view = SideView(provider=provider)
        view.interconnects = {"ix1": _ix("ix1"), "ix2": _ix("ix2")}
        view.connections = {
            "ix1": {"u1": ConnectionRecord(bandwidth_mbps=1000)},
            "ix2": {"u2": ConnectionRecord(bandwidth_mbps=2000)},
        }
        sides.append(view)
    return PoolSnapshot("e", sides[0], sides[1], taken_at=datetime.now(UTC))


def _allocated(snapshot: PoolSnapshot, side: Side) -> dict[str, int]:
    return {v.id: v.allocated_mbps for v in snapshot.interconnect_views(side)}


def test_capacity_is_recomputed_only_for_the_interconnect_that_changed() -> None:
    snapshot = _two_interconnects()
    assert _allocated(snapshot, Side.RESPONDER) == {"ix1": 1000, "ix2": 2000}
    views = snapshot.interconnect_views(Side.RESPONDER)
    # A feature changes no bandwidth: the views are kept as they are.
    snapshot.invalidate("ix1", "ch1", capacity=False)
    assert snapshot.interconnect_views(Side.RESPONDER) is views
    # A connection on ix1: ix1 is summed again, ix2's sum is kept (a stale
    # ix2 figure shows here: its connections change behind the cache's back).
    snapshot.responder.connections["ix1"]["u3"] = ConnectionRecord(bandwidth_mbps=500)
    snapshot.responder.connections["ix2"]["u4"] = ConnectionRecord(bandwidth_mbps=500)
    snapshot.invalidate("ix1", usage=False)
    assert _allocated(snapshot, Side.RESPONDER) == {"ix1": 1500, "ix2": 2000}
    # Everything forgotten: both summed again.
    snapshot.invalidate()
    assert _allocated(snapshot, Side.RESPONDER) == {"ix1": 1500, "ix2": 2500}
    assert _allocated(snapshot, Side.NEGOTIATOR) == {"ix1": 1000, "ix2": 2000}
