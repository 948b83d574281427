"""Micro benchmark of one side's bulk read (``SideReader.read``), in process.

A scripted provider (httpx.MockTransport, page bodies serialized once up
front, so the provider costs nothing) serves one environment with
``--connections`` connections spread over ``--interconnects`` interconnects
and ``--channels`` L3 features per connection, in pages of 1,000 (the
reader's page size). The reader reads it ``--reads`` times unchanged, then
once more after one connection changed. Per read: wall and CPU milliseconds,
the longest the event loop was held without a turn (a ticker task measures
the gaps), and pages decoded or reused when the reader counts them.

    PYTHONPATH=. .venv/bin/python -m bench.refresh [--connections 1000]

Runs against whatever ``interconnect_operator`` is importable, so the same
script measures an older tree (``PYTHONPATH=<old tree>/operator:.``).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import time
from typing import Any

import httpx

from interconnect_operator.api.client import ProviderClient
from interconnect_operator.reconcile.reader import SideReader

ENV = "env-1"
PEER = "aws"
PAGE = 1000


def _connection(base: str, n: int, bandwidth: int) -> dict[str, Any]:
    return {
        "name": f"{base}/connections/0b6f2c1e-3b1e-4c55-9d1a-{n:012d}",
        "activationKey": "c2VjcmV0LWtleQ==",
        "bandwidthMbps": bandwidth,
        "adminState": "ADMIN_STATE_ENABLED",
        "verificationState": "VERIFICATION_STATE_VERIFIED",
        "connectionType": "CONNECTION_TYPE_PRODUCTION",
        "deferProvisioning": False,
        "createTime": "2026-05-18T10:00:00Z",
    }


def _feature(base: str, n: int, channel: int) -> dict[str, Any]:
    vlan = 1025 + (n * 7 + channel) % 3000
    third, fourth = divmod((n * 4) % 65536, 256)
    return {
        "name": f"{base}/connections/0b6f2c1e-3b1e-4c55-9d1a-{n:012d}/features/l3-ch-{channel}",
        "channel": f"{base}/channels/ch-{channel}",
        "featureConfig": {
            "featureType": "FEATURE_TYPE_L3_BASE",
            "l3BaseConfig": {
                "ipv4Subnet": f"169.254.{third}.{fourth}",
                "ipv4SubnetPrefixLength": 30,
                "ipv6Subnet": f"fd20::{n:x}:{channel}0",
                "ipv6SubnetPrefixLength": 126,
                "mtuBytes": 8500,
                "vlanId": vlan,
                "providerBgpConfigs": [
                    {"provider": "providers/gcp", "asn": 16550, "hostIpv4": "169.254.1.17"},
                    {"provider": "providers/aws", "asn": 64512, "hostIpv4": "169.254.1.18"},
                ],
            },
        },
        "provisioningState": "PROVISIONING_STATE_FINAL",
        "createTime": "2026-05-18T10:00:00Z",
    }


class Side:
    """Page bodies of one provider, built once; ``change`` rebuilds one list."""

    def __init__(self, interconnects: int, connections: int, channels: int) -> None:
        self.prefix = f"providers/{PEER}/environments/{ENV}"
        self.ixs = [f"ix-{i}" for i in range(interconnects)]
        self.channels = channels
        self.owned = {
            ix: list(range(i, connections, interconnects)) for i, ix in enumerate(self.ixs)
        }
        self.bandwidth: dict[int, int] = {}
        self.bodies: dict[tuple[str, str | None], bytes] = {}
        for ix in self.ixs:
            self._build(ix)

    def _build(self, ix: str) -> None:
        base = f"{self.prefix}/interconnects/{ix}"
        conns = [_connection(base, n, self.bandwidth.get(n, 1000)) for n in self.owned[ix]]
        feats = [_feature(base, n, c) for n in self.owned[ix] for c in range(self.channels)]
        for kind, key, items in (
            ("connections", "connections", conns),
            ("features", "features", feats),
        ):
            for start in range(0, max(len(items), 1), PAGE):
                token = None if start == 0 else f"p{start}"
                document: dict[str, Any] = {key: items[start : start + PAGE]}
                if start + PAGE < len(items):
                    document["nextPageToken"] = f"p{start + PAGE}"
                self.bodies[(f"{ix}/{kind}", token)] = json.dumps(document).encode()

    def change(self, n: int) -> None:
        self.bandwidth[n] = 5000
        self._build(next(ix for ix, owned in self.owned.items() if n in owned))

    def handle(self, request: httpx.Request) -> httpx.Response:
        parts = request.url.path.strip("/").split("/")[4:]
        token = request.url.params.get("pageToken")
        if not parts:
            return httpx.Response(200, json={"name": self.prefix})
        if parts == ["interconnects"]:
            items = [
                {"name": f"{self.prefix}/interconnects/{ix}", "maxBandwidthMbps": 10**7}
                for ix in self.ixs
            ]
            return httpx.Response(200, json={"interconnects": items})
        ix = parts[1]
        if parts[2:] == ["channels"]:
            base = f"{self.prefix}/interconnects/{ix}"
            items = [{"name": f"{base}/channels/ch-{c}"} for c in range(self.channels)]
            return httpx.Response(200, json={"channels": items})
        kind = "connections" if parts[2:] == ["connections"] else "features"
        return httpx.Response(200, content=self.bodies[(f"{ix}/{kind}", token)])


async def _timed(reader: SideReader) -> dict[str, float]:
    gaps: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(0)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    decoded = getattr(reader, "pages_decoded", 0)
    reused = getattr(reader, "pages_reused", 0)
    wall, cpu = time.perf_counter(), time.process_time()
    await reader.read()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    done.set()
    await task
    return {
        "wall_ms": wall * 1000,
        "cpu_ms": cpu * 1000,
        "loop_held_max_ms": max(gaps, default=0.0) * 1000,
        "pages_decoded": getattr(reader, "pages_decoded", 0) - decoded,
        "pages_reused": getattr(reader, "pages_reused", 0) - reused,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--interconnects", type=int, default=1)
    parser.add_argument("--channels", type=int, default=4)
    parser.add_argument("--reads", type=int, default=5)
    args = parser.parse_args()
    side = Side(args.interconnects, args.connections, args.channels)
    client = ProviderClient("https://aws.test", "gcp", transport=httpx.MockTransport(side.handle))
    reader = SideReader(client, PEER, ENV)
    gc.collect()
    async with client:
        rows = [("first", await _timed(reader))]
        rows += [(f"unchanged {i}", await _timed(reader)) for i in range(1, args.reads)]
        side.change(0)
        rows.append(("one changed", await _timed(reader)))
    print(f"{args.connections} connections, {args.connections * args.channels} features, "
          f"{args.interconnects} interconnect(s)")  # fmt: skip
    header = ("read", "wall ms", "cpu ms", "loop held ms", "decoded", "reused")
    print("{:<13} {:>8} {:>8} {:>13} {:>8} {:>7}".format(*header))
    for name, row in rows:
        figures = (row["wall_ms"], row["cpu_ms"], row["loop_held_max_ms"])
        counts = (row["pages_decoded"], row["pages_reused"])
        print("{:<13} {:8.1f} {:8.1f} {:13.1f} {:8.0f} {:7.0f}".format(name, *figures, *counts))


if __name__ == "__main__":
    asyncio.run(main())
