"""A provider that goes away and comes back; one that loses a feature; restarts with state.

The simulators run with state files, so stopping one is a provider outage
(nothing it held is lost) and starting it again is the provider coming back.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from interconnect_operator.k8s.settings import FINALIZER
from tests.e2e.faults.rig import FaultRig, record_summary
from tests.support.invariants import assert_clean
from tests.support.stack import condition, is_ready, wait_for

pytestmark = pytest.mark.e2e

ENV = "aws-gcp-us-east"


@pytest.fixture(scope="module")
def rig(rig_factory: Callable[..., FaultRig]) -> FaultRig:
    return rig_factory("outage")


def _held(rig: FaultRig) -> dict[str, tuple[set[str], set[tuple[str, str]]]]:
    """provider -> (connection UUIDs, (UUID, channel) of features)."""
    out = {}
    for sim in rig.sims:
        state = sim.state()
        out[sim.provider_id] = (
            {c["connection"] for c in state["connections"]},
            {(f["connection"], f["channel"]) for f in state["features"]},
        )
    return out


def test_provider_down_then_back_links_applied_meanwhile_become_ready(rig: FaultRig) -> None:
    ns = rig.namespace("outage-down")
    first = ["d0", "d1", "d2"]
    rig.apply_links(ns, first)
    rig.wait_ready(ns, first, timeout=90)

    rig.aws.stop()  # the responder is down; its state file stays
    wait_for(
        lambda: (
            (c := condition(rig.kube.try_get("cpool", rig.pool), "ProvidersReachable"))
            and c.get("status") == "False"
        ),
        60,
        "pool ProvidersReachable=False",
        1.0,
    )
    later = ["d3", "d4"]
    rig.apply_links(ns, later)
    # Links already Ready keep what they had (the pool keeps the last view of an
    # unreachable side); the new ones cannot progress and say so.
    wait_for(
        lambda: all(
            (o.get("status") or {}).get("conditions")
            for o in rig.links(ns)
            if o["metadata"]["name"] in later
        ),
        60,
        "the new links report a condition while the responder is down",
        1.0,
    )
    assert not any(is_ready(o) for o in rig.links(ns) if o["metadata"]["name"] in later)
    assert rig.operator is not None
    assert rig.operator.alive()

    rig.aws.restart()
    rig.wait_ready(ns, first + later, timeout=120)
    wait_for(
        lambda: (
            (c := condition(rig.kube.try_get("cpool", rig.pool), "ProvidersReachable"))
            and c.get("status") == "True"
        ),
        60,
        "pool ProvidersReachable=True again",
        1.0,
    )
    uuids = rig.uuids(ns)
    report = rig.invariants(live=list(uuids.values()))
    record_summary(
        "responder down, then back",
        faults_injected=1,
        links_ready=rig.ready_count(ns),
        duplicates=report.duplicates,
        leaks=report.leaks,
    )
    assert_clean(report, "after the responder came back")


def test_provider_loses_a_feature_link_degraded_then_ready_p20(rig: FaultRig) -> None:
    ns = rig.namespace("outage-lose")
    rig.apply_links(ns, ["lost"])
    rig.wait_ready(ns, ["lost"], timeout=90)
    uuid = rig.uuids(ns)["lost"]
    feature = next(f for f in rig.aws.state()["features"] if f["connection"] == uuid)
    name = (
        f"providers/gcp/environments/{ENV}/interconnects/{feature['interconnect']}"
        f"/connections/{uuid}/features/{feature['feature']}"
    )
    answer = rig.aws.admin("/admin/lose-feature", {"name": name, "mode": "delete"})
    assert answer["channel"] == feature["channel"]

    def degraded() -> Any:
        obj = rig.kube.try_get("mcl", "lost", ns)
        cond = condition(obj, "Degraded")
        return obj if cond and cond.get("status") == "True" else None

    wait_for(degraded, 60, "link Degraded after the feature was lost", 0.5)
    rig.wait_ready(ns, ["lost"], timeout=90)
    obj = rig.kube.get("mcl", "lost", ns)
    assert condition(obj, "Degraded")["status"] == "False"  # type: ignore[index]
    # P20: the channel has a feature again on the provider that lost it.
    assert (uuid, feature["channel"]) in _held(rig)["aws"][1]
    report = rig.invariants(live=list(rig.uuids(ns).values()) + _other_live(rig, ns))
    reasons = [e["reason"] for e in rig.kube.events(ns) if e["involvedObject"]["name"] == "lost"]
    record_summary(
        "lost feature (P20)",
        faults_injected=1,
        links_ready=rig.ready_count(ns),
        duplicates=report.duplicates,
        leaks=report.leaks,
    )
    assert "LinkDegraded" in reasons
    assert_clean(report, "after P20 recreation")


def _other_live(rig: FaultRig, ns: str) -> list[str]:
    """UUIDs of the links of the module's other namespaces (all live)."""
    out: list[str] = []
    for other in rig.namespaces:
        if other != ns:
            out += list(rig.uuids(other).values())
    return out


def test_simulators_restarted_with_their_state_lose_nothing(rig: FaultRig) -> None:
    ns = rig.namespace("outage-restart")
    names = ["r0", "r1"]
    rig.apply_links(ns, names)
    rig.wait_ready(ns, names, timeout=90)
    before = _held(rig)
    for sim in rig.sims:
        sim.restart()
    assert _held(rig) == before
    # Links stay Ready (and become Ready again if a refresh saw a side missing).
    for namespace in rig.namespaces:
        rig.wait_ready(namespace, list(rig.uuids(namespace)), timeout=60)
    live = [u for n in rig.namespaces for u in rig.uuids(n).values()]
    report = rig.invariants(live=live)
    record_summary(
        "both simulators restarted with state",
        faults_injected=2,
        links_ready=sum(rig.ready_count(n) for n in rig.namespaces),
        duplicates=report.duplicates,
        leaks=report.leaks,
    )
    assert_clean(report, "after simulator restarts")


def test_deletion_with_a_provider_unreachable_waits_then_completes_p19(rig: FaultRig) -> None:
    ns = rig.namespace("outage-delete")
    names = ["x0", "x1"]
    rig.apply_links(ns, names)
    rig.wait_ready(ns, names, timeout=90)
    uuids = rig.uuids(ns)

    rig.gcp.stop()  # the negotiator is unreachable
    rig.delete_links(ns, names)

    def waiting() -> Any:
        objs = rig.links(ns)
        conds = [condition(o, "Ready") for o in objs]
        reasons = {c.get("reason") for c in conds if c}
        if len(objs) == len(names) and reasons <= {"ProviderUnreachable", "ProviderError"}:
            return reasons
        return None

    reasons = wait_for(waiting, 60, "deletion waiting with ProviderUnreachable", 1.0)
    events = {
        e["reason"]
        for e in rig.kube.events(ns)
        if e["involvedObject"]["name"] in names and e["type"] == "Warning"
    }
    assert events & {"ProviderUnreachable", "ProviderError"}, events
    # Nothing was released while a provider could not confirm the deletion.
    assert all(FINALIZER in o["metadata"]["finalizers"] for o in rig.links(ns))

    rig.gcp.restart()
    rig.wait_gone(ns, names, timeout=90)
    live = [u for n in rig.namespaces if n != ns for u in rig.uuids(n).values()]
    report = rig.invariants(live=live, deleted=list(uuids.values()))
    record_summary(
        "deletion with the negotiator unreachable",
        waited_with=sorted(reasons),
        faults_injected=1,
        links_ready=sum(rig.ready_count(n) for n in rig.namespaces),
        duplicates=report.duplicates,
        leaks=report.leaks,
    )
    assert_clean(report, "after deletion completed")
