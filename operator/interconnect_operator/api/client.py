"""Async client of the Connection Coordinator API: all 33 operations.

One ``ProviderClient`` per peer endpoint, created once and closed at
shutdown (STYLE checklist 4). The caller's own provider id is the path
prefix of every call (P-Objects): ``/providers/{caller}/...``.

What every call gets (from :class:`~.base_client.BaseProviderClient`):

- serializes request models with :func:`~.models.to_request` (camelCase,
  secrets revealed only on the wire, output-only fields dropped) and parses
  responses with tolerant models (unknown fields and enum values kept);
- maps non-2xx statuses to typed errors (P32, :mod:`.errors`);
- retries per P33 (:mod:`.retry`); a mutating call whose outcome is unknown
  raises :class:`~.errors.OutcomeUnknown`;
- bounds concurrent requests to the peer with a semaphore;
- reports each attempt to an ``on_request`` hook (metrics) and logs only
  operation, status and latency, never bodies (they may hold secrets).

List operations are async iterators over all pages; ``*_all`` variants
collect them into lists. ``*_pages`` variants (the bulk lists a pool refresh
reads) yield digested pages: a page whose raw body the caller already holds
is reused without decoding (:meth:`~.base_client.BaseProviderClient._digested_pages`).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Iterable, Mapping, Sequence
from typing import TypeVar

from pydantic import SecretStr

from interconnect_operator.api.base_client import (
    BaseProviderClient,
    DigestedPage,
    RequestRecord,
    collect,
)
from interconnect_operator.api.feature_pages import FeatureEntry, feature_entry_pages
from interconnect_operator.api.models import (
    AddCommentRequest,
    AddCommentResponse,
    Channel,
    CloseIssueRequest,
    Comment,
    ConfirmActivationKeyRequest,
    ConfirmActivationKeyResponse,
    Connection,
    Empty,
    Environment,
    Feature,
    FeatureItem,
    GenerateFeatureGuidanceRequest,
    GenerateFeatureGuidanceResponse,
    GetMaintenanceEventsResponse,
    Interconnect,
    Issue,
    ListChannelsResponse,
    ListCommentsResponse,
    ListConnectionsResponse,
    ListEnvironmentsResponse,
    ListFeaturesResponse,
    ListInterconnectsResponse,
    ListIssuesResponse,
    ListMacSecKeysResponse,
    ListProvidersResponse,
    MacSecKey,
    MacSecKeyRotationRequest,
    MaintenanceEvent,
    NotifyConnectionStatusRequest,
    NotifyMaintenanceRequest,
    Provider,
)
from interconnect_operator.api.operations import OPERATIONS, Operation

__all__ = [
    "OPERATIONS",
    "DigestedPage",
    "Operation",
    "ProviderClient",
    "RequestRecord",
    "collect",
]

ConvertedT = TypeVar("ConvertedT")


class ProviderClient(BaseProviderClient):
    """Client of one peer's Connection Coordinator server: one method per operation.

    ``caller`` is OUR provider id, used as the path prefix of every call.
    ``name`` labels the peer in :class:`RequestRecord` (default: base_url).
    ``sleep``, ``rng`` and ``clock`` are injectable for tests.
    """

    # ------------------------------------------------------------------
    # Providers
    # ------------------------------------------------------------------

    async def list_providers(self) -> AsyncGenerator[Provider, None]:
        """ListProviders (``/providers``). Reads both list keys (spec defect)."""
        async for page in self._pages("ListProviders", ListProvidersResponse):
            for item in page.items:
                yield item

    async def list_providers_all(self) -> list[Provider]:
        """All providers as a list."""
        return await collect(self.list_providers())

    async def get_provider(self, provider: str | None = None) -> Provider:
        """GetProvider; by default our own provider id (the caller prefix)."""
        return await self._call("GetProvider", Provider, ids={"provider": provider or self.caller})

    # ------------------------------------------------------------------
    # Environments
    # ------------------------------------------------------------------

    async def list_environments(
        self, *, page_size: int | None = None
    ) -> AsyncGenerator[Environment, None]:
        """ListEnvironments, all pages."""
        async for page in self._pages(
            "ListEnvironments", ListEnvironmentsResponse, page_size=page_size
        ):
            for item in page.environments or ():
                yield item

    async def list_environments_all(self, *, page_size: int | None = None) -> list[Environment]:
        """All environments as a list."""
        return await collect(self.list_environments(page_size=page_size))

    async def get_environment(self, environment: str) -> Environment:
        """GetEnvironment."""
        return await self._call("GetEnvironment", Environment, ids={"environment": environment})

    async def confirm_activation_key(
        self, environment: str, encoded_key: str | SecretStr
    ) -> ConfirmActivationKeyResponse:
        """ConfirmActivationKey (P3): ``keyValid`` tells whether to proceed."""
        secret = encoded_key if isinstance(encoded_key, SecretStr) else SecretStr(encoded_key)
        return await self._call(
            "ConfirmActivationKey",
            ConfirmActivationKeyResponse,
            ids={"environment": environment},
            body=ConfirmActivationKeyRequest(encoded_key=secret),
        )

    # ------------------------------------------------------------------
    # Interconnects and channels
    # ------------------------------------------------------------------

    async def list_interconnects(
        self, environment: str, *, page_size: int | None = None
    ) -> AsyncGenerator[Interconnect, None]:
        """ListInterconnects, all pages."""
        async for page in self._pages(
            "ListInterconnects",
            ListInterconnectsResponse,
            ids={"environment": environment},
            page_size=page_size,
        ):
            for item in page.interconnects or ():
                yield item

    async def list_interconnects_all(
        self, environment: str, *, page_size: int | None = None
    ) -> list[Interconnect]:
        """All interconnects of an environment as a list."""
        return await collect(self.list_interconnects(environment, page_size=page_size))

    async def get_interconnect(self, environment: str, interconnect: str) -> Interconnect:
        """GetInterconnect."""
        return await self._call(
            "GetInterconnect",
            Interconnect,
            ids={"environment": environment, "interconnect": interconnect},
        )

    async def list_channels(
        self, environment: str, interconnect: str, *, page_size: int | None = None
    ) -> AsyncGenerator[Channel, None]:
        """ListChannels, all pages."""
        async for page in self._pages(
            "ListChannels",
            ListChannelsResponse,
            ids={"environment": environment, "interconnect": interconnect},
            page_size=page_size,
        ):
            for item in page.channels or ():
                yield item

    async def list_channels_all(
        self, environment: str, interconnect: str, *, page_size: int | None = None
    ) -> list[Channel]:
        """All channels of an interconnect as a list."""
        return await collect(self.list_channels(environment, interconnect, page_size=page_size))

    async def get_channel(self, environment: str, interconnect: str, channel: str) -> Channel:
        """GetChannel."""
        return await self._call(
            "GetChannel",
            Channel,
            ids={"environment": environment, "interconnect": interconnect, "channel": channel},
        )

    async def notify_maintenance(
        self,
        environment: str,
        interconnect: str,
        channel: str,
        request: NotifyMaintenanceRequest | None = None,
    ) -> None:
        """NotifyMaintenance (P24): the peer then re-reads maintenance events."""
        await self._call(
            "NotifyMaintenance",
            Empty,
            ids={"environment": environment, "interconnect": interconnect, "channel": channel},
            body=request or NotifyMaintenanceRequest(),
        )

    async def get_maintenance_events(
        self, environment: str, interconnect: str, channel: str
    ) -> list[MaintenanceEvent]:
        """GetMaintenanceEvents of a channel."""
        response = await self._call(
            "GetMaintenanceEvents",
            GetMaintenanceEventsResponse,
            ids={"environment": environment, "interconnect": interconnect, "channel": channel},
        )
        return list(response.events or ())

    async def request_mac_sec_key_rotation(
        self, environment: str, interconnect: str, channel: str, reason: str | None = None
    ) -> None:
        """RequestMacSecKeyRotation (P30): ask the channel's MACsec manager to rotate."""
        await self._call(
            "RequestMacSecKeyRotation",
            Empty,
            ids={"environment": environment, "interconnect": interconnect, "channel": channel},
            body=MacSecKeyRotationRequest(reason=reason),
        )

    # ------------------------------------------------------------------
    # MACsec keys
    # ------------------------------------------------------------------

    async def create_mac_sec_key(
        self,
        environment: str,
        interconnect: str,
        channel: str,
        mac_sec_key_id: str,
        key: MacSecKey,
    ) -> MacSecKey:
        """CreateMacSecKey (P28); the server sets ``startTime``."""
        return await self._call(
            "CreateMacSecKey",
            MacSecKey,
            ids={"environment": environment, "interconnect": interconnect, "channel": channel},
            params={"macSecKeyId": mac_sec_key_id},
            body=key,
        )

    async def list_mac_sec_keys(
        self, environment: str, interconnect: str, channel: str
    ) -> AsyncGenerator[MacSecKey, None]:
        """ListMacSecKeys (one page per spec; a token is followed if sent)."""
        async for page in self._pages(
            "ListMacSecKeys",
            ListMacSecKeysResponse,
            ids={"environment": environment, "interconnect": interconnect, "channel": channel},
        ):
            for item in page.mac_sec_keys or ():
                yield item

    async def list_mac_sec_keys_all(
        self, environment: str, interconnect: str, channel: str
    ) -> list[MacSecKey]:
        """All MACsec keys of a channel as a list."""
        return await collect(self.list_mac_sec_keys(environment, interconnect, channel))

    async def get_mac_sec_key(
        self, environment: str, interconnect: str, channel: str, mac_sec_key: str
    ) -> MacSecKey:
        """GetMacSecKey."""
        return await self._call(
            "GetMacSecKey",
            MacSecKey,
            ids={
                "environment": environment,
                "interconnect": interconnect,
                "channel": channel,
                "macSecKey": mac_sec_key,
            },
        )

    async def delete_mac_sec_key(
        self, environment: str, interconnect: str, channel: str, mac_sec_key: str
    ) -> None:
        """DeleteMacSecKey (P28: an active key cannot be deleted, 409/400)."""
        await self._call(
            "DeleteMacSecKey",
            Empty,
            ids={
                "environment": environment,
                "interconnect": interconnect,
                "channel": channel,
                "macSecKey": mac_sec_key,
            },
        )

    # ------------------------------------------------------------------
    # Connections
    # ------------------------------------------------------------------

    async def list_connections(
        self, environment: str, interconnect: str, *, page_size: int | None = None
    ) -> AsyncGenerator[Connection, None]:
        """ListConnections, all pages."""
        async for page in self._pages(
            "ListConnections",
            ListConnectionsResponse,
            ids={"environment": environment, "interconnect": interconnect},
            page_size=page_size,
        ):
            for item in page.connections or ():
                yield item

    def connection_pages(
        self,
        environment: str,
        interconnect: str,
        convert: Callable[[ListConnectionsResponse], Iterable[ConvertedT]],
        known: Mapping[bytes, DigestedPage[ConvertedT]],
        *,
        page_size: int | None = None,
    ) -> AsyncGenerator[DigestedPage[ConvertedT], None]:
        """ListConnections, all pages digested; pages in ``known`` are reused."""
        return self._digested_pages(
            "ListConnections",
            ListConnectionsResponse,
            convert,
            known,
            ids={"environment": environment, "interconnect": interconnect},
            page_size=page_size,
        )

    async def list_connections_all(
        self, environment: str, interconnect: str, *, page_size: int | None = None
    ) -> list[Connection]:
        """All connections of an interconnect as a list."""
        return await collect(self.list_connections(environment, interconnect, page_size=page_size))

    async def create_connection(
        self,
        environment: str,
        interconnect: str,
        connection_id: str,
        connection: Connection,
        *,
        request_id: str | None = None,
        encoded: bytes | None = None,
    ) -> Connection:
        """CreateConnection (P5-P7, P22); 409 means the interconnect cannot fit it.

        ``request_id``: the draft's idempotency key; pass the one of the first
        attempt when retrying after an unknown outcome (P33). Every mutating
        call carries one (a fresh one when not given). ``encoded``: the body's
        ``request_bytes`` when the caller has them already (sent as they are).
        """
        return await self._call(
            "CreateConnection",
            Connection,
            ids={"environment": environment, "interconnect": interconnect},
            params={"connectionId": connection_id},
            body=connection if encoded is None else encoded,
            request_id=request_id,
        )

    async def delete_connection(
        self,
        environment: str,
        interconnect: str,
        connection: str,
        *,
        request_id: str | None = None,
    ) -> None:
        """DeleteConnection (P19): implies deleting its features."""
        await self._call(
            "DeleteConnection",
            Empty,
            ids={
                "environment": environment,
                "interconnect": interconnect,
                "connection": connection,
            },
            request_id=request_id,
        )

    async def get_connection(
        self, environment: str, interconnect: str, connection: str
    ) -> Connection:
        """GetConnection."""
        return await self._call(
            "GetConnection",
            Connection,
            ids={
                "environment": environment,
                "interconnect": interconnect,
                "connection": connection,
            },
        )

    async def update_connection(
        self,
        environment: str,
        interconnect: str,
        connection_id: str,
        connection: Connection,
        *,
        update_mask: Sequence[str] | None = None,
        request_id: str | None = None,
    ) -> Connection:
        """UpdateConnection (P16-P17): PATCH with ``updateMask`` (camelCase paths)."""
        params = {"updateMask": ",".join(update_mask)} if update_mask else None
        return await self._call(
            "UpdateConnection",
            Connection,
            ids={
                "environment": environment,
                "interconnect": interconnect,
                "connection": connection_id,
            },
            params=params,
            body=connection,
            request_id=request_id,
        )

    async def generate_feature_guidance(
        self, environment: str, interconnect: str, connection: str
    ) -> GenerateFeatureGuidanceResponse:
        """GenerateFeatureGuidance (P8): one guidance entry per channel."""
        return await self._call(
            "GenerateFeatureGuidance",
            GenerateFeatureGuidanceResponse,
            ids={
                "environment": environment,
                "interconnect": interconnect,
                "connection": connection,
            },
            body=GenerateFeatureGuidanceRequest(),
        )

    async def notify_connection_status(
        self, environment: str, interconnect: str, connection: str
    ) -> None:
        """NotifyConnectionStatus (P14): a refresh hint for the peer."""
        await self._call(
            "NotifyConnectionStatus",
            Empty,
            ids={
                "environment": environment,
                "interconnect": interconnect,
                "connection": connection,
            },
            body=NotifyConnectionStatusRequest(),
        )

    # ------------------------------------------------------------------
    # Features
    # ------------------------------------------------------------------

    async def list_features(
        self,
        environment: str,
        interconnect: str,
        connection: str,
        *,
        page_size: int | None = None,
    ) -> AsyncGenerator[Feature, None]:
        """ListFeatures, all pages."""
        async for page in self._pages(
            "ListFeatures",
            ListFeaturesResponse,
            ids={
                "environment": environment,
                "interconnect": interconnect,
                "connection": connection,
            },
            page_size=page_size,
        ):
            for item in page.features or ():
                yield item

    def feature_pages(
        self,
        environment: str,
        interconnect: str,
        connection: str,
        convert: Callable[[FeatureItem], ConvertedT | None],
        known: Mapping[bytes, DigestedPage[FeatureEntry[ConvertedT]]],
        *,
        page_size: int | None = None,
    ) -> AsyncGenerator[DigestedPage[FeatureEntry[ConvertedT]], None]:
        """ListFeatures, all pages digested; pages in ``known`` are reused.

        A changed page is read item by item: only the items ``known``'s pages
        do not hold (by the digest of their bytes) are validated (with
        ``ListFeaturesPage``'s rules: plain dicts, no model per item) and
        passed to ``convert`` (``api.feature_pages``)."""
        return feature_entry_pages(
            self,
            {"environment": environment, "interconnect": interconnect, "connection": connection},
            convert,
            known,
            page_size=page_size,
        )

    async def list_features_all(
        self,
        environment: str,
        interconnect: str,
        connection: str,
        *,
        page_size: int | None = None,
    ) -> list[Feature]:
        """All features of a connection as a list."""
        return await collect(
            self.list_features(environment, interconnect, connection, page_size=page_size)
        )

    async def create_feature(
        self,
        environment: str,
        interconnect: str,
        connection: str,
        feature_id: str,
        feature: Feature,
        *,
        request_id: str | None = None,
        encoded: bytes | None = None,
    ) -> Feature:
        """CreateFeature (P9-P11): accepted in full (200) or rejected (400/409).
        ``encoded``: as for ``create_connection``."""
        return await self._call(
            "CreateFeature",
            Feature,
            ids={
                "environment": environment,
                "interconnect": interconnect,
                "connection": connection,
            },
            params={"featureId": feature_id},
            body=feature if encoded is None else encoded,
            request_id=request_id,
        )

    async def delete_feature(
        self,
        environment: str,
        interconnect: str,
        connection: str,
        feature: str,
        *,
        request_id: str | None = None,
    ) -> None:
        """DeleteFeature (P20)."""
        await self._call(
            "DeleteFeature",
            Empty,
            ids={
                "environment": environment,
                "interconnect": interconnect,
                "connection": connection,
                "feature": feature,
            },
            request_id=request_id,
        )

    async def get_feature(
        self, environment: str, interconnect: str, connection: str, feature: str
    ) -> Feature:
        """GetFeature."""
        return await self._call(
            "GetFeature",
            Feature,
            ids={
                "environment": environment,
                "interconnect": interconnect,
                "connection": connection,
                "feature": feature,
            },
        )

    # ------------------------------------------------------------------
    # Issues
    # ------------------------------------------------------------------

    async def list_issues(self, *, page_size: int | None = None) -> AsyncGenerator[Issue, None]:
        """ListIssues, all pages."""
        async for page in self._pages("ListIssues", ListIssuesResponse, page_size=page_size):
            for item in page.issues or ():
                yield item

    async def list_issues_all(self, *, page_size: int | None = None) -> list[Issue]:
        """All issues as a list."""
        return await collect(self.list_issues(page_size=page_size))

    async def create_issue(self, issue_id: str, issue: Issue) -> Issue:
        """CreateIssue (escalation, README.md)."""
        return await self._call("CreateIssue", Issue, params={"issueId": issue_id}, body=issue)

    async def get_issue(self, issue: str) -> Issue:
        """GetIssue."""
        return await self._call("GetIssue", Issue, ids={"issue": issue})

    async def close_issue(self, issue: str) -> Issue:
        """CloseIssue; returns the closed issue."""
        return await self._call("CloseIssue", Issue, ids={"issue": issue}, body=CloseIssueRequest())

    async def add_comment(self, issue: str, comment: Comment) -> AddCommentResponse:
        """AddComment."""
        return await self._call(
            "AddComment",
            AddCommentResponse,
            ids={"issue": issue},
            body=AddCommentRequest(comment=comment),
        )

    async def list_comments(
        self, issue: str, *, page_size: int | None = None
    ) -> AsyncGenerator[Comment, None]:
        """ListComments, all pages."""
        async for page in self._pages(
            "ListComments", ListCommentsResponse, ids={"issue": issue}, page_size=page_size
        ):
            for item in page.comments or ():
                yield item

    async def list_comments_all(self, issue: str, *, page_size: int | None = None) -> list[Comment]:
        """All comments of an issue as a list."""
        return await collect(self.list_comments(issue, page_size=page_size))
