"""Shared parts of the two resources: names, string shapes, bases, enums, CEL
rules, Secret references, conditions, the pause annotation.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator
from pydantic.alias_generators import to_camel
from pydantic.config import JsonDict

from interconnect_operator.protocol.conditions import ConditionStatus

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


def is_paused(annotations: dict[str, str] | Any) -> bool:
    """Whether an object's annotations pause its reconciliation.

    Only the exact string "true" pauses (case-insensitive), as documented;
    anything else, including a missing annotation, does not.
    """
    if not annotations:
        return False
    return str(annotations.get(PAUSED_ANNOTATION, "")).strip().lower() == "true"
