"""The Kubernetes API server restarted while links reconcile.

This module's control plane is its own (``faults_cluster``): its
kube-apiserver is stopped and started again on the same port over the same
etcd. The operator's watches must resume (kopf re-lists) and miss nothing:
links applied right before the stop and right after the start all end
Ready, with no duplicate on either provider.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from tests.e2e.faults.rig import FaultRig, RestartableControlPlane, record_summary
from tests.support.invariants import assert_clean

pytestmark = pytest.mark.e2e

DOWN_SECONDS = 8.0


def test_apiserver_restart_during_reconciliation_misses_nothing(
    rig_factory: Callable[..., FaultRig], faults_cluster: RestartableControlPlane
) -> None:
    rig = rig_factory("apirestart", provisioning_delay=1.0)
    ns = rig.namespace("apirestart-links")
    before = [f"b{i}" for i in range(8)]
    rig.apply_links(ns, before)
    time.sleep(1.0)  # let reconciliation start, then pull the API server away
    faults_cluster.stop_apiserver()
    time.sleep(DOWN_SECONDS)  # provider work goes on; status writes and watches fail
    assert rig.operator is not None
    alive_while_down = rig.operator.alive()
    faults_cluster.start_apiserver()
    after = [f"a{i}" for i in range(4)]
    rig.apply_links(ns, after)
    rig.wait_ready(ns, before + after, timeout=180)
    uuids = rig.uuids(ns)
    report = rig.invariants(live=list(uuids.values()))
    record_summary(
        "kube-apiserver restarted during reconciliation",
        down_seconds=DOWN_SECONDS,
        faults_injected=1,
        links_ready=rig.ready_count(ns),
        duplicates=report.duplicates,
        leaks=report.leaks,
    )
    assert alive_while_down
    assert rig.operator.alive()
    assert_clean(report, "after the API server restart")
