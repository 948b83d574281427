"""The floor: the least a kopf operator must do per link, run beside the operator in the benchmark.

``python -m bench.floor`` watches MulticloudLinks with ``kopf.on.event`` (as
the operator does) and, for each new link, makes exactly the operator's
Kubernetes writes and provider calls of one bring-up and nothing else:

1. the responder's customer endpoint issues a key (P1, not counted as a
   provider call, as for the operator);
2. one metadata patch (finalizer and shared-UUID annotation, the write-ahead);
3. the 14 provider calls: ConfirmActivationKey (responder), CreateConnection
   on the negotiator then the responder, GenerateFeatureGuidance (responder),
   CreateFeature on the 4 channels of the negotiator then of the responder,
   NotifyConnectionStatus to both;
4. one status patch (Ready) and one Event.

No pool snapshot, refresh, placement, allocation from guidance, validation,
retries, metrics or recovery: interconnects round-robin and each link takes
the next VLAN and /30 of its interconnect. Links run concurrently, bounded by
``--workers`` as the operator's reconciles are. The figure it yields is
what kopf, aiohttp and the simulators allow on this machine; the benchmark
reports the operator's burst rate and CPU per link as ratios of it.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import ipaddress
import itertools
import json
import logging
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import kopf

from interconnect_operator.k8s.resources import GROUP, LINK_PLURAL, VERSION
from interconnect_operator.k8s.settings import FINALIZER, UUID_ANNOTATION

log = logging.getLogger("bench.floor")

CHANNELS = ("ch1", "ch2", "ch3", "ch4")
FIRST_VLAN = 1025
#: /30s from here on: clear of the simulators' default IPv4 excludes (169.254.0.0/28 ...).
FIRST_SUBNET = int(ipaddress.IPv4Address("169.254.1.0"))
ASNS = {"aws": 64512, "gcp": 16550}


@dataclass
class Side:
    """One simulator as seen by the floor: its URL, the id we call as, the token."""

    provider: str
    url: str
    caller: str
    token: str

    def env_path(self, environment: str) -> str:
        return f"{self.url}/providers/{self.caller}/environments/{environment}"


@dataclass
class Floor:
    kube_server: str
    kube_headers: dict[str, str]
    kube_ssl: Any
    negotiator: Side
    responder: Side
    environment: str
    interconnects: int
    workers: int
    session: aiohttp.ClientSession | None = None
    seen: set[str] = field(default_factory=set)
    counter: itertools.count[int] = field(default_factory=itertools.count)
    per_ix: dict[str, itertools.count[int]] = field(default_factory=dict)
    slots: asyncio.Semaphore | None = None

    async def start(self) -> None:
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=64), raise_for_status=True
        )
        self.slots = asyncio.Semaphore(self.workers)

    async def _provider(self, side: Side, path: str, body: Any, **params: str) -> Any:
        assert self.session is not None
        async with self.session.post(
            side.env_path(self.environment) + path,
            params=params or None,
            data=json.dumps(body),
            headers={"Authorization": f"Bearer {side.token}", "Content-Type": "application/json"},
        ) as response:
            return await response.json()

    async def _kube(self, method: str, path: str, body: Any, content_type: str) -> Any:
        assert self.session is not None
        async with self.session.request(
            method,
            self.kube_server + path,
            data=json.dumps(body),
            headers={**self.kube_headers, "Content-Type": content_type},
            ssl=self.kube_ssl,
        ) as response:
            return await response.json()

    async def bring_up(self, obj: Mapping[str, Any]) -> None:
        assert self.slots is not None
        async with self.slots:
            try:
                await self._bring_up(obj)
            except Exception as exc:  # a floor link that fails is counted as not Ready
                log.error("link %s failed: %s", obj["metadata"]["name"], exc)

    async def _bring_up(self, obj: Mapping[str, Any]) -> None:
        meta = obj["metadata"]
        name, namespace = meta["name"], meta["namespace"]
        bandwidth = int(obj["spec"]["bandwidthMbps"])
        obj_path = f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/{LINK_PLURAL}/{name}"
        assert self.session is not None
        async with self.session.post(
            self.responder.url + "/customer/v1/activationKeys",
            data=json.dumps(
                {
                    "environment": self.environment,
                    "bandwidthMbps": bandwidth,
                    "destinationAccountId": obj["spec"].get("destinationAccountId", "0"),
                }
            ),
            headers={"Content-Type": "application/json"},
        ) as response:
            issued = await response.json()
        uuid, key = issued["sharedConnectionUuid"], issued["encodedKey"]
        await self._kube(
            "PATCH",
            obj_path,
            {"metadata": {"finalizers": [FINALIZER], "annotations": {UUID_ANNOTATION: uuid}}},
            "application/merge-patch+json",
        )
        answer = await self._provider(self.responder, "/ConfirmActivationKey", {"encodedKey": key})
        if not answer.get("keyValid"):
            raise RuntimeError("key not valid")
        n = next(self.counter)
        ix = f"ix{n % self.interconnects + 1}"
        conn = {"bandwidthMbps": bandwidth, "activationKey": key}
        for side in (self.negotiator, self.responder):
            await self._provider(side, f"/interconnects/{ix}/connections", conn, connectionId=uuid)
        conn_path = f"/interconnects/{ix}/connections/{uuid}"
        await self._provider(self.responder, conn_path + "/GenerateFeatureGuidance", {})
        slot = next(self.per_ix.setdefault(ix, itertools.count()))
        subnet = ipaddress.IPv4Network((FIRST_SUBNET + 4 * slot, 30))
        hosts = list(subnet.hosts())
        for side in (self.negotiator, self.responder):
            await asyncio.gather(
                *(
                    self._provider(
                        side,
                        conn_path + "/features",
                        self._feature(side, ix, channel, subnet, hosts, FIRST_VLAN + slot),
                        featureId=f"l3-{channel}",
                    )
                    for channel in CHANNELS
                )
            )
        await asyncio.gather(
            *(
                self._provider(side, conn_path + "/NotifyConnectionStatus", {})
                for side in (self.negotiator, self.responder)
            )
        )
        now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        await self._kube(
            "PATCH",
            obj_path + "/status",
            {
                "status": {
                    "observedGeneration": meta.get("generation"),
                    "phase": "Ready",
                    "sharedConnectionUuid": uuid,
                    "environment": self.environment,
                    "interconnect": ix,
                    "readyTime": now,
                    "conditions": [
                        {
                            "type": "Ready",
                            "status": "True",
                            "reason": "Verified",
                            "message": "floor",
                            "lastTransitionTime": now,
                            "observedGeneration": meta.get("generation"),
                        }
                    ],
                }
            },
            "application/merge-patch+json",
        )
        await self._kube(
            "POST",
            f"/api/v1/namespaces/{namespace}/events",
            {
                "apiVersion": "v1",
                "kind": "Event",
                "metadata": {"generateName": f"{name}.", "namespace": namespace},
                "involvedObject": {
                    "apiVersion": obj.get("apiVersion"),
                    "kind": obj.get("kind"),
                    "name": name,
                    "namespace": namespace,
                    "uid": meta.get("uid"),
                },
                "type": "Normal",
                "reason": "Ready",
                "message": "floor link Ready",
                "source": {"component": "bench-floor"},
                "reportingComponent": "bench-floor",
                "reportingInstance": "bench-floor",
                "firstTimestamp": now,
                "lastTimestamp": now,
                "count": 1,
            },
            "application/json",
        )

    def _feature(
        self,
        side: Side,
        ix: str,
        channel: str,
        subnet: ipaddress.IPv4Network,
        hosts: list[ipaddress.IPv4Address],
        vlan: int,
    ) -> dict[str, Any]:
        ends = (self.negotiator.provider, self.responder.provider)
        return {
            "channel": (
                f"providers/{side.caller}/environments/{self.environment}"
                f"/interconnects/{ix}/channels/{channel}"
            ),
            "featureConfig": {
                "featureType": "FEATURE_TYPE_L3_BASE",
                "l3BaseConfig": {
                    "ipv4Subnet": str(subnet.network_address),
                    "ipv4SubnetPrefixLength": 30,
                    "mtuBytes": 1500,
                    "vlanId": vlan,
                    "providerBgpConfigs": [
                        {
                            "provider": f"providers/{provider}",
                            "asn": ASNS.get(provider, 64600 + i),
                            "hostIpv4": str(hosts[i]),
                        }
                        for i, provider in enumerate(ends)
                    ],
                },
            },
        }


_floor: Floor | None = None


@kopf.on.startup()
async def startup(settings: kopf.OperatorSettings, **_: Any) -> None:
    # The operator's kopf settings (k8s/handlers.py), so only the work differs.
    settings.batching.worker_limit = None
    settings.batching.batch_window = 0.01
    settings.batching.idle_timeout = 1.0
    settings.posting.level = logging.WARNING
    logging.getLogger("kopf.objects").setLevel(logging.WARNING)
    assert _floor is not None
    await _floor.start()


@kopf.on.event(GROUP, VERSION, LINK_PLURAL)
async def link_event(event: kopf.RawEvent, **_: Any) -> None:
    obj = event["object"]
    meta = obj.get("metadata", {})
    key = f"{meta.get('namespace')}/{meta.get('name')}"
    if event.get("type") == "DELETED" or meta.get("deletionTimestamp"):
        return
    if key in _floor_seen() or (obj.get("status") or {}).get("phase") == "Ready":
        return
    _floor_seen().add(key)
    assert _floor is not None
    asyncio.get_running_loop().create_task(_floor.bring_up(obj))


def _floor_seen() -> set[str]:
    assert _floor is not None
    return _floor.seen


def main(argv: list[str] | None = None) -> int:
    global _floor
    parser = argparse.ArgumentParser(
        prog="python -m bench.floor", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--negotiator", required=True, help="provider=url=token")
    parser.add_argument("--responder", required=True, help="provider=url=token")
    parser.add_argument("--environment", required=True)
    parser.add_argument("--interconnects", type=int, default=10)
    parser.add_argument("--workers", type=int, default=32)
    parser.add_argument("--liveness", required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    os.environ["KUBECONFIG"] = args.kubeconfig
    connection = kopf.login_with_kubeconfig(settings=kopf.OperatorSettings())
    if connection is None:
        raise SystemExit("no kubeconfig")
    neg_id, neg_url, neg_token = args.negotiator.split("=", 2)
    res_id, res_url, res_token = args.responder.split("=", 2)
    _floor = Floor(
        kube_server=connection.server.rstrip("/"),
        kube_headers={"Accept": "application/json", **connection.as_http_headers()},
        kube_ssl=connection.as_ssl_context(),
        # Each side is called as the other provider (its own id as path prefix).
        negotiator=Side(neg_id, neg_url, res_id, neg_token),
        responder=Side(res_id, res_url, neg_id, res_token),
        environment=args.environment,
        interconnects=args.interconnects,
        workers=args.workers,
    )

    @kopf.on.login()
    def login(**_: Any) -> kopf.ConnectionInfo:
        return connection

    kopf.run(clusterwide=True, standalone=True, liveness_endpoint=args.liveness)
    return 0


if __name__ == "__main__":
    sys.exit(main())
