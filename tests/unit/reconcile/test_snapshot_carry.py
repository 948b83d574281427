"""A refresh carries what did not change into the next snapshot (reconcile.snapshot ``carry``).

Two scripted providers (httpx.MockTransport, small pages with cursor tokens)
change at random between refreshes: connections and features added, removed
and changed, interconnects and channels appearing and disappearing, a side
failing to read. Between refreshes, and while a read is in flight, the pool
records answers as reconcilers do (``record_feature``, ``forget_connection``,
``record_verified``, ...) and reads derived data at random, so the carried
caches are partly built. After every refresh the carried snapshot's derived
data (every channel's usage, every UUID's fingerprint and observations,
interconnect views and allocated bandwidth, the UUIDs reported changed) must
equal what a snapshot built from scratch over the same records computes.

And the carry is O(changed): a refresh of unchanged pages builds no channel
space and computes no fingerprint again; records equal to the previous
snapshot's are the same objects.
"""

from __future__ import annotations

import asyncio
import json
import random
from typing import Any

import httpx
import pytest

from interconnect_operator.api import models
from interconnect_operator.api.client import ProviderClient
from interconnect_operator.protocol.types import Side
from interconnect_operator.reconcile import snapshot as snapshot_module
from interconnect_operator.reconcile.pool import (
    PoolConfig,
    PoolRuntime,
    ProviderConfig,
    build_client,
)
from interconnect_operator.reconcile.reader import SideReader
from interconnect_operator.reconcile.records import SideView
from interconnect_operator.reconcile.snapshot import PoolSnapshot

ENV = "e"
PAGE = 3
STATES = (
    "PROVISIONING_STATE_FINAL",
    "PROVISIONING_STATE_PROVISIONING",
    "PROVISIONING_STATE_FAILED",
)
VERIFICATION = ("VERIFICATION_STATE_VERIFIED", "VERIFICATION_STATE_PENDING")


def _paged(items: list[tuple[str, dict[str, Any]]], key: str, token: str | None) -> bytes:
    after = token.removeprefix("after:") if token else None
    rest = [(k, v) for k, v in sorted(items, key=lambda i: i[0]) if after is None or k > after]
    document: dict[str, Any] = {key: [v for _, v in rest[:PAGE]]}
    if len(rest) > PAGE:
        document["nextPageToken"] = f"after:{rest[PAGE - 1][0]}"
    return json.dumps(document).encode()


class Provider:
    """One side's environment: interconnect -> channels, connections, features."""

    def __init__(self, name: str, rng: random.Random) -> None:
        self.name = name
        self.rng = rng
        self.channels: dict[str, list[str]] = {}
        self.connections: dict[str, dict[str, dict[str, Any]]] = {}
        self.features: dict[str, dict[str, dict[str, dict[str, Any]]]] = {}
        self.failing = False
        self.during_read: list[Any] = []
        """Callbacks run on the next request (a change recorded while a read is in flight)."""

    def base(self, ix: str) -> str:
        return f"providers/{self.name}/environments/{ENV}/interconnects/{ix}"

    def handle(self, request: httpx.Request) -> httpx.Response:
        while self.during_read:
            self.during_read.pop()()
        return self.serve(request)

    def serve(self, request: httpx.Request) -> httpx.Response:
        if self.failing:
            return httpx.Response(403, json={"error": {"message": "no"}})
        token = request.url.params.get("pageToken")
        parts = request.url.path.strip("/").split("/")[4:]
        if not parts:
            return httpx.Response(200, json={"name": f"providers/{self.name}/environments/{ENV}"})
        if parts == ["interconnects"]:
            items = [
                (
                    ix,
                    {
                        "name": self.base(ix),
                        "state": "INTERCONNECT_STATE_ACTIVE",
                        "maxBandwidthMbps": 100_000,
                        "supportedConnectionSizeMbps": [1000, 2000],
                    },
                )
                for ix in self.connections
            ]
            return httpx.Response(200, content=_paged(items, "interconnects", token))
        ix = parts[1]
        if ix not in self.connections:
            return httpx.Response(404, json={"error": {"message": "no such interconnect"}})
        if parts[2:] == ["channels"]:
            items = [(ch, {"name": f"{self.base(ix)}/channels/{ch}"}) for ch in self.channels[ix]]
            return httpx.Response(200, content=_paged(items, "channels", token))
        if parts[2:] == ["connections"]:
            items = [
                (cid, {"name": f"{self.base(ix)}/connections/{cid}", **c})
                for cid, c in self.connections[ix].items()
            ]
            return httpx.Response(200, content=_paged(items, "connections", token))
        if parts[2] == "connections" and parts[4:] == ["features"]:
            items = [
                (f"{cid}/{ch}", self._feature(ix, cid, ch, f))
                for cid, by_ch in self.features[ix].items()
                for ch, f in by_ch.items()
            ]
            return httpx.Response(200, content=_paged(items, "features", token))
        return httpx.Response(404, json={"error": {"message": "unknown"}})

    def _feature(self, ix: str, cid: str, ch: str, f: dict[str, Any]) -> dict[str, Any]:
        return {
            "name": f"{self.base(ix)}/connections/{cid}/features/l3-{ch}",
            "channel": f"{self.base(ix)}/channels/{ch}",
            "provisioningState": f["state"],
            "featureConfig": {
                "featureType": "FEATURE_TYPE_L3_BASE",
                "l3BaseConfig": {
                    "vlanId": f["vlan"],
                    "ipv4Subnet": f"10.{f['vlan'] % 200}.{f['slot']}.0",
                    "ipv4SubnetPrefixLength": f["plen"],
                    "mtuBytes": 1500,
                },
            },
        }

    # Changes a provider makes between two refreshes.

    def new_feature(self) -> dict[str, Any]:
        return {
            "vlan": self.rng.randrange(2, 40),
            "slot": self.rng.randrange(0, 8) * 4,
            "plen": self.rng.choice((30, 29, 31)),
            "state": self.rng.choice(STATES),
        }

    def add_interconnect(self, ix: str, channels: list[str]) -> None:
        self.channels[ix] = list(channels)
        self.connections[ix] = {}
        self.features[ix] = {}

    def mutate(self, uuids: list[str]) -> None:
        rng = self.rng
        if not self.connections:
            return
        ix = rng.choice(sorted(self.connections))
        conns, feats = self.connections[ix], self.features[ix]
        kind = rng.randrange(9)
        if kind == 0:  # a connection created, with features
            uuid = rng.choice(uuids)
            conns[uuid] = {
                "bandwidthMbps": rng.choice((1000, 2000)),
                "verificationState": rng.choice(VERIFICATION),
            }
            feats[uuid] = {ch: self.new_feature() for ch in self.channels[ix] if rng.random() < 0.7}
        elif kind == 1 and conns:  # a connection deleted
            uuid = rng.choice(sorted(conns))
            del conns[uuid]
            feats.pop(uuid, None)
        elif kind == 2 and conns:  # bandwidth or verification changed
            c = conns[rng.choice(sorted(conns))]
            if rng.random() < 0.5:
                c["bandwidthMbps"] = rng.choice((1000, 2000, 5000))
            else:
                c["verificationState"] = rng.choice(VERIFICATION)
        elif kind in (3, 4) and feats:  # a feature's state, VLAN or subnet changed
            by_ch = feats[rng.choice(sorted(feats))]
            if by_ch:
                f = by_ch[rng.choice(sorted(by_ch))]
                key = rng.choice(("state", "vlan", "slot", "plen"))
                f[key] = self.new_feature()[key]
        elif kind == 5 and feats:  # a feature added or removed
            by_ch = feats[rng.choice(sorted(feats))]
            ch = rng.choice(self.channels[ix] or ["ch1"])
            if ch in by_ch:
                del by_ch[ch]
            else:
                by_ch[ch] = self.new_feature()
        elif kind == 6:  # a channel appears or disappears (its features stay listed)
            ch = rng.choice(("ch1", "ch2", "ch3"))
            if ch in self.channels[ix]:
                self.channels[ix].remove(ch)
            else:
                self.channels[ix].append(ch)
        elif kind == 7 and rng.random() < 0.3:  # an interconnect goes away
            del self.connections[ix], self.features[ix], self.channels[ix]


def _runtime(negotiator: Provider, responder: Provider) -> PoolRuntime:
    configs = [
        ProviderConfig(name=p.name, endpoint=f"http://{p.name}.test", call_as=p.name, side=side)
        for p, side in ((negotiator, Side.NEGOTIATOR), (responder, Side.RESPONDER))
    ]
    clients = [
        build_client(c, transport=httpx.MockTransport(p.handle))
        for c, p in zip(configs, (negotiator, responder), strict=True)
    ]
    config = PoolConfig("pool", ENV, configs[0], configs[1])
    return PoolRuntime(config, clients[0], clients[1])


async def _plain(provider: Provider) -> SideView:
    """The provider's records read by a reader with no cache and no previous snapshot."""
    client = ProviderClient(
        f"https://{provider.name}.test",
        provider.name,
        transport=httpx.MockTransport(provider.serve),
    )
    try:
        return await SideReader(client, provider.name, ENV).read()
    finally:
        await client.aclose()


def _copy(view: SideView) -> SideView:
    """The same records in fresh dicts: a snapshot with nothing derived yet."""
    return SideView(
        provider=view.provider,
        environment=view.environment,
        interconnects=dict(view.interconnects),
        channels={ix: list(chs) for ix, chs in view.channels.items()},
        connections={ix: dict(by_id) for ix, by_id in view.connections.items()},
        features={
            ix: {uuid: dict(by_ch) for uuid, by_ch in by_uuid.items()}
            for ix, by_uuid in view.features.items()
        },
    )


def _from_scratch(snapshot: PoolSnapshot) -> PoolSnapshot:
    return PoolSnapshot(
        snapshot.environment,
        _copy(snapshot.negotiator),
        _copy(snapshot.responder),
        snapshot.taken_at,
        dict(snapshot.errors),
    )


def _space(snapshot: PoolSnapshot, ix: str, ch: str) -> tuple[object, ...]:
    space = snapshot.channel_usage(ix, ch)
    return tuple(
        (s.total, s.digest, tuple(s.blocks()), s.intervals())
        for s in (space.vlans, space.ipv4, space.ipv6)
    )


def _derived(snapshot: PoolSnapshot, providers: dict[Side, str]) -> dict[str, Any]:
    """Everything derived a link's steps, the pool report and the refresh read."""
    ixs = set()
    uuids = set()
    for side in Side:
        view = snapshot.side(side)
        ixs |= set(view.connections) | set(view.features) | set(view.interconnects)
        for by_id in view.connections.values():
            uuids |= set(by_id)
        for by_uuid in view.features.values():
            uuids |= set(by_uuid)
    channels = ("ch1", "ch2", "ch3")
    return {
        "usage": {(ix, ch): _space(snapshot, ix, ch) for ix in sorted(ixs) for ch in channels},
        "prints": dict(snapshot.fingerprints()),
        "observations": {
            (side, uuid): snapshot.observation(side, uuid, providers)
            for side in Side
            for uuid in sorted(uuids)
        },
        "views": {side: snapshot.interconnect_views(side) for side in Side},
        "allocated": {
            (side, ix): snapshot.allocated_mbps(side, ix) for side in Side for ix in sorted(ixs)
        },
    }


def _record_something(runtime: PoolRuntime, rng: random.Random, uuids: list[str]) -> None:
    """What a reconciler records after a provider answered (pool.PoolRuntime)."""
    snapshot = runtime.snapshot
    assert snapshot is not None
    side = rng.choice(list(Side))
    view = snapshot.side(side)
    ix = rng.choice(sorted(view.connections) or ["ix1"])
    uuid = rng.choice(uuids)
    kind = rng.randrange(5)
    base = f"providers/x/environments/{ENV}/interconnects/{ix}"
    if kind == 0:
        vlan = rng.randrange(2, 40)
        feature = models.Feature.model_validate(
            {
                "name": f"{base}/connections/{uuid}/features/l3",
                "channel": f"{base}/channels/ch1",
                "provisioningState": rng.choice(STATES),
                "featureConfig": {
                    "featureType": "FEATURE_TYPE_L3_BASE",
                    "l3BaseConfig": {
                        "vlanId": vlan,
                        "ipv4Subnet": f"10.{vlan}.0.0",
                        "ipv4SubnetPrefixLength": 30,
                    },
                },
            }
        )
        runtime.record_feature(side, ix, uuid, rng.choice(("ch1", "ch2")), feature)
    elif kind == 1:
        runtime.forget_feature(side, ix, uuid, rng.choice(("ch1", "ch2")))
    elif kind == 2:
        runtime.forget_connection(side, ix, uuid)
    elif kind == 3:
        runtime.record_verified(ix, uuid)
    else:
        connection = models.Connection.model_validate(
            {"name": f"{base}/connections/{uuid}", "bandwidthMbps": rng.choice((1000, 2000))}
        )
        runtime.record_connection(side, ix, uuid, connection)


def _read_some(snapshot: PoolSnapshot, rng: random.Random, providers: dict[Side, str]) -> None:
    """Derived data read at random, so the caches carried are partly built."""
    for _ in range(rng.randrange(4)):
        what = rng.randrange(4)
        if what == 0:
            snapshot.channel_usage(rng.choice(("ix1", "ix2", "ix3")), rng.choice(("ch1", "ch2")))
        elif what == 1:
            snapshot.fingerprints()
        elif what == 2:
            snapshot.observation(rng.choice(list(Side)), f"u{rng.randrange(8)}", providers)
        else:
            snapshot.interconnect_views(rng.choice(list(Side)))


async def _run(seed: int, steps: int) -> int:
    rng = random.Random(seed)
    uuids = [f"u{n}" for n in range(8)]
    negotiator, responder = Provider("gcp", rng), Provider("aws", rng)
    for provider in (negotiator, responder):
        provider.add_interconnect("ix1", ["ch1", "ch2"])
        provider.add_interconnect("ix2", ["ch1"])
        for _ in range(10):
            provider.mutate(uuids)
    runtime = _runtime(negotiator, responder)
    providers = runtime.providers
    baseline: dict[str, Any] = {}
    compared = 0
    try:
        for _ in range(steps):
            for provider in (negotiator, responder):
                provider.failing = rng.random() < 0.1
                for _ in range(rng.randrange(4)):
                    provider.mutate(uuids)
                if rng.random() < 0.1:
                    ix = rng.choice(("ix1", "ix2", "ix3"))
                    if ix not in provider.connections:
                        provider.add_interconnect(ix, ["ch1", "ch2"])
            recording = runtime.snapshot is not None and rng.random() < 0.4
            if recording:
                negotiator.during_read.append(lambda: _record_something(runtime, rng, uuids))
            snapshot = await runtime.refresh()
            if not recording:
                # The records carried over are what the providers say.
                # (Interconnects are listed again every few reads: compare those read.)
                for side, provider in ((Side.NEGOTIATOR, negotiator), (Side.RESPONDER, responder)):
                    view = snapshot.side(side)
                    if not provider.failing and provider.name not in snapshot.errors:
                        plain = await _plain(provider)
                        for ix in view.connections:
                            assert view.connections[ix] == plain.connections[ix]
                            assert view.features[ix] == plain.features[ix]
            expected = _derived(_from_scratch(snapshot), providers)
            assert _derived(snapshot, providers) == expected
            if not snapshot.errors:
                prints = expected["prints"]
                assert runtime.changed == {
                    u for u in prints.keys() | baseline.keys() if prints.get(u) != baseline.get(u)
                }
                baseline = prints
            compared += 1
            for _ in range(rng.randrange(3)):
                _record_something(runtime, rng, uuids)
            _read_some(snapshot, rng, providers)
            # Recorded changes keep the carried caches exact too.
            assert _derived(snapshot, providers) == _derived(_from_scratch(snapshot), providers)
    finally:
        await runtime.aclose()
    return compared


@pytest.mark.parametrize("seed", range(16))
def test_carried_snapshot_equals_one_built_from_scratch(seed: int) -> None:
    assert asyncio.run(_run(seed, steps=14)) == 14


def _steady(uuids: int) -> tuple[Provider, Provider]:
    rng = random.Random(7)
    sides = Provider("gcp", rng), Provider("aws", rng)
    for provider in sides:
        provider.add_interconnect("ix1", ["ch1", "ch2"])
        for n in range(uuids):
            provider.connections["ix1"][f"u{n:02d}"] = {"bandwidthMbps": 1000}
            provider.features["ix1"][f"u{n:02d}"] = {
                "ch1": {"vlan": n + 2, "slot": 0, "plen": 30, "state": STATES[0]}
            }
    return sides


def test_unchanged_refresh_builds_nothing_again(monkeypatch: pytest.MonkeyPatch) -> None:
    negotiator, responder = _steady(12)
    runtime = _runtime(negotiator, responder)
    builds: list[str] = []
    space_of = snapshot_module.ChannelSpace.of.__func__  # type: ignore[attr-defined]

    def counting_of(cls: Any, snapshot: PoolSnapshot, ix: str, ch: str) -> Any:
        builds.append(ch)
        return space_of(cls, snapshot, ix, ch)

    monkeypatch.setattr(snapshot_module.ChannelSpace, "of", classmethod(counting_of))
    recomputed: list[str] = []
    one = PoolSnapshot._fingerprint

    def counting_print(self: PoolSnapshot, uuid: str) -> Any:
        recomputed.append(uuid)
        return one(self, uuid)

    monkeypatch.setattr(PoolSnapshot, "_fingerprint", counting_print)

    async def scenario() -> None:
        try:
            first = await runtime.refresh()
            first.channel_usage("ix1", "ch1")
            observed = first.observation(Side.NEGOTIATOR, "u03", runtime.providers)
            assert builds == ["ch1"]
            second = await runtime.refresh()
            assert second is not first
            # Unchanged pages: the same records, the same space, no fingerprint again.
            assert (
                second.negotiator.connections["ix1"]["u03"]
                is (first.negotiator.connections["ix1"]["u03"])
            )
            second.channel_usage("ix1", "ch1")
            assert second.observation(Side.NEGOTIATOR, "u03", runtime.providers) is observed
            assert builds == ["ch1"]
            assert recomputed == []
            assert runtime.changed == set()
            # One feature changes: its page is decoded again, the other records
            # on it are the previous objects, one UUID is computed again.
            negotiator.features["ix1"]["u05"]["ch1"]["vlan"] = 99
            before = second.negotiator.features["ix1"]["u04"]["ch1"]
            third = await runtime.refresh()
            assert third.negotiator.features["ix1"]["u04"]["ch1"] is before
            assert third.negotiator.features["ix1"]["u05"]["ch1"].vlan == 99
            third.channel_usage("ix1", "ch1")
            assert builds == ["ch1"]
            assert recomputed == ["u05"]
            assert runtime.changed == set()  # a VLAN is not in the fingerprint
            negotiator.features["ix1"]["u06"]["ch1"]["state"] = STATES[2]
            await runtime.refresh()
            assert recomputed == ["u05", "u06"]
            assert runtime.changed == {"u06"}
        finally:
            await runtime.aclose()

    asyncio.run(scenario())
