"""Resiliency audit verdicts over obfuscatedDeviceId (pure)."""

from __future__ import annotations

from interconnect_operator.protocol.resiliency import device_spread, resiliency
from interconnect_operator.protocol.types import Side

CH = ("ch1", "ch2", "ch3", "ch4")
DISTINCT = {c: f"d-{c}" for c in CH}


def test_distinct_devices_on_both_sides_are_resilient() -> None:
    verdict = resiliency([device_spread(s, CH, DISTINCT) for s in Side])
    assert (verdict.resilient, verdict.reason, verdict.sharing) == (True, "DistinctDevices", 0)


def test_a_shared_device_on_one_side_is_named() -> None:
    shared = {**DISTINCT, "ch3": "d-ch1"}
    spread = device_spread(Side.RESPONDER, CH, shared)
    assert spread.shared == (("ch1", "ch3"),)
    assert (spread.devices, spread.sharing) == (3, 2)
    verdict = resiliency([device_spread(Side.NEGOTIATOR, CH, DISTINCT), spread])
    assert (verdict.resilient, verdict.reason) == (False, "SharedDevice")
    assert "responder: ch1+ch3 on one device (3 devices for 4 channels)" in verdict.message


def test_missing_device_ids_leave_it_unknown_unless_something_is_shared() -> None:
    partial = {"ch1": "a", "ch2": None, "ch3": "c", "ch4": "d"}
    unknown = resiliency([device_spread(s, CH, partial) for s in Side])
    assert (unknown.resilient, unknown.reason) == (None, "DeviceUnknown")
    shared = resiliency([device_spread(s, CH, {**partial, "ch3": "a"}) for s in Side])
    assert shared.resilient is False


def test_one_channel_or_none_is_not_resilient() -> None:
    one = resiliency([device_spread(s, ("ch1",), DISTINCT) for s in Side])
    assert (one.resilient, one.reason) == (False, "SingleChannel")
    assert resiliency([]).resilient is None
