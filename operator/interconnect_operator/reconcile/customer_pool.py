"""A pool on the clouds' customer APIs: both clients, one bulk view of both sides, its report.

The customer counterpart of :class:`~interconnect_operator.reconcile.pool.PoolRuntime`,
with the surface the pool loop and the link workers use: ``refresh`` (one
ListConnections and one transports.list, all pages; a side that cannot be
read keeps its previous view and is named in ``errors``), ``changed`` (shared
UUIDs whose state moved in the last refresh), ``report`` (reachability and
the bandwidths both sides offer), ``config`` and ``aclose``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass, field

from interconnect_operator.api import activation_key
from interconnect_operator.api.customer_aws import AwsConnection, AwsInterconnectClient
from interconnect_operator.api.customer_gcp import GoogleTransportsClient, Transport
from interconnect_operator.api.errors import ApiError
from interconnect_operator.api.lanes import standing_by
from interconnect_operator.protocol.customer_link import Cloud
from interconnect_operator.protocol.types import Side
from interconnect_operator.reconcile.pool import PoolConfig, PoolReport

__all__ = ["AwsAccount", "CustomerPool", "GoogleProject", "shared_uuid_of"]


@dataclass(frozen=True)
class AwsAccount:
    """The AWS side of a pool: where connections are created."""

    region: str
    environment_id: str
    account_id: str


@dataclass(frozen=True)
class GoogleProject:
    """The Google side of a pool: where transports are created."""

    project: str
    location: str
    remote_profile: str
    """Profile id (e.g. ``aws-us-east-1``) or full name."""


@dataclass
class CustomerPool:
    """Both customer clients of a pool and the latest bulk view of both sides."""

    aws_account: AwsAccount
    google_project: GoogleProject
    aws: AwsInterconnectClient
    google: GoogleTransportsClient
    config: PoolConfig | None = None
    """The pool as the k8s layer knows it (provider names, refresh interval)."""
    sides: dict[Cloud, Side] = field(
        default_factory=lambda: {Cloud.AWS: Side.RESPONDER, Cloud.GOOGLE: Side.NEGOTIATOR}
    )
    connections: list[AwsConnection] = field(default_factory=list)
    transports: dict[str, Transport] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    changed: set[str] = field(default_factory=set)
    sizes_mbps: tuple[int, ...] | None = None
    taken_at: dt.datetime | None = None
    _prints: dict[str, tuple[object, ...]] = field(default_factory=dict, repr=False)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)

    @property
    def providers(self) -> dict[Side, str]:
        """Pool provider names by side (what link status and metrics name)."""
        if self.config is not None:
            return self.config.providers
        return {side: cloud.value for cloud, side in self.sides.items()}

    @property
    def refresh_interval(self) -> float:
        return self.config.refresh_interval if self.config is not None else 30.0

    def cloud_of(self, provider: str) -> Cloud | None:
        """The cloud a pool provider name stands for."""
        return next((c for c in Cloud if self.provider(c) == provider), None)

    def provider(self, cloud: Cloud) -> str:
        """The pool provider name of ``cloud``."""
        if self.config is None:
            return cloud.value
        return self.config.provider(self.sides[cloud]).name

    async def refresh(self, *, fresh: bool = False) -> CustomerPool:
        """Read both sides in bulk (all pages); ``fresh`` is always so (no sharing)."""
        with standing_by():  # a link waiting for it is not at work (api.lanes)
            return await self._refresh()

    async def _refresh(self) -> CustomerPool:
        async with self._lock:
            aws, google = await asyncio.gather(
                self.aws.list_connections(environment_id=self.aws_account.environment_id),
                self.google.list_transports(),
                return_exceptions=True,
            )
            errors: dict[str, str] = {}
            if isinstance(aws, ApiError):
                errors[self.provider(Cloud.AWS)] = str(aws)
            elif isinstance(aws, BaseException):
                raise aws
            else:
                self.connections = aws
            if isinstance(google, ApiError):
                errors[self.provider(Cloud.GOOGLE)] = str(google)
            elif isinstance(google, BaseException):
                raise google
            else:
                self.transports = {t.id: t for t in google}
            self.errors = errors
            self.taken_at = dt.datetime.now(dt.UTC)
            if not errors:
                self._track_changes()
                if self.sizes_mbps is None:
                    await self._catalogue()
        return self

    async def _catalogue(self) -> None:
        """The bandwidths both sides offer (read once)."""
        try:
            environment = await self.aws.get_environment(self.aws_account.environment_id)
            profile = await self.google.get_remote_transport_profile(
                self.google_project.remote_profile.rsplit("/", 1)[-1]
            )
        except ApiError as error:
            self.errors["catalogue"] = str(error)
            return
        self.sizes_mbps = tuple(
            sorted(set(environment.supported_mbps) & set(profile.supported_mbps))
        )

    def _track_changes(self) -> None:
        prints: dict[str, tuple[object, ...]] = {}
        for connection in self.connections:
            prints[connection.shared_id] = (connection.state, connection.bandwidth_mbps)
        for transport in self.transports.values():
            uuid = shared_uuid_of(transport)
            if uuid is not None:
                prints[uuid] = (*prints.get(uuid, ()), transport.state, transport.bandwidth_mbps)
        old = self._prints
        self.changed = {u for u in prints.keys() | old.keys() if prints.get(u) != old.get(u)}
        self._prints = prints

    def report(self) -> PoolReport:
        """What the pool status shows: reachability and the sizes both sides sell."""
        names = [self.provider(Cloud.AWS), self.provider(Cloud.GOOGLE)]
        return PoolReport(
            reachable={name: name not in self.errors for name in names},
            errors=dict(self.errors),
            interconnects=(),
            supported_sizes_mbps=self.sizes_mbps or (),
            available_mbps=0,
            disagreements=(),
            taken_at=self.taken_at or dt.datetime.now(dt.UTC),
            customer=True,
        )

    async def aclose(self) -> None:
        await asyncio.gather(self.aws.aclose(), self.google.aclose())

    @property
    def profile_name(self) -> str:
        profile = self.google_project.remote_profile
        return profile if "/" in profile else self.google.profile_name(profile)

    def aws_by_shared_id(self, shared_uuid: str) -> AwsConnection | None:
        """The link's AWS connection: a live one before a deleted one."""
        found = [c for c in self.connections if c.shared_id == shared_uuid]
        found.sort(key=lambda c: c.state == "deleted")
        return found[0] if found else None


def shared_uuid_of(transport: Transport | None) -> str | None:
    """The shared UUID a Google-generated key names (decoding checks nothing secret)."""
    if transport is None or transport.generated_activation_key is None:
        return None
    try:
        key = activation_key.decode(transport.generated_activation_key.get_secret_value())
    except activation_key.InvalidActivationKey:
        return None
    return key.shared_connection_uuid
