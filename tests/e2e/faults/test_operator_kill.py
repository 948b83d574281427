"""The operator killed with SIGKILL at random (seeded) points while links negotiate.

What makes this safe is the write-ahead of the shared UUID (annotation and
finalizer before any provider object, P5) and reading before creating after
a restart: however often the process dies, every link ends Ready with
exactly one connection per side and one feature per channel.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

import pytest

from tests.e2e.faults.rig import FaultRig, record_summary
from tests.support.invariants import assert_clean

pytestmark = pytest.mark.e2e

SEED = 7321
LINKS = 50
KILLS = 4


def test_sigkill_at_random_points_all_ready_no_duplicates(
    rig_factory: Callable[..., FaultRig],
) -> None:
    rig = rig_factory("kill", provisioning_delay=1.0)
    ns = rig.namespace("kill-links")
    names = [f"k{i:02d}" for i in range(LINKS)]
    rng = random.Random(SEED)
    rig.apply_links(ns, names)
    assert rig.operator is not None
    delays = []
    for _ in range(KILLS):
        delay = round(rng.uniform(0.5, 5.0), 2)
        delays.append(delay)
        time.sleep(delay)  # a seeded point in the negotiation, not a timing assertion
        rig.operator.kill()
        assert not rig.operator.alive()
        rig.operator.restart()
    ready_before = rig.ready_count(ns)
    rig.wait_ready(ns, names, timeout=300)
    uuids = rig.uuids(ns)
    assert len(set(uuids.values())) == LINKS
    report = rig.invariants(live=list(uuids.values()))
    for sim in rig.sims:
        assert len(sim.state()["connections"]) == LINKS
    record_summary(
        "operator SIGKILLed while links negotiate",
        seed=SEED,
        kills=KILLS,
        kill_delays=delays,
        ready_at_last_restart=ready_before,
        faults_injected=KILLS,
        links_ready=rig.ready_count(ns),
        duplicates=report.duplicates,
        leaks=report.leaks,
    )
    assert_clean(report, "after repeated SIGKILLs")
