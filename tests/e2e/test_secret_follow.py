"""Secrets are followed: a rotated pool credential and a late link Secret take effect unaided.

- A pool's provider rotates its bearer token (the simulator restarts with a
  new one) and the pool's Secret is updated: the pool is Ready again with no
  spec change (the operator watches the Secret by name).
- A link whose activation-key Secret is created after the link: it becomes
  Ready within seconds of the Secret, though its own backoff has grown past
  half a minute by then (the get-only recheck wakes it).
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from typing import Any

import pytest

from tests.e2e.conftest import Stack
from tests.support.keys import issue_key, key_ref, key_secret
from tests.support.stack import condition, is_ready, link_manifest, start_simulator, wait_for

pytestmark = pytest.mark.e2e


def test_a_rotated_pool_token_takes_effect_without_a_spec_change(
    stack: Stack, make_pool: Any, secret_values: set[str]
) -> None:
    kube = stack.kube
    pool = make_pool()
    wait_for(lambda: is_ready(kube.try_get("cpool", pool.name)), 60, "pool Ready")
    generation = kube.get("cpool", pool.name)["metadata"]["generation"]

    # The responder rotates: it now accepts only a new token from its caller.
    new_token = secrets.token_hex(16)
    secret_values.add(new_token)
    port = pool.aws.port
    pool.aws.stop()
    pool.aws = start_simulator(  # make_pool's teardown stops this one
        "aws", log_dir=stack.log_dir, tokens={"gcp": new_token}, port=port, provisioning_delay=0.5
    )

    def reachable() -> str | None:
        cond = condition(kube.try_get("cpool", pool.name), "ProvidersReachable")
        return cond.get("status") if cond else None

    wait_for(lambda: reachable() == "False", 60, "the old token refused (ProvidersReachable False)")

    patch = {"data": {"responder-token": base64.b64encode(new_token.encode()).decode()}}
    kube.run(
        "patch",
        "secret",
        f"{pool.name}-credentials",
        "-n",
        stack.operator_namespace,
        "--type=merge",
        "-p",
        json.dumps(patch),
    )
    body = wait_for(
        lambda: (o := kube.try_get("cpool", pool.name)) and is_ready(o) and o,
        60,
        "pool Ready again after the Secret update",
    )
    assert body["metadata"]["generation"] == generation
    assert reachable() == "True"


def test_a_link_secret_created_late_unblocks_the_link_within_seconds(
    stack: Stack, namespace: str, secret_values: set[str]
) -> None:
    kube = stack.kube
    kube.apply([link_manifest("late-key", namespace, stack.pool, activationKey=key_ref("lk"))])

    def reason() -> str | None:
        cond = condition(kube.try_get("mcl", "late-key", namespace), "Ready")
        return cond.get("reason") if cond else None

    wait_for(lambda: reason() == "LinkSecretRefused", 60, "LinkSecretRefused")
    # Let the link's own backoff grow (5 + 10 + 20 s): its next try is then
    # more than half a minute away, so only the recheck can be this fast.
    time.sleep(36)
    assert reason() == "LinkSecretRefused"
    key = issue_key(stack.aws)["encodedKey"]
    secret_values.add(key)
    # First without the opt-in label: still refused; the label alone then unblocks it.
    unlabelled = key_secret("lk", namespace, key)
    unlabelled["metadata"].pop("labels")
    kube.apply([unlabelled])
    time.sleep(5)
    assert reason() == "LinkSecretRefused"
    kube.run("label", "secret", "lk", "-n", namespace, "interconnect.io/link-secret=true")
    wait_for(
        lambda: is_ready(kube.try_get("mcl", "late-key", namespace)),
        25,
        "late-key Ready soon after its Secret opted in",
    )
    kube.delete("mcl", "late-key", namespace)
    wait_for(lambda: kube.try_get("mcl", "late-key", namespace) is None, 60, "late-key gone")
