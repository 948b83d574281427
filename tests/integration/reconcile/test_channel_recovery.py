"""P12 recovery: a channel blocked during bring-up is tried again when the provider's
data for it changes, and nothing is notified or verified before every channel is FINAL.

Both providers offer a single VLAN per channel; another customer's feature
holds it on ch4, so the link can negotiate only 3 of 4 channels until that
feature goes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import yaml

from interconnect_operator.protocol.conditions import LinkConditionType
from interconnect_operator.protocol.link_state import Phase
from interconnect_operator.simulator.inventory import Inventory, load_inventory
from tests.integration.reconcile.conftest import (
    ENV,
    NEGOTIATOR,
    RESPONDER,
    Rig,
    SimHandle,
    calls_by_operation,
    is_phase,
    link_objects,
    link_request,
)

_ASN = {RESPONDER: 64512, NEGOTIATOR: 16550}


def _one_vlan(tmp_path: Path, provider: str) -> Inventory:
    path = tmp_path / f"{provider}.yaml"
    document = {
        "environments": [
            {"id": ENV, "interconnectCount": 1, "guidance": {"vlanRanges": [[1025, 1025]]}}
        ]
    }
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return load_inventory(path, provider)


def _feature_body(handle: SimHandle, channel: str, vlan: int) -> dict[str, Any]:
    server = handle.provider
    caller = NEGOTIATOR if server == RESPONDER else RESPONDER
    return {
        "channel": f"providers/{caller}/environments/{ENV}/interconnects/ix1/channels/{channel}",
        "featureConfig": {
            "featureType": "FEATURE_TYPE_L3_BASE",
            "l3BaseConfig": {
                "vlanId": vlan,
                "ipv4Subnet": "169.254.200.0",
                "ipv4SubnetPrefixLength": 30,
                "mtuBytes": 1500,
                "providerBgpConfigs": [
                    {
                        "provider": f"providers/{server}",
                        "asn": _ASN[server],
                        "hostIpv4": "169.254.200.1",
                    },
                    {
                        "provider": f"providers/{caller}",
                        "asn": _ASN[caller],
                        "hostIpv4": "169.254.200.2",
                    },
                ],
            },
        },
    }


async def test_p12_blocked_channel_recovers_when_the_provider_data_changes(
    make_rig: Callable[..., Rig], tmp_path: Path
) -> None:
    rig = make_rig(
        aws_inventory=_one_vlan(tmp_path, RESPONDER),
        gcp_inventory=_one_vlan(tmp_path, NEGOTIATOR),
    )
    other = await rig.fill("ix1", 1000)
    for handle in (rig.gcp, rig.aws):
        response = await handle.as_peer(
            "POST",
            f"/interconnects/ix1/connections/{other}/features",
            params={"featureId": "other-ch4"},
            body=_feature_body(handle, "ch4", 1025),
        )
        assert response.status_code == 200, response.text
    op = rig.operator()

    blocked, request = await rig.drive(
        op, link_request(account="acct-1"), until=is_phase(Phase.DEGRADED)
    )

    assert blocked.status is not None
    uuid = request.shared_uuid
    assert uuid is not None
    assert blocked.status.condition(LinkConditionType.DEGRADED).is_true
    ready_cond = blocked.status.condition(LinkConditionType.READY)
    assert (ready_cond.reason, ready_cond.status) == ("Degraded", "False")
    assert "blocked" in ready_cond.message
    assert "ch4" in ready_cond.message
    assert [c.channel for c in blocked.status.channels if c.blocked] == ["ch4"]
    neg, res = await rig.states()
    for state in (neg, res):
        assert sorted(f["channel"] for f in link_objects(state, uuid)[1]) == ["ch1", "ch2", "ch3"]
        # P12/P14: 3 of 4 is not verification, and nothing was notified.
        assert [c["verificationState"] for c in link_objects(state, uuid)[0]] == [
            "VERIFICATION_STATE_UNVERIFIED"
        ]
    counted = calls_by_operation(await rig.aws.stats(), await rig.gcp.stats())
    assert counted["NotifyConnectionStatus"] == 0

    # Nothing changes: the blocked channel costs no calls.
    for _ in range(3):
        rig.clock.advance(30)
        await op.runtime.refresh()
        quiet = await op.reconciler.reconcile(request)
        assert quiet.calls == 0

    # The other customer's feature goes: the channel's data changed, it is tried again.
    for handle in (rig.gcp, rig.aws):
        response = await handle.as_peer(
            "DELETE", f"/interconnects/ix1/connections/{other}/features/other-ch4"
        )
        assert response.status_code == 200, response.text
    await op.runtime.refresh()
    ready, _ = await rig.drive(op, request, rounds=4)

    assert ready.status is not None
    assert ready.status.ready
    neg, res = await rig.states()
    for state in (neg, res):
        features = {f["channel"]: f["vlanId"] for f in link_objects(state, uuid)[1]}
        assert features == {"ch1": 1025, "ch2": 1025, "ch3": 1025, "ch4": 1025}
    counted = calls_by_operation(await rig.aws.stats(), await rig.gcp.stats())
    assert counted["NotifyConnectionStatus"] == 2


class StaleFirstGuidance(httpx.AsyncBaseTransport):
    """The responder's first guidance answer is stale: it names a VLAN range the
    responder no longer accepts (its guidance changed since)."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self._inner = inner
        self.served = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        if request.url.host != "aws.sim" or not request.url.path.endswith(
            "/GenerateFeatureGuidance"
        ):
            return response
        self.served += 1
        body = json.loads(await response.aread())
        if self.served == 1:
            for entry in body.get("featureGuidance", []):
                entry["l3BaseGuidance"]["vlanRanges"] = [{"start": 1500, "stop": 1500}]
        return httpx.Response(response.status_code, json=body)


async def test_p10_a_400_on_create_feature_is_retried_from_fresh_guidance(
    make_rig: Callable[..., Rig], tmp_path: Path
) -> None:
    rig = make_rig(aws_inventory=_one_vlan(tmp_path, RESPONDER))
    wrappers: list[StaleFirstGuidance] = []

    def wrap(inner: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
        wrappers.append(StaleFirstGuidance(inner))
        return wrappers[-1]

    op = rig.operator(wrap=wrap)

    ready, request = await rig.drive(op, link_request(account="acct-1"), rounds=6)

    assert ready.status is not None
    assert ready.status.ready
    uuid = request.shared_uuid
    assert uuid is not None
    refused = (await rig.aws.stats())["byOperation"]["CreateFeature"]["byStatus"].get("400", 0)
    assert refused == 4  # one proposal per channel from the stale guidance
    counted = calls_by_operation(await rig.aws.stats())
    assert counted["GenerateFeatureGuidance"] == 2  # the stale answer, then a fresh one
    neg, res = await rig.states()
    for state in (neg, res):
        assert {f["vlanId"] for f in link_objects(state, uuid)[1]} == {1025}
