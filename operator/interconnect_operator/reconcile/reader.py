"""Bulk observation of one pool: both providers' views, read with list calls.

Observe in bulk, act per link (README.md, Architecture): a refresh lists each side's
interconnects, channels, connections and features (all pages) and converts
them into records (``reconcile.records``). Link reconciles read the pool's
snapshot (``reconcile.snapshot``) instead of calling the providers per link,
so the steady-state cost is O(interconnects) calls per refresh, not O(links).

Connections and features are read as digested pages: a page whose raw body
equals one of the last read (same digest) reuses that read's records, so a
steady-state refresh neither decodes nor converts what did not change. The
records are immutable. Each snapshot gets fresh dicts per interconnect, so
what the reconcilers record into one snapshot never leaks into the next; a
connection's features (channel -> record) are filed once per page and that
page's dicts are carried into every snapshot while its bytes stay the same:
they are read-only (``records.ConnectionFeatures``; a recorded change
replaces the connection's dict). Filing 80,000 fresh dicts per refresh at
10,000 links was 39.5 % of the N=10,000 steady window: each refresh's dicts
outlived the young generations, so the collector's full passes over the
whole heap kept coming (a micro-benchmark of one side's unchanged read at
that shape, two million other objects live: one full pass per 16 reads,
0.3-1.1 s each on a loaded machine; none with the dicts carried).

A changed features page is read item by item (``api.feature_pages``): only
the items whose bytes the last read did not hold are validated into plain
dicts (``models.ListFeaturesPage``: the models' fields and types, no five
models per feature) and converted by ``FeatureRecord.of_item``; an item equal to
the previous snapshot's record for its (interconnect, connection, channel)
is that record. So consecutive snapshots share every record that did not
change, and ``PoolSnapshot.carry`` takes over the previous snapshot's derived
data (channel spaces, observations, fingerprints, capacity), bringing it up
to date only for the UUIDs whose records are not the same objects. At the
N=10,000 shape (10 interconnects x 1,000 connections x 4 features, both
sides; micro-benchmark, loaded machine) a refresh with no page changed plus
every channel's usage and every UUID's observation: ~2.5 s -> ~0.13 s of
CPU; with every page changed ~8.9 -> ~2.2 s; a first refresh 7.4 -> 3.7 s.

Features are listed per interconnect with the collection wildcard ``-`` for
the connection segment (AIP-159 style: ``connections/-/features``). A provider
that refuses the wildcard is read per connection instead, which is correct
but O(links); the snapshot remembers which way works.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any, cast

from interconnect_operator.api import models
from interconnect_operator.api.client import DigestedPage, ProviderClient
from interconnect_operator.api.errors import ApiError, InvalidRequest, NotFound
from interconnect_operator.api.feature_pages import FeatureEntry
from interconnect_operator.api.lanes import bulk_reads
from interconnect_operator.api.names import last_id
from interconnect_operator.reconcile.records import (
    ChannelInfo,
    ConnectionFeatures,
    ConnectionRecord,
    FeatureRecord,
    SideView,
)
from interconnect_operator.reconcile.snapshot import PoolSnapshot

logger = logging.getLogger(__name__)

WILDCARD = "-"
PAGE_SIZE = 1000
"""Largest page the spec's list calls are asked for: fewer round trips per refresh."""
STATIC_REFRESH_EVERY = 10
"""Bulk reads between two reads of environment, interconnects and channels."""


ConnectionItem = tuple[str, ConnectionRecord]
"""A listed connection converted: (connection id, record)."""
FeatureItem = tuple[str, str, FeatureRecord]
"""A listed feature converted: (connection id, channel id, record)."""


def connection_items(
    page: models.ListConnectionsResponse,
    previous: Mapping[str, ConnectionRecord] | None = None,
) -> Iterator[ConnectionItem]:
    """The records of one ListConnections page (unnamed connections skipped).

    ``previous``: the interconnect's records in the last snapshot; an item
    equal to the one held for its id is that record (the same object), so
    what did not change stays identical across snapshots (``carry``)."""
    held = previous or {}
    for connection in page.connections or ():
        if connection.name:
            connection_id = last_id(connection.name)
            record = ConnectionRecord.of(connection)
            before = held.get(connection_id)
            yield connection_id, before if before == record else record


def feature_item(
    feature: models.FeatureItem,
    connection_id: str | None = None,
    previous: Mapping[str, Mapping[str, FeatureRecord]] | None = None,
) -> FeatureItem | None:
    """The record of one listed feature (None: no channel or name, skipped);
    ``connection_id`` for a page of one connection, None for a wildcard page
    (the id is read from the name).

    ``previous``: the interconnect's records in the last snapshot (connection
    -> channel -> record); an item equal to the one held for its connection
    and channel is that record (the same object, as ``connection_items``).
    Called only for items whose bytes the last read did not hold
    (``api.feature_pages``): the others are that read's entries."""
    uri, name = feature.get("channel"), feature.get("name")
    if not uri or not name:
        return None
    channel = last_id(uri)
    owner = connection_id
    if owner is None:
        # .../connections/{k}/features/{f}: the connection id is two segments up.
        parts = name.split("/")
        if len(parts) < 4:
            return None
        owner = parts[-3]
    record = FeatureRecord.of_item(feature)
    before = (previous or {}).get(owner, {}).get(channel)
    return owner, channel, before if before == record else record


PageCache = dict[bytes, DigestedPage[Any]]
Filed = dict[str, ConnectionFeatures]
"""One features page's features by connection (connection id -> channel -> record)."""


class SideReader:
    """Reads one provider's view of an environment in bulk.

    Keeps, per listed (interconnect, list), the digested pages of the last
    successful read: one entry per page actually listed, replaced by every
    successful read, so an interconnect (or, per connection, a connection) no
    longer listed drops out. A failed read leaves the cache as it was; it
    never holds more than pages whose bytes it converted itself.
    """

    def __init__(self, client: ProviderClient, provider: str, environment: str) -> None:
        self._client = client
        self._provider = provider
        self._environment = environment
        self._wildcard_ok = True
        self._reads = 0
        self._static: SideView | None = None
        self._pages: dict[tuple[str, str, str], PageCache] = {}
        self._filed: dict[tuple[str, str, str], dict[bytes, Filed]] = {}
        """Per features list, each page's features filed by connection (by page digest)."""
        self.calls = 0
        self.pages_decoded = 0
        """Pages parsed and converted (their digest was new)."""
        self.pages_reused = 0
        """Pages whose digest matched the last read: records reused as they were."""

    @property
    def cached_pages(self) -> int:
        """Pages held from the last successful read (the cache's whole size)."""
        return sum(len(held) for held in self._pages.values())

    async def read(
        self, *, with_channels: bool = True, previous: SideView | None = None
    ) -> SideView:
        """One bulk read. Environment, interconnects and channels (set up out of
        band, they rarely change) are re-read every STATIC_REFRESH_EVERY reads;
        connections and features every time: 2 list calls per interconnect.

        ``previous``: this side in the last snapshot; a decoded item equal to
        its record there is that record (``connection_items``)."""
        env = self._environment
        view = SideView(provider=self._provider)
        static = self._static
        full = static is None or self._reads % STATIC_REFRESH_EVERY == 0
        self._reads += 1
        pages: dict[tuple[str, str, str], PageCache] = {}
        filed: dict[tuple[str, str, str], dict[bytes, Filed]] = {}
        if full or static is None:
            self.calls += 2
            view.environment = await self._client.get_environment(env)
            interconnects = [
                ix async for ix in self._client.list_interconnects(env, page_size=PAGE_SIZE)
            ]
            for ix in interconnects:
                if ix.name:
                    view.interconnects[last_id(ix.name)] = ix
        else:
            view.environment = static.environment
            view.interconnects = dict(static.interconnects)
            view.channels = dict(static.channels)

        async def one(ix_id: str) -> None:
            if with_channels and (full or ix_id not in view.channels):
                self.calls += 1
                view.channels[ix_id] = [
                    ChannelInfo(
                        id=last_id(ch.name or ""),
                        admin_state=ch.admin_state,
                        macsec_manager=ch.macsec_manager_provider,
                        device_id=ch.obfuscated_device_id or None,
                    )
                    async for ch in self._client.list_channels(env, ix_id, page_size=PAGE_SIZE)
                    if ch.name
                ]
            self.calls += 1
            key = (ix_id, "connections", "")
            known, kept = self._pages.get(key, {}), pages.setdefault(key, {})
            connections: dict[str, ConnectionRecord] = {}
            held = previous.connections.get(ix_id) if previous is not None else None
            async for page in self._client.connection_pages(
                env,
                ix_id,
                functools.partial(connection_items, previous=held),
                known,
                page_size=PAGE_SIZE,
            ):
                self._count(page, known, kept)
                connections.update(page.items)
            view.connections[ix_id] = connections
            view.features[ix_id] = await self._features(
                ix_id,
                connections,
                pages,
                filed,
                previous.features.get(ix_id) if previous is not None else None,
            )

        await asyncio.gather(*(one(ix_id) for ix_id in view.interconnects))
        # Only a read that completed replaces the pages it holds.
        self._pages = pages
        self._filed = filed
        if full:
            self._static = view
        return view

    def _count(self, page: DigestedPage[Any], known: PageCache, kept: PageCache) -> None:
        if known.get(page.digest) is page:
            self.pages_reused += 1
        else:
            self.pages_decoded += 1
        kept[page.digest] = page

    async def _features(
        self,
        ix_id: str,
        connections: Mapping[str, ConnectionRecord],
        pages: dict[tuple[str, str, str], PageCache],
        filed: dict[tuple[str, str, str], dict[bytes, Filed]],
        previous: Mapping[str, Mapping[str, FeatureRecord]] | None,
    ) -> dict[str, ConnectionFeatures]:
        env = self._environment
        result: dict[str, ConnectionFeatures] = {}
        if self._wildcard_ok:
            key = (ix_id, "features", WILDCARD)
            known, kept = self._pages.get(key, {}), pages.setdefault(key, {})
            was, now = self._filed.get(key, {}), filed.setdefault(key, {})
            try:
                self.calls += 1
                async for page in self._client.feature_pages(
                    env,
                    ix_id,
                    WILDCARD,
                    functools.partial(feature_item, previous=previous),
                    known,
                    page_size=PAGE_SIZE,
                ):
                    self._count(page, known, kept)
                    _merge(result, self._file(page, known, was, now))
                return result
            except (InvalidRequest, NotFound):
                logger.info(
                    "provider %s refuses the feature wildcard; listing per connection",
                    self._provider,
                )
                self._wildcard_ok = False
                pages.pop(key, None)
                filed.pop(key, None)
                result.clear()
        for connection_id in connections:
            self.calls += 1
            key = (ix_id, "features", connection_id)
            known, kept = self._pages.get(key, {}), pages.setdefault(key, {})
            was, now = self._filed.get(key, {}), filed.setdefault(key, {})
            try:
                async for page in self._client.feature_pages(
                    env,
                    ix_id,
                    connection_id,
                    functools.partial(feature_item, connection_id=connection_id, previous=previous),
                    known,
                ):
                    self._count(page, known, kept)
                    _merge(result, self._file(page, known, was, now))
            except NotFound:
                continue
        return result

    @staticmethod
    def _file(
        page: DigestedPage[FeatureEntry[FeatureItem]],
        known: PageCache,
        was: Mapping[bytes, Filed],
        now: dict[bytes, Filed],
    ) -> Filed:
        """The page's features by connection: the last read's dicts when the
        page is the one it read (the same bytes), else filed afresh."""
        held = was.get(page.digest) if known.get(page.digest) is page else None
        if held is None:
            held = file_features(page.items)
        now[page.digest] = held
        return held


def file_features(entries: Iterable[FeatureEntry[FeatureItem]]) -> Filed:
    """One page's features by connection and channel (a later entry for the
    same connection and channel wins, as in the list's order)."""
    filed: dict[str, dict[str, FeatureRecord]] = {}
    for _, item in entries:
        if item is None:
            continue
        connection_id, channel, record = item
        by_channel = filed.get(connection_id)
        if by_channel is None:
            by_channel = filed[connection_id] = {}
        by_channel[channel] = record
    return cast(Filed, filed)  # read-only from here on


def _merge(result: dict[str, ConnectionFeatures], filed: Filed) -> None:
    """Add one page's features (``file_features``) to an interconnect's.

    The page's dicts are shared, not copied: a connection whose features
    continue from an earlier page of the list (a page boundary, or a
    provider listing out of order) gets a new dict holding both."""
    if filed.keys().isdisjoint(result):
        result.update(filed)
        return
    for connection_id, by_channel in filed.items():
        before = result.get(connection_id)
        result[connection_id] = by_channel if before is None else {**before, **by_channel}


async def read_pool(
    negotiator: SideReader,
    responder: SideReader,
    environment: str,
    now: datetime,
    previous: PoolSnapshot | None = None,
) -> PoolSnapshot:
    """Read both sides concurrently; a side that fails is reported in ``errors``.

    ``previous``: the last snapshot, whose records a decoded item equal to
    them becomes (``SideReader.read``)."""
    with bulk_reads():  # its pages never crowd out a link's calls (api.lanes)
        results = await asyncio.gather(
            negotiator.read(previous=previous.negotiator if previous is not None else None),
            responder.read(previous=previous.responder if previous is not None else None),
            return_exceptions=True,
        )
    errors: dict[str, str] = {}
    sides: list[SideView] = []
    for reader, result in zip((negotiator, responder), results, strict=True):
        if isinstance(result, BaseException):
            if not isinstance(result, Exception):
                raise result  # cancellation, interpreter exit
            # Containment: whatever a side's read raised (a provider's odd answer,
            # a credentials plugin) is that side being unreadable, not the end of
            # the pool loop.
            if isinstance(result, ApiError | OSError | asyncio.TimeoutError):
                errors[reader._provider] = describe_error(result)
            else:
                errors[reader._provider] = f"unexpected {type(result).__name__}"
                logger.warning(
                    "reading %s failed", reader._provider, exc_info=(type(result), result, None)
                )
            sides.append(SideView(provider=reader._provider))
        else:
            sides.append(result)
    return PoolSnapshot(
        environment=environment,
        negotiator=sides[0],
        responder=sides[1],
        taken_at=now,
        errors=errors,
    )


def describe_error(error: BaseException) -> str:
    """The error and its root cause, so a pool condition says *why* a side is
    unreachable (e.g. ``CERTIFICATE_VERIFY_FAILED`` rather than ``ConnectError``).

    Transport errors carry no request headers, so no credential can show here.
    """
    text = f"{type(error).__name__}: {error}"
    cause = error.__cause__ or error.__context__
    seen = 0
    while cause is not None and seen < 5:
        detail = str(cause).strip()
        if detail and detail not in text:
            text += f" ({detail[:300]})"
        cause = cause.__cause__ or cause.__context__
        seen += 1
    return text
