"""Spec and status models of the two custom resources: the single source of truth.

`CapacityPool` (cluster-scoped) and `MulticloudLink` (namespaced) of group
`interconnect.io`, version `v1alpha1`. The same pydantic models serve three
purposes, so they can never drift apart:

* the kopf handlers parse `spec` into `CapacityPoolSpec` / `MulticloudLinkSpec`
  and build `status` as `CapacityPoolStatus` / `MulticloudLinkStatus`
  (`model_dump(by_alias=True, mode="json", exclude_none=True)`);
* `crdgen` turns them into the structural OpenAPI schemas of the CRDs
  (descriptions become `kubectl explain` text; bounds, enums and defaults are
  enforced by the API server; `CEL_*` rules below become
  `x-kubernetes-validations`);
* tests validate the example manifests with them.

Every CEL rule that can be expressed here is mirrored by a pydantic validator,
so a spec the API server admits is a spec the operator can parse, and the
other way round. Sizes are bounded (max lengths, max items) so that the CEL
cost estimator of the API server accepts the rules.

Secrets never appear in these models: specs only *reference* Secrets
(`SecretKeyRef`), and status models have no field that could hold key
material (P31; tests enforce it).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator
from pydantic.alias_generators import to_camel
from pydantic.config import JsonDict

from interconnect_operator.protocol.conditions import (
    ConditionStatus,
    LinkConditionType,
    PoolConditionType,
)
from interconnect_operator.protocol.link_state import Phase as LinkPhase
from interconnect_operator.protocol.types import MAX_ASN

GROUP = "interconnect.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"

POOL_KIND = "CapacityPool"
POOL_PLURAL = "capacitypools"
POOL_SINGULAR = "capacitypool"
POOL_SHORT_NAMES = ("cpool",)

LINK_KIND = "MulticloudLink"
LINK_PLURAL = "multicloudlinks"
LINK_SINGULAR = "multicloudlink"
LINK_SHORT_NAMES = ("mcl",)

CATEGORIES = ("interconnect",)

#: Annotation that pauses reconciliation of one MulticloudLink: while it is
#: "true" the operator reads nothing and changes nothing for that link, at
#: either provider, and reports `Reconciling=False` with reason `Paused`.
PAUSED_ANNOTATION = f"{GROUP}/paused"

# --- shared string shapes ---------------------------------------------------

#: Kubernetes object name (DNS subdomain, RFC 1123).
_DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
#: Provider ids are path segments of the symmetric API (`providers/{p}`);
#: a DNS label keeps them URL-safe and readable.
_DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
#: Secret data keys (same rule as Kubernetes ConfigMap/Secret keys).
_SECRET_KEY = r"^[-._a-zA-Z0-9]+$"
#: The endpoint must be an absolute http(s) URL; plain http is only meant for
#: local simulators (P34 asks for TLS towards real providers).
_ENDPOINT_URL = r"^https?://[^\s/?#]+([/?#][^\s]*)?$"
#: Condition reasons are CamelCase per the Kubernetes API conventions.
_CONDITION_REASON = r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$"
#: Condition types: CamelCase or a qualified name (metav1.Condition pattern).
_CONDITION_TYPE = (
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$"
)

ObjectName = Annotated[str, StringConstraints(min_length=1, max_length=253, pattern=_DNS_SUBDOMAIN)]
ProviderId = Annotated[str, StringConstraints(min_length=1, max_length=63, pattern=_DNS_LABEL)]
SecretDataKey = Annotated[str, StringConstraints(min_length=1, max_length=253, pattern=_SECRET_KEY)]
ShortText = Annotated[str, StringConstraints(max_length=256)]
LabelValue = Annotated[str, StringConstraints(max_length=63)]

MIN_MTU = 576
MAX_MTU = 9216
#: Upper bound of a link's bandwidth (400 Gbps): far above any sold size, low
#: enough that arithmetic on it stays in int64.
MAX_BANDWIDTH_MBPS = 400_000


class _Model(BaseModel):
    """Base of the spec models: camelCase on the wire, unknown fields refused.

    The API server prunes unknown fields before the operator sees an object,
    so `forbid` only bites on hand-written manifests (examples, tests): there
    it turns a typo into an error instead of a silently ignored field.
    """

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        use_enum_values=False,
    )


class _StatusModel(BaseModel):
    """Base of the status models: camelCase, tolerant of fields it does not know.

    Status written by a newer operator version must still parse in an older
    one during a rollout, hence `ignore`.
    """

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


def _object_default(model: type[BaseModel]) -> JsonDict:
    """CRD default of an optional sub-object: the model's own defaults, spelled out.

    A bare `{}` would do for defaulting (the API server fills nested defaults),
    but the API server validates a default against the CEL rules *without*
    nested defaulting, so `{}` fails rules such as `self.type == 'None'`.
    """
    dumped: JsonDict = model().model_dump(by_alias=True, mode="json", exclude_none=True)
    return dumped


# --- enums ---------------------------------------------------------------------


class ProviderRole(StrEnum):
    """Role a provider plays in the negotiation of links of this pool (P4)."""

    NEGOTIATOR = "Negotiator"
    RESPONDER = "Responder"


class AuthType(StrEnum):
    """How the operator authenticates to a provider endpoint (P34)."""

    NONE = "None"
    BEARER = "Bearer"
    OAUTH2 = "OAuth2"
    SIGV4 = "SigV4"
    MTLS = "MTLS"
    ENTRA_TOKEN = "EntraToken"


class AuthSource(StrEnum):
    """Where a provider's credentials come from: a Secret, or the pod's platform identity."""

    SECRET = "Secret"
    AMBIENT = "Ambient"


class DeletionPolicy(StrEnum):
    """What happens at the providers when the MulticloudLink object is deleted."""

    DELETE = "Delete"
    ORPHAN = "Orphan"


class ProviderApiType(StrEnum):
    """Which API the operator speaks to a pool's provider."""

    SYMMETRIC = "Symmetric"
    AWS_INTERCONNECT = "AwsInterconnect"
    GOOGLE_TRANSPORTS = "GoogleTransports"


class LinkConnectionType(StrEnum):
    """The connection type a link asks for (upstream PR #57)."""

    STANDARD = "Standard"
    TEST = "Test"


class PeerDeletionPolicy(StrEnum):
    """What the operator does when a provider deletes the link's connection (P19)."""

    REPORT = "Report"
    RECREATE = "Recreate"


class SelectorOperator(StrEnum):
    """Operator of a label selector requirement (as in metav1.LabelSelector)."""

    IN = "In"
    NOT_IN = "NotIn"
    EXISTS = "Exists"
    DOES_NOT_EXIST = "DoesNotExist"


# Condition statuses and types and the phase list are the state machine's
# (`protocol.conditions`, `protocol.link_state.Phase`); `LinkPhase` names the
# values `MulticloudLink.status.phase` takes. The CRD keeps `phase` a free
# CamelCase string (not an enum) so that a newer operator can add phases
# without a CRD change breaking status writes of an older schema.
__all__ = [
    "MAX_ASN",
    "ConditionStatus",
    "LinkConditionType",
    "LinkPhase",
    "PoolConditionType",
]


# --- CEL rules -------------------------------------------------------------------
# They live next to the models they guard; crdgen copies them verbatim into
# `x-kubernetes-validations`, and the pydantic validators raise the same
# messages. Every list or string a rule touches is bounded (maxItems,
# maxLength) so the API server's cost estimator accepts it.

CEL_SELECTOR_VALUES: JsonDict = {
    "rule": "(self.operator in ['In', 'NotIn']) == (has(self.values) && size(self.values) > 0)",
    "message": "values must be non-empty for In and NotIn and empty for Exists and DoesNotExist",
}
CEL_AUTH_SECRET: JsonDict = {
    "rule": "self.type == 'None' || (has(self.source) && self.source == 'Ambient') "
    "|| has(self.secretRef)",
    "message": "auth.secretRef is required unless auth.type is None or auth.source is Ambient",
}
CEL_AUTH_AMBIENT: JsonDict = {
    "rule": "!has(self.source) || self.source != 'Ambient' "
    "|| ((self.type == 'SigV4' || self.type == 'OAuth2') && !has(self.secretRef))",
    "message": "auth.source Ambient applies to auth.type SigV4 or OAuth2, without a secretRef",
}
CEL_AUTH_SIGV4_ONLY: JsonDict = {
    "rule": "self.type == 'SigV4' || (!has(self.region) && !has(self.service))",
    "message": "auth.region and auth.service apply only to auth.type SigV4",
}
CEL_TWO_DISTINCT_PROVIDERS: JsonDict = {
    "rule": "self.providers.size() == 2 && self.providers[0].name != self.providers[1].name",
    "message": "providers must list exactly two providers with distinct names",
}
CEL_ONE_NEGOTIATOR_ONE_RESPONDER: JsonDict = {
    "rule": (
        "self.providers.exists(p, p.role == 'Negotiator') && "
        "self.providers.exists(p, p.role == 'Responder')"
    ),
    "message": "providers must have one Negotiator and one Responder (P4)",
}
CEL_POOLREF_IMMUTABLE: JsonDict = {
    "rule": "self == oldSelf",
    "message": "poolRef is immutable; delete the link and create a new one",
}
CEL_POSITIVE_BANDWIDTH: JsonDict = {
    "rule": "self.bandwidthMbps > 0",
    "message": "bandwidthMbps must be positive",
}
CEL_KEY_XOR_ACCOUNT: JsonDict = {
    "rule": "has(self.customer) || has(self.activationKey) != has(self.destinationAccountId)",
    "message": "set exactly one of activationKey and destinationAccountId",
}
CEL_CUSTOMER_LINK: JsonDict = {
    "rule": (
        "!has(self.customer) || (!has(self.activationKey) && !has(self.destinationAccountId) "
        "&& !has(self.bgp) && !has(self.mtu))"
    ),
    "message": (
        "a customer link gets its key from the clouds and leaves BGP and MTU to the providers: "
        "unset activationKey, destinationAccountId, bgp and mtu"
    ),
}
CEL_API_PARAMETERS: JsonDict = {
    "rule": (
        "(self.type == 'AwsInterconnect') == has(self.aws) && "
        "(self.type == 'GoogleTransports') == has(self.google)"
    ),
    "message": "api.aws goes with type AwsInterconnect, api.google with type GoogleTransports",
}
CEL_CUSTOMER_PAIR: JsonDict = {
    "rule": (
        "self.providers.all(p, p.api.type == 'Symmetric') || "
        "(self.providers.exists(p, p.api.type == 'AwsInterconnect') && "
        "self.providers.exists(p, p.api.type == 'GoogleTransports'))"
    ),
    "message": (
        "both providers speak the symmetric API, or one AwsInterconnect and one GoogleTransports"
    ),
}
CEL_NETWORK_XOR_HUB: JsonDict = {
    "rule": "has(self.network) != has(self.hub)",
    "message": "set exactly one of network and hub",
}

CEL_CONNECTION_TYPE_IMMUTABLE: JsonDict = {
    "rule": "self == oldSelf",
    "message": (
        "connectionType is immutable (a TEST connection holds no capacity); create a new link"
    ),
}
CEL_TEST_NOT_CUSTOMER: JsonDict = {
    "rule": "!has(self.customer) || !has(self.connectionType) || self.connectionType == 'Standard'",
    "message": "connectionType Test needs the symmetric API: a customer link cannot ask for it",
}

CEL_RECREATE_NEEDS_ACCOUNT: JsonDict = {
    "rule": "!has(self.onPeerDeletion) || self.onPeerDeletion != 'Recreate' "
    "|| has(self.destinationAccountId)",
    "message": "onPeerDeletion: Recreate needs destinationAccountId (the operator cannot "
    "renew an activation key it was given)",
}


# --- shared building blocks ---------------------------------------------------------


class SecretKeyRef(_Model):
    """Reference to one key of a Secret in a fixed namespace (never the value)."""

    name: ObjectName = Field(description="Name of the Secret.")
    key: SecretDataKey | None = Field(
        default=None,
        description=(
            "Key inside the Secret's data. When omitted, a default that depends on the "
            "referencing field is used (see its description)."
        ),
    )


class ActivationKeySecretRef(_Model):
    """Reference to the Secret key that holds an activation key."""

    name: ObjectName = Field(
        description=(
            "Name of a Secret in the MulticloudLink's own namespace, labelled "
            'interconnect.io/link-secret: "true" (links may use no other Secret).'
        ),
    )
    key: SecretDataKey = Field(
        default="activationKey",
        description="Key inside the Secret's data holding the base64 `encodedKey` (P1).",
    )


class Md5SecretRef(_Model):
    """Reference to the Secret key that holds the BGP MD5 password."""

    name: ObjectName = Field(
        description=(
            "Name of a Secret in the MulticloudLink's own namespace, labelled "
            'interconnect.io/link-secret: "true" (links may use no other Secret).'
        ),
    )
    key: SecretDataKey = Field(
        default="password",
        description="Key inside the Secret's data holding the BGP MD5 password.",
    )


class LabelSelectorRequirement(_Model):
    """One requirement of a label selector (metav1.LabelSelectorRequirement)."""

    model_config = ConfigDict(json_schema_extra={"x-kubernetes-validations": [CEL_SELECTOR_VALUES]})

    key: Annotated[str, StringConstraints(min_length=1, max_length=317)] = Field(
        description="Label key the requirement applies to.",
    )
    operator: SelectorOperator = Field(
        description="Relation between the key and the values: In, NotIn, Exists, DoesNotExist.",
    )
    values: list[LabelValue] = Field(
        default_factory=list,
        max_length=64,
        description=(
            "Label values. Must be non-empty for In and NotIn, empty for Exists and DoesNotExist."
        ),
    )

    @model_validator(mode="after")
    def _values_match_operator(self) -> LabelSelectorRequirement:
        wants_values = self.operator in (SelectorOperator.IN, SelectorOperator.NOT_IN)
        if wants_values != bool(self.values):
            raise ValueError(CEL_SELECTOR_VALUES["message"])
        return self


class LabelSelector(_Model):
    """A label selector (metav1.LabelSelector shape); an empty selector matches everything."""

    match_labels: dict[Annotated[str, StringConstraints(max_length=317)], LabelValue] = Field(
        default_factory=dict,
        max_length=64,
        description="Labels that must all be present with exactly these values.",
    )
    match_expressions: list[LabelSelectorRequirement] = Field(
        default_factory=list,
        max_length=32,
        description="Requirements that must all hold; ANDed with matchLabels.",
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


# --- Conditions ------------------------------------------------------------------


class Condition(_StatusModel):
    """One observation of the object's state (Kubernetes API conventions)."""

    type: Annotated[
        str, StringConstraints(min_length=1, max_length=316, pattern=_CONDITION_TYPE)
    ] = Field(description="Condition type in CamelCase, for example Ready.")
    status: ConditionStatus = Field(description="True, False or Unknown.")
    reason: Annotated[
        str, StringConstraints(min_length=1, max_length=1024, pattern=_CONDITION_REASON)
    ] = Field(
        description=(
            "Machine-readable CamelCase reason for the last transition; cites the protocol "
            "rule where one applies (for example P6CapacityConflict)."
        ),
    )
    message: Annotated[str, StringConstraints(max_length=32768)] = Field(
        default="",
        description="Human-readable details about the last transition.",
    )
    observed_generation: int | None = Field(
        default=None,
        ge=0,
        description="metadata.generation the condition was computed from.",
    )
    last_transition_time: datetime = Field(
        description="When status last changed (not when reason or message last changed).",
    )


_CONDITIONS_LIST: JsonDict = {
    "x-kubernetes-list-type": "map",
    "x-kubernetes-list-map-keys": ["type"],
}


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


# --- MulticloudLink ----------------------------------------------------------------


class PoolRef(_Model):
    """Reference to a CapacityPool (cluster-scoped)."""

    name: ObjectName = Field(description="Name of the CapacityPool.")


class ActivationKeySource(_Model):
    """Where the activation key issued by the responder is kept."""

    secret_ref: ActivationKeySecretRef = Field(
        description="Secret key holding the activation key (key defaults to `activationKey`).",
    )


class LinkBgp(_Model):
    """BGP preferences of the customer's side."""

    asn: int | None = Field(
        default=None,
        ge=1,
        le=MAX_ASN,
        json_schema_extra={"format": "int64"},
        description=(
            "Preferred BGP ASN. Must fall inside both providers' guidance (P9); when "
            "omitted, the operator picks one from the guidance."
        ),
    )
    md5_secret_ref: Md5SecretRef | None = Field(
        default=None,
        description=(
            "Secret in the link's namespace with the BGP MD5 password (key defaults to "
            "`password`). The password is never copied into status."
        ),
    )
    max_prefixes: int | None = Field(
        default=None,
        ge=1,
        le=10_000_000,
        description=(
            "Route prefixes the link plans to advertise. Checked against each provider's "
            "maxReceivedBgpRoutePrefixes (guidance, P8): the WithinPrefixLimits condition is "
            "False when a provider accepts fewer. Advisory: the link is still brought up."
        ),
    )


class AwsAttachment(_Model):
    """Where the AWS side of a customer link attaches."""

    direct_connect_gateway: Annotated[
        str,
        StringConstraints(
            min_length=36,
            max_length=36,
            pattern=r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$",
        ),
    ] = Field(description="Direct Connect gateway id (ListAttachPoints of the environment).")


class GoogleAttachment(_Model):
    """Where the Google side of a customer link attaches."""

    model_config = ConfigDict(
        json_schema_extra={"x-kubernetes-validations": [CEL_NETWORK_XOR_HUB]},
    )

    network: Annotated[str, StringConstraints(min_length=1, max_length=512)] | None = Field(
        default=None,
        description="VPC network to peer with (projects/{project}/global/networks/{name}).",
    )
    hub: Annotated[str, StringConstraints(min_length=1, max_length=512)] | None = Field(
        default=None, description="Network Connectivity Center hub to attach to instead."
    )
    advertised_routes: list[Annotated[str, StringConstraints(min_length=1, max_length=64)]] = Field(
        default_factory=list,
        max_length=100,
        description="IP prefixes advertised to the other cloud (IPv4 or IPv6 CIDRs).",
    )

    @model_validator(mode="after")
    def _check_target(self) -> GoogleAttachment:
        if (self.network is None) == (self.hub is None):
            raise ValueError(CEL_NETWORK_XOR_HUB["message"])
        return self


class CustomerAttachment(_Model):
    """A link on a customer pool: where each cloud attaches, and who creates first."""

    initiator: ProviderId | None = Field(
        default=None,
        description=(
            "The pool provider whose cloud creates first and issues the key (Google first: "
            "transports.create then AWS AcceptConnectionProposal; AWS first: CreateConnection "
            "then transports.create with the key). Default: the pool's Responder."
        ),
    )
    aws: AwsAttachment = Field(description="The AWS attach point.")
    google: GoogleAttachment = Field(description="The Google attach point.")


class MulticloudLinkSpec(_Model):
    """Desired state of a MulticloudLink: one private L3 link across two providers.

    Pause reconciliation with the annotation `interconnect.io/paused: "true"`.
    """

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                CEL_POSITIVE_BANDWIDTH,
                CEL_KEY_XOR_ACCOUNT,
                CEL_CUSTOMER_LINK,
                CEL_RECREATE_NEEDS_ACCOUNT,
                CEL_TEST_NOT_CUSTOMER,
            ],
        },
    )

    pool_ref: PoolRef = Field(
        json_schema_extra={"x-kubernetes-validations": [CEL_POOLREF_IMMUTABLE]},
        description="The CapacityPool the link is placed on. Immutable.",
    )
    bandwidth_mbps: int = Field(
        ge=1,
        le=MAX_BANDWIDTH_MBPS,
        description=(
            "Link bandwidth in Mbps; one of the pool's supportedSizesMbps (a Test link may "
            "also be below the smallest)."
        ),
    )
    connection_type: LinkConnectionType = Field(
        default=LinkConnectionType.STANDARD,
        json_schema_extra={"x-kubernetes-validations": [CEL_CONNECTION_TYPE_IMMUTABLE]},
        description=(
            "Standard, or Test: a TEST connection for bring-up checks (upstream PR #57); it "
            "may be below the environment's minimum size and holds no capacity (left out of "
            "placement, headroom and the pool's capacity status). Immutable."
        ),
    )
    activation_key: ActivationKeySource | None = Field(
        default=None,
        description=(
            "The activation key the responder issued (P1), from a Secret. Exactly one of "
            "activationKey and destinationAccountId."
        ),
    )
    destination_account_id: (
        Annotated[str, StringConstraints(min_length=1, max_length=256)] | None
    ) = Field(
        default=None,
        description=(
            "Account id at the negotiator for which the operator asks the responder's "
            "customer endpoint to issue a key. Exactly one of activationKey and "
            "destinationAccountId."
        ),
    )
    bgp: LinkBgp | None = Field(default=None, description="BGP preferences.")
    ipv6: bool = Field(default=False, description="Also negotiate an IPv6 subnet per channel.")
    mtu: int | None = Field(
        default=None,
        ge=MIN_MTU,
        le=MAX_MTU,
        description=(
            "Largest MTU wanted; the operator picks the highest MTU both providers support "
            "up to this value (P9)."
        ),
    )
    deletion_policy: DeletionPolicy = Field(
        default=DeletionPolicy.DELETE,
        description=(
            "Delete: delete the connection at both providers when the object is deleted "
            "(P19). Orphan: leave it in place."
        ),
    )
    customer: CustomerAttachment | None = Field(
        default=None,
        description=(
            "For pools that speak the clouds' customer APIs: each side's attach point and "
            "which cloud creates first. The clouds then issue the key (neither activationKey "
            "nor destinationAccountId), and VLANs, BGP and MTU are the providers' (no bgp, "
            "no mtu); ipv6 asks Google for an IPv4+IPv6 stack."
        ),
    )
    on_peer_deletion: PeerDeletionPolicy = Field(
        default=PeerDeletionPolicy.REPORT,
        description=(
            "When a provider deletes the link's connection (the customer cancelled there): "
            "Report (Ready False naming the provider, an Event; nothing is re-created) or "
            "Recreate (destinationAccountId links only: delete what is left and start over "
            "with a fresh key and shared UUID). The consumed key and UUID are never reused."
        ),
    )

    @model_validator(mode="after")
    def _check_key_source(self) -> MulticloudLinkSpec:
        if self.customer is not None:
            if self.connection_type is not LinkConnectionType.STANDARD:
                raise ValueError(CEL_TEST_NOT_CUSTOMER["message"])
            keyed = self.activation_key is not None or self.destination_account_id is not None
            if keyed or self.bgp is not None or self.mtu is not None:
                raise ValueError(CEL_CUSTOMER_LINK["message"])
            return self
        if (self.activation_key is None) == (self.destination_account_id is None):
            raise ValueError(CEL_KEY_XOR_ACCOUNT["message"])
        return self


# --- MulticloudLink status -------------------------------------------------------


class BgpPeer(_StatusModel):
    """One provider's end of a channel's BGP session."""

    provider: ShortText = Field(description="Provider id.")
    asn: int | None = Field(
        default=None, ge=0, le=MAX_ASN, json_schema_extra={"format": "int64"}, description="ASN."
    )
    address: Annotated[str, StringConstraints(max_length=64)] | None = Field(
        default=None, description="Host address of the BGP peer (CIDR notation)."
    )


class ProvisioningState(_StatusModel):
    """Provisioning state of a channel's feature at one provider (P13)."""

    provider: ShortText = Field(description="Provider id.")
    state: ShortText | None = Field(
        default=None, description="PENDING, FINAL or (feature-recovery draft) FAILED."
    )


class LinkChannelStatus(_StatusModel):
    """Negotiated L3 parameters of the link on one channel (the L3 base feature)."""

    id: ShortText = Field(description="Channel id.")
    vlan: int | None = Field(default=None, ge=0, le=4095, description="VLAN id.")
    ipv4_subnet: Annotated[str, StringConstraints(max_length=64)] | None = Field(
        default=None, description="IPv4 subnet (CIDR)."
    )
    ipv6_subnet: Annotated[str, StringConstraints(max_length=64)] | None = Field(
        default=None, description="IPv6 subnet (CIDR), when ipv6 is on."
    )
    mtu: int | None = Field(default=None, ge=0, le=MAX_MTU, description="Negotiated MTU.")
    bgp: list[BgpPeer] = Field(
        default_factory=list, max_length=2, description="Both BGP ends, one per provider."
    )
    provisioning: list[ProvisioningState] = Field(
        default_factory=list, max_length=2, description="Feature provisioning state per provider."
    )


class LinkProviderStatus(_StatusModel):
    """The link as one provider sees it."""

    name: ShortText = Field(description="Provider id.")
    role: ProviderRole | None = Field(default=None, description="Negotiator or Responder.")
    connection: Annotated[str, StringConstraints(max_length=1024)] | None = Field(
        default=None, description="Name (resource path) of the connection at this provider."
    )
    connection_id: ShortText | None = Field(
        default=None,
        description=(
            "The connection's id at this provider (the shared UUID when the operator created "
            "it; a provider may name it otherwise, upstream PR #50)."
        ),
    )
    source_connection: Annotated[str, StringConstraints(max_length=1024)] | None = Field(
        default=None,
        description=(
            "During a migration (P18): the connection being migrated from, at this provider "
            "(sent as sourceData.sourceConnectionName, upstream PR #50)."
        ),
    )
    verification_state: ShortText | None = Field(
        default=None, description="UNVERIFIED or VERIFIED (P14)."
    )
    admin_state: ShortText | None = Field(default=None, description="Administrative state.")


class ProviderPrefixLimit(_StatusModel):
    """One provider's limit on received route prefixes."""

    provider: ShortText = Field(description="Provider id.")
    max_received_prefixes: int = Field(
        ge=0,
        le=2**31 - 1,
        description="maxReceivedBgpRoutePrefixes from its guidance (lowest over the channels).",
    )


class LinkRouting(_StatusModel):
    """Routing guardrails: planned prefixes against the providers' limits."""

    max_prefixes: int | None = Field(
        default=None, ge=0, le=2**31 - 1, description="spec.bgp.maxPrefixes, when set."
    )
    provider_limits: list[ProviderPrefixLimit] = Field(
        default_factory=list, max_length=2, description="Each provider's limit, once known."
    )


class PendingRequest(_StatusModel):
    """A create whose outcome is unknown and the requestId its retry sends again."""

    call: ShortText = Field(description="The call: operation, provider side, ids, body digest.")
    request_id: ShortText = Field(description="requestId (feature-recovery draft).")


class IssueRef(_StatusModel):
    """An issue the operator opened with a provider about this link (Issues API)."""

    provider: ShortText = Field(description="Provider the issue was opened with.")
    id: ShortText = Field(description="Issue id.")
    state: ShortText | None = Field(
        default=None,
        description=(
            "Issue state at the provider (STATE_OPEN, STATE_ACTION_REQUIRED, STATE_CLOSED)."
        ),
    )
    side: ShortText | None = Field(
        default=None, description="Side held responsible: negotiator or responder."
    )
    priority: ShortText | None = Field(default=None, description="Priority it was opened with.")
    summary: Annotated[str, StringConstraints(max_length=1024)] | None = Field(
        default=None, description="What holds the link up, as last reported on the issue."
    )
    opened_at: datetime | None = Field(default=None, description="When the issue was opened.")
    last_comment_at: datetime | None = Field(
        default=None, description="When the operator last commented on it."
    )
    closed_at: datetime | None = Field(default=None, description="When it was closed.")
    issues_opened: int | None = Field(
        default=None, ge=0, description="Issues opened for this link so far (the next id's number)."
    )
    action_required: bool | None = Field(
        default=None, description="The provider asks for action from this side."
    )
    comments: int | None = Field(
        default=None, ge=0, description="Comments on the issue when last read back."
    )
    last_comment: Annotated[str, StringConstraints(max_length=1024)] | None = Field(
        default=None, description="The last comment, sanitised, when last read back."
    )
    read_at: datetime | None = Field(
        default=None, description="When the issue was last read back from the provider."
    )


class MulticloudLinkStatus(_StatusModel):
    """Observed state of a MulticloudLink, written by the operator. Holds no secret."""

    observed_generation: int | None = Field(
        default=None, ge=0, description="metadata.generation last reconciled."
    )
    phase: Annotated[str, StringConstraints(max_length=64, pattern=r"^[A-Z][A-Za-z]*$")] | None = (
        Field(
            default=None,
            description=(
                "One-word summary: "
                + ", ".join(p.value for p in list(LinkPhase)[:-1])
                + f" or {list(LinkPhase)[-1].value}. Read conditions for details."
            ),
        )
    )
    conditions: list[Condition] = Field(
        default_factory=list,
        max_length=16,
        json_schema_extra=_CONDITIONS_LIST,
        description="Conditions: " + ", ".join(t.value for t in LinkConditionType) + ".",
    )
    shared_connection_uuid: Annotated[str, StringConstraints(max_length=64)] | None = Field(
        default=None, description="Shared connection UUID, the connection id on both sides."
    )
    environment: ShortText | None = Field(default=None, description="Environment id.")
    interconnect: ShortText | None = Field(
        default=None, description="Interconnect the connection is placed on (P6)."
    )
    channels: list[LinkChannelStatus] = Field(
        default_factory=list, max_length=16, description="Per channel: the negotiated feature."
    )
    providers: list[LinkProviderStatus] = Field(
        default_factory=list, max_length=2, description="The connection at each provider."
    )
    ready_time: datetime | None = Field(
        default=None, description="When the link first became Ready."
    )
    deferred_since: datetime | None = Field(
        default=None,
        description=(
            "When the deferred CreateConnection reached the peer (P22); the deferral "
            "timeout (P23) counts from it."
        ),
    )
    time_to_ready_seconds: float | None = Field(
        default=None,
        ge=0,
        description="Seconds from creation of the object to readyTime.",
    )
    pending_requests: list[PendingRequest] = Field(
        default_factory=list,
        max_length=16,
        description=(
            "Creates whose outcome is unknown (a lost response) and the requestId their "
            "retry sends again, so a provider that did commit answers the first result."
        ),
    )
    routing: LinkRouting | None = Field(
        default=None,
        description=(
            "Routing guardrails: spec.bgp.maxPrefixes and each provider's "
            "maxReceivedBgpRoutePrefixes (see the WithinPrefixLimits condition)."
        ),
    )
    issue: IssueRef | None = Field(
        default=None,
        description=(
            "The issue the operator opened with a provider about this link (escalation of a "
            "stuck link), read back from the provider."
        ),
    )
    message: Annotated[str, StringConstraints(max_length=32768)] | None = Field(
        default=None, description="Human-readable summary of the current state."
    )
    inputs_digest: Annotated[str, StringConstraints(max_length=64)] | None = Field(
        default=None,
        description=(
            "For a Ready link: a MAC, under a key only the operator reads, of what its Ready "
            "was decided from (spec generation, pool generation, both providers' records of "
            "the link) and of this status, so that a restarted operator confirms an unchanged "
            "link without recomputing it. Holds no secret; a digest it did not sign is ignored."
        ),
    )


# --- Whole objects (manifest shape, used for examples and tests) ------------------


class _ObjectMeta(BaseModel):
    """The parts of metadata the models care about; the rest passes through."""

    model_config = ConfigDict(extra="allow")

    name: ObjectName
    namespace: ObjectName | None = None
    annotations: dict[str, str] = Field(default_factory=dict)


class CapacityPool(BaseModel):
    """A whole CapacityPool manifest."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    api_version: Literal["interconnect.io/v1alpha1"]
    kind: Literal["CapacityPool"]
    metadata: _ObjectMeta
    spec: CapacityPoolSpec
    status: CapacityPoolStatus | None = None

    @model_validator(mode="after")
    def _cluster_scoped(self) -> CapacityPool:
        if self.metadata.namespace:
            raise ValueError("CapacityPool is cluster-scoped: metadata.namespace must be empty")
        return self


class MulticloudLink(BaseModel):
    """A whole MulticloudLink manifest."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    api_version: Literal["interconnect.io/v1alpha1"]
    kind: Literal["MulticloudLink"]
    metadata: _ObjectMeta
    spec: MulticloudLinkSpec
    status: MulticloudLinkStatus | None = None

    @property
    def paused(self) -> bool:
        """True when the `interconnect.io/paused` annotation is "true"."""
        return is_paused(self.metadata.annotations)


def is_paused(annotations: dict[str, str] | Any) -> bool:
    """Whether an object's annotations pause its reconciliation.

    Only the exact string "true" pauses (case-insensitive), as documented;
    anything else, including a missing annotation, does not.
    """
    if not annotations:
        return False
    return str(annotations.get(PAUSED_ANNOTATION, "")).strip().lower() == "true"
