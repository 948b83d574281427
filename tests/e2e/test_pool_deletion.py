"""A CapacityPool with links cannot disappear under them (its finalizer waits for them).

Deleting a pool that a Ready link uses leaves the pool in place, marked for
deletion, with a ``Deleting`` condition and a Warning Event that name the
link; the link stays Ready and the pool keeps serving it. Deleting the link
then deletes its connections at both providers (the pool's credentials are
still there) and the pool goes away by itself.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import Stack
from tests.support.stack import condition, is_ready, link_manifest, wait_for

pytestmark = pytest.mark.e2e


def test_a_pool_with_a_link_waits_for_it_then_goes(
    stack: Stack, namespace: str, make_pool: Any
) -> None:
    pool = make_pool()
    stack.kube.apply([link_manifest("keeper", namespace, pool.name, 1000)])
    link = wait_for(
        lambda: (o := stack.kube.try_get("mcl", "keeper", namespace)) and is_ready(o) and o,
        90,
        "keeper Ready",
    )
    uuid = link["status"]["sharedConnectionUuid"]
    assert "interconnect.io/pool-protection" in (
        stack.kube.get("cpool", pool.name)["metadata"].get("finalizers") or []
    )

    stack.kube.delete("cpool", pool.name)

    def blocked() -> Any:
        obj = stack.kube.try_get("cpool", pool.name)
        deleting = condition(obj, "Deleting")
        return obj if deleting and deleting.get("reason") == "LinksRemain" else None

    held = wait_for(blocked, 60, "the pool's deletion waits, saying why", 1.0)
    assert held["metadata"].get("deletionTimestamp")
    assert f"{namespace}/keeper" in condition(held, "Deleting")["message"]
    events = stack.kube.run("get", "events", "-A", "-o", "json")
    assert "LinksRemain" in events
    assert is_ready(stack.kube.get("mcl", "keeper", namespace))

    stack.kube.delete("mcl", "keeper", namespace)
    wait_for(lambda: stack.kube.try_get("mcl", "keeper", namespace) is None, 60, "keeper gone")
    for sim in (pool.aws, pool.gcp):
        assert uuid not in {c["connection"] for c in sim.state()["connections"]}
    wait_for(lambda: stack.kube.try_get("cpool", pool.name) is None, 60, "the pool goes", 1.0)
