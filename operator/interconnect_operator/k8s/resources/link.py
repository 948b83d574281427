"""MulticloudLink: its spec (pool, bandwidth, routing, attachments) and status."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import ConfigDict, Field, StringConstraints, model_validator

from interconnect_operator.k8s.resources.common import (
    _CONDITIONS_LIST,
    CEL_CONNECTION_TYPE_IMMUTABLE,
    CEL_CUSTOMER_LINK,
    CEL_KEY_XOR_ACCOUNT,
    CEL_NETWORK_XOR_HUB,
    CEL_POOLREF_IMMUTABLE,
    CEL_POSITIVE_BANDWIDTH,
    CEL_RECREATE_NEEDS_ACCOUNT,
    CEL_TEST_NOT_CUSTOMER,
    MAX_BANDWIDTH_MBPS,
    MAX_MTU,
    MIN_MTU,
    ActivationKeySecretRef,
    Condition,
    DeletionPolicy,
    LinkConnectionType,
    Md5SecretRef,
    ObjectName,
    PeerDeletionPolicy,
    ProviderId,
    ProviderRole,
    ShortText,
    _Model,
    _StatusModel,
)
from interconnect_operator.protocol.conditions import (
    LinkConditionType,
)
from interconnect_operator.protocol.link_state import Phase as LinkPhase
from interconnect_operator.protocol.types import MAX_ASN

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
