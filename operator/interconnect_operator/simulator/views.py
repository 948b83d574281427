"""Wire views: store records and inventory specs as the API's pydantic models.

Names are spelled with the caller's provider prefix (a caller always uses its
own id as the path prefix); provider references inside resources
(``macsecManagerProvider``, ``providerSites[].providerId``) are
``providers/{id}`` resource names, as the spec formats them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from interconnect_operator.api.models import (
    PROVISIONING_STATE_FAILED,
    AdminState,
    ASNRange,
    Channel,
    Comment,
    Connection,
    Environment,
    FailureInfo,
    Feature,
    FeatureConfig,
    FeatureGuidance,
    FeatureType,
    Interconnect,
    Issue,
    L3BaseGuidance,
    MacSecKey,
    MaintenanceEvent,
    MTURange,
    ProviderSites,
    ProvisioningState,
    SubnetGuidance,
    VerificationState,
    VLANRange,
)
from interconnect_operator.api.names import (
    channel_name,
    connection_name,
    environment_name,
    feature_name,
    interconnect_name,
    issue_name,
    mac_sec_key_name,
    provider_name,
)
from interconnect_operator.simulator.inventory import (
    ChannelSpec,
    EnvironmentSpec,
    GuidanceSpec,
    InterconnectSpec,
)
from interconnect_operator.simulator.store import (
    CommentRecord,
    ConnectionRecord,
    FeatureRecord,
    IssueRecord,
    MacSecKeyRecord,
    MaintenanceRecord,
    Store,
)

__all__ = [
    "channel_view",
    "comment_view",
    "connection_view",
    "environment_view",
    "feature_state",
    "feature_view",
    "guidance_view",
    "interconnect_view",
    "issue_view",
    "macsec_view",
    "maintenance_view",
    "timestamp",
]


def timestamp(value: float) -> datetime:
    """Epoch seconds as an aware UTC datetime (RFC 3339 on the wire)."""
    return datetime.fromtimestamp(value, UTC)


def environment_view(caller: str, env: EnvironmentSpec) -> Environment:
    """An environment as the spec's ``Environment``."""
    return Environment(
        name=environment_name(caller, env.id),
        provider_sites=[
            ProviderSites(provider_id=provider_name(pid), site=site, display_name=display)
            for pid, site, display in env.sites
        ],
        api_uri=env.api_uri,
        supported_connection_size_mbps=list(env.sizes_mbps),
        supported_features=list(env.features),
        environment_visibility=env.visibility,
        deferral_timeout_hours=env.deferral_timeout_hours,
        defer_connection_provisioning=env.defer_connection_provisioning,
    )


def interconnect_view(
    caller: str, env: EnvironmentSpec, ix: InterconnectSpec, store: Store
) -> Interconnect:
    """An interconnect as the spec's ``Interconnect``."""
    return Interconnect(
        name=interconnect_name(caller, env.id, ix.id),
        supported_connection_size_mbps=store.sizes(env, ix),
        supported_features=list(env.features),
        state=store.interconnect_state_of(env, ix),
        max_bandwidth_mbps=ix.max_bandwidth_mbps,
    )


def channel_view(
    caller: str, env: EnvironmentSpec, ix: InterconnectSpec, channel: ChannelSpec
) -> Channel:
    """A channel as the spec's ``Channel``."""
    return Channel(
        name=channel_name(caller, env.id, ix.id, channel.id),
        macsec_manager_provider=provider_name(channel.macsec_manager),
        cross_connect_manager_provider=provider_name(channel.cross_connect_manager),
        aggregate_channel_size_gbps=channel.aggregate_size_gbps,
        channel_member_size_gbps=channel.member_size_gbps,
        obfuscated_device_id=channel.obfuscated_device_id,
        demarc=channel.demarc,
        admin_state=channel.admin_state,
    )


def connection_view(caller: str, record: ConnectionRecord, store: Store, now: float) -> Connection:
    """A connection with its verification state computed now (P14)."""
    verified = store.connection_verified(record, now)
    return Connection(
        name=connection_name(caller, record.environment, record.interconnect, record.id),
        activation_key=record.activation_key,
        bandwidth_mbps=record.bandwidth_mbps,
        admin_state=AdminState.ENABLED,
        verification_state=VerificationState.VERIFIED if verified else VerificationState.UNVERIFIED,
        defer_provisioning=record.defer_provisioning,
        connection_type=record.connection_type,
    )


def feature_view(caller: str, record: FeatureRecord, store: Store, now: float) -> Feature:
    """A feature with its provisioning state computed now (P13)."""
    return Feature(
        name=feature_name(
            caller, record.environment, record.interconnect, record.connection, record.id
        ),
        channel=channel_name(caller, record.environment, record.interconnect, record.channel),
        feature_config=FeatureConfig.model_validate(record.config),
        provisioning_state=feature_state(record, store, now),
        failure_info=None
        if record.failure is None
        else FailureInfo(
            code=record.failure.code,
            message=record.failure.message,
            retryable=record.failure.retryable,
            observed_at=datetime.fromtimestamp(record.failure.observed_at, UTC),
        ),
    )


def feature_state(record: FeatureRecord, store: Store, now: float) -> str:
    """P13, with the feature-recovery draft's FAILED when the admin API failed it."""
    if record.failure is not None:
        return PROVISIONING_STATE_FAILED
    final = store.feature_final(record, now)
    return ProvisioningState.FINAL if final else ProvisioningState.PENDING


def _ranges(pairs: tuple[tuple[int, int], ...], model: Any) -> list[Any]:
    return [model(start=start, stop=stop) for start, stop in pairs]


def _l3_guidance(guidance: GuidanceSpec) -> L3BaseGuidance:
    return L3BaseGuidance(
        asn_ranges=_ranges(guidance.asn_ranges, ASNRange),
        ipv4_subnet_guidance=[
            SubnetGuidance(
                include_subnet=str(s.include),
                exclude_subnets=[str(x) for x in s.exclude],
                preferred_subnet=str(s.preferred) if s.preferred else None,
            )
            for s in guidance.ipv4
        ],
        ipv6_subnet_guidance=[
            SubnetGuidance(
                include_subnet=str(s.include),
                exclude_subnets=[str(x) for x in s.exclude],
                preferred_subnet=str(s.preferred) if s.preferred else None,
            )
            for s in guidance.ipv6
        ],
        ipv4_allowed_subnet_prefix_lengths=list(guidance.ipv4_prefix_lengths),
        ipv6_allowed_subnet_prefix_lengths=list(guidance.ipv6_prefix_lengths),
        vlan_ranges=_ranges(guidance.vlan_ranges, VLANRange),
        mtu_ranges=_ranges(guidance.mtu_ranges, MTURange),
        max_received_bgp_route_prefixes=guidance.max_received_bgp_route_prefixes,
    )


def guidance_view(caller: str, env: EnvironmentSpec, ix: InterconnectSpec) -> list[FeatureGuidance]:
    """P8: one guidance entry per channel of the interconnect.

    Static per environment: the spec says the server does not filter out used
    VLANs, and the caller sees what is in use by listing features.
    """
    l3 = _l3_guidance(env.guidance)
    return [
        FeatureGuidance(
            feature_type=FeatureType.L3_BASE,
            channel=channel_name(caller, env.id, ix.id, channel.id),
            channel_admin_state=channel.admin_state,
            l3_base_guidance=l3,
        )
        for channel in ix.channels
    ]


def macsec_view(caller: str, record: MacSecKeyRecord, active: bool) -> MacSecKey:
    """A MACsec key; ``startTime`` is the server's acceptance time (P28)."""
    return MacSecKey(
        name=mac_sec_key_name(
            caller, record.environment, record.interconnect, record.channel, record.id
        ),
        cak=record.cak,
        ckn=record.ckn,
        start_time=timestamp(record.start_time),
        active=active,
    )


def maintenance_view(record: MaintenanceRecord) -> MaintenanceEvent:
    """A maintenance window as the spec's ``MaintenanceEvent``."""
    return MaintenanceEvent(
        start_time=timestamp(record.start_time),
        end_time=timestamp(record.end_time),
        maintenance_id=record.id,
    )


def issue_view(record: IssueRecord) -> Issue:
    """An issue: the accepted body plus the server's output-only fields."""
    data = dict(record.data)
    data.update(
        name=issue_name(record.caller, record.id),
        state=record.state,
        createTime=timestamp(record.create_time),
        localIssueId=record.local_issue_id,
    )
    return Issue.model_validate(data)


def comment_view(record: CommentRecord) -> Comment:
    """A comment with its output-only fields."""
    return Comment(
        body=record.body,
        create_time=timestamp(record.create_time),
        display_name=record.display_name,
        local_comment_id=record.id,
    )
