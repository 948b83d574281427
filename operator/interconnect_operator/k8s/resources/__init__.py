"""Spec and status models of the two custom resources: the single source of truth.

`CapacityPool` (cluster-scoped) and `MulticloudLink` (namespaced) of group
`interconnect.io`, version `v1alpha1`. The same pydantic models serve three
purposes, so they can never drift apart:

* the kopf handlers parse `spec` into `CapacityPoolSpec` / `MulticloudLinkSpec`
  and build `status` as `CapacityPoolStatus` / `MulticloudLinkStatus`
  (`model_dump(by_alias=True, mode="json", exclude_none=True)`);
* `crdgen` turns them into the structural OpenAPI schemas of the CRDs
  (descriptions become `kubectl explain` text; bounds, enums and defaults are
  enforced by the API server; the `CEL_*` rules of `common` become
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

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

from interconnect_operator.k8s.resources.common import (
    API_VERSION,
    CATEGORIES,
    CEL_API_PARAMETERS,
    CEL_AUTH_AMBIENT,
    CEL_AUTH_SECRET,
    CEL_AUTH_SIGV4_ONLY,
    CEL_CONNECTION_TYPE_IMMUTABLE,
    CEL_CUSTOMER_LINK,
    CEL_CUSTOMER_PAIR,
    CEL_KEY_XOR_ACCOUNT,
    CEL_NETWORK_XOR_HUB,
    CEL_ONE_NEGOTIATOR_ONE_RESPONDER,
    CEL_POOLREF_IMMUTABLE,
    CEL_POSITIVE_BANDWIDTH,
    CEL_RECREATE_NEEDS_ACCOUNT,
    CEL_SELECTOR_VALUES,
    CEL_TEST_NOT_CUSTOMER,
    CEL_TWO_DISTINCT_PROVIDERS,
    GROUP,
    LINK_KIND,
    LINK_PLURAL,
    LINK_SHORT_NAMES,
    LINK_SINGULAR,
    MAX_BANDWIDTH_MBPS,
    MAX_MTU,
    MIN_MTU,
    PAUSED_ANNOTATION,
    POOL_KIND,
    POOL_PLURAL,
    POOL_SHORT_NAMES,
    POOL_SINGULAR,
    VERSION,
    ActivationKeySecretRef,
    AuthSource,
    AuthType,
    Condition,
    DeletionPolicy,
    LabelSelector,
    LabelSelectorRequirement,
    LabelValue,
    LinkConnectionType,
    Md5SecretRef,
    ObjectName,
    PeerDeletionPolicy,
    ProviderApiType,
    ProviderId,
    ProviderRole,
    SecretDataKey,
    SecretKeyRef,
    SelectorOperator,
    ShortText,
    is_paused,
)
from interconnect_operator.k8s.resources.link import (
    ActivationKeySource,
    AwsAttachment,
    BgpPeer,
    CustomerAttachment,
    GoogleAttachment,
    IssueRef,
    LinkBgp,
    LinkChannelStatus,
    LinkProviderStatus,
    LinkRouting,
    MulticloudLinkSpec,
    MulticloudLinkStatus,
    PendingRequest,
    PoolRef,
    ProviderPrefixLimit,
    ProvisioningState,
)
from interconnect_operator.k8s.resources.pool import (
    AwsApi,
    CapacityPoolSpec,
    CapacityPoolStatus,
    Disagreement,
    DisagreementKind,
    GoogleApi,
    InterconnectStatus,
    MacsecPolicy,
    MaintenanceWindow,
    PoolChannelStatus,
    PoolPolicy,
    PoolProvider,
    ProviderApi,
    ProviderAuth,
    ProviderTls,
    TlsVersion,
)

# Condition statuses and types and the phase list are the state machine's
# (`protocol.conditions`, `protocol.link_state.Phase`); `LinkPhase` names the
# values `MulticloudLink.status.phase` takes. The CRD keeps `phase` a free
# CamelCase string (not an enum) so that a newer operator can add phases
# without a CRD change breaking status writes of an older schema.
from interconnect_operator.protocol.conditions import (
    ConditionStatus,
    LinkConditionType,
    PoolConditionType,
)
from interconnect_operator.protocol.link_state import Phase as LinkPhase
from interconnect_operator.protocol.types import MAX_ASN

__all__ = [
    "API_VERSION",
    "CATEGORIES",
    "CEL_API_PARAMETERS",
    "CEL_AUTH_AMBIENT",
    "CEL_AUTH_SECRET",
    "CEL_AUTH_SIGV4_ONLY",
    "CEL_CONNECTION_TYPE_IMMUTABLE",
    "CEL_CUSTOMER_LINK",
    "CEL_CUSTOMER_PAIR",
    "CEL_KEY_XOR_ACCOUNT",
    "CEL_NETWORK_XOR_HUB",
    "CEL_ONE_NEGOTIATOR_ONE_RESPONDER",
    "CEL_POOLREF_IMMUTABLE",
    "CEL_POSITIVE_BANDWIDTH",
    "CEL_RECREATE_NEEDS_ACCOUNT",
    "CEL_SELECTOR_VALUES",
    "CEL_TEST_NOT_CUSTOMER",
    "CEL_TWO_DISTINCT_PROVIDERS",
    "GROUP",
    "LINK_KIND",
    "LINK_PLURAL",
    "LINK_SHORT_NAMES",
    "LINK_SINGULAR",
    "MAX_ASN",
    "MAX_BANDWIDTH_MBPS",
    "MAX_MTU",
    "MIN_MTU",
    "PAUSED_ANNOTATION",
    "POOL_KIND",
    "POOL_PLURAL",
    "POOL_SHORT_NAMES",
    "POOL_SINGULAR",
    "VERSION",
    "ActivationKeySecretRef",
    "ActivationKeySource",
    "AuthSource",
    "AuthType",
    "AwsApi",
    "AwsAttachment",
    "BgpPeer",
    "CapacityPool",
    "CapacityPoolSpec",
    "CapacityPoolStatus",
    "Condition",
    "ConditionStatus",
    "CustomerAttachment",
    "DeletionPolicy",
    "Disagreement",
    "DisagreementKind",
    "GoogleApi",
    "GoogleAttachment",
    "InterconnectStatus",
    "IssueRef",
    "LabelSelector",
    "LabelSelectorRequirement",
    "LabelValue",
    "LinkBgp",
    "LinkChannelStatus",
    "LinkConditionType",
    "LinkConnectionType",
    "LinkPhase",
    "LinkProviderStatus",
    "LinkRouting",
    "MacsecPolicy",
    "MaintenanceWindow",
    "Md5SecretRef",
    "MulticloudLink",
    "MulticloudLinkSpec",
    "MulticloudLinkStatus",
    "ObjectName",
    "PeerDeletionPolicy",
    "PendingRequest",
    "PoolChannelStatus",
    "PoolConditionType",
    "PoolPolicy",
    "PoolProvider",
    "PoolRef",
    "ProviderApi",
    "ProviderApiType",
    "ProviderAuth",
    "ProviderId",
    "ProviderPrefixLimit",
    "ProviderRole",
    "ProviderTls",
    "ProvisioningState",
    "SecretDataKey",
    "SecretKeyRef",
    "SelectorOperator",
    "ShortText",
    "TlsVersion",
    "is_paused",
]


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
