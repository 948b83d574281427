"""CapacityPool: its spec (providers, their APIs and credentials, policy) and status."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import ConfigDict, Field, StringConstraints, model_validator

from interconnect_operator.k8s.resources.common import (
    _CONDITIONS_LIST,
    _ENDPOINT_URL,
    CEL_API_PARAMETERS,
    CEL_AUTH_AMBIENT,
    CEL_AUTH_SECRET,
    CEL_AUTH_SIGV4_ONLY,
    CEL_CUSTOMER_PAIR,
    CEL_ONE_NEGOTIATOR_ONE_RESPONDER,
    CEL_TWO_DISTINCT_PROVIDERS,
    MAX_BANDWIDTH_MBPS,
    AuthSource,
    AuthType,
    Condition,
    LabelSelector,
    ProviderApiType,
    ProviderId,
    ProviderRole,
    SecretKeyRef,
    ShortText,
    _Model,
    _object_default,
    _StatusModel,
)
from interconnect_operator.protocol.conditions import (
    PoolConditionType,
)

# --- CapacityPool ----------------------------------------------------------------


class TlsVersion(StrEnum):
    """Lowest TLS version the operator negotiates with a provider."""

    TLS_1_2 = "1.2"
    TLS_1_3 = "1.3"


class ProviderTls(_Model):
    """TLS settings toward one provider endpoint. Verification is on by default."""

    min_version: TlsVersion = Field(
        default=TlsVersion.TLS_1_3,
        description=(
            "Lowest TLS version toward this provider. 1.3 (default) is what the upstream "
            "governance asks between providers; 1.2 is allowed for a provider that has not "
            "moved yet, and the pool's TlsCompliant condition then says so."
        ),
    )

    ca_secret_ref: SecretKeyRef | None = Field(
        default=None,
        description=(
            "Secret in the operator's namespace with the CA bundle (PEM) that signs the "
            "endpoint's certificate; key defaults to `ca.crt`. When omitted, the system "
            "trust store is used."
        ),
    )
    insecure_skip_verify: bool = Field(
        default=False,
        description=(
            "Skip verification of the endpoint's certificate. Only for local tests; "
            "never toward a real provider."
        ),
    )


class ProviderAuth(_Model):
    """Credentials the operator uses toward one provider endpoint (P34)."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [CEL_AUTH_SECRET, CEL_AUTH_AMBIENT, CEL_AUTH_SIGV4_ONLY]
        },
    )

    type: AuthType = Field(
        default=AuthType.NONE,
        description=(
            "Authentication scheme: None, Bearer (static token), OAuth2 (tokens minted "
            "from a Google service-account key), SigV4 (AWS request signing), MTLS "
            "(client certificate), EntraToken (Azure: Microsoft Entra access tokens, "
            "client-credentials grant)."
        ),
    )
    source: AuthSource = Field(
        default=AuthSource.SECRET,
        description=(
            "Where the credentials come from. Secret: `secretRef`. Ambient: the identity "
            "the platform gives the operator's pod, used only when chosen here: SigV4 takes "
            "the AWS default chain (IRSA web identity through STS AssumeRoleWithWebIdentity, "
            "EKS Pod Identity, an instance profile); OAuth2 takes Google Application "
            "Default Credentials (GKE Workload Identity through the metadata server, an ADC "
            "file). Without such an identity the pool reports AmbientIdentityUnavailable."
        ),
    )
    secret_ref: SecretKeyRef | None = Field(
        default=None,
        description=(
            "Secret in the operator's namespace holding the credentials; namespaces that "
            "create links cannot read it. Keys: Bearer: `key` (default `token`); OAuth2: "
            "`key` (default `credentials.json`), a service-account key JSON; SigV4: "
            "`accessKeyId`, `secretAccessKey`, optional `sessionToken`; MTLS: `tls.crt`, "
            "`tls.key` (a kubernetes.io/tls Secret); EntraToken: `tenantId`, `clientId`, "
            "`appId` (or `scope`), and `clientSecret` or `federatedTokenFile`, optional "
            "`authorityHost`."
        ),
    )
    region: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = Field(
        default=None,
        description="SigV4 only: signing region (for example us-east-1).",
    )
    service: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = Field(
        default=None,
        description="SigV4 only: signing service name.",
    )

    @model_validator(mode="after")
    def _check_secret(self) -> ProviderAuth:
        ambient = self.source is AuthSource.AMBIENT
        if self.type is not AuthType.NONE and self.secret_ref is None and not ambient:
            raise ValueError(CEL_AUTH_SECRET["message"])
        if ambient and (
            self.type not in (AuthType.SIGV4, AuthType.OAUTH2) or self.secret_ref is not None
        ):
            raise ValueError(CEL_AUTH_AMBIENT["message"])
        if self.type is not AuthType.SIGV4 and (self.region or self.service):
            raise ValueError(CEL_AUTH_SIGV4_ONLY["message"])
        return self


class AwsApi(_Model):
    """Where the operator creates AWS Interconnect connections (the customer's account)."""

    region: Annotated[str, StringConstraints(min_length=1, max_length=32)] = Field(
        description="AWS region of the interconnect endpoint (for example us-east-1).",
    )
    account_id: Annotated[
        str, StringConstraints(min_length=12, max_length=12, pattern=r"^[0-9]{12}$")
    ] = Field(
        description=(
            "The AWS account that owns the connections; Google-generated keys name it as "
            "their destination account."
        ),
    )
    environment_id: Annotated[str, StringConstraints(min_length=1, max_length=64)] = Field(
        description="AWS Interconnect environment (ListEnvironments) paired with the profile.",
    )


class GoogleApi(_Model):
    """Where the operator creates Google Cloud transports (the customer's project)."""

    project: Annotated[str, StringConstraints(min_length=1, max_length=63)] = Field(
        description="Google Cloud project that owns the transports.",
    )
    location: Annotated[str, StringConstraints(min_length=1, max_length=63)] = Field(
        description="Google Cloud region of the transports (for example us-east4).",
    )
    remote_profile: Annotated[str, StringConstraints(min_length=1, max_length=256)] = Field(
        description=(
            "Remote transport profile id (for example aws-us-east-1) or full name: the "
            "partner site paired with the AWS environment."
        ),
    )


class ProviderApi(_Model):
    """The API this provider is reached through."""

    model_config = ConfigDict(
        json_schema_extra={"x-kubernetes-validations": [CEL_API_PARAMETERS]},
    )

    type: ProviderApiType = Field(
        default=ProviderApiType.SYMMETRIC,
        description=(
            "Symmetric: the Connection Coordinator API, the operator as coordinator. "
            "AwsInterconnect / GoogleTransports: the cloud's customer API, the operator as "
            "the customer (endpoint is then that API's; for the cloud's own credential "
            "chain, IRSA or EKS Pod Identity, Workload Identity or ADC, set auth.source "
            "Ambient)."
        ),
    )
    aws: AwsApi | None = Field(default=None, description="Parameters of type AwsInterconnect.")
    google: GoogleApi | None = Field(
        default=None, description="Parameters of type GoogleTransports."
    )

    @model_validator(mode="after")
    def _check_parameters(self) -> ProviderApi:
        aws = self.type is ProviderApiType.AWS_INTERCONNECT
        google = self.type is ProviderApiType.GOOGLE_TRANSPORTS
        if aws != (self.aws is not None) or google != (self.google is not None):
            raise ValueError(CEL_API_PARAMETERS["message"])
        return self


class PoolProvider(_Model):
    """One of the two providers sharing the pool's environment."""

    name: ProviderId = Field(
        description="Provider id as used in the symmetric API paths (`providers/{name}`).",
    )
    endpoint: Annotated[
        str, StringConstraints(min_length=8, max_length=2048, pattern=_ENDPOINT_URL)
    ] = Field(
        description=(
            "Base URL of this provider's Connection Coordinator API (http(s)://host[:port]"
            "[/path]). Use https toward real providers (P34)."
        ),
    )
    call_as: ProviderId | None = Field(
        default=None,
        description=(
            "Provider id used as path prefix when calling this endpoint (a caller always "
            "uses its own id). Default: the other provider's name."
        ),
    )
    role: ProviderRole = Field(
        description=(
            "Negotiator: the provider that received the activation key and drives the "
            "flow (P4). Responder: the provider that issued the key."
        ),
    )
    auth: ProviderAuth = Field(
        default_factory=ProviderAuth,
        json_schema_extra={"default": _object_default(ProviderAuth)},
        description="Credentials toward this endpoint.",
    )
    tls: ProviderTls = Field(
        default_factory=ProviderTls,
        json_schema_extra={"default": _object_default(ProviderTls)},
        description="TLS settings toward this endpoint.",
    )
    api: ProviderApi = Field(
        default_factory=ProviderApi,
        json_schema_extra={"default": _object_default(ProviderApi)},
        description=(
            "The API spoken to this provider (default: the symmetric API). A pool uses the "
            "symmetric API on both sides, or AwsInterconnect on one and GoogleTransports on "
            "the other; there the Responder's cloud issues the key unless a link says "
            "otherwise (customer.initiator)."
        ),
    )


class PoolPolicy(_Model):
    """Who may draw from the pool, and how much."""

    namespace_selector: LabelSelector | None = Field(
        default=None,
        description=(
            "Namespaces whose MulticloudLinks may use this pool. When omitted, every "
            "namespace may; an empty selector also matches every namespace."
        ),
    )
    max_bandwidth_mbps_per_link: int | None = Field(
        default=None,
        ge=1,
        le=MAX_BANDWIDTH_MBPS,
        description="Largest bandwidthMbps a single link of this pool may request.",
    )
    headroom_mbps: int = Field(
        default=0,
        ge=0,
        le=10 * MAX_BANDWIDTH_MBPS,
        description=(
            "Capacity (Mbps) the pool keeps available across its ACTIVE interconnects: "
            "a link that would leave less available is refused with PolicyDenied."
        ),
    )


class MacsecPolicy(_Model):
    """MACsec key rotation on the channels this pool's providers manage (P26-P31)."""

    rotate: bool = Field(
        default=False,
        description=(
            "Rotate MACsec keys on channels whose macsecManagerProvider is a provider the "
            "operator acts for. Off by default: rotation is usually the provider's job."
        ),
    )
    rotation_interval_hours: int = Field(
        default=720,
        ge=2,
        le=87_600,
        description=(
            "Age (hours) after which a channel's active key is rotated. At most one "
            "channel of an interconnect rotates at a time, with a 2 h bake time (P29)."
        ),
    )


class CapacityPoolSpec(_Model):
    """Desired state of a CapacityPool: one environment shared by two providers."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                CEL_TWO_DISTINCT_PROVIDERS,
                CEL_ONE_NEGOTIATOR_ONE_RESPONDER,
                CEL_CUSTOMER_PAIR,
            ]
        },
    )

    environment: Annotated[str, StringConstraints(min_length=1, max_length=128)] = Field(
        description="Environment id, identical on both providers (`environments/{environment}`).",
    )
    providers: list[PoolProvider] = Field(
        min_length=2,
        max_length=2,
        description="Exactly two providers, one Negotiator and one Responder.",
    )
    refresh_interval: int = Field(
        default=30,
        ge=5,
        le=3600,
        description=(
            "Seconds between bulk reads of both providers' interconnects, channels and "
            "connections (the pool timer)."
        ),
    )
    policy: PoolPolicy = Field(
        default_factory=PoolPolicy,
        json_schema_extra={"default": _object_default(PoolPolicy)},
        description="Which namespaces may draw from the pool, and limits.",
    )
    macsec: MacsecPolicy = Field(
        default_factory=MacsecPolicy,
        json_schema_extra={"default": _object_default(MacsecPolicy)},
        description="MACsec key rotation settings.",
    )

    @model_validator(mode="after")
    def _check_providers(self) -> CapacityPoolSpec:
        names = {p.name for p in self.providers}
        if len(self.providers) != 2 or len(names) != 2:
            raise ValueError(CEL_TWO_DISTINCT_PROVIDERS["message"])
        if {p.role for p in self.providers} != set(ProviderRole):
            raise ValueError(CEL_ONE_NEGOTIATOR_ONE_RESPONDER["message"])
        apis = {p.api.type for p in self.providers}
        customer = {ProviderApiType.AWS_INTERCONNECT, ProviderApiType.GOOGLE_TRANSPORTS}
        if apis not in ({ProviderApiType.SYMMETRIC}, customer):
            raise ValueError(CEL_CUSTOMER_PAIR["message"])
        return self

    @property
    def customer(self) -> bool:
        """The pool speaks the clouds' customer APIs (not the symmetric one)."""
        return any(p.api.type is not ProviderApiType.SYMMETRIC for p in self.providers)

    def provider(self, role: ProviderRole) -> PoolProvider:
        """The provider with this role (the validator guarantees exactly one)."""
        return next(p for p in self.providers if p.role is role)

    def call_as(self, provider_name: str) -> str:
        """Path prefix to use when calling `provider_name`'s endpoint.

        Defaults to the other provider's id: a caller always presents itself
        under its own id (P-Objects).
        """
        target = next(p for p in self.providers if p.name == provider_name)
        if target.call_as:
            return target.call_as
        return next(p.name for p in self.providers if p.name != provider_name)


# --- CapacityPool status ---------------------------------------------------------


class MaintenanceWindow(_StatusModel):
    """A maintenance event published for a channel (P24-P25)."""

    provider: ShortText = Field(description="Provider that published the event.")
    maintenance_id: ShortText | None = Field(
        default=None, description="Opaque maintenance id given by the provider."
    )
    start_time: datetime | None = Field(default=None, description="When the maintenance starts.")
    end_time: datetime | None = Field(default=None, description="When the maintenance ends.")


class PoolChannelStatus(_StatusModel):
    """Observed state of one channel (LAG) of an interconnect."""

    id: ShortText = Field(description="Channel id.")
    admin_state: ShortText | None = Field(
        default=None, description="Administrative state reported by the providers."
    )
    macsec_manager: ShortText | None = Field(
        default=None,
        description="Provider that manages MACsec keys on this channel (P27).",
    )
    maintenance: list[MaintenanceWindow] = Field(
        default_factory=list,
        max_length=32,
        description="Maintenance windows scheduled or in progress, from both providers.",
    )


class InterconnectStatus(_StatusModel):
    """Observed capacity of one interconnect of the environment (P7)."""

    id: ShortText = Field(description="Interconnect id (same on both providers).")
    state: ShortText | None = Field(
        default=None, description="Interconnect state: PENDING, ACTIVE or CLOSED."
    )
    max_mbps: int | None = Field(
        default=None, ge=0, description="maxBandwidthMbps of the interconnect."
    )
    allocated_mbps: int | None = Field(
        default=None, ge=0, description="Bandwidth reserved by existing connections."
    )
    available_mbps: int | None = Field(
        default=None, ge=0, description="Bandwidth still free for new connections."
    )
    channels: list[PoolChannelStatus] = Field(
        default_factory=list, max_length=16, description="Channels of the interconnect."
    )


class DisagreementKind(StrEnum):
    """Kind of object that one provider lists and the other lacks."""

    INTERCONNECT = "Interconnect"
    CHANNEL = "Channel"


class Disagreement(_StatusModel):
    """An object one provider lists and the other lacks."""

    kind: DisagreementKind = Field(description="Interconnect or Channel.")
    id: ShortText = Field(description="Id of the object.")
    interconnect: ShortText | None = Field(
        default=None, description="For a channel: the interconnect it belongs to."
    )
    missing_on: ShortText = Field(description="Provider that does not list the object.")
    message: Annotated[str, StringConstraints(max_length=1024)] | None = Field(
        default=None, description="Human-readable details."
    )


class CapacityPoolStatus(_StatusModel):
    """Observed state of a CapacityPool, written by the operator."""

    observed_generation: int | None = Field(
        default=None, ge=0, description="metadata.generation last reconciled."
    )
    conditions: list[Condition] = Field(
        default_factory=list,
        max_length=16,
        json_schema_extra=_CONDITIONS_LIST,
        description="Conditions: " + ", ".join(t.value for t in PoolConditionType) + ".",
    )
    interconnects: list[InterconnectStatus] = Field(
        default_factory=list,
        max_length=256,
        description="Interconnects of the environment with their capacity and channels.",
    )
    supported_sizes_mbps: list[int] = Field(
        default_factory=list,
        max_length=64,
        description="Connection sizes (Mbps) the environment sells; links must use one.",
    )
    available_mbps: int | None = Field(
        default=None,
        ge=0,
        description="Sum of availableMbps over ACTIVE interconnects.",
    )
    link_count: int | None = Field(
        default=None, ge=0, description="Number of MulticloudLinks that reference this pool."
    )
    disagreements: list[Disagreement] = Field(
        default_factory=list,
        max_length=256,
        description="Interconnects or channels that one provider lists and the other lacks.",
    )
    last_sync_time: datetime | None = Field(
        default=None, description="When both providers were last read successfully."
    )
