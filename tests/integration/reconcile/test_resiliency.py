"""Resiliency audit: a link whose channels share a device at a provider is not Resilient.

The responder's inventory puts ch1 and ch2 of every interconnect on one device
(the same ``obfuscatedDeviceId``); the negotiator's are all distinct.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from interconnect_operator.k8s.pool_report import pool_health
from interconnect_operator.k8s.pool_status import pool_resilient
from interconnect_operator.metrics import OperatorMetrics
from interconnect_operator.simulator.inventory import Inventory, load_inventory
from tests.integration.reconcile.conftest import ENV, RESPONDER, Rig, link_request


def _shared_device(tmp_path: Path, provider: str) -> Inventory:
    channels: list[dict[str, Any]] = [
        {"id": "ch1", "device": "r1"},
        {"id": "ch2", "device": "r1"},
        {"id": "ch3", "device": "r2"},
        {"id": "ch4", "device": "r3"},
    ]
    document = {
        "environments": [
            {
                "id": ENV,
                "interconnects": [
                    {"id": "ix1", "channels": channels},
                    {"id": "ix2", "channels": channels},
                ],
            }
        ]
    }
    path = tmp_path / f"{provider}.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return load_inventory(path, provider)


async def test_distinct_devices_make_a_resilient_link(rig: Rig) -> None:
    op = rig.operator()
    ready, _ = await rig.drive(op, link_request(account="acct-1"))

    assert ready.status is not None
    resilient = ready.status.condition("Resilient")
    assert (resilient.is_true, resilient.reason) == (True, "DistinctDevices")


async def test_two_channels_on_one_device_are_reported(make_rig: Any, tmp_path: Path) -> None:
    rig: Rig = make_rig(aws_inventory=_shared_device(tmp_path, RESPONDER))
    op = rig.operator()

    ready, _ = await rig.drive(op, link_request(account="acct-1"))

    assert ready.status is not None
    assert ready.status.ready  # the audit does not stop the link
    resilient = ready.status.condition("Resilient")
    assert resilient.status.value == "False"
    assert resilient.reason == "SharedDevice"
    assert "responder: ch1+ch2 on one device (3 devices for 4 channels)" in resilient.message
    assert "negotiator" not in resilient.message


async def test_the_pool_reports_it_as_a_condition_and_a_metric(
    make_rig: Any, tmp_path: Path
) -> None:
    rig: Rig = make_rig(aws_inventory=_shared_device(tmp_path, RESPONDER))
    op = rig.operator()
    await op.runtime.refresh()
    report = op.runtime.report()

    condition = pool_resilient(report, 1)
    assert (condition.status.value, condition.reason) == ("False", "SharedDevice")
    assert "ix1: channels share a device: responder: ch1+ch2" in condition.message
    assert "ix2:" in condition.message

    metrics = OperatorMetrics()
    metrics.set_pool(pool_health("pool", report, {}))
    samples = {
        (s.labels["interconnect"], s.labels["provider"]): s.value
        for family in metrics.registry.collect()
        if family.name == "interconnect_pool_channels_sharing_device"
        for s in family.samples
    }
    assert samples == {
        ("ix1", "aws"): 2.0,
        ("ix1", "gcp"): 0.0,
        ("ix2", "aws"): 2.0,
        ("ix2", "gcp"): 0.0,
    }


async def test_a_pool_on_distinct_devices_is_resilient(rig: Rig) -> None:
    op = rig.operator()
    await op.runtime.refresh()
    condition = pool_resilient(op.runtime.report(), 1)
    assert (condition.status.value, condition.reason) == ("True", "DistinctDevices")
