"""The pool's capacity policy as the link gate applies it (k8s.policy.capacity_denial)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from interconnect_operator.api import models
from interconnect_operator.k8s.policy import capacity_denial, provisioned_mbps
from interconnect_operator.reconcile.records import ConnectionRecord, SideView
from interconnect_operator.reconcile.snapshot import PoolSnapshot


def _side(provider: str, held: dict[str, int]) -> SideView:
    interconnect = models.Interconnect.model_validate(
        {"state": "INTERCONNECT_STATE_ACTIVE", "maxBandwidthMbps": 10000}
    )
    connections = {uuid: ConnectionRecord(bandwidth_mbps=mbps) for uuid, mbps in held.items()}
    return SideView(
        provider, interconnects={"ix-1": interconnect}, connections={"ix-1": connections}
    )


def _snapshot(held: dict[str, int], errors: dict[str, str] | None = None) -> PoolSnapshot:
    return PoolSnapshot(
        "env",
        _side("gcp", held),
        _side("aws", held),
        dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        errors=errors or {},
    )


def _config(*, maximum: int | None = None, headroom: int = 0) -> dict[str, Any]:
    policy: dict[str, Any] = {"headroomMbps": headroom}
    if maximum is not None:
        policy["maxBandwidthMbpsPerLink"] = maximum
    return policy


def test_the_per_link_maximum_applies_whatever_the_link_holds() -> None:
    snapshot = _snapshot({"mine": 5000})
    why = capacity_denial(5000, _config(maximum=2000), snapshot, "mine")
    assert why is not None
    assert "per-link maximum of 2000" in why
    assert capacity_denial(2000, _config(maximum=2000), snapshot, None) is None


def test_headroom_counts_only_the_growth_of_an_existing_link() -> None:
    snapshot = _snapshot({"mine": 2000, "other": 4000})  # 4000 Mbps free
    config = _config(headroom=2000)
    assert provisioned_mbps(snapshot, "mine") == 2000
    assert capacity_denial(2000, config, snapshot, "mine") is None  # unchanged
    assert capacity_denial(4000, config, snapshot, "mine") is None  # grows by 2000
    why = capacity_denial(5000, config, snapshot, "mine")  # grows by 3000
    assert why is not None
    assert "headroom of 2000" in why
    assert capacity_denial(3000, config, snapshot, None) is not None  # a new link


def test_headroom_is_not_judged_on_a_snapshot_missing_a_provider() -> None:
    snapshot = _snapshot({"other": 9000}, errors={"aws": "unreachable"})
    assert capacity_denial(1000, _config(headroom=2000), snapshot, "mine") is None
