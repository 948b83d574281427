"""Providers that fail while links negotiate: 5xx, 429, latency, lost responses, 409 races.

Every operation the operator uses gets the same rule (``"*"``) with a fixed
seed: 503 bursts, 429 with Retry-After (P33), added latency, requests
dropped without a response, and changes applied whose response never
arrives (unknown outcome: the operator must read before it retries, P5/P33).
All links end Ready, nothing is duplicated on either provider, and deleting
them under the same faults leaves nothing behind (P19).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.e2e.faults.rig import FaultRig, record_summary
from tests.support.invariants import assert_clean
from tests.support.stack import is_ready, wait_for

pytestmark = pytest.mark.e2e

SEED = 20260601
EVERY_OPERATION_FAULTS = {
    "seed": SEED,
    "hang_seconds": 1.0,
    "operations": {
        "*": {
            "error_rate": 0.08,
            "throttle_rate": 0.06,
            "retry_after": 1,
            "drop_rate": 0.03,
            "timeout_after_commit_rate": 0.05,
            "latency_ms": 20,
        }
    },
}

# One interconnect, room for exactly two 1 Gbps links (and a third that must wait).
TINY_INVENTORY = {
    "environments": [
        {
            "id": "aws-gcp-us-east",
            "interconnects": [
                {"id": "ix1", "state": "ACTIVE", "maxBandwidthMbps": 2000, "channels": 4},
            ],
        }
    ]
}


def test_every_operation_faulty_links_ready_no_duplicates_then_deleted_without_leaks_p33_p19(
    rig_factory: Callable[..., FaultRig],
) -> None:
    rig = rig_factory("everyop")
    ns = rig.namespace("everyop-links")
    rig.set_faults(EVERY_OPERATION_FAULTS)
    names = [f"l{i:02d}" for i in range(16)]
    rig.apply_links(ns, names)
    rig.wait_ready(ns, names, timeout=240)
    uuids = rig.uuids(ns)
    assert len(set(uuids.values())) == len(names)
    # A create whose request or response was lost is never a deletion by a provider
    # (P19 from its side needs a connection seen settled and confirmed gone).
    deleted_by = [
        (e["involvedObject"].get("name"), e["reason"])
        for e in rig.kube.events(ns)
        if str(e.get("reason", "")).startswith("DeletedBy")
    ]
    assert deleted_by == []
    report = rig.invariants(live=list(uuids.values()))
    assert_clean(report, "after all links Ready under faults")
    for sim in rig.sims:
        assert {c["connection"] for c in sim.state()["connections"]} == set(uuids.values())
    injected_up = rig.faults_injected()
    assert injected_up > 0, "the scenario must actually inject faults"
    assert rig.operator is not None
    assert rig.operator.alive()

    # Deletion under the same faults: every link ends with nothing on either provider.
    rig.reset_stats()
    rig.delete_links(ns, names)
    rig.wait_gone(ns, names, timeout=180)
    injected_down = rig.faults_injected()
    rig.clear_faults()
    final = rig.invariants(live=[], deleted=list(uuids.values()))
    record_summary(
        "every-operation faults (create+delete)",
        seed=SEED,
        links=len(names),
        faults_injected=injected_up + injected_down,
        links_ready=len(names),
        duplicates=report.duplicates,
        leaks=final.leaks,
    )
    assert_clean(final, "after deleting every link under faults")
    assert all(n == 0 for n in final.connections.values())


def test_two_links_race_for_the_last_capacity_p7(rig_factory: Callable[..., FaultRig]) -> None:
    """Three 1 Gbps links, room for two: two Ready, the third waits with a reason; no
    over-booking on either provider. Freeing capacity lets the third in."""
    rig = rig_factory("race", inventory=TINY_INVENTORY)
    ns = rig.namespace("race-links")
    names = ["a", "b", "c"]
    rig.apply_links(ns, names)

    def two_ready_one_waiting() -> Any:
        objs = rig.links(ns)
        ready = [o for o in objs if is_ready(o)]
        waiting = [
            o
            for o in objs
            if not is_ready(o) and (o.get("status") or {}).get("phase") not in (None, "")
        ]
        if len(ready) == 2 and len(waiting) == 1 and waiting[0]["status"].get("conditions"):
            return ready, waiting[0]
        return None

    ready, waiting = wait_for(two_ready_one_waiting, 120, "two Ready, one waiting", 1.0)
    ready_cond = next(c for c in waiting["status"]["conditions"] if c["type"] == "Ready")
    assert ready_cond["status"] == "False"
    assert ready_cond["reason"], "the waiting link says why"
    uuids = rig.uuids(ns)
    live = [uuids[o["metadata"]["name"]] for o in ready]
    report = rig.invariants(live=None)
    assert_clean(report, "capacity race")
    for sim in rig.sims:
        ix = next(i for i in sim.state()["interconnects"] if i["interconnect"] == "ix1")
        assert ix["allocatedMbps"] <= ix["maxBandwidthMbps"]
        held = {c["connection"] for c in sim.state()["connections"]}
        assert set(live) <= held
        assert len(held) == 2

    # Free one link's capacity: the waiting one gets it.
    loser = waiting["metadata"]["name"]
    freed = ready[0]["metadata"]["name"]
    rig.delete_links(ns, [freed])
    rig.wait_gone(ns, [freed], timeout=60)
    rig.wait_ready(ns, [loser], timeout=120)
    left = [n for n in names if n != freed]
    uuids = rig.uuids(ns)
    final = rig.invariants(live=[uuids[n] for n in left], deleted=[live[0]])
    record_summary(
        "capacity race (3 links, room for 2)",
        faults_injected=0,
        links_ready=rig.ready_count(ns),
        duplicates=final.duplicates,
        leaks=final.leaks,
    )
    assert_clean(final, "after the waiting link took the freed capacity")


def test_conflicts_on_create_feature_and_a_competing_negotiator_p9_p11(
    rig_factory: Callable[..., FaultRig],
) -> None:
    """409 on CreateFeature (a VLAN or subnet taken between guidance and creation):
    the operator re-reads and picks other values; all links Ready, one feature per
    (connection, channel), VLANs unique per channel."""
    rig = rig_factory("conflict")
    ns = rig.namespace("conflict-links")
    rig.set_faults(
        {
            "seed": SEED + 1,
            "operations": {"CreateFeature": {"conflict_rate": 0.3}},
        }
    )
    names = [f"c{i}" for i in range(8)]
    rig.apply_links(ns, names)
    rig.wait_ready(ns, names, timeout=180)
    conflicts = sum(
        int(
            ((sim.stats().get("byOperation") or {}).get("CreateFeature") or {})
            .get("byStatus", {})
            .get("409", 0)
        )
        for sim in rig.sims
    )
    rig.clear_faults()
    uuids = rig.uuids(ns)
    report = rig.invariants(live=list(uuids.values()))
    for sim in rig.sims:
        seen: dict[tuple[str, str, int], str] = {}
        for feature in sim.state()["features"]:
            key = (feature["interconnect"], feature["channel"], feature["vlanId"])
            assert key not in seen, f"VLAN reused on a channel: {key}"
            seen[key] = feature["connection"]
    record_summary(
        "409 on CreateFeature",
        seed=SEED + 1,
        faults_injected=conflicts,
        links_ready=rig.ready_count(ns),
        duplicates=report.duplicates,
        leaks=report.leaks,
    )
    assert conflicts > 0
    assert_clean(report, "after CreateFeature conflicts")
