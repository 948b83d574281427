"""The operator killed while links are mid-negotiation: a new process converges, no duplicates.

The shared UUID is written ahead (annotation) before any provider object
exists, and feature ids derive from the channel, so a restarted operator
must find what its predecessor created instead of creating it again: per
link exactly one connection per provider and one feature per channel.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import pytest

from tests.e2e.conftest import Stack
from tests.support.stack import is_ready, link_manifest, wait_for

pytestmark = pytest.mark.e2e

LINKS = 10


def test_sigkill_mid_negotiation_converges_without_duplicates(
    stack: Stack, namespace: str, make_pool: Any
) -> None:
    # Features stay PENDING 2 s (P13): the kills land while links are negotiating.
    pool = make_pool(provisioning_delay=2.0, refresh_interval=5)
    # Slow every provider call down so the kills land mid-flow however fast the
    # operator is (it creates all ten links in well under a second otherwise).
    slow = {"operations": {"*": {"latency_ms": 150}}}
    pool.aws.admin("/admin/faults", slow)
    pool.gcp.admin("/admin/faults", slow)
    names = [f"link-{i}" for i in range(LINKS)]
    stack.kube.apply([link_manifest(n, namespace, pool.name, 1000) for n in names])

    def progress() -> int:
        return len(pool.gcp.state()["connections"])

    # First kill: as soon as the first connections exist (mid-flow for most links).
    wait_for(lambda: progress() >= 1, 60, "first connection created", interval=0.05)
    stack.operator.kill()
    mid = (progress(), len(pool.aws.state()["features"]))
    stack.operator.restart()
    # Second kill: while features are still provisioning.
    time.sleep(1.5)
    stack.operator.kill()
    stack.operator.restart()
    pool.aws.admin("/admin/faults", {})
    pool.gcp.admin("/admin/faults", {})

    def all_ready() -> list[Any] | None:
        items = [stack.kube.try_get("mcl", n, namespace) for n in names]
        return items if all(is_ready(i) for i in items) else None

    links = wait_for(all_ready, 150, f"{LINKS} links Ready after two SIGKILLs")
    assert mid[0] < LINKS or mid[1] < 4 * LINKS  # the first kill did land mid-flow
    uuids = [link["status"]["sharedConnectionUuid"] for link in links]
    assert len(set(uuids)) == LINKS
    for link, uuid in zip(links, uuids, strict=True):
        assert link["metadata"]["annotations"]["interconnect.io/shared-connection-uuid"] == uuid
    for sim in (pool.aws, pool.gcp):
        state = sim.state()
        per_uuid = Counter(c["connection"] for c in state["connections"])
        assert per_uuid == Counter(dict.fromkeys(uuids, 1)), sim.provider_id
        features = Counter((f["connection"], f["channel"]) for f in state["features"])
        assert len(features) == 4 * LINKS, sim.provider_id
        assert set(features.values()) == {1}, sim.provider_id
        assert {c for c, _ in features} == set(uuids)
        assert {c["verificationState"] for c in state["connections"]} == {
            "VERIFICATION_STATE_VERIFIED"
        }
    placed = [k for k in pool.aws.state()["activationKeys"] if k["state"] == "placed"]
    assert sorted(k["sharedConnectionUuid"] for k in placed) == sorted(uuids)
