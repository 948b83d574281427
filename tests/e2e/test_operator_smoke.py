"""The operator process brings a link up on the real API server and tears it down."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import Stack
from tests.support.stack import is_ready, link_manifest, wait_for

pytestmark = pytest.mark.e2e


def _objects(sim_state: dict, uuid: str) -> list[dict]:
    """Connections and features a simulator holds for ``uuid`` (keys are history)."""
    return [
        obj
        for kind in ("connections", "features")
        for obj in sim_state.get(kind, [])
        if uuid in str(obj)
    ]


def test_link_becomes_ready_and_delete_removes_it_from_both_providers(
    stack: Stack, namespace: str
) -> None:
    stack.kube.apply([link_manifest("smoke", namespace, stack.pool, 1000)])
    link = wait_for(
        lambda: (obj := stack.kube.try_get("mcl", "smoke", namespace)) and is_ready(obj) and obj,
        60,
        "link smoke Ready",
    )
    status = link["status"]
    uuid = status["sharedConnectionUuid"]
    assert status["phase"] == "Ready"
    assert len(status["channels"]) == 4
    assert {p["verificationState"] for p in status["providers"]} == {"VERIFICATION_STATE_VERIFIED"}
    assert len(_objects(stack.aws.state(), uuid)) == 5  # 1 connection + 4 features
    assert len(_objects(stack.gcp.state(), uuid)) == 5

    stack.kube.delete("mcl", "smoke", namespace)
    wait_for(lambda: stack.kube.try_get("mcl", "smoke", namespace) is None, 60, "link gone")
    assert _objects(stack.aws.state(), uuid) == []
    assert _objects(stack.gcp.state(), uuid) == []
