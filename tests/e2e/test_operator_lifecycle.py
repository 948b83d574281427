"""A link's life after Ready: bandwidth changes (P16, P18), pause, deletion (P19).

Run against real processes: the operator under the chart's RBAC, two
simulators. What the providers hold is read from both simulators after
every step, never inferred from the link's status alone.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.e2e.conftest import Stack, mutating_calls, sim_connections, sim_features
from tests.support.stack import Simulator, is_ready, link_manifest, wait_for

pytestmark = pytest.mark.e2e

# ix1 15 Gbps, ix2 10 Gbps: a 1 Gbps link lands on ix1 (most free first), a
# 10 Gbps filler follows it there, and growing the link to 10 Gbps then fits
# only on ix2.
MIGRATION_INVENTORY = {
    "environments": [
        {
            "id": "aws-gcp-us-east",
            "interconnects": [
                {"id": "ix1", "state": "ACTIVE", "maxBandwidthMbps": 15000, "channels": 4},
                {"id": "ix2", "state": "ACTIVE", "maxBandwidthMbps": 10000, "channels": 4},
            ],
        }
    ]
}


def _ready(stack: Stack, namespace: str, name: str, timeout: float = 60, **want: Any) -> Any:
    """Wait until the link is Ready for its current generation (and status matches ``want``)."""

    def check() -> Any:
        obj = stack.kube.try_get("mcl", name, namespace)
        if not (obj and is_ready(obj)):
            return None
        status = obj["status"]
        if status.get("observedGeneration") != obj["metadata"]["generation"]:
            return None
        if any(status.get(k) != v for k, v in want.items()):
            return None
        return obj

    return wait_for(check, timeout, f"{namespace}/{name} Ready {want or ''}")


def _placements(sim: Simulator, uuid: str) -> list[tuple[str, int, int]]:
    """(interconnect, bandwidth, feature count) of every connection ``uuid`` has on ``sim``."""
    return sorted(
        (c["interconnect"], c["bandwidthMbps"], c["features"]) for c in sim_connections(sim, uuid)
    )


def _set_bandwidth(stack: Stack, namespace: str, name: str, mbps: int) -> None:
    stack.kube.run(
        "patch",
        "mcl",
        name,
        "-n",
        namespace,
        "--type=merge",
        "-p",
        f'{{"spec":{{"bandwidthMbps":{mbps}}}}}',
    )


def test_bandwidth_update_in_place_p16_then_migration_p18(
    stack: Stack, namespace: str, make_pool: Any
) -> None:
    pool = make_pool(inventory=MIGRATION_INVENTORY)
    stack.kube.apply([link_manifest("grow", namespace, pool.name, 1000)])
    first = _ready(stack, namespace, "grow")
    uuid, ix = first["status"]["sharedConnectionUuid"], first["status"]["interconnect"]
    assert ix == "ix1"

    # P16: 1 -> 2 Gbps fits where it is: same UUID, same interconnect, both sides.
    _set_bandwidth(stack, namespace, "grow", 2000)
    wait_for(
        lambda: all(_placements(s, uuid) == [("ix1", 2000, 4)] for s in (pool.aws, pool.gcp)),
        60,
        "both providers at 2000 Mbps on ix1",
    )
    updated = _ready(stack, namespace, "grow")
    assert updated["status"]["interconnect"] == "ix1"
    assert updated["status"]["sharedConnectionUuid"] == uuid

    # Fill ix1 so that 10 Gbps fits only on ix2.
    stack.kube.apply([link_manifest("filler", namespace, pool.name, 10000)])
    filler = _ready(stack, namespace, "filler")
    assert filler["status"]["interconnect"] == "ix1"

    # P18: the same UUID is created on ix2, then removed from ix1.
    _set_bandwidth(stack, namespace, "grow", 10000)
    migrated = _ready(stack, namespace, "grow", 90, interconnect="ix2")
    assert migrated["status"]["sharedConnectionUuid"] == uuid
    assert migrated["status"]["phase"] == "Ready"
    wait_for(
        lambda: all(_placements(s, uuid) == [("ix2", 10000, 4)] for s in (pool.aws, pool.gcp)),
        30,
        "the link only on ix2, on both providers",
    )
    for sim in (pool.aws, pool.gcp):
        assert {f["interconnect"] for f in sim_features(sim, uuid)} == {"ix2"}
        assert (
            next(c for c in sim_connections(sim, uuid))["verificationState"]
            == "VERIFICATION_STATE_VERIFIED"
        )
    events = [
        e["reason"] for e in stack.kube.events(namespace) if e["involvedObject"]["name"] == "grow"
    ]
    assert "LinkMigrating" in events


def test_pause_stops_provider_calls_and_resume_applies_pending_change(
    stack: Stack, namespace: str, make_pool: Any
) -> None:
    pool = make_pool()
    stack.kube.apply([link_manifest("paused", namespace, pool.name, 1000)])
    uuid = _ready(stack, namespace, "paused")["status"]["sharedConnectionUuid"]

    stack.kube.run("annotate", "mcl", "paused", "-n", namespace, "interconnect.io/paused=true")
    wait_for(
        lambda: (
            (stack.kube.try_get("mcl", "paused", namespace) or {}).get("status", {}).get("phase")
            == "Paused"
        ),
        30,
        "phase Paused",
    )
    before = (mutating_calls(pool.aws), mutating_calls(pool.gcp))
    # A change while paused is not acted upon: no UpdateConnection, no write anywhere.
    _set_bandwidth(stack, namespace, "paused", 2000)
    time.sleep(4)
    assert (mutating_calls(pool.aws), mutating_calls(pool.gcp)) == before
    for sim in (pool.aws, pool.gcp):
        assert [(b, n) for _, b, n in _placements(sim, uuid)] == [(1000, 4)]
    obj = stack.kube.try_get("mcl", "paused", namespace)
    assert obj is not None
    assert obj["status"]["phase"] == "Paused"
    conditions = {c["type"]: c for c in obj["status"]["conditions"]}
    # The link itself stays up while paused; only reconciliation stops.
    assert conditions["Ready"]["status"] == "True"
    assert "paused" in obj["status"]["message"], obj["status"]

    stack.kube.run("annotate", "mcl", "paused", "-n", namespace, "interconnect.io/paused-")
    wait_for(
        lambda: all(
            [b for _, b, _ in _placements(s, uuid)] == [2000] for s in (pool.aws, pool.gcp)
        ),
        60,
        "the change made while paused applied after resume",
    )
    resumed = _ready(stack, namespace, "paused")
    assert resumed["status"]["sharedConnectionUuid"] == uuid
    assert mutating_calls(pool.aws).get("UpdateConnection", 0) > before[0].get(
        "UpdateConnection", 0
    )


def test_delete_policy_removes_everything_from_both_providers(
    stack: Stack, namespace: str, make_pool: Any
) -> None:
    pool = make_pool()
    stack.kube.apply([link_manifest("doomed", namespace, pool.name, 2000)])
    uuid = _ready(stack, namespace, "doomed")["status"]["sharedConnectionUuid"]
    stack.kube.delete("mcl", "doomed", namespace)
    wait_for(lambda: stack.kube.try_get("mcl", "doomed", namespace) is None, 60, "link gone")
    for sim in (pool.aws, pool.gcp):
        state = sim.state()
        assert state["connections"] == []
        assert state["features"] == []
        assert all(ix["allocatedMbps"] == 0 for ix in state["interconnects"])
        # P19: the key cannot be used again once nothing of the UUID is left.
        assert all(
            k["state"] != "issued"
            for k in state["activationKeys"]
            if k["sharedConnectionUuid"] == uuid
        )


def test_orphan_policy_keeps_everything_and_releases_the_object(
    stack: Stack, namespace: str, make_pool: Any
) -> None:
    pool = make_pool()
    stack.kube.apply([link_manifest("kept", namespace, pool.name, 1000, deletionPolicy="Orphan")])
    ready = _ready(stack, namespace, "kept")
    uuid = ready["status"]["sharedConnectionUuid"]
    assert "interconnect.io/finalizer" in ready["metadata"]["finalizers"]
    held = [(_placements(s, uuid), len(sim_features(s, uuid))) for s in (pool.aws, pool.gcp)]
    before = (mutating_calls(pool.aws), mutating_calls(pool.gcp))
    stack.kube.delete("mcl", "kept", namespace)
    wait_for(lambda: stack.kube.try_get("mcl", "kept", namespace) is None, 60, "link gone")
    time.sleep(1)
    assert [
        (_placements(s, uuid), len(sim_features(s, uuid))) for s in (pool.aws, pool.gcp)
    ] == held
    assert all(p[0][0][2] == 4 for p in held)
    # Orphan: not a single DeleteConnection/DeleteFeature on either side.
    after = (mutating_calls(pool.aws), mutating_calls(pool.gcp))
    for b, a in zip(before, after, strict=True):
        assert {k: v for k, v in a.items() if k.startswith("Delete")} == {
            k: v for k, v in b.items() if k.startswith("Delete")
        }
