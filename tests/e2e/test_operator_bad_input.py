"""Links the operator cannot bring up: each says why (condition reason + Event),
touches no provider, and does not loop.

One test applies the whole matrix at once and then watches it for a few
seconds, so that the "no hot loop" check (no status write, no repeated
Event, no provider call, few reconciles) covers every case together.
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

import pytest

from tests.e2e.conftest import Stack, mutating_calls, sim_connections
from tests.support.keys import issue_key, key_ref, key_secret
from tests.support.stack import Simulator, condition, is_ready, link_manifest, wait_for

pytestmark = pytest.mark.e2e

ENV = "aws-gcp-us-east"
TINY_INVENTORY = {
    "environments": [
        {
            "id": ENV,
            "interconnects": [
                {"id": "ix1", "state": "ACTIVE", "maxBandwidthMbps": 1000, "channels": 4}
            ],
        }
    ]
}
RECONCILES = 'interconnect_reconcile_duration_seconds_count{kind="link"}'


def _reconciles(stack: Stack) -> float:
    for line in stack.operator.metrics().splitlines():
        if line.startswith(RECONCILES):
            return float(line.split()[-1])
    return 0.0


def _provider_objects(*sims: Simulator) -> list[set[str]]:
    out = []
    for sim in sims:
        state = sim.state()
        out.append(
            {f"connection/{c['interconnect']}/{c['connection']}" for c in state["connections"]}
            | {f"feature/{f['connection']}/{f['channel']}" for f in state["features"]}
            | {f"key/{k['sharedConnectionUuid']}" for k in state["activationKeys"]}
        )
    return out


def _reasons(stack: Stack, namespace: str, name: str) -> list[str]:
    return [
        e["reason"]
        for e in stack.kube.events(namespace)
        if e["involvedObject"].get("name") == name and e["type"] == "Warning"
    ]


def _wait_reason(stack: Stack, namespace: str, name: str, reason: str, timeout: float = 45) -> Any:
    def check() -> Any:
        obj = stack.kube.try_get("mcl", name, namespace)
        ready, stalled = condition(obj, "Ready"), condition(obj, "Stalled")
        if not ready or ready["status"] != "False":
            return None
        # The specific reason is Ready's, or, for a link stuck in a phase, Stalled's.
        if ready["reason"] == reason:
            return obj
        return (
            obj if stalled and stalled["status"] == "True" and stalled["reason"] == reason else None
        )

    try:
        return wait_for(check, timeout, f"{namespace}/{name} Ready=False reason {reason}")
    except AssertionError as exc:
        last = (stack.kube.try_get("mcl", name, namespace) or {}).get("status")
        raise AssertionError(f"{exc}; status: {json.dumps(last)}") from None


def test_bad_input_matrix_reports_reason_and_event_without_provider_calls_or_hot_loop(
    stack: Stack, namespace: str, make_pool: Any, secret_values: set[str]
) -> None:
    kube = stack.kube
    tiny = make_pool(inventory=TINY_INVENTORY)
    # A policy pool over the session's simulators: label-gated, at most 2 Gbps per link.
    label = f"e2e-allowed-{secrets.token_hex(3)}"
    policy_pool = f"e2e-policy-{secrets.token_hex(3)}"
    from tests.support.stack import pool_manifests

    kube.apply(
        pool_manifests(
            policy_pool,
            negotiator=stack.gcp,
            responder=stack.aws,
            operator_namespace=stack.operator_namespace,
            refresh_interval=5,
            policy={
                "namespaceSelector": {"matchLabels": {label: "true"}},
                "maxBandwidthMbpsPerLink": 2000,
            },
        )
    )
    allowed_ns = f"{namespace[:50]}-ok"
    kube.run("create", "namespace", allowed_ns)
    kube.run("label", "namespace", allowed_ns, f"{label}=true")

    issued = issue_key(stack.aws)
    good_key = issued["encodedKey"]
    secret_values.add(good_key)
    malformed = "not-a-key-" + secrets.token_hex(8)
    secret_values.add(malformed)
    before = _provider_objects(stack.aws, stack.gcp) + _provider_objects(tiny.aws, tiny.gcp)
    calls_before = [mutating_calls(s) for s in (stack.aws, stack.gcp, tiny.aws, tiny.gcp)]

    kube.apply(
        [
            key_secret("malformed", namespace, malformed),
            link_manifest("no-pool", namespace, "no-such-pool", 1000),
            link_manifest("odd-size", namespace, stack.pool, 3000),
            link_manifest("too-big", allowed_ns, policy_pool, 5000),
            link_manifest("not-allowed", namespace, policy_pool, 1000),
            link_manifest("no-secret", namespace, stack.pool, 1000, activationKey=key_ref("later")),
            link_manifest(
                "bad-key", namespace, stack.pool, 1000, activationKey=key_ref("malformed")
            ),
            link_manifest("no-room", namespace, tiny.name, 2000),
        ]
    )
    expected = {
        ("no-pool", namespace): "PoolNotFound",
        ("odd-size", namespace): "BandwidthNotOffered",
        ("too-big", allowed_ns): "PolicyDenied",
        ("not-allowed", namespace): "PolicyDenied",
        ("no-secret", namespace): "LinkSecretRefused",
        ("bad-key", namespace): "InvalidActivationKey",
        ("no-room", namespace): "NoCapacity",
    }
    seen = {key: _wait_reason(stack, key[1], key[0], reason) for key, reason in expected.items()}

    # Every case has an Event with its reason.
    def missing_events() -> list[str]:
        return [
            f"{name}:{reason}"
            for (name, ns), reason in expected.items()
            if reason not in _reasons(stack, ns, name)
        ]

    try:
        wait_for(lambda: not missing_events(), 30, "a Warning Event per case")
    except AssertionError as exc:
        raise AssertionError(f"{exc}: missing {missing_events()}") from None

    # No hot loop: over a few seconds no status write, no repeated Event, few reconciles.
    versions = {k: v["metadata"]["resourceVersion"] for k, v in seen.items()}
    events = {k: len(_reasons(stack, k[1], k[0])) for k in expected}
    reconciles = _reconciles(stack)
    time.sleep(4)
    assert _reconciles(stack) - reconciles < 15
    for (name, ns), reason in expected.items():
        obj = kube.try_get("mcl", name, ns)
        assert obj is not None
        assert obj["metadata"]["resourceVersion"] == versions[(name, ns)], name
        assert _reasons(stack, ns, name).count(reason) == 1, (name, _reasons(stack, ns, name))
        assert len(_reasons(stack, ns, name)) == events[(name, ns)], name
        assert reason in json.dumps(obj["status"]["conditions"])

    # Nothing created on any provider, no change-making call at all ...
    assert [mutating_calls(s) for s in (stack.aws, stack.gcp, tiny.gcp)] == [
        calls_before[0],
        calls_before[1],
        calls_before[3],
    ]
    assert _provider_objects(stack.aws, stack.gcp, tiny.gcp) == [before[0], before[1], before[3]]
    # ... except, for NoCapacity, the key the responder issued and confirmed (P1-P3 come
    # before placement, P6), once: no connection, no feature.
    tiny_calls = mutating_calls(tiny.aws)
    assert {k: v - calls_before[2].get(k, 0) for k, v in tiny_calls.items()} in (
        {"ConfirmActivationKey": 1},
        {"ConfirmActivationKey": 1, "IssueActivationKey": 1},
    ), tiny_calls
    tiny_state = tiny.aws.state()
    assert tiny_state["connections"] == []
    assert tiny_state["features"] == []
    assert len(tiny_state["activationKeys"]) == 1

    # LinkSecretRefused heals: the Secret appears and the link proceeds to Ready.
    kube.apply([key_secret("later", namespace, good_key)])
    ready = wait_for(
        lambda: (o := kube.try_get("mcl", "no-secret", namespace)) and is_ready(o) and o,
        90,
        "no-secret Ready once its Secret exists",
    )
    uuid = ready["status"]["sharedConnectionUuid"]
    assert uuid == issued["sharedConnectionUuid"]

    # KeyRefused (P3): the same key for a second link is refused by the responder.
    kube.apply(
        [link_manifest("reused-key", namespace, stack.pool, 1000, activationKey=key_ref("later"))]
    )
    _wait_reason(stack, namespace, "reused-key", "KeyRefused")
    wait_for(
        lambda: "KeyRefused" in _reasons(stack, namespace, "reused-key"), 30, "KeyRefused Event"
    )
    # Deleting the refused link must not touch the first link's connection.
    kube.delete("mcl", "reused-key", namespace)
    wait_for(lambda: kube.try_get("mcl", "reused-key", namespace) is None, 30, "reused-key gone")
    for sim in (stack.aws, stack.gcp):
        (conn,) = sim_connections(sim, uuid)
        assert conn["features"] == 4
    assert is_ready(kube.try_get("mcl", "no-secret", namespace))

    # Clean up what holds provider objects (Delete policy) and the policy pool.
    kube.delete("mcl", "no-secret", namespace)
    wait_for(lambda: kube.try_get("mcl", "no-secret", namespace) is None, 60, "no-secret gone")
    for sim in (stack.aws, stack.gcp):
        assert sim_connections(sim, uuid) == []
    kube.delete("mcl", "too-big", allowed_ns)
    kube.delete("mcl", "not-allowed", namespace)
    kube.delete("cpool", policy_pool)
