"""A peer that misbehaves or changes its mind, on the real API server.

Peer deletion (P19 from the provider's side), a peer that answers 409 to
every feature (P10), and a channel blocked during bring-up that recovers when
the provider's data changes (P12). The operator runs as a process under the
chart's RBAC; what the providers hold and how often they were called is read
from the simulators themselves.
"""

from __future__ import annotations

import json
import time
import urllib.request
from typing import Any

import pytest

from tests.e2e.conftest import Stack, sim_connections, sim_features
from tests.support.stack import Simulator, condition, is_ready, link_manifest, wait_for

pytestmark = pytest.mark.e2e

ENV = "aws-gcp-us-east"
ASN = {"aws": 64512, "gcp": 16550}


def _as_peer(sim: Simulator, method: str, path: str, body: Any = None, **params: str) -> Any:
    """A spec call to ``sim`` as its peer (the peer's prefix and bearer token)."""
    caller, token = next(iter(sim.tokens.items()))
    query = "&".join(f"{k}={v}" for k, v in params.items())
    url = f"{sim.url}/providers/{caller}/environments/{ENV}{path}" + (f"?{query}" if query else "")
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        url,
        data=data,
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        raw = response.read()
    return json.loads(raw) if raw.strip() else None


def _calls(sim: Simulator, operation: str) -> int:
    by_op = sim.stats().get("byOperation") or {}
    return int((by_op.get(operation) or {}).get("total", 0))


def _ready(stack: Stack, namespace: str, name: str, timeout: float = 60) -> Any:
    def check() -> Any:
        obj = stack.kube.try_get("mcl", name, namespace)
        return obj if is_ready(obj) else None

    return wait_for(check, timeout, f"{namespace}/{name} Ready")


def _message(obj: Any, type_: str) -> str:
    cond = condition(obj, type_)
    assert cond is not None
    return str(cond["message"])


def _ready_reason(stack: Stack, namespace: str, name: str, reason: str, timeout: float) -> Any:
    def check() -> Any:
        obj = stack.kube.try_get("mcl", name, namespace)
        cond = condition(obj, "Ready")
        return obj if cond and cond["status"] == "False" and cond["reason"] == reason else None

    return wait_for(check, timeout, f"{namespace}/{name} Ready False {reason}")


def _warnings(stack: Stack, namespace: str, name: str) -> list[str]:
    return [
        e["reason"]
        for e in stack.kube.events(namespace)
        if e["involvedObject"].get("name") == name and e["type"] == "Warning"
    ]


def test_peer_deletion_is_reported_and_never_undone(
    stack: Stack, namespace: str, make_pool: Any
) -> None:
    pool = make_pool()
    stack.kube.apply([link_manifest("cancelled", namespace, pool.name)])
    ready = _ready(stack, namespace, "cancelled")
    uuid, ix = ready["status"]["sharedConnectionUuid"], ready["status"]["interconnect"]
    created = _calls(pool.aws, "CreateConnection") + _calls(pool.gcp, "CreateConnection")

    # The customer cancels at aws, which deletes its connection (P19 from its side).
    _as_peer(pool.aws, "DELETE", f"/interconnects/{ix}/connections/{uuid}")

    failed = _ready_reason(stack, namespace, "cancelled", "DeletedByResponder", timeout=60)
    assert failed["status"]["phase"] == "Failed"
    assert "aws (responder)" in _message(failed, "Ready")
    wait_for(
        lambda: "DeletedByResponder" in _warnings(stack, namespace, "cancelled"),
        30,
        "a DeletedByResponder Event",
    )
    # A few pool refreshes later: nothing was created again under the consumed key.
    time.sleep(12)
    assert _calls(pool.aws, "CreateConnection") + _calls(pool.gcp, "CreateConnection") == created
    assert sim_connections(pool.aws, uuid) == []
    assert len(sim_connections(pool.gcp, uuid)) == 1  # reported, left for the user

    stack.kube.delete("mcl", "cancelled", namespace)
    wait_for(lambda: not sim_connections(pool.gcp, uuid), 60, "the leftover deleted with the link")


def test_persistent_409_on_features_is_bounded_and_recovers(
    stack: Stack, namespace: str, make_pool: Any
) -> None:
    pool = make_pool()
    pool.aws.admin("/admin/faults", {"operations": {"CreateFeature": {"conflict_rate": 1.0}}})
    stack.kube.apply([link_manifest("contested", namespace, pool.name)])
    _ready_reason(stack, namespace, "contested", "Conflict", timeout=60)
    start = _calls(pool.aws, "CreateFeature") + _calls(pool.gcp, "CreateFeature")

    time.sleep(30)

    spent = _calls(pool.aws, "CreateFeature") + _calls(pool.gcp, "CreateFeature") - start
    # Before: about 50 CreateFeature calls a second for one link.
    assert spent <= 80, spent
    obj = stack.kube.try_get("mcl", "contested", namespace)
    assert obj is not None
    assert obj["status"]["phase"] == "Negotiating"

    pool.aws.admin("/admin/faults", {})
    _ready(stack, namespace, "contested", timeout=360)


def _one_vlan_inventory() -> dict[str, Any]:
    return {
        "environments": [
            {"id": ENV, "interconnectCount": 1, "guidance": {"vlanRanges": [[1025, 1025]]}}
        ]
    }


def _feature(sim: Simulator, channel: str) -> dict[str, Any]:
    caller = next(iter(sim.tokens))
    server = sim.provider_id
    return {
        "channel": f"providers/{caller}/environments/{ENV}/interconnects/ix1/channels/{channel}",
        "featureConfig": {
            "featureType": "FEATURE_TYPE_L3_BASE",
            "l3BaseConfig": {
                "vlanId": 1025,
                "ipv4Subnet": "169.254.200.0",
                "ipv4SubnetPrefixLength": 30,
                "mtuBytes": 1500,
                "providerBgpConfigs": [
                    {
                        "provider": f"providers/{server}",
                        "asn": ASN[server],
                        "hostIpv4": "169.254.200.1",
                    },
                    {
                        "provider": f"providers/{caller}",
                        "asn": ASN[caller],
                        "hostIpv4": "169.254.200.2",
                    },
                ],
            },
        },
    }


def test_a_blocked_channel_recovers_when_the_provider_data_changes(
    stack: Stack, namespace: str, make_pool: Any
) -> None:
    pool = make_pool(inventory=_one_vlan_inventory())
    # Another customer's connection holds ch4's only VLAN on both providers.
    other = "0b6f0c3e-5d1a-4e59-9a57-6a1c2b3d4e5f"
    for sim in (pool.gcp, pool.aws):
        _as_peer(
            sim,
            "POST",
            "/interconnects/ix1/connections",
            {"bandwidthMbps": 1000},
            connectionId=other,
        )
        _as_peer(
            sim,
            "POST",
            f"/interconnects/ix1/connections/{other}/features",
            _feature(sim, "ch4"),
            featureId="other-ch4",
        )
    stack.kube.apply([link_manifest("squeezed", namespace, pool.name)])

    def degraded() -> Any:
        obj = stack.kube.try_get("mcl", "squeezed", namespace)
        cond = condition(obj, "Degraded")
        return obj if cond and cond["status"] == "True" else None

    blocked = wait_for(degraded, 60, "squeezed Degraded with ch4 blocked")
    uuid = blocked["status"]["sharedConnectionUuid"]
    message = _message(blocked, "Ready")
    assert "blocked" in message
    assert "ch4" in message
    # P12/P14: 3 of 4 is neither notified nor verified.
    assert (
        _calls(pool.aws, "NotifyConnectionStatus") + _calls(pool.gcp, "NotifyConnectionStatus") == 0
    )
    assert not is_ready(blocked)

    for sim in (pool.gcp, pool.aws):
        _as_peer(sim, "DELETE", f"/interconnects/ix1/connections/{other}/features/other-ch4")

    _ready(stack, namespace, "squeezed", timeout=90)
    for sim in (pool.gcp, pool.aws):
        assert sorted(f["channel"] for f in sim_features(sim, uuid)) == ["ch1", "ch2", "ch3", "ch4"]


def test_a_link_waiting_for_capacity_does_not_pin_fast_refreshes(
    stack: Stack, namespace: str, make_pool: Any
) -> None:
    small = {
        "environments": [
            {"id": ENV, "interconnectCount": 1, "maxBandwidthMbps": 1000},
        ]
    }
    pool = make_pool(inventory=small, refresh_interval=5)
    stack.kube.apply([link_manifest("waiting", namespace, pool.name, 2000)])

    def no_capacity() -> Any:
        obj = stack.kube.try_get("mcl", "waiting", namespace)
        cond = condition(obj, "Stalled")
        return obj if cond and cond["status"] == "True" and cond["reason"] == "NoCapacity" else None

    wait_for(no_capacity, 60, "waiting Stalled NoCapacity")
    time.sleep(2)
    before = _calls(pool.aws, "ListConnections")
    time.sleep(10)
    reads = _calls(pool.aws, "ListConnections") - before
    # The pool's own 5 s interval (2-3 reads), not the 1 s of a link making progress.
    assert reads <= 4, reads
