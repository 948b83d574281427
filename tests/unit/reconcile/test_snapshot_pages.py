"""The bulk reader reuses unchanged pages (reconcile.reader ``SideReader``).

A scripted provider (httpx.MockTransport) serves interconnects, channels,
connections and features in small pages with cursor tokens. The reader must
decode and convert only pages whose bytes changed, reuse pages that moved to
another position, hand every snapshot fresh dicts per interconnect (what
reconcilers record into one never shows in the next) and the same
per-connection feature dicts while their pages are the same (a read that
carries them holds what a read from scratch holds), keep nothing from a
failed read, and bound its cache to the pages of the last successful read.

The counts come from spies on the record conversions (``ConnectionRecord.of``,
``FeatureRecord.of_item``) and from the page model's validation.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from typing import Any, cast

import httpx
import pytest

from interconnect_operator.api import models
from interconnect_operator.api.client import ProviderClient
from interconnect_operator.api.lanes import in_bulk_read
from interconnect_operator.protocol.types import Side
from interconnect_operator.reconcile import reader as reader_module
from interconnect_operator.reconcile import records as records_module
from interconnect_operator.reconcile.pool import PoolConfig, PoolRuntime, ProviderConfig
from interconnect_operator.reconcile.reader import SideReader, read_pool
from interconnect_operator.reconcile.records import ConnectionRecord, FeatureRecord, SideView
from interconnect_operator.reconcile.snapshot import PoolSnapshot
from interconnect_operator.reconcile.views import mark_verified

ENV = "e"
CALLER = "gcp"
PEER = "aws"
VERIFIED = "VERIFICATION_STATE_VERIFIED"
PENDING = "VERIFICATION_STATE_PENDING"


def _paged(
    items: list[tuple[str, dict[str, Any]]], key: str, size: int, token: str | None
) -> bytes:
    """One page of ``items`` (sorted by their key) after the cursor ``token``."""
    after = token.removeprefix("after:") if token else None
    rest = [(k, v) for k, v in items if after is None or k > after]
    page = rest[:size]
    document: dict[str, Any] = {key: [v for _, v in page]}
    if len(rest) > size:
        document["nextPageToken"] = f"after:{page[-1][0]}"
    return json.dumps(document).encode()


class FakeSide:
    """A provider's environment: interconnects -> connections (bandwidth,
    verification) -> one feature per channel, listed in pages of ``size``."""

    def __init__(self, interconnects: dict[str, int], channels: int = 2, size: int = 3) -> None:
        self.size = size
        self.channels = [f"ch{n}" for n in range(1, channels + 1)]
        self.connections: dict[str, dict[str, dict[str, Any]]] = {
            ix: {f"c{n:03d}": {"bandwidth": 1000, "verification": VERIFIED} for n in range(count)}
            for ix, count in interconnects.items()
        }
        self.refuse: set[str] = set()
        """Paths answered 403."""
        self.refuse_wildcard = False
        self.requests = 0
        self.vlans: dict[tuple[str, str, str], int] = {}
        """(interconnect, connection, channel) -> a VLAN other than the default."""
        self.gone: set[tuple[str, str, str]] = set()
        """Features no longer listed."""
        self.channel_first = False
        """List features by channel, then connection (a connection's features far apart)."""

    def base(self, ix: str) -> str:
        return f"providers/{PEER}/environments/{ENV}/interconnects/{ix}"

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        path = request.url.path
        if path in self.refuse:
            return httpx.Response(403, json={"error": {"message": "no"}})
        token = request.url.params.get("pageToken")
        parts = path.strip("/").split("/")[4:]  # after providers/{caller}/environments/{env}
        if not parts:
            return httpx.Response(200, json={"name": f"providers/{PEER}/environments/{ENV}"})
        if parts == ["interconnects"]:
            items = [
                (ix, {"name": self.base(ix), "state": "INTERCONNECT_STATE_ACTIVE"})
                for ix in sorted(self.connections)
            ]
            return httpx.Response(200, content=_paged(items, "interconnects", 100, token))
        ix = parts[1]
        if parts[2:] == ["channels"]:
            items = [(ch, {"name": f"{self.base(ix)}/channels/{ch}"}) for ch in self.channels]
            return httpx.Response(200, content=_paged(items, "channels", 100, token))
        if parts[2:] == ["connections"]:
            items = [
                (
                    cid,
                    {
                        "name": f"{self.base(ix)}/connections/{cid}",
                        "bandwidthMbps": c["bandwidth"],
                        "verificationState": c["verification"],
                    },
                )
                for cid, c in sorted(self.connections[ix].items())
            ]
            return httpx.Response(200, content=_paged(items, "connections", self.size, token))
        if parts[2] == "connections" and parts[4:] == ["features"]:
            owner = parts[3]
            if owner == "-" and self.refuse_wildcard:
                return httpx.Response(400, json={"error": {"message": "no wildcard"}})
            owners = sorted(self.connections[ix]) if owner == "-" else [owner]
            items = sorted(
                (
                    f"{ch}/{cid}" if self.channel_first else f"{cid}/{ch}",
                    self._feature(ix, cid, n, ch),
                )
                for cid in owners
                for n, ch in enumerate(self.channels)
                if (ix, cid, ch) not in self.gone
            )
            return httpx.Response(200, content=_paged(items, "features", self.size, token))
        return httpx.Response(404, json={"error": {"message": "unknown"}})

    def _feature(self, ix: str, cid: str, n: int, ch: str) -> dict[str, Any]:
        vlan = self.vlans.get((ix, cid, ch), 1000 + int(cid[1:]) * 4 + n)
        return {
            "name": f"{self.base(ix)}/connections/{cid}/features/l3-{ch}",
            "channel": f"{self.base(ix)}/channels/{ch}",
            "provisioningState": "PROVISIONING_STATE_FINAL",
            "featureConfig": {
                "featureType": "FEATURE_TYPE_L3_BASE",
                "l3BaseConfig": {
                    "vlanId": vlan,
                    "ipv4Subnet": f"169.254.{vlan % 250}.{(vlan * 4) % 256}",
                    "ipv4SubnetPrefixLength": 30,
                    "mtuBytes": 1500,
                },
            },
        }


class Conversions:
    """Counts record conversions and page validations."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.connections = 0
        self.features = 0
        self.validated = 0
        connection_of = ConnectionRecord.of.__func__  # type: ignore[attr-defined]
        feature_of = FeatureRecord.of_item.__func__  # type: ignore[attr-defined]

        def count_connection(cls: type[ConnectionRecord], wire: Any) -> ConnectionRecord:
            self.connections += 1
            return connection_of(cls, wire)  # type: ignore[no-any-return]

        def count_feature(cls: type[FeatureRecord], wire: Any) -> FeatureRecord:
            self.features += 1
            return feature_of(cls, wire)  # type: ignore[no-any-return]

        monkeypatch.setattr(ConnectionRecord, "of", classmethod(count_connection))
        monkeypatch.setattr(FeatureRecord, "of_item", classmethod(count_feature))
        for model in (models.ListConnectionsResponse, models.ListFeaturesPage):
            original = model.model_validate_json

            def counting(cls: Any, *args: Any, _original: Any = original, **kw: Any) -> Any:
                self.validated += 1
                return _original(*args, **kw)

            monkeypatch.setattr(model, "model_validate_json", classmethod(counting))

    @property
    def total(self) -> tuple[int, int, int]:
        return self.connections, self.features, self.validated


def _reader(side: FakeSide) -> tuple[SideReader, ProviderClient]:
    client = ProviderClient("https://aws.test", CALLER, transport=httpx.MockTransport(side.handle))
    return SideReader(client, PEER, ENV), client


def _flat(view: SideView) -> dict[str, Any]:
    """What a view says, as plain values (for comparing reads)."""
    return {
        "connections": {
            ix: {cid: (r.bandwidth_mbps, r.verification_state) for cid, r in by_id.items()}
            for ix, by_id in view.connections.items()
        },
        "features": {
            ix: {
                cid: {ch: (f.vlan, f.ipv4) for ch, f in by_ch.items()}
                for cid, by_ch in by_cid.items()
            }
            for ix, by_cid in view.features.items()
        },
    }


def _pages(side: FakeSide, ix: str) -> int:
    """Pages of connections and (wildcard) features ``side`` serves for ``ix``."""
    count = len(side.connections[ix])
    return -(-count // side.size) + -(-count * len(side.channels) // side.size)


async def test_an_unchanged_side_is_read_again_without_decoding_a_page(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    side = FakeSide({"ix1": 10, "ix2": 7})
    spies = Conversions(monkeypatch)
    reader, client = _reader(side)
    async with client:
        first = await reader.read()
        pages = _pages(side, "ix1") + _pages(side, "ix2")
        assert reader.pages_decoded == pages
        assert reader.pages_reused == 0
        assert spies.total == (17, 34, pages)
        second = await reader.read()
    assert _flat(second) == _flat(first)
    assert spies.total == (17, 34, pages)  # no validation, no conversion
    assert (reader.pages_decoded, reader.pages_reused) == (pages, pages)
    assert reader.cached_pages == pages
    # Fresh containers holding the same (immutable) records.
    assert second.connections["ix1"] is not first.connections["ix1"]
    assert second.features["ix1"] is not first.features["ix1"]
    assert second.features["ix1"]["c001"] is not first.features["ix1"]["c001"]
    assert second.connections["ix1"]["c001"] is first.connections["ix1"]["c001"]


async def test_a_change_decodes_only_the_page_that_carries_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    side = FakeSide({"ix1": 10, "ix2": 7})
    spies = Conversions(monkeypatch)
    reader, client = _reader(side)
    async with client:
        await reader.read()
        before = spies.total
        side.connections["ix2"]["c004"]["bandwidth"] = 5000  # connections page 2 of ix2
        view = await reader.read()
    assert view.connections["ix2"]["c004"].bandwidth_mbps == 5000
    assert view.connections["ix2"]["c003"].bandwidth_mbps == 1000
    # One page of three connections converted again, one page validated.
    assert spies.total == (before[0] + 3, before[1], before[2] + 1)


async def test_pages_that_moved_are_reused_and_what_left_is_gone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    side = FakeSide({"ix1": 9})
    spies = Conversions(monkeypatch)
    reader, client = _reader(side)
    async with client:
        await reader.read()
        before = spies.total
        # The whole first page of connections (and two feature pages) goes: every
        # later page now comes first, asked for with another token, same bytes.
        for cid in ("c000", "c001", "c002"):
            del side.connections["ix1"][cid]
        view = await reader.read()
    assert sorted(view.connections["ix1"]) == [f"c{n:03d}" for n in range(3, 9)]
    assert sorted(view.features["ix1"]) == [f"c{n:03d}" for n in range(3, 9)]
    assert spies.total == before
    assert reader.cached_pages == _pages(side, "ix1")


async def test_what_reconcilers_record_does_not_leak_into_the_next_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    side = FakeSide({"ix1": 4})
    side.connections["ix1"]["c001"]["verification"] = PENDING
    reader, client = _reader(side)
    async with client:
        first = PoolSnapshot(ENV, await reader.read(), SideView(CALLER), dt.datetime.now(dt.UTC))
        runtime = _runtime(first)
        # What the link steps and the pool record between refreshes.
        mark_verified(first, "ix1", "c001")
        first.negotiator.connections["ix1"]["placeholder"] = ConnectionRecord(bandwidth_mbps=1)
        first.negotiator.features["ix1"].pop("c002")
        runtime.forget_feature(Side.NEGOTIATOR, "ix1", "c003", "ch1")
        runtime.forget_feature(Side.NEGOTIATOR, "ix1", "c000", "ch2")
        runtime.record_feature(Side.NEGOTIATOR, "ix1", "c000", "ch3", _wire_feature("ix1", 7))
        assert first.negotiator.connections["ix1"]["c001"].verification_state == VERIFIED
        assert sorted(first.negotiator.features["ix1"]["c000"]) == ["ch1", "ch3"]
        assert sorted(first.negotiator.features["ix1"]["c003"]) == ["ch2"]
        second = await reader.read()
    assert reader.pages_decoded == reader.pages_reused  # the second read reused every page
    assert second.connections["ix1"]["c001"].verification_state == PENDING
    assert "placeholder" not in second.connections["ix1"]
    for cid in ("c000", "c002", "c003"):
        assert sorted(second.features["ix1"][cid]) == ["ch1", "ch2"]
    assert second.features["ix1"]["c000"]["ch2"].vlan == 1001


class _NoClient:
    async def aclose(self) -> None:
        """Nothing was opened."""


def _runtime(snapshot: PoolSnapshot) -> PoolRuntime:
    """A pool that records into ``snapshot`` as the link steps do (never refreshes)."""

    def provider(name: str, side: Side) -> ProviderConfig:
        return ProviderConfig(name=name, endpoint="https://unused", call_as=name, side=side)

    config = PoolConfig(
        "pool", ENV, provider(PEER, Side.NEGOTIATOR), provider(CALLER, Side.RESPONDER)
    )
    runtime = PoolRuntime(config, cast(Any, _NoClient()), cast(Any, _NoClient()))
    runtime.snapshot = snapshot
    return runtime


def _wire_feature(ix: str, vlan: int) -> models.Feature:
    base = f"providers/{PEER}/environments/{ENV}/interconnects/{ix}"
    return models.Feature.model_validate(
        {
            "name": f"{base}/connections/c000/features/l3-ch3",
            "channel": f"{base}/channels/ch3",
            "provisioningState": "PROVISIONING_STATE_FINAL",
            "featureConfig": {
                "featureType": "FEATURE_TYPE_L3_BASE",
                "l3BaseConfig": {
                    "vlanId": vlan,
                    "ipv4Subnet": "10.0.0.0",
                    "ipv4SubnetPrefixLength": 30,
                },
            },
        }
    )


def _single_page(side: FakeSide, ix: str) -> set[str]:
    """Connections whose wildcard features all sit on one page (in list order)."""
    listed = sorted(
        (f"{ch}/{cid}" if side.channel_first else f"{cid}/{ch}", cid)
        for cid in side.connections[ix]
        for ch in side.channels
        if (ix, cid, ch) not in side.gone
    )
    pages: dict[str, set[int]] = {}
    for place, (_, cid) in enumerate(listed):
        pages.setdefault(cid, set()).add(place // side.size)
    return {cid for cid, held in pages.items() if len(held) == 1}


def _change(what: str, side: FakeSide) -> None:
    """One change a provider makes between two reads (ix1 holds c000..c008)."""
    if what == "a feature on a middle page changes":
        side.vlans[("ix1", "c004", "ch1")] = 3000
    elif what == "a connection across two pages changes on its second page":
        side.vlans[("ix1", "c001", "ch2")] = 3001  # c001: ch1 on page 1, ch2 on page 2
    elif what == "a feature is deleted and the later ones move up a page":
        side.gone.add(("ix1", "c001", "ch1"))
    elif what == "a connection is added and the later features move down a page":
        side.connections["ix1"]["c0015"] = {"bandwidth": 1000, "verification": VERIFIED}
    elif what == "every feature of an interconnect is deleted":
        side.gone |= {("ix1", cid, ch) for cid in side.connections["ix1"] for ch in side.channels}
    elif what == "the last pages go":
        for cid in ("c006", "c007", "c008"):
            del side.connections["ix1"][cid]
    elif what == "the last page's features go":
        side.gone |= {("ix1", "c008", ch) for ch in side.channels}
    elif what == "features are listed in another order":
        side.channel_first = True
    elif what != "nothing":
        raise AssertionError(what)


CHANGES = (
    "nothing",
    "a feature on a middle page changes",
    "a connection across two pages changes on its second page",
    "a feature is deleted and the later ones move up a page",
    "a connection is added and the later features move down a page",
    "every feature of an interconnect is deleted",
    "the last pages go",
    "the last page's features go",
    "features are listed in another order",
)


@pytest.mark.parametrize("wildcard", [True, False], ids=["wildcard", "per-connection"])
@pytest.mark.parametrize("channel_first", [False, True], ids=["by-connection", "by-channel"])
@pytest.mark.parametrize("change", CHANGES)
async def test_carried_features_equal_a_read_from_scratch(
    change: str, channel_first: bool, wildcard: bool
) -> None:
    """A read that carries the per-connection dicts of unchanged pages holds
    exactly what a reader with no cache reads, and shares the dicts of the
    connections whose pages are the same (what the carry saves)."""
    side = FakeSide({"ix1": 9, "ix2": 2})
    side.channel_first = channel_first
    side.refuse_wildcard = not wildcard
    reader, client = _reader(side)
    fresh_reader, fresh_client = _reader(side)
    async with client, fresh_client:
        first = await reader.read()
        before = {cid: dict(by_ch) for cid, by_ch in first.features["ix1"].items()}
        held = _single_page(side, "ix1") if wildcard else set(side.connections["ix1"])
        _change(change, side)
        carried = await reader.read(previous=first)
        scratch = await fresh_reader.read()
    assert carried.features == scratch.features
    assert carried.connections == scratch.connections
    # The first read's dicts are as it read them (nothing was edited in place).
    assert first.features["ix1"] == before
    if change == "nothing":
        assert held or channel_first  # listed by channel, each connection spans pages
        for cid in held:
            assert carried.features["ix1"][cid] is first.features["ix1"][cid]
    # ix2 did not change: its connections on one page keep their dicts.
    assert carried.features["ix2"] == first.features["ix2"]
    if side.channel_first == channel_first:
        shared = _single_page(side, "ix2") if wildcard else set(side.connections["ix2"])
        assert shared
        for cid in shared:
            assert carried.features["ix2"][cid] is first.features["ix2"][cid]


async def test_a_failed_read_keeps_nothing_of_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    side = FakeSide({"ix1": 6, "ix2": 6})
    spies = Conversions(monkeypatch)
    reader, client = _reader(side)
    other_client = ProviderClient(
        "https://gcp.test", PEER, transport=httpx.MockTransport(side.handle)
    )
    other = SideReader(other_client, CALLER, ENV)
    async with client, other_client:
        first = await reader.read()
        cached = reader.cached_pages
        # The change is read (decoded) by a read that then fails on ix2's features.
        side.connections["ix1"]["c000"]["bandwidth"] = 9000
        side.refuse.add(
            f"/providers/{CALLER}/environments/{ENV}/interconnects/ix2/connections/-/features"
        )
        snapshot = await read_pool(reader, other, ENV, dt.datetime.now(dt.UTC))
        assert PEER in snapshot.errors
        assert snapshot.side(Side.NEGOTIATOR).connections == {}
        await asyncio.sleep(0)  # let the read's other task finish its pages
        assert reader.cached_pages == cached  # the failed read replaced nothing
        # The provider goes back: the old bytes are the held pages again, reused.
        side.connections["ix1"]["c000"]["bandwidth"] = 1000
        side.refuse.clear()
        decoded = spies.validated
        third = await reader.read()
        assert spies.validated == decoded
        assert _flat(third) == _flat(first)
        # And a change after the failure is read as it is now.
        side.connections["ix1"]["c000"]["bandwidth"] = 7000
        fourth = await reader.read()
    assert fourth.connections["ix1"]["c000"].bandwidth_mbps == 7000


async def test_an_interconnect_no_longer_listed_leaves_the_cache(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(reader_module, "STATIC_REFRESH_EVERY", 1)  # list interconnects every read
    side = FakeSide({"ix1": 5, "ix2": 5})
    reader, client = _reader(side)
    async with client:
        await reader.read()
        assert reader.cached_pages == _pages(side, "ix1") + _pages(side, "ix2")
        del side.connections["ix2"]
        view = await reader.read()
    assert sorted(view.connections) == ["ix1"]
    assert reader.cached_pages == _pages(side, "ix1")


async def test_per_connection_features_are_reused_too(monkeypatch: pytest.MonkeyPatch) -> None:
    side = FakeSide({"ix1": 4}, channels=4)
    side.refuse_wildcard = True
    spies = Conversions(monkeypatch)
    reader, client = _reader(side)
    async with client:
        first = await reader.read()
        before = spies.total
        second = await reader.read()
    assert spies.total == before
    assert _flat(second) == _flat(first)
    assert sorted(second.features["ix1"]["c003"]) == ["ch1", "ch2", "ch3", "ch4"]
    # 2 connection pages, 4 connections x 2 pages of features each.
    assert reader.cached_pages == 2 + 4 * 2


async def test_a_large_read_lets_other_tasks_run_between_pages() -> None:
    """The scripted provider never suspends: without the reader's own yields a
    link step waiting on the loop would wait for the whole read."""
    side = FakeSide({"ix1": 60}, size=5)
    reader, client = _reader(side)
    progress: list[int] = []
    done = asyncio.Event()

    async def link_step() -> None:
        while not done.is_set():
            progress.append(reader.pages_decoded + reader.pages_reused)
            await asyncio.sleep(0)

    async with client:
        for _ in range(2):  # decoding, then reusing
            start = reader.pages_decoded + reader.pages_reused
            done.clear()
            progress.clear()
            task = asyncio.create_task(link_step())
            await asyncio.sleep(0)
            await reader.read()
            done.set()
            await task
            total = reader.pages_decoded + reader.pages_reused - start
            assert total == _pages(side, "ix1") == 36
            during = {n - start for n in progress if 0 < n - start < total}
            assert len(during) >= total - 2


def test_a_feature_viewed_again_parses_its_bgp_addresses_once() -> None:
    # A link's observation is rebuilt after each of its steps; the BGP addresses of
    # features it already held are not parsed again (snapshot._host_v4/_host_v6).
    record = FeatureRecord(
        name="f",
        provisioning_state="FINAL",
        vlan=1025,
        ipv4=records_module._ipv4("169.254.77.0/30"),
        bgp=(
            records_module.BgpRecord("gcp", 16550, "169.254.77.1/30", "fd00:77::1/126"),
            records_module.BgpRecord("aws", 64512, "169.254.77.2/30", None),
        ),
    )
    providers = {Side.NEGOTIATOR: "gcp", Side.RESPONDER: "aws"}
    before = records_module._host_v4.cache_info().misses
    first = records_module.feature_view("ch1", record, providers)
    second = records_module.feature_view("ch1", record, providers)
    assert first == second
    assert first is not None
    assert str(first.bgp[Side.NEGOTIATOR].ipv4) == "169.254.77.1"
    assert str(first.bgp[Side.NEGOTIATOR].ipv6) == "fd00:77::1"
    assert first.bgp[Side.RESPONDER].ipv6 is None
    assert records_module._host_v4.cache_info().misses - before == 2


async def test_a_pool_read_is_a_bulk_read_and_a_link_call_is_not() -> None:
    """read_pool marks its calls (api.lanes), so a link's calls never queue
    behind the refresh's pages; calls outside it are not marked."""
    side = FakeSide({"ix1": 4, "ix2": 4})
    marks: list[tuple[str, bool]] = []

    def handle(request: httpx.Request) -> httpx.Response:
        marks.append((request.url.path, in_bulk_read()))
        return side.handle(request)

    clients = [
        ProviderClient(f"https://{name}.test", caller, transport=httpx.MockTransport(handle))
        for name, caller in (("aws", CALLER), ("gcp", PEER))
    ]
    readers = [
        SideReader(c, caller, ENV) for c, caller in zip(clients, (CALLER, PEER), strict=True)
    ]
    async with clients[0], clients[1]:
        await read_pool(readers[0], readers[1], ENV, dt.datetime.now(dt.UTC))
        read = len(marks)
        await clients[0].get_environment(ENV)
    assert read > 10
    assert all(bulk for _, bulk in marks[:read])
    assert marks[read:] == [(marks[read][0], False)]
