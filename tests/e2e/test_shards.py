"""Shards on the real API server: two operator instances, each owning one pool.

Each instance runs with ``--pool-selector`` (``shard=a`` / ``shard=b``) against
the same control plane and the same two simulators. Links of both pools come
up; each instance's ``/metrics`` names only its own pool and links; while the
``b`` instance is stopped, a new link of pool ``b`` gets no status, no
finalizer and no provider object from the ``a`` instance (a link whose pool is
not owned is ignored, never touched) and comes up once ``b`` is back.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest

from tests.e2e.faults.rig import FaultRig, crd_kube, own_control_plane, start_rig
from tests.support.invariants import assert_clean
from tests.support.stack import OperatorProcess, link_manifest, pool_manifests

pytestmark = pytest.mark.e2e

_POOL_SERIES = re.compile(r'^interconnect_pool_links\{[^}]*pool="([^"]+)"', re.M)
_LINK_SERIES = re.compile(r'^interconnect_link_ready\{[^}]*name="([^"]+)"', re.M)


def pools_named(op: OperatorProcess) -> set[str]:
    return set(_POOL_SERIES.findall(op.metrics()))


def links_named(op: OperatorProcess) -> set[str]:
    return set(_LINK_SERIES.findall(op.metrics()))


@pytest.fixture(scope="module")
def shard_rig() -> Iterator[FaultRig]:
    with own_control_plane("shards") as cp:
        kube = crd_kube(cp)
        rig = start_rig(kube, cp.log_dir / "stack", "shards", operator=False)
        try:
            yield rig
        finally:
            rig.stop()


def test_two_shards_each_act_only_on_their_own_pool(shard_rig: FaultRig) -> None:
    rig = shard_rig
    pool_a, pool_b = rig.pool, f"{rig.pool}-b"
    rig.kube.run("label", "capacitypool", pool_a, "shard=a")
    docs = pool_manifests(
        pool_b,
        negotiator=rig.gcp,
        responder=rig.aws,
        operator_namespace=rig.operator_namespace,
    )
    docs[-1]["metadata"]["labels"] = {"shard": "b"}
    rig.kube.apply(docs)

    shard_a = rig.start_operator("operator-shard-a", "--pool-selector", "shard=a")
    shard_b = rig.start_operator("operator-shard-b", "--pool-selector", "shard in (b)")
    try:
        check_shards(rig, shard_a, shard_b, pool_a, pool_b)
    finally:
        shard_a.stop()
        shard_b.stop()


def check_shards(
    rig: FaultRig, shard_a: OperatorProcess, shard_b: OperatorProcess, pool_a: str, pool_b: str
) -> None:
    ns = rig.namespace("shard-links")
    rig.kube.apply([link_manifest(n, ns, pool_a) for n in ("a0", "a1")])
    rig.kube.apply([link_manifest(n, ns, pool_b) for n in ("b0", "b1")])
    rig.operator = shard_a
    rig.wait_ready(ns, ["a0", "a1", "b0", "b1"], timeout=120)
    assert pools_named(shard_a) == {pool_a}
    assert pools_named(shard_b) == {pool_b}
    assert links_named(shard_a) == {"a0", "a1"}
    assert links_named(shard_b) == {"b0", "b1"}

    shard_b.stop()
    rig.kube.apply([link_manifest("b2", ns, pool_b), link_manifest("a2", ns, pool_a)])
    rig.wait_ready(ns, ["a2"], timeout=60)
    # a2 came up through shard a, which also saw b2's event all along.
    time.sleep(3)
    b2 = rig.kube.get("mcl", "b2", namespace=ns)
    assert "status" not in b2, f"shard a wrote status of another shard's link: {b2['status']}"
    assert "finalizers" not in b2["metadata"], "shard a put its finalizer on b2"
    assert "annotations" not in b2["metadata"] or not any(
        k.startswith("interconnect.io/") for k in b2["metadata"]["annotations"]
    )

    shard_b.restart()
    rig.operator = shard_b
    rig.wait_ready(ns, ["b0", "b1", "b2"], timeout=120)
    assert links_named(shard_b) == {"b0", "b1", "b2"}
    assert_clean(rig.invariants(live=list(rig.uuids(ns).values())), "two shards")
