"""Events through events.k8s.io/v1: who reported them, from which pod, and repeats as a series.

A link whose activation-key Secret is missing gets a LinkSecretRefused Warning;
the Secret then appears (opted in) without the key (SecretKeyMissing) and goes away
again (LinkSecretRefused once more). The second LinkSecretRefused is the same
Event as the first: it becomes ``series.count: 2`` on it, not a new object.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import OPERATOR_POD, Stack
from tests.support.keys import LINK_SECRET_LABELS, key_ref
from tests.support.stack import link_manifest, wait_for

pytestmark = pytest.mark.e2e


def _events(stack: Stack, namespace: str, reason: str) -> list[dict[str, Any]]:
    items = stack.kube.get("events.events.k8s.io", namespace=namespace)["items"]
    return [e for e in items if e.get("reason") == reason]


def test_events_name_the_controller_and_pod_and_repeat_as_a_series(
    stack: Stack, namespace: str
) -> None:
    kube = stack.kube
    kube.apply([link_manifest("evented", namespace, stack.pool, activationKey=key_ref("ek"))])
    (first,) = wait_for(
        lambda: _events(stack, namespace, "LinkSecretRefused"), 60, "LinkSecretRefused"
    )
    assert first["apiVersion"] == "events.k8s.io/v1"
    assert first["reportingController"] == "interconnect-operator"
    assert first["reportingInstance"] == OPERATOR_POD
    assert first["regarding"]["kind"] == "MulticloudLink"
    assert first["regarding"]["name"] == "evented"
    assert first["type"] == "Warning"
    assert first.get("series") is None

    kube.apply(
        [
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "ek", "namespace": namespace, "labels": LINK_SECRET_LABELS},
                "stringData": {"somethingElse": "x"},
            }
        ]
    )
    wait_for(lambda: _events(stack, namespace, "SecretKeyMissing"), 60, "SecretKeyMissing")
    kube.delete("secret", "ek", namespace)
    (again,) = wait_for(
        lambda: [e for e in _events(stack, namespace, "LinkSecretRefused") if e.get("series")],
        60,
        "the repeat as a series",
    )
    assert again["metadata"]["name"] == first["metadata"]["name"]
    assert again["series"]["count"] == 2
    assert len(_events(stack, namespace, "LinkSecretRefused")) == 1
    # The core/v1 view of the same object (what `kubectl get events` shows).
    core = [e for e in kube.events(namespace) if e.get("reason") == "LinkSecretRefused"]
    assert [e["metadata"]["name"] for e in core] == [first["metadata"]["name"]]
    assert core[0]["reportingComponent"] == "interconnect-operator"
    assert core[0]["reportingInstance"] == OPERATOR_POD

    kube.delete("mcl", "evented", namespace)
    wait_for(lambda: kube.try_get("mcl", "evented", namespace) is None, 60, "evented gone")
