"""Active/standby replicas: exactly one acts, the other takes over.

Two mechanisms: kopf peering (``--peering``) and a coordination.k8s.io Lease
(``--leader-election``, ``k8s/leader.py``). With the Lease a standby starts
no pool loop and no reconcile at all: its provider-call counter, its link
work count and its pool round count all stay 0, through a restart of the
standby too; after SIGKILL of the leader it takes over once the Lease
expired as it observed it (15 s) and brings up links applied meanwhile.

Runs on a control plane of its own (the session's operator is standalone and
would act on these links too). The peering CRDs and the ClusterKopfPeering
object come from the chart (``templates/peering.yaml``, rendered with
``helm template``), as a user installing the chart would get them. Two
operator processes join the same peering with different priorities:

- only the higher priority one acts: the standby's
  ``interconnect_provider_requests_total`` stays 0 while links come up;
- after SIGKILL of the active one, the standby takes over (kopf drops a peer
  whose keep-alive expired) and brings up links applied after the kill, with
  no duplicate on either provider.

How long the takeover takes is measured and printed, not asserted: it is
bounded by kopf's peering lifetime (60 s by default, the dead peer's last
keep-alive plus its lifetime).
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.e2e.faults.rig import (
    FaultRig,
    crd_kube,
    own_control_plane,
    record_summary,
    start_rig,
)
from tests.support.cluster import ensure_binaries
from tests.support.invariants import assert_clean
from tests.support.stack import OperatorProcess, wait_for

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
REPO_CHART = "charts/interconnect-operator"
PEERING = "interconnect-ha"
_SAMPLE = re.compile(r"^interconnect_provider_requests_total\{[^}]*\}\s+([0-9.eE+-]+)$", re.M)
_LINK_WORK = re.compile(
    r'^interconnect_workqueue_work_duration_seconds_count\{name="links"\}\s+([0-9.eE+-]+)$', re.M
)
_POOL_ROUNDS = re.compile(
    r'^interconnect_reconcile_duration_seconds_count\{kind="pool"\}\s+([0-9.eE+-]+)$', re.M
)


def provider_requests(op: OperatorProcess) -> float:
    """Sum of ``interconnect_provider_requests_total`` over all label sets."""
    return sum(float(v) for v in _SAMPLE.findall(op.metrics()))


def acted(op: OperatorProcess) -> float:
    """Provider calls + link reconciles + pool rounds: 0 for a replica that never acted."""
    text = op.metrics()
    return provider_requests(op) + sum(
        float(v) for pattern in (_LINK_WORK, _POOL_ROUNDS) for v in pattern.findall(text)
    )


def chart_peering_manifests() -> list[dict[str, object]]:
    helm = ensure_binaries(quiet=True).helm
    out = subprocess.run(
        [
            str(helm),
            "template",
            "ha",
            str(REPO / REPO_CHART),
            "--set",
            "peering.enabled=true",
            "--set",
            f"peering.name={PEERING}",
            "--kube-version",
            "1.35.0",
            "--show-only",
            "templates/peering.yaml",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    return [d for d in yaml.safe_load_all(out) if d]


@pytest.fixture(scope="module")
def ha_rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultRig]:
    with own_control_plane("ha") as cp:
        kube = crd_kube(cp)
        docs = chart_peering_manifests()
        kinds = sorted(str(d["kind"]) for d in docs)
        assert kinds == [
            "ClusterKopfPeering",
            "CustomResourceDefinition",
            "CustomResourceDefinition",
        ]
        crds = [d for d in docs if d["kind"] == "CustomResourceDefinition"]
        kube.apply(crds)
        kube.run("wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")
        kube.apply([d for d in docs if d["kind"] != "CustomResourceDefinition"])
        rig = start_rig(kube, cp.log_dir / "stack", "ha", operator=False)
        try:
            yield rig
        finally:
            rig.stop()


def test_one_replica_acts_standby_takes_over_after_sigkill_without_duplicates(
    ha_rig: FaultRig,
) -> None:
    rig = ha_rig
    active = rig.start_operator("operator-active", "--peering", PEERING, "--priority", "200")
    standby = start_standby(rig)
    ns = rig.namespace("ha-links")
    first = [f"h{i}" for i in range(6)]
    rig.apply_links(ns, first)
    rig.operator = active
    rig.wait_ready(ns, first, timeout=120)
    assert provider_requests(active) > 0
    assert provider_requests(standby) == 0, "the standby must not call providers"

    active.kill()
    killed_at = time.monotonic()
    rig.operator = standby
    later = [f"t{i}" for i in range(3)]
    rig.apply_links(ns, later)
    wait_for(lambda: provider_requests(standby) > 0, 120, "the standby takes over", 1.0)
    takeover = time.monotonic() - killed_at
    rig.wait_ready(ns, first + later, timeout=120)
    uuids = rig.uuids(ns)
    report = rig.invariants(live=list(uuids.values()))
    record_summary(
        "HA: SIGKILL of the active replica",
        takeover_seconds=round(takeover, 1),
        faults_injected=1,
        links_ready=rig.ready_count(ns),
        duplicates=report.duplicates,
        leaks=report.leaks,
    )
    assert standby.alive()
    # kopf logs the end of the standby's pause when the active peer expired.
    assert "Resuming operations" in standby.log()
    assert_clean(report, "after the standby took over")
    standby.stop()


def start_standby(rig: FaultRig) -> OperatorProcess:
    """The second replica, lower priority; it must pause as soon as it sees the active one."""
    first = rig.operator
    standby = rig.start_operator("operator-standby", "--peering", PEERING, "--priority", "100")
    rig.operator = first
    return standby


def test_lease_one_actor_through_a_standby_restart_and_a_takeover_after_sigkill(
    ha_rig: FaultRig,
) -> None:
    rig = ha_rig
    leader = rig.start_operator("lease-a", "--leader-election")
    wait_for(lambda: "leading: lease" in leader.log(), 30, "the first replica leads", 0.5)
    standby = rig.start_operator("lease-b", "--leader-election")
    rig.operator = leader
    ns = rig.namespace("lease-links")
    first = [f"e{i}" for i in range(4)]
    rig.apply_links(ns, first)
    rig.wait_ready(ns, first, timeout=120)
    assert provider_requests(leader) > 0
    assert acted(standby) == 0, "the standby must neither call providers nor reconcile"

    # A restarted standby stays a standby (no priorities, nothing to win).
    standby.restart()
    second = [f"r{i}" for i in range(2)]
    rig.apply_links(ns, second)
    rig.wait_ready(ns, first + second, timeout=120)
    assert acted(standby) == 0
    assert "leading: lease" not in standby.log()

    leader.kill()
    killed_at = time.monotonic()
    rig.operator = standby
    later = [f"k{i}" for i in range(2)]
    rig.apply_links(ns, later)
    wait_for(lambda: "leading: lease" in standby.log(), 60, "the standby takes the Lease", 0.5)
    takeover = time.monotonic() - killed_at
    rig.wait_ready(ns, first + second + later, timeout=120)
    assert provider_requests(standby) > 0
    uuids = rig.uuids(ns)
    report = rig.invariants(live=[uuids[n] for n in first + second + later])
    record_summary(
        "HA (Lease): SIGKILL of the leader",
        takeover_seconds=round(takeover, 1),
        faults_injected=1,
        links_ready=rig.ready_count(ns),
        duplicates=report.duplicates,
        leaks=report.leaks,
    )
    assert_clean(report, "after the standby took the Lease")
    standby.stop()
