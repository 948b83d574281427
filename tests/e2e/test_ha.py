"""Active/standby replicas on a coordination.k8s.io Lease: exactly one acts, the other takes over.

Runs on a control plane of its own (the session's operator is standalone and
would act on these links too). Two operator processes run with
``--leader-election`` (``k8s/leader.py``), as the chart runs its replicas. A
standby starts no pool loop and no reconcile at all: its provider-call
counter, its link work count and its pool round count all stay 0, through a
restart of the standby too (no priorities: a joiner never takes over from a
live leader). After SIGKILL of the leader the standby takes the Lease once it
expired as the standby observed it (15 s) and brings up the links applied
meanwhile, with no duplicate on either provider. The takeover time is
recorded, not asserted.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest

from tests.e2e.faults.rig import (
    FaultRig,
    crd_kube,
    own_control_plane,
    record_summary,
    start_rig,
)
from tests.support.invariants import assert_clean
from tests.support.stack import OperatorProcess, wait_for

pytestmark = pytest.mark.e2e

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


@pytest.fixture(scope="module")
def ha_rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultRig]:
    with own_control_plane("ha") as cp:
        kube = crd_kube(cp)
        rig = start_rig(kube, cp.log_dir / "stack", "ha", operator=False)
        try:
            yield rig
        finally:
            rig.stop()


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
    assert set(uuids) == set(first + second + later)
    report = rig.invariants(live=list(uuids.values()))
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
