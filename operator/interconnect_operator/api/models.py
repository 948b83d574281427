"""Pydantic models of every schema of the Connection Coordinator API.

One class per schema of the pinned spec (``interconnect-spec/schemas``), named
as the spec names it, so that the wire contract can be read side by side with
the spec and checked by the coverage test (tests/unit/api/test_conformance.py).

Conventions, all chosen for interoperability with a peer we do not control:

- camelCase on the wire, snake_case in Python (``alias_generator=to_camel``);
  both spellings are accepted on input.
- Unknown fields are tolerated and kept (``extra="allow"``) so that a model
  read from a newer peer round-trips without losing what we do not know.
- Enum-typed fields are plain ``str``: a peer may add enum values before we
  do, and a reader must not fail on them. The known values are ``StrEnum``
  constant sets below (``AdminState.ENABLED`` == "ADMIN_STATE_ENABLED").
- Output-only (``readOnly``) fields are marked with :func:`output_only`;
  :func:`to_request` drops them (recursively) from request bodies, because the
  spec uses the same schemas for requests and responses.
- Secrets (activation keys, the BGP MD5 password, MACsec CAK/CKN) are
  ``SecretStr``: they print as ``**********`` in repr/str/logs and only
  :func:`to_wire` / :func:`to_request` reveal them, on the wire (P31).

Known spec defects tolerated here (see SOURCE.md of the pinned spec):
``ListProvidersResponse`` names its list ``environments`` (we also accept
``providers``), and ``uint32`` ASNs are plain ``int``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from types import UnionType
from typing import Annotated, Any, TypeVar, Union, get_args, get_origin

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    SecretStr,
    SerializationInfo,
)
from pydantic.alias_generators import to_camel
from pydantic.fields import FieldInfo
from typing_extensions import TypedDict

__all__ = [
    "CAPACITY_FREE_TYPES",
    "ITEM_MIRRORS",
    "PROVISIONING_STATE_FAILED",
    "SCHEMA_ENUMS",
    "SCHEMA_MODELS",
    "ASNRange",
    "ActivationKey",
    "AddCommentRequest",
    "AddCommentResponse",
    "AdminState",
    "Channel",
    "ChannelContext",
    "CloseIssueRequest",
    "CloseIssueResponse",
    "Comment",
    "ConfirmActivationKeyRequest",
    "ConfirmActivationKeyResponse",
    "Connection",
    "ConnectionContext",
    "ConnectionType",
    "Empty",
    "Environment",
    "EnvironmentVisibility",
    "FailureInfo",
    "Feature",
    "FeatureConfig",
    "FeatureContext",
    "FeatureGuidance",
    "FeatureItem",
    "FeatureType",
    "GenerateFeatureGuidanceRequest",
    "GenerateFeatureGuidanceResponse",
    "GetMaintenanceEventsResponse",
    "Interconnect",
    "InterconnectContext",
    "InterconnectState",
    "Issue",
    "IssueContext",
    "IssueState",
    "L3BaseConfig",
    "L3BaseGuidance",
    "ListChannelsResponse",
    "ListCommentsResponse",
    "ListConnectionsResponse",
    "ListEnvironmentsResponse",
    "ListFeaturesEnvelope",
    "ListFeaturesPage",
    "ListFeaturesResponse",
    "ListInterconnectsResponse",
    "ListIssuesResponse",
    "ListMacSecKeysResponse",
    "ListProvidersResponse",
    "MTURange",
    "MacSecKey",
    "MacSecKeyRotationRequest",
    "MaintenanceEvent",
    "NotifyConnectionStatusRequest",
    "NotifyConnectionStatusResponse",
    "NotifyMaintenanceRequest",
    "NotifyMaintenanceResponse",
    "Priority",
    "Provider",
    "ProviderBgpConfig",
    "ProviderSites",
    "ProvisioningState",
    "RequestMacSecKeyRotationRequest",
    "RequestMacSecKeyRotationResponse",
    "SourceData",
    "SubnetGuidance",
    "VLANRange",
    "VerificationState",
    "WireModel",
    "WireSecret",
    "counts_against_capacity",
    "from_wire",
    "is_output_only",
    "output_only",
    "request_bytes",
    "to_request",
    "to_wire",
    "upstream",
    "upstream_source",
]

# Serialization context keys (private to this module's helpers).
_REVEAL_SECRETS = "reveal_secrets"


# --------------------------------------------------------------------------
# Open enums: known values only. Fields that carry them are typed ``str``.
# --------------------------------------------------------------------------


class AdminState(StrEnum):
    """Known values of ``AdminState`` (common.yaml)."""

    ENABLED = "ADMIN_STATE_ENABLED"
    DISABLED = "ADMIN_STATE_DISABLED"


class VerificationState(StrEnum):
    """Known values of ``VerificationState`` (common.yaml)."""

    UNVERIFIED = "VERIFICATION_STATE_UNVERIFIED"
    VERIFIED = "VERIFICATION_STATE_VERIFIED"


class ProvisioningState(StrEnum):
    """Known values of ``ProvisioningState`` (common.yaml)."""

    PENDING = "PROVISIONING_STATE_PENDING"
    FINAL = "PROVISIONING_STATE_FINAL"


class FeatureType(StrEnum):
    """Known values of ``FeatureType`` (feature.yaml)."""

    L3_BASE = "FEATURE_TYPE_L3_BASE"


class InterconnectState(StrEnum):
    """Known values of ``InterconnectState`` (interconnect.yaml)."""

    PENDING = "INTERCONNECT_STATE_PENDING"
    ACTIVE = "INTERCONNECT_STATE_ACTIVE"
    CLOSED = "INTERCONNECT_STATE_CLOSED"


class EnvironmentVisibility(StrEnum):
    """Known values of ``EnvironmentVisibility`` (environment.yaml)."""

    PRIVATE = "ENVIRONMENT_VISIBILITY_PRIVATE"
    PUBLIC = "ENVIRONMENT_VISIBILITY_PUBLIC"


class IssueState(StrEnum):
    """Known values of the issue ``State`` enum (issues.yaml)."""

    UNSPECIFIED = "STATE_UNSPECIFIED"
    OPEN = "STATE_OPEN"
    IN_PROGRESS = "STATE_IN_PROGRESS"
    ACTION_REQUIRED = "STATE_ACTION_REQUIRED"
    CLOSED = "STATE_CLOSED"


class Priority(StrEnum):
    """Known values of ``Priority`` (issues.yaml)."""

    UNSPECIFIED = "PRIORITY_UNSPECIFIED"
    P0 = "PRIORITY_P0"
    P1 = "PRIORITY_P1"
    P2 = "PRIORITY_P2"
    P3 = "PRIORITY_P3"
    P4 = "PRIORITY_P4"


class IssueContext(StrEnum):
    """Known values of ``IssueContext`` (issues.yaml)."""

    UNSPECIFIED = "ISSUE_CONTEXT_UNSPECIFIED"
    CONNECTION_ISSUE = "ISSUE_CONTEXT_CONNECTION_ISSUE"
    INTERCONNECT_ISSUE = "ISSUE_CONTEXT_INTERCONNECT_ISSUE"


# --------------------------------------------------------------------------
# Field helpers
# --------------------------------------------------------------------------


def _serialize_secret(value: SecretStr, info: SerializationInfo) -> str:
    # Reveal only when a wire helper asked for it; any other dump (logs,
    # debugging, status copies) gets the mask.
    context = info.context
    if isinstance(context, dict) and context.get(_REVEAL_SECRETS):
        return value.get_secret_value()
    return str(value)


WireSecret = Annotated[
    SecretStr, PlainSerializer(_serialize_secret, return_type=str, when_used="always")
]
"""A secret string field: masked everywhere except in :func:`to_wire` output."""

_OUTPUT_ONLY_MARK: dict[str, Any] = {"readOnly": True}


def output_only(**kwargs: Any) -> Any:
    """Declare an output-only (``readOnly`` in the spec) field, default None.

    Such fields are set by the server; :func:`to_request` leaves them out of
    request bodies.
    """
    return Field(default=None, json_schema_extra=dict(_OUTPUT_ONLY_MARK), **kwargs)


_UPSTREAM_MARK = "upstream"


def upstream(source: str, **kwargs: Any) -> Any:
    """Declare a field the pinned spec lacks but upstream added since
    (``source`` names where, see docs/protocol.md, upstream additions).

    Optional and default None: a peer on the pinned spec never sends it, and
    the conformance test compares the other fields with the pinned schema.
    """
    return Field(default=None, json_schema_extra={_UPSTREAM_MARK: source}, **kwargs)


def upstream_source(field: FieldInfo) -> str | None:
    """Where upstream added ``field``, None for a field of the pinned spec."""
    extra = field.json_schema_extra
    if isinstance(extra, dict):
        value = extra.get(_UPSTREAM_MARK)
        return value if isinstance(value, str) else None
    return None


def is_output_only(field: FieldInfo) -> bool:
    """Whether a model field was declared with :func:`output_only`."""
    extra = field.json_schema_extra
    return isinstance(extra, dict) and extra.get("readOnly") is True


class WireModel(BaseModel):
    """Base of every wire model: camelCase aliases, tolerant of extra fields."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="allow",
    )


def output_only_exclusions(model_type: type[BaseModel]) -> dict[str, Any]:
    """The output-only fields of ``model_type`` at every nesting level, as pydantic's
    ``exclude`` spells them (``{"field": True, "items": {"__all__": {...}}}``).

    Computed once per class from the field declarations. A request body is
    dumped with it instead of a wrap serializer on every model: that one ran
    a Python callback per nested model and turned each into a dict before
    JSON (a Feature: 25 us per request body, ~5 us with this; every create
    of a bring-up serializes one). Wire models nest only as ``Model``,
    ``list[Model]`` or their optional forms; ``tests/unit/api/test_models.py``
    checks that no declared output-only field escapes a request body.
    """
    cached = _EXCLUSIONS.get(model_type)
    if cached is not None:
        return cached
    _EXCLUSIONS[model_type] = {}  # a model nesting itself ends here
    spec: dict[str, Any] = {}
    for name, field in model_type.model_fields.items():
        if is_output_only(field):
            spec[name] = True
            continue
        for nested, in_list in _nested_models(field.annotation):
            inner = output_only_exclusions(nested)
            if inner:
                spec[name] = {"__all__": inner} if in_list else inner
    _EXCLUSIONS[model_type] = spec
    return spec


_EXCLUSIONS: dict[type[BaseModel], dict[str, Any]] = {}


def _nested_models(annotation: Any, in_list: bool = False) -> list[tuple[type[BaseModel], bool]]:
    """The models a field's annotation holds, each with whether it is a list's item."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [(annotation, in_list)]
    origin = get_origin(annotation)
    if origin in (Union, UnionType):
        return [m for arg in get_args(annotation) for m in _nested_models(arg, in_list)]
    if origin in (list, tuple, Sequence):
        return [m for arg in get_args(annotation) for m in _nested_models(arg, True)]
    return []


ModelT = TypeVar("ModelT", bound=BaseModel)


def to_wire(model: BaseModel, *, exclude_output_only: bool = False) -> dict[str, Any]:
    """JSON-ready camelCase dict of ``model`` with secrets revealed.

    None fields are omitted (the spec has no nullable fields: absence is how
    "unset" is spelled). ``exclude_output_only`` drops readOnly fields at every
    nesting level, for request bodies.
    """
    result: dict[str, Any] = model.model_dump(
        by_alias=True,
        exclude_none=True,
        exclude=output_only_exclusions(type(model)) or None if exclude_output_only else None,
        mode="json",
        context=_REVEAL_CONTEXT,
    )
    return result


def to_wire_json(model: BaseModel) -> bytes:
    """``to_wire`` serialized to compact JSON in one pass (a large list page's
    answer: no dict of the whole page built first)."""
    return model.__pydantic_serializer__.to_json(
        model, by_alias=True, exclude_none=True, context=_REVEAL_CONTEXT
    )


def to_request(model: BaseModel) -> dict[str, Any]:
    """Request body for ``model``: :func:`to_wire` without output-only fields."""
    return to_wire(model, exclude_output_only=True)


_REVEAL_CONTEXT: dict[str, bool] = {_REVEAL_SECRETS: True}


def request_bytes(model: BaseModel) -> bytes:
    """The JSON bytes of :func:`to_request` (the same document), serialized by
    pydantic-core in one pass: a quarter of the CPU of ``json.dumps(to_request())``."""
    return model.model_dump_json(
        by_alias=True,
        exclude_none=True,
        exclude=output_only_exclusions(type(model)) or None,
        context=_REVEAL_CONTEXT,
    ).encode()


def from_wire(model_type: type[ModelT], data: Any) -> ModelT:
    """Parse a decoded JSON body into ``model_type`` (tolerant reader)."""
    return model_type.model_validate(data)


# --------------------------------------------------------------------------
# common.yaml
# --------------------------------------------------------------------------


class Empty(WireModel):
    """Generic empty message (common.yaml ``Empty``)."""


# --------------------------------------------------------------------------
# provider.yaml
# --------------------------------------------------------------------------


class Provider(WireModel):
    """A provider namespace: ``providers/{provider}``."""

    name: str | None = None
    display_name: str | None = output_only()


class ListProvidersResponse(WireModel):
    """ListProviders response.

    Spec defect: the list is declared as ``environments`` (the example says
    ``providers``). Both are accepted; use :attr:`items` to read either.
    """

    environments: list[Provider] | None = None
    providers: list[Provider] | None = None
    next_page_token: str | None = None

    @property
    def items(self) -> list[Provider]:
        """The providers, whichever key the server used."""
        return list(self.environments or []) + list(self.providers or [])


# --------------------------------------------------------------------------
# environment.yaml
# --------------------------------------------------------------------------


class ProviderSites(WireModel):
    """One provider's site of an environment."""

    provider_id: str | None = None
    site: str | None = None
    display_name: str | None = None


class Environment(WireModel):
    """A pair of sites both providers agreed on (same id on both sides)."""

    name: str | None = None
    provider_sites: list[ProviderSites] | None = output_only()
    api_uri: str | None = None
    supported_connection_size_mbps: list[int] | None = output_only()
    supported_features: list[str] | None = output_only()
    environment_visibility: str | None = output_only()
    deferral_timeout_hours: int | None = None
    defer_connection_provisioning: bool | None = None


class ListEnvironmentsResponse(WireModel):
    """ListEnvironments response."""

    environments: list[Environment] | None = None
    next_page_token: str | None = None


class ActivationKey(WireModel):
    """Decoded activation key (P1); travels base64-encoded as ``encodedKey``.

    See :mod:`interconnect_operator.api.activation_key` for encode/decode.
    """

    version: int
    destination_environment_uri: str
    shared_connection_uuid: str
    connection_size_mbps: int
    destination_account_id: str


class ConfirmActivationKeyRequest(WireModel):
    """ConfirmActivationKey request (P3). ``key`` is deprecated by the spec."""

    key: ActivationKey | None = None
    encoded_key: WireSecret | None = None


class ConfirmActivationKeyResponse(WireModel):
    """ConfirmActivationKey response: ``keyValid`` (P3)."""

    key_valid: bool | None = None


# --------------------------------------------------------------------------
# interconnect.yaml
# --------------------------------------------------------------------------


class Interconnect(WireModel):
    """Pre-cabled capacity of an environment: a redundancy group of channels."""

    name: str | None = None
    supported_connection_size_mbps: list[int] | None = output_only()
    supported_features: list[str] | None = output_only()
    state: str | None = output_only()
    max_bandwidth_mbps: int | None = output_only()


class ListInterconnectsResponse(WireModel):
    """ListInterconnects response."""

    interconnects: list[Interconnect] | None = None
    next_page_token: str | None = None


# --------------------------------------------------------------------------
# channel.yaml
# --------------------------------------------------------------------------


class Channel(WireModel):
    """One LAG between the two providers' routers."""

    name: str | None = None
    macsec_manager_provider: str | None = output_only()
    cross_connect_manager_provider: str | None = output_only()
    aggregate_channel_size_gbps: int | None = output_only()
    channel_member_size_gbps: int | None = output_only()
    obfuscated_device_id: str | None = output_only()
    demarc: str | None = None
    admin_state: str | None = output_only()


class ListChannelsResponse(WireModel):
    """ListChannels response."""

    channels: list[Channel] | None = None
    next_page_token: str | None = None


class MaintenanceEvent(WireModel):
    """A maintenance scheduled or in progress on a channel (P24-P25)."""

    start_time: datetime | None = None
    end_time: datetime | None = None
    maintenance_id: str | None = None


class NotifyMaintenanceRequest(WireModel):
    """NotifyMaintenance request (P24); ``events`` is deprecated by the spec."""

    events: list[MaintenanceEvent] | None = None


class GetMaintenanceEventsResponse(WireModel):
    """GetMaintenanceEvents response."""

    events: list[MaintenanceEvent] | None = None


class MacSecKeyRotationRequest(WireModel):
    """RequestMacSecKeyRotation request (P30)."""

    reason: str | None = None


# --------------------------------------------------------------------------
# connection.yaml
# --------------------------------------------------------------------------


class SourceData(WireModel):
    """Where a new connection comes from (upstream PR #50, branch ``migration-api``).

    A oneOf: ``encodedKey`` (``EncodedKey``: a creation from an activation key)
    or ``sourceConnectionName`` (``SourceConnectionName``: a migration of that
    connection). Read tolerantly; :meth:`kinds` tells how many are set.
    """

    encoded_key: WireSecret | None = None
    source_connection_name: str | None = None

    def kinds(self) -> int:
        return int(self.encoded_key is not None) + int(self.source_connection_name is not None)


class Connection(WireModel):
    """One customer link across an environment, placed on one interconnect."""

    name: str | None = None
    activation_key: WireSecret | None = None
    bandwidth_mbps: int | None = None
    admin_state: str | None = output_only()
    verification_state: str | None = output_only()
    defer_provisioning: bool | None = None
    # Upstream PR #57 (merged): an open enum, see ConnectionType.
    connection_type: str | None = upstream("connection type, upstream PR #57")
    # Upstream PR #50: activationKey becomes deprecated; with both, sourceData wins.
    source_data: SourceData | None = upstream("sourceData, upstream PR #50")

    @property
    def deferred(self) -> bool:
        """P22: deferred provisioning, in either spelling: the CreateConnection
        description calls the flag ``deferConnection`` (a defect of the pinned
        spec), kept as an extra field; only ``deferProvisioning`` is sent."""
        extra = self.model_extra or {}
        return bool(self.defer_provisioning) or extra.get("deferConnection") is True


class ConnectionType(StrEnum):
    """Known values of ``Connection.connectionType`` (upstream PR #57; open enum).

    Absent means STANDARD. TEST (may be below the minimum size) and MONITORING
    connections do not count against an interconnect's capacity.
    """

    STANDARD = "CONNECTION_TYPE_STANDARD"
    TEST = "CONNECTION_TYPE_TEST"
    MONITORING = "CONNECTION_TYPE_MONITORING"


CAPACITY_FREE_TYPES = frozenset({ConnectionType.TEST.value, ConnectionType.MONITORING.value})
"""Connection types outside capacity accounting (upstream PR #57)."""


def counts_against_capacity(connection: Connection) -> bool:
    """Whether ``connection``'s bandwidth is reserved on its interconnect.

    Absent or unknown types count (the cautious reading of an open enum): only
    the two types upstream names as exempt are left out.
    """
    return connection.connection_type not in CAPACITY_FREE_TYPES


class ASNRange(WireModel):
    """A range of acceptable ASNs, inclusive (spec type ``uint32``: a defect)."""

    start: int | None = None
    stop: int | None = None


class SubnetGuidance(WireModel):
    """Usable subnets of a provider (include, excludes, preference)."""

    include_subnet: str | None = None
    exclude_subnets: list[str] | None = None
    preferred_subnet: str | None = None


class VLANRange(WireModel):
    """A range of VLAN ids, inclusive."""

    start: int | None = None
    stop: int | None = None


class MTURange(WireModel):
    """A range of MTUs in bytes, inclusive."""

    start: int | None = None
    stop: int | None = None


class L3BaseGuidance(WireModel):
    """Guidance for FEATURE_TYPE_L3_BASE (P8-P9)."""

    asn_ranges: list[ASNRange] | None = None
    ipv4_subnet_guidance: list[SubnetGuidance] | None = None
    ipv6_subnet_guidance: list[SubnetGuidance] | None = None
    ipv4_allowed_subnet_prefix_lengths: list[int] | None = None
    ipv6_allowed_subnet_prefix_lengths: list[int] | None = None
    vlan_ranges: list[VLANRange] | None = None
    mtu_ranges: list[MTURange] | None = None
    max_received_bgp_route_prefixes: int | None = None


class FeatureGuidance(WireModel):
    """Guidance for one channel of a connection (P8)."""

    feature_type: str | None = None
    channel: str | None = None
    channel_admin_state: str | None = output_only()
    l3_base_guidance: L3BaseGuidance | None = None


class ListConnectionsResponse(WireModel):
    """ListConnections response."""

    connections: list[Connection] | None = None
    next_page_token: str | None = None


class GenerateFeatureGuidanceRequest(WireModel):
    """GenerateFeatureGuidance request (no fields)."""


class GenerateFeatureGuidanceResponse(WireModel):
    """GenerateFeatureGuidance response: one entry per channel (P8)."""

    feature_guidance: list[FeatureGuidance] | None = output_only()


class NotifyConnectionStatusRequest(WireModel):
    """NotifyConnectionStatus request (P14; no fields)."""


# --------------------------------------------------------------------------
# feature.yaml
# --------------------------------------------------------------------------


class ProviderBgpConfig(WireModel):
    """One provider's end of the BGP session (spec ASN type ``uint32``)."""

    provider: str | None = None
    asn: int | None = None
    host_ipv4: str | None = None
    host_ipv6: str | None = None


class L3BaseConfig(WireModel):
    """Negotiated L3 parameters of a feature (P9)."""

    ipv4_subnet: str | None = None
    ipv4_subnet_prefix_length: int | None = None
    ipv6_subnet: str | None = None
    ipv6_subnet_prefix_length: int | None = None
    mtu_bytes: int | None = None
    vlan_id: int | None = None
    provider_bgp_configs: list[ProviderBgpConfig] | None = None
    md5_bgp_password: WireSecret | None = None


class FeatureConfig(WireModel):
    """Typed configuration of a feature."""

    feature_type: str | None = None
    l3_base_config: L3BaseConfig | None = None


PROVISIONING_STATE_FAILED = "PROVISIONING_STATE_FAILED"
"""A provisioning state the pinned spec lacks: the feature-recovery draft
(``FeatureRecovery.md``) adds it, with ``Feature.failureInfo``. Kept out of
the ``ProvisioningState`` enum, which lists the pinned spec's values."""


class FailureInfo(WireModel):
    """Why a feature's provisioning failed (feature-recovery draft; output only).

    Every field is optional: a draft peer may send any subset. ``message`` is
    the provider's text: untrusted, redacted and bounded before it is shown.
    """

    code: str | None = None
    message: str | None = None
    retryable: bool | None = None
    observed_at: datetime | None = None


class Feature(WireModel):
    """Per-channel negotiated parameters of a connection."""

    name: str | None = None
    channel: str | None = None
    feature_config: FeatureConfig | None = None
    provisioning_state: str | None = output_only()
    # Draft (FeatureRecovery.md): set with PROVISIONING_STATE_FAILED.
    failure_info: FailureInfo | None = upstream("failureInfo, feature-recovery draft")


class ListFeaturesResponse(WireModel):
    """ListFeatures response."""

    features: list[Feature] | None = None
    next_page_token: str | None = None


# A bulk read converts every feature of a changed page into a record
# (reconcile.reader): the same validation into plain dicts costs about a
# third of building the five models per feature. Each typed dict below
# mirrors its model field for field (names, types, wire aliases, the Python
# name accepted too): a body one refuses, the other refuses.


def _wire(name: str) -> Any:
    """A typed-dict key read as WireModel reads a field: camelCase or its own name."""
    return Field(validation_alias=AliasChoices(to_camel(name), name))


class ProviderBgpConfigItem(TypedDict, total=False):
    """:class:`ProviderBgpConfig` as a plain dict."""

    provider: str | None
    asn: int | None
    host_ipv4: Annotated[str | None, _wire("host_ipv4")]
    host_ipv6: Annotated[str | None, _wire("host_ipv6")]


class L3BaseConfigItem(TypedDict, total=False):
    """:class:`L3BaseConfig` as a plain dict (the MD5 password stays a SecretStr)."""

    ipv4_subnet: Annotated[str | None, _wire("ipv4_subnet")]
    ipv4_subnet_prefix_length: Annotated[int | None, _wire("ipv4_subnet_prefix_length")]
    ipv6_subnet: Annotated[str | None, _wire("ipv6_subnet")]
    ipv6_subnet_prefix_length: Annotated[int | None, _wire("ipv6_subnet_prefix_length")]
    mtu_bytes: Annotated[int | None, _wire("mtu_bytes")]
    vlan_id: Annotated[int | None, _wire("vlan_id")]
    provider_bgp_configs: Annotated[
        list[ProviderBgpConfigItem] | None, _wire("provider_bgp_configs")
    ]
    md5_bgp_password: Annotated[SecretStr | None, _wire("md5_bgp_password")]


class FeatureConfigItem(TypedDict, total=False):
    """:class:`FeatureConfig` as a plain dict."""

    feature_type: Annotated[str | None, _wire("feature_type")]
    l3_base_config: Annotated[L3BaseConfigItem | None, _wire("l3_base_config")]


class FailureInfoItem(TypedDict, total=False):
    """:class:`FailureInfo` as a plain dict."""

    code: str | None
    message: str | None
    retryable: bool | None
    observed_at: Annotated[datetime | None, _wire("observed_at")]


class FeatureItem(TypedDict, total=False):
    """:class:`Feature` as a plain dict."""

    name: str | None
    channel: str | None
    feature_config: Annotated[FeatureConfigItem | None, _wire("feature_config")]
    provisioning_state: Annotated[str | None, _wire("provisioning_state")]
    failure_info: Annotated[FailureInfoItem | None, _wire("failure_info")]


class ListFeaturesPage(WireModel):
    """A ListFeatures response read in bulk: the features as validated plain dicts."""

    features: list[FeatureItem] | None = None
    next_page_token: str | None = None


class ListFeaturesEnvelope(WireModel):
    """A ListFeatures response with its items left as parsed JSON values: a bulk
    read validates, with ``ListFeaturesPage``'s rules, only the items that
    changed since its last read (``api.feature_pages``)."""

    features: list[Any] | None = None
    next_page_token: str | None = None


ITEM_MIRRORS: dict[type[WireModel], type[Any]] = {
    ProviderBgpConfig: ProviderBgpConfigItem,
    L3BaseConfig: L3BaseConfigItem,
    FeatureConfig: FeatureConfigItem,
    FailureInfo: FailureInfoItem,
    Feature: FeatureItem,
}
"""Each model and the typed dict that mirrors it (a test keeps them in step)."""


# --------------------------------------------------------------------------
# macseckey.yaml
# --------------------------------------------------------------------------


class MacSecKey(WireModel):
    """A MACsec CAK/CKN pair on a channel (P26-P31); both halves are secret."""

    name: str | None = None
    cak: WireSecret | None = None
    ckn: WireSecret | None = None
    start_time: datetime | None = output_only()
    active: bool | None = output_only()


class ListMacSecKeysResponse(WireModel):
    """ListMacSecKeys response (not paginated)."""

    mac_sec_keys: list[MacSecKey] | None = None


# --------------------------------------------------------------------------
# issues.yaml
# --------------------------------------------------------------------------


class ChannelContext(WireModel):
    """A channel implicated by an issue."""

    name: str


class ConnectionContext(WireModel):
    """A connection implicated by an issue."""

    name: str


class FeatureContext(WireModel):
    """A feature implicated by an issue."""

    name: str


class InterconnectContext(WireModel):
    """An interconnect implicated by an issue."""

    name: str


class Issue(WireModel):
    """An issue opened by one provider against the other."""

    body: str
    title: str
    channel_contexts: list[ChannelContext] | None = None
    connection_contexts: list[ConnectionContext] | None = None
    create_time: datetime | None = output_only()
    feature_contexts: list[FeatureContext] | None = None
    interconnect_contexts: list[InterconnectContext] | None = None
    issue_context: str | None = None
    local_issue_id: str | None = output_only()
    name: str | None = None
    priority: str | None = None
    remote_contact_email: str | None = None
    remote_issue_id: str | None = None
    state: str | None = output_only()


class Comment(WireModel):
    """A comment on an issue."""

    body: str
    create_time: datetime | None = output_only()
    display_name: str | None = output_only()
    local_comment_id: str | None = output_only()


class AddCommentRequest(WireModel):
    """AddComment request."""

    comment: Comment


class AddCommentResponse(WireModel):
    """AddComment response."""

    comment: Comment | None = None


class CloseIssueRequest(WireModel):
    """CloseIssue request (no fields)."""


class CloseIssueResponse(WireModel):
    """CloseIssue response schema (the operation itself returns an Issue)."""


class ListCommentsResponse(WireModel):
    """ListComments response."""

    comments: list[Comment] | None = None
    next_page_token: str | None = None


class ListIssuesResponse(WireModel):
    """ListIssues response."""

    issues: list[Issue] | None = None
    next_page_token: str | None = None


# Operation-named aliases for bodies the spec declares as Empty or under a
# different schema name, so callers can name them after the operation.
NotifyConnectionStatusResponse = Empty
NotifyMaintenanceResponse = Empty
RequestMacSecKeyRotationRequest = MacSecKeyRotationRequest
RequestMacSecKeyRotationResponse = Empty


SCHEMA_MODELS: dict[str, type[WireModel]] = {
    "Empty": Empty,
    "Provider": Provider,
    "ListProvidersResponse": ListProvidersResponse,
    "ProviderSites": ProviderSites,
    "Environment": Environment,
    "ListEnvironmentsResponse": ListEnvironmentsResponse,
    "ActivationKey": ActivationKey,
    "ConfirmActivationKeyRequest": ConfirmActivationKeyRequest,
    "ConfirmActivationKeyResponse": ConfirmActivationKeyResponse,
    "Interconnect": Interconnect,
    "ListInterconnectsResponse": ListInterconnectsResponse,
    "Channel": Channel,
    "ListChannelsResponse": ListChannelsResponse,
    "MaintenanceEvent": MaintenanceEvent,
    "NotifyMaintenanceRequest": NotifyMaintenanceRequest,
    "GetMaintenanceEventsResponse": GetMaintenanceEventsResponse,
    "MacSecKeyRotationRequest": MacSecKeyRotationRequest,
    "Connection": Connection,
    "ASNRange": ASNRange,
    "SubnetGuidance": SubnetGuidance,
    "VLANRange": VLANRange,
    "MTURange": MTURange,
    "L3BaseGuidance": L3BaseGuidance,
    "FeatureGuidance": FeatureGuidance,
    "ListConnectionsResponse": ListConnectionsResponse,
    "GenerateFeatureGuidanceRequest": GenerateFeatureGuidanceRequest,
    "GenerateFeatureGuidanceResponse": GenerateFeatureGuidanceResponse,
    "NotifyConnectionStatusRequest": NotifyConnectionStatusRequest,
    "ProviderBgpConfig": ProviderBgpConfig,
    "L3BaseConfig": L3BaseConfig,
    "FeatureConfig": FeatureConfig,
    "Feature": Feature,
    "ListFeaturesResponse": ListFeaturesResponse,
    "MacSecKey": MacSecKey,
    "ListMacSecKeysResponse": ListMacSecKeysResponse,
    "ChannelContext": ChannelContext,
    "ConnectionContext": ConnectionContext,
    "FeatureContext": FeatureContext,
    "InterconnectContext": InterconnectContext,
    "Issue": Issue,
    "Comment": Comment,
    "AddCommentRequest": AddCommentRequest,
    "AddCommentResponse": AddCommentResponse,
    "CloseIssueRequest": CloseIssueRequest,
    "CloseIssueResponse": CloseIssueResponse,
    "ListCommentsResponse": ListCommentsResponse,
    "ListIssuesResponse": ListIssuesResponse,
}
"""Spec schema name -> model class (object schemas; enums are the StrEnums)."""

SCHEMA_ENUMS: dict[str, type[StrEnum]] = {
    "AdminState": AdminState,
    "VerificationState": VerificationState,
    "ProvisioningState": ProvisioningState,
    "FeatureType": FeatureType,
    "InterconnectState": InterconnectState,
    "EnvironmentVisibility": EnvironmentVisibility,
    "State": IssueState,
    "Priority": Priority,
    "IssueContext": IssueContext,
}
"""Spec enum schema name -> the StrEnum of its known values."""
# MODELS-COMPLETE
