"""Pool reconciliation: two provider clients, bulk refresh, capacity and health.

A :class:`PoolRuntime` exists per CapacityPool. It owns one HTTP client per
provider (created once, closed when the pool goes away), refreshes a
:class:`~interconnect_operator.reconcile.snapshot.PoolSnapshot` of both sides
on the pool's interval, and reports what the pool status shows: capacity per
interconnect, channel health and maintenance, where the two views disagree.
No Kubernetes here: the k8s layer turns a :class:`PoolReport` into status.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field

from interconnect_operator.api import models
from interconnect_operator.api.auth import DEFAULT_MIN_TLS, Auth, Verify
from interconnect_operator.api.client import ProviderClient, RequestRecord
from interconnect_operator.api.lanes import standing_by
from interconnect_operator.api.retry import RetryPolicy
from interconnect_operator.protocol import placement
from interconnect_operator.protocol.resiliency import DeviceSpread, device_spread
from interconnect_operator.protocol.types import Side
from interconnect_operator.reconcile import views
from interconnect_operator.reconcile.reader import SideReader, read_pool
from interconnect_operator.reconcile.records import ConnectionRecord, FeatureRecord
from interconnect_operator.reconcile.snapshot import Fingerprint, PoolSnapshot

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProviderConfig:
    """How to reach one provider of a pool (credentials already resolved)."""

    name: str
    endpoint: str
    call_as: str
    side: Side
    auth: Auth | None = field(default=None, repr=False, compare=False)
    verify: Verify = True
    min_tls_version: ssl.TLSVersion = DEFAULT_MIN_TLS
    """Lowest TLS version toward this provider (TLS 1.3 unless lowered)."""
    fingerprint: str = ""
    """Changes when credentials change, so a runtime is rebuilt (never the secret itself)."""


@dataclass(frozen=True)
class PoolConfig:
    """A CapacityPool reduced to what reconciliation needs."""

    name: str
    environment: str
    negotiator: ProviderConfig
    responder: ProviderConfig
    refresh_interval: float = 30.0
    headroom_mbps: int = 0
    max_bandwidth_mbps_per_link: int | None = None
    macsec_rotate: bool = False
    macsec_rotation_interval_hours: int = 720

    def provider(self, side: Side) -> ProviderConfig:
        return self.negotiator if side is Side.NEGOTIATOR else self.responder

    @property
    def providers(self) -> dict[Side, str]:
        return {Side.NEGOTIATOR: self.negotiator.name, Side.RESPONDER: self.responder.name}


@dataclass(frozen=True)
class InterconnectReport:
    id: str
    state: str
    max_mbps: int
    allocated_mbps: int
    available_mbps: int
    channels: tuple[tuple[str, str | None, str | None], ...]
    """(channel id, admin state, MACsec manager) as the negotiator lists them."""
    device_spread: tuple[DeviceSpread, ...] = ()
    """Each side's spread of the interconnect's channels over its devices
    (resiliency audit, ``obfuscatedDeviceId``)."""
    sharing_device: tuple[tuple[str, int], ...] = ()
    """(provider, channels sharing their device with another channel)."""


@dataclass(frozen=True)
class PoolReport:
    """What the pool status shows after a refresh."""

    reachable: dict[str, bool]
    errors: dict[str, str]
    interconnects: tuple[InterconnectReport, ...]
    supported_sizes_mbps: tuple[int, ...]
    available_mbps: int
    disagreements: tuple[tuple[str, str, str | None, str], ...]
    """(kind, id, interconnect, missing on provider)."""
    taken_at: dt.datetime
    customer: bool = False
    """A pool on the clouds' customer APIs: no interconnects or channels to show."""
    tls_floors: tuple[tuple[str, str], ...] = ()
    """(provider, lowest TLS version the operator accepts toward it: "1.2" or "1.3")."""


def build_client(
    config: ProviderConfig,
    *,
    max_concurrency: int = 64,
    on_request: Callable[[RequestRecord], None] | None = None,
    transport: object | None = None,
) -> ProviderClient:
    """One HTTP client per provider endpoint, calling as ``config.call_as``."""
    kwargs: dict[str, object] = {}
    if transport is not None:
        kwargs["transport"] = transport
    return ProviderClient(
        config.endpoint,
        config.call_as,
        name=config.name,
        auth=config.auth,
        verify=config.verify,
        min_tls_version=config.min_tls_version,
        max_concurrency=max_concurrency,
        retry=RetryPolicy(),
        on_request=on_request,
        **kwargs,  # type: ignore[arg-type]
    )


class PoolRuntime:
    """The live side of one pool: clients, the latest snapshot, refresh."""

    def __init__(
        self,
        config: PoolConfig,
        negotiator: ProviderClient,
        responder: ProviderClient,
        *,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.config = config
        self.clients: dict[Side, ProviderClient] = {
            Side.NEGOTIATOR: negotiator,
            Side.RESPONDER: responder,
        }
        self._readers = {
            Side.NEGOTIATOR: SideReader(negotiator, config.negotiator.name, config.environment),
            Side.RESPONDER: SideReader(responder, config.responder.name, config.environment),
        }
        self._clock = clock
        self._lock = asyncio.Lock()
        self.snapshot: PoolSnapshot | None = None
        self.generation = 0
        self._reads_started = 0
        """Bulk reads begun so far (a fresh caller may share one begun after its call)."""
        self._fingerprints: dict[str, Fingerprint] = {}
        """The fingerprints of the last refresh with no errors (a copy: the
        snapshot keeps its own current)."""
        self.changed: set[str] = set()
        self._journal: list[Callable[[PoolSnapshot], None]] | None = None
        """Shared UUIDs whose provider state changed in the latest refresh."""

    def client(self, side: Side) -> ProviderClient:
        return self.clients[side]

    def page_counts(self) -> tuple[int, int]:
        """List pages the refreshes decoded and reused so far (both sides):
        a steady pool reuses nearly all (reconcile.reader)."""
        readers = self._readers.values()
        return sum(r.pages_decoded for r in readers), sum(r.pages_reused for r in readers)

    @property
    def providers(self) -> dict[Side, str]:
        """Provider names by side (what link status and metrics name)."""
        return self.config.providers

    @property
    def refresh_interval(self) -> float:
        return self.config.refresh_interval

    async def refresh(self, *, fresh: bool = False) -> PoolSnapshot:
        """Read both sides in bulk; concurrent callers share one refresh.

        ``fresh``: the result must come from a read that started after this
        call (deletion decides on it: nothing may be missed). Fresh callers
        that wait together share one such read: deleting a namespace of N
        links costs a few bulk reads, not N.

        A side that cannot be read keeps its previous view (listed in
        ``errors``): absence on an unreachable provider never reads as deleted.
        Changes the reconcilers record while the read is in flight are
        replayed onto the new snapshot.
        """
        # A link that waits for this read is not at work meanwhile: a bulk read
        # in flight does not stand aside for it (api.lanes).
        with standing_by():
            return await self._refresh(fresh)

    async def _refresh(self, fresh: bool) -> PoolSnapshot:
        started = self.generation
        ticket = self._reads_started
        async with self._lock:
            if not fresh and self.generation != started and self.snapshot is not None:
                return self.snapshot
            if fresh and self._reads_started > ticket and self.snapshot is not None:
                # A read began after this call and has completed (we hold the lock).
                return self.snapshot
            self._reads_started += 1
            self._journal = []
            try:
                snapshot = await read_pool(
                    self._readers[Side.NEGOTIATOR],
                    self._readers[Side.RESPONDER],
                    self.config.environment,
                    self._clock(),
                    self.snapshot,
                )
                previous = self.snapshot
                if previous is not None:
                    for side in Side:
                        provider = self.config.provider(side).name
                        if provider in snapshot.errors:
                            if side is Side.NEGOTIATOR:
                                snapshot.negotiator = previous.negotiator
                            else:
                                snapshot.responder = previous.responder
                    # What did not change is carried, not derived again (O(changed)).
                    snapshot.carry(previous)
                self.snapshot = snapshot
                for change in self._journal:
                    change(snapshot)
            finally:
                self._journal = None
            self.generation += 1
            if not snapshot.errors:
                # Only the UUIDs whose fingerprint was computed again since the
                # last error-free refresh can differ from it (all when rebuilt).
                prints, touched = snapshot.fingerprint_changes()
                old = self._fingerprints
                candidates = prints.keys() | old.keys() if touched is None else touched
                self.changed = {u for u in candidates if prints.get(u) != old.get(u)}
                self._fingerprints = dict(prints)
            return snapshot

    @property
    def reading(self) -> bool:
        """A bulk read is in flight: what it returns may predate a call answered now."""
        return self._journal is not None

    def record_verified(self, interconnect: str, uuid: str) -> None:
        """VERIFIED inferred on both sides (P14), kept until a read begun after it:
        replayed onto the snapshot of a read in flight, as every recorded answer is."""
        self._apply(lambda snapshot: views.mark_verified(snapshot, interconnect, uuid))

    def _apply(self, change: Callable[[PoolSnapshot], None]) -> None:
        if self.snapshot is not None:
            change(self.snapshot)
        if self._journal is not None:
            self._journal.append(change)

    def record_connection(
        self,
        side: Side,
        interconnect: str,
        uuid: str,
        connection: models.Connection | ConnectionRecord,
    ) -> None:
        """Record a provider's answer (kept as a record, not the wire model)."""
        record = (
            connection
            if isinstance(connection, ConnectionRecord)
            else ConnectionRecord.of(connection)
        )

        def change(snapshot: PoolSnapshot) -> None:
            snapshot.side(side).file_connection(interconnect, uuid, record)
            snapshot.invalidate(interconnect, usage=False, uuid=uuid)

        self._apply(change)

    def forget_connection(self, side: Side, interconnect: str, uuid: str) -> None:
        def change(snapshot: PoolSnapshot) -> None:
            snapshot.side(side).drop_connection(interconnect, uuid)
            snapshot.invalidate(interconnect, uuid=uuid)

        self._apply(change)

    def record_feature(
        self, side: Side, interconnect: str, uuid: str, channel: str, feature: models.Feature
    ) -> None:
        record = FeatureRecord.of(feature)

        def change(snapshot: PoolSnapshot) -> None:
            # A new dict for the connection: the one held may be shared with
            # the reader's pages and other snapshots (SideView.features).
            by_uuid = snapshot.side(side).features.setdefault(interconnect, {})
            by_uuid[uuid] = {**by_uuid.get(uuid, {}), channel: record}
            snapshot.invalidate(interconnect, channel, capacity=False, uuid=uuid)

        self._apply(change)

    def forget_feature(self, side: Side, interconnect: str, uuid: str, channel: str) -> None:
        def change(snapshot: PoolSnapshot) -> None:
            by_uuid = snapshot.side(side).features.get(interconnect, {})
            held = by_uuid.get(uuid)
            if held is not None and channel in held:
                # A new dict, as record_feature.
                by_uuid[uuid] = {c: f for c, f in held.items() if c != channel}
            snapshot.invalidate(interconnect, channel, capacity=False, uuid=uuid)

        self._apply(change)

    async def aclose(self) -> None:
        await asyncio.gather(*(c.aclose() for c in self.clients.values()))

    def report(self) -> PoolReport:
        """Capacity, channels and disagreements of the latest snapshot."""
        snapshot = self.snapshot
        now = self._clock()
        if snapshot is None:
            return PoolReport({}, {}, (), (), 0, (), now)
        neg_views = snapshot.interconnect_views(Side.NEGOTIATOR)
        res_views = snapshot.interconnect_views(Side.RESPONDER)
        pairs = placement.pair_views(neg_views, res_views)
        capacity = placement.pool_capacity(neg_views, res_views)
        interconnects = []
        for pair in pairs:
            channels = tuple(
                (c.id, c.admin_state, c.macsec_manager)
                for c in snapshot.negotiator.channels.get(pair.id, [])
            )
            spreads = tuple(
                device_spread(
                    side,
                    [c.id for c in snapshot.side(side).channels.get(pair.id, [])],
                    {c.id: c.device_id for c in snapshot.side(side).channels.get(pair.id, [])},
                )
                for side in Side
            )
            interconnects.append(
                InterconnectReport(
                    id=pair.id,
                    state=_state_of(pair),
                    max_mbps=pair.max_mbps,
                    allocated_mbps=pair.allocated_mbps,
                    available_mbps=pair.free_mbps if pair.active else 0,
                    channels=channels,
                    device_spread=spreads,
                    sharing_device=tuple(
                        (self.config.providers[s.side], s.sharing) for s in spreads
                    ),
                )
            )
        sizes: tuple[int, ...] = ()
        env = snapshot.negotiator.environment or snapshot.responder.environment
        if env is not None:
            sizes = tuple(sorted(env.supported_connection_size_mbps or ()))
        names = self.config.providers
        reachable = {name: name not in snapshot.errors for name in names.values()}
        floors = tuple(
            (p.name, "1.2" if p.min_tls_version <= ssl.TLSVersion.TLSv1_2 else "1.3")
            for p in (self.config.negotiator, self.config.responder)
        )
        return PoolReport(
            reachable=reachable,
            errors=dict(snapshot.errors),
            interconnects=tuple(interconnects),
            supported_sizes_mbps=sizes,
            available_mbps=capacity.available_mbps,
            disagreements=tuple(_disagreements(snapshot, names)),
            taken_at=snapshot.taken_at,
            tls_floors=floors,
        )


def _state_of(pair: placement.InterconnectCapacity) -> str:
    states = {v.state.value for v in (pair.negotiator, pair.responder) if v is not None}
    return states.pop() if len(states) == 1 else "/".join(sorted(states)) or "UNKNOWN"


def _disagreements(
    snapshot: PoolSnapshot, names: dict[Side, str]
) -> list[tuple[str, str, str | None, str]]:
    """Interconnects or channels one side lists and the other lacks."""
    if snapshot.errors:
        return []
    result: list[tuple[str, str, str | None, str]] = []
    neg, res = snapshot.negotiator, snapshot.responder
    for ix in sorted(set(neg.interconnects) ^ set(res.interconnects)):
        missing = names[Side.RESPONDER] if ix in neg.interconnects else names[Side.NEGOTIATOR]
        result.append(("Interconnect", ix, None, missing))
    for ix in sorted(set(neg.interconnects) & set(res.interconnects)):
        neg_ch = {c.id for c in neg.channels.get(ix, [])}
        res_ch = {c.id for c in res.channels.get(ix, [])}
        for ch in sorted(neg_ch ^ res_ch):
            missing = names[Side.RESPONDER] if ch in neg_ch else names[Side.NEGOTIATOR]
            result.append(("Channel", ch, ix, missing))
    return result
