"""The customer driver: one link brought up through AWS Interconnect and Google transports.

Where the symmetric driver (``reconcile/link``) speaks the Connection
Coordinator API as a coordinator, this one speaks each cloud's customer API
as the customer would: it observes both sides in bulk (ListConnections,
transports.list: one call each per pool refresh), decides with
:func:`interconnect_operator.protocol.customer_link.decide`, and makes at most
one call per side per round through :mod:`~interconnect_operator.api.customer_aws`
and :mod:`~interconnect_operator.api.customer_gcp`.

Nothing is created twice: the Google transport id is derived from the link's
uid, every AWS clientToken and Google requestId from the link's uid, the action
and the generation, so a create repeated after a crash (or after a lost
response) returns what the first one made. The AWS connection is found by the
shared UUID (``sharedId``, the key's ``sharedConnectionUuid``), which the
result carries for the link's status. Activation keys are read from the
initiating cloud when needed and never kept: not in memory, not in status.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, replace

from pydantic import SecretStr

from interconnect_operator.api.customer_aws import (
    AwsConnection,
    MissingOrDenied,
    idempotency_token,
)
from interconnect_operator.api.customer_gcp import (
    Transport,
    TransportSpec,
    request_id,
)
from interconnect_operator.api.errors import (
    ApiError,
    AuthError,
    InvalidRequest,
    NotFound,
    OutcomeUnknown,
    ServerError,
    Throttled,
    TransportError,
)
from interconnect_operator.protocol.customer_link import (
    AWS_READY,
    GOOGLE_READY,
    Attachment,
    AwsSide,
    Cloud,
    CustomerFacts,
    CustomerPlan,
    GoogleSide,
    Step,
    decide,
    refused,
    retrying,
)
from interconnect_operator.protocol.link_state import LinkStatus, Phase, ProviderStatus
from interconnect_operator.protocol.types import (
    DeletionPolicy,
    FailureRecord,
    Side,
    VerificationState,
)
from interconnect_operator.reconcile.customer_pool import (
    CustomerPool,
    shared_uuid_of,
)
from interconnect_operator.reconcile.link import LinkRequest, LinkResult
from interconnect_operator.reconcile.link.results import bare_status

__all__ = [
    "CustomerDriver",
    "CustomerLinkReconciler",
    "CustomerLinkRequest",
    "CustomerOutcome",
    "to_link_status",
    "transport_id",
]

log = logging.getLogger(__name__)

#: Seconds between rounds while something is in progress on either side.
PROGRESS_SECONDS = 2.0
#: Seconds before looking again after a throttled or failed call.
RETRY_SECONDS = 5.0
#: Seconds between checks of a Ready link (the pool refresh covers it in bulk).
STEADY_SECONDS = 60.0


@dataclass(frozen=True)
class CustomerLinkRequest:
    """One MulticloudLink on a customer pool, reduced to what the driver needs."""

    uid: str
    namespace: str
    name: str
    bandwidth_mbps: int
    generation: int
    initiator: Cloud
    attachment: Attachment
    shared_uuid: str | None = None
    deleting: bool = False
    deletion_policy: DeletionPolicy = DeletionPolicy.DELETE
    ever_ready: bool = False


@dataclass(frozen=True)
class CustomerOutcome:
    """What to write and when to look again."""

    plan: CustomerPlan
    shared_uuid: str | None
    aws_connection: str | None
    google_transport: str | None
    requeue_after: float | None
    finalized: bool = False
    error: str | None = None


def transport_id(uid: str) -> str:
    """The Google transport id of a link: derived from its uid, so never created twice."""
    return "mcl-" + uid.lower().replace("_", "-")[:59]


class CustomerLinkReconciler:
    """Drives the links of one customer pool."""

    def __init__(self, pool: CustomerPool) -> None:
        self.pool = pool

    async def reconcile(self, request: CustomerLinkRequest) -> CustomerOutcome:
        """Observe (bulk), decide, act once; provider errors become the outcome, never raised."""
        facts = _facts(request, None, None)
        try:
            if not self.pool.connections and not self.pool.transports:
                await self.pool.refresh()
            aws, transport, shared = self._observe(request, request.shared_uuid)
            facts = _facts(request, aws, transport)
            plan = decide(facts)
            acted = await self._act(request, plan, aws, transport)
            if acted is not None:  # show where the link stands after the call
                await self.pool.refresh()
                aws, transport, shared = self._observe(request, acted or shared)
                plan = decide(_facts(request, aws, transport))
        except (Throttled, ServerError, TransportError) as error:
            message = f"{type(error).__name__}: {error}"
            return self._outcome(retrying(facts, message), request, RETRY_SECONDS, message)
        except (AuthError, InvalidRequest) as error:
            message = f"{type(error).__name__}: {error}"
            return self._outcome(refused(facts, message), request, None, message)
        return self._result(request, plan, aws, transport, shared)

    def _observe(
        self, request: CustomerLinkRequest, shared: str | None
    ) -> tuple[AwsConnection | None, Transport | None, str | None]:
        transport = self.pool.transports.get(transport_id(request.uid))
        shared = shared or shared_uuid_of(transport)
        aws = self.pool.aws_by_shared_id(shared) if shared else None
        return aws, transport, shared

    def _result(
        self,
        request: CustomerLinkRequest,
        plan: CustomerPlan,
        aws: AwsConnection | None,
        transport: Transport | None,
        shared: str | None,
    ) -> CustomerOutcome:
        return CustomerOutcome(
            plan=plan,
            shared_uuid=shared or (aws.shared_id if aws else None),
            aws_connection=aws.id if aws else None,
            google_transport=transport.name if transport else None,
            requeue_after=_requeue(plan),
            finalized=plan.step is Step.FINALIZE,
        )

    def _outcome(
        self,
        plan: CustomerPlan,
        request: CustomerLinkRequest,
        requeue_after: float | None,
        error: str,
    ) -> CustomerOutcome:
        return CustomerOutcome(
            plan=plan,
            shared_uuid=request.shared_uuid,
            aws_connection=None,
            google_transport=None,
            requeue_after=requeue_after,
            error=error,
        )

    async def _act(
        self,
        request: CustomerLinkRequest,
        plan: CustomerPlan,
        aws: AwsConnection | None,
        transport: Transport | None,
    ) -> str | None:
        """Carry out ``plan.step``: None if nothing was called, else the shared UUID it
        revealed ("" when none). A lost answer is retried next round with the same
        tokens (P33)."""
        step = plan.step
        uid, generation = request.uid, str(request.generation)
        try:
            if step is Step.CREATE_AWS:
                return (await self._create_aws(request)).shared_id
            if step is Step.CREATE_GOOGLE:
                await self._create_google(request, key=None)
            elif step is Step.ACCEPT_ON_AWS and transport is not None:
                await self._accept_on_aws(request, transport)
            elif step is Step.CREATE_GOOGLE_WITH_KEY and aws is not None:
                full = await self.pool.aws.get_connection(aws.id)
                await self._create_google(request, key=full.activation_key)
            elif step is Step.RESIZE_AWS and aws is not None:
                token = idempotency_token(uid, "resize", generation)
                await self.pool.aws.update_connection(
                    aws.id, bandwidth_mbps=request.bandwidth_mbps, client_token=token
                )
            elif step is Step.RESIZE_GOOGLE:
                await self.pool.google.set_bandwidth(
                    transport_id(uid),
                    request.bandwidth_mbps,
                    request=request_id(uid, "resize", generation),
                )
            elif step is Step.DELETE_AWS and aws is not None:
                await self._delete_aws(request, aws)
            elif step is Step.DELETE_GOOGLE:
                await self._delete_google(request)
            else:
                return None
        except OutcomeUnknown:
            log.info("%s for %s: outcome unknown; the next round repeats it", step, uid)
        return ""

    async def _create_aws(self, request: CustomerLinkRequest) -> AwsConnection:
        account = self.pool.aws_account
        return await self.pool.aws.create_connection(
            environment_id=account.environment_id,
            bandwidth_mbps=request.bandwidth_mbps,
            gateway=request.attachment.gateway,
            remote_account=self.pool.google_project.project,
            client_token=idempotency_token(request.uid, "create"),
            description=_description(request),
            tags={"interconnect.io/link": f"{request.namespace}.{request.name}"},
        )

    async def _create_google(self, request: CustomerLinkRequest, key: SecretStr | None) -> None:
        attachment = request.attachment
        spec = TransportSpec(
            remote_profile=self.pool.profile_name,
            network=attachment.network,
            hub=attachment.hub,
            bandwidth_mbps=None if key else request.bandwidth_mbps,
            remote_account_id=None if key else self.pool.aws_account.account_id,
            provided_activation_key=key,
            advertised_routes=attachment.advertised_routes,
            stack_type="IPV4_IPV6" if attachment.ipv6 else "IPV4_ONLY",
            description=_description(request),
            labels={"interconnect-io-link": _label(f"{request.namespace}-{request.name}")},
        )
        try:
            await self.pool.google.create_transport(
                transport_id(request.uid), spec, request=request_id(request.uid, "create")
            )
        except ApiError as error:
            if error.status != 409:  # ALREADY_EXISTS: ours, from a call whose answer was lost
                raise

    async def _accept_on_aws(self, request: CustomerLinkRequest, transport: Transport) -> None:
        key = transport.generated_activation_key
        if key is None:
            return
        await self.pool.aws.accept_connection_proposal(
            activation_key=key,
            gateway=request.attachment.gateway,
            client_token=idempotency_token(request.uid, "accept"),
            description=_description(request),
            tags={"interconnect.io/link": f"{request.namespace}.{request.name}"},
        )

    async def _delete_aws(self, request: CustomerLinkRequest, aws: AwsConnection) -> None:
        try:
            await self.pool.aws.delete_connection(
                aws.id, client_token=idempotency_token(request.uid, "delete")
            )
        except MissingOrDenied:
            log.info("AWS connection %s already gone (or hidden) on delete", aws.id)

    async def _delete_google(self, request: CustomerLinkRequest) -> None:
        with contextlib.suppress(NotFound):
            await self.pool.google.delete_transport(
                transport_id(request.uid), request=request_id(request.uid, "delete")
            )


def _facts(
    request: CustomerLinkRequest, aws: AwsConnection | None, transport: Transport | None
) -> CustomerFacts:
    return CustomerFacts(
        initiator=request.initiator,
        bandwidth_mbps=request.bandwidth_mbps,
        generation=request.generation,
        aws=AwsSide(aws.id, aws.state, aws.bandwidth_mbps, aws.shared_id, has_key=True)
        if aws
        else None,
        google=GoogleSide(
            transport.name,
            transport.state,
            transport.bandwidth_mbps,
            transport.generated_activation_key is not None,
        )
        if transport
        else None,
        deleting=request.deleting,
        deletion_policy=request.deletion_policy,
        ever_ready=request.ever_ready,
    )


def _requeue(plan: CustomerPlan) -> float | None:
    if plan.step is Step.FINALIZE:
        return None
    if plan.step is Step.DONE:
        return STEADY_SECONDS
    if plan.step is Step.FAIL:
        return STEADY_SECONDS
    return PROGRESS_SECONDS


def _description(request: CustomerLinkRequest) -> str:
    text = f"MulticloudLink {request.namespace} {request.name}"
    return "".join(c if c.isalnum() or c in "-_ " else "-" for c in text)[:255]


def _label(text: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in "-_" else "-" for c in text.lower())
    return cleaned[:63]


class CustomerDriver:
    """The customer driver behind the link lifecycle's seam (:mod:`.driver`): it takes
    the same ``LinkRequest`` and answers the same ``LinkResult`` as the symmetric one."""

    def __init__(self, pool: CustomerPool, environment: str) -> None:
        self.pool = pool
        self.environment = environment
        self._reconciler = CustomerLinkReconciler(pool)

    def forget(self, shared_uuid: str) -> None:
        """Nothing to drop: customer links keep no memory per shared UUID here."""

    async def reconcile(self, request: LinkRequest) -> LinkResult:
        if request.spec.paused and not request.deleting:
            # No call to either cloud while paused (as for the symmetric driver).
            status = bare_status(
                request, Phase.PAUSED, "Paused", "reconciliation paused by annotation"
            )
            return LinkResult(status, request.shared_uuid, self.environment, None)
        customer = request.customer
        if customer is None:
            return self._refusal(
                request,
                "NotACustomerLink",
                "the pool speaks the clouds' customer APIs: the link needs spec.customer "
                "(attach points) and neither an activation key nor a destination account",
            )
        initiator = self._initiator(customer.initiator)
        if initiator is None:
            return self._refusal(
                request,
                "UnknownInitiator",
                f"customer.initiator {customer.initiator!r} is not a provider of the pool",
            )
        refusal = None if request.deleting or request.shared_uuid else self._size_refusal(request)
        if refusal is not None:
            return self._refusal(request, *refusal)
        outcome = await self._reconciler.reconcile(
            CustomerLinkRequest(
                uid=customer.uid,
                namespace=request.namespace,
                name=request.name,
                bandwidth_mbps=request.spec.bandwidth_mbps,
                generation=request.spec.generation,
                initiator=initiator,
                attachment=replace(customer.attachment, ipv6=request.spec.ipv6),
                shared_uuid=request.shared_uuid,
                deleting=request.deleting,
                deletion_policy=request.spec.deletion_policy,
                ever_ready=request.ever_ready,
            )
        )
        persist = None
        if outcome.shared_uuid and outcome.shared_uuid != request.shared_uuid:
            persist = outcome.shared_uuid  # the controller records it with the link
        return LinkResult(
            status=to_link_status(outcome, self.pool.sides),
            shared_uuid=outcome.shared_uuid,
            environment=self.environment,
            requeue_after=outcome.requeue_after,
            persist_uuid=persist if not outcome.finalized else None,
            finalized=outcome.finalized,
        )

    def _size_refusal(self, request: LinkRequest) -> tuple[str, str] | None:
        """Before anything is created: the pool's policy and the sizes both clouds sell."""
        mbps = request.spec.bandwidth_mbps
        config = self.pool.config
        limit = config.max_bandwidth_mbps_per_link if config is not None else None
        if limit is not None and mbps > limit:
            return "PolicyDenied", f"{mbps} Mbps is above the pool's limit of {limit} Mbps"
        sizes = self.pool.sizes_mbps
        if sizes and mbps not in sizes:
            offered = ", ".join(str(s) for s in sizes)
            return "BandwidthNotOffered", f"{mbps} Mbps is not offered by both clouds ({offered})"
        return None

    def _initiator(self, provider: str | None) -> Cloud | None:
        if provider is None:  # the Responder issues keys (P1)
            return next(c for c, side in self.pool.sides.items() if side is Side.RESPONDER)
        return self.pool.cloud_of(provider)

    def _refusal(self, request: LinkRequest, reason: str, message: str) -> LinkResult:
        if request.deleting:  # nothing was ever created for it: let it go
            return LinkResult(None, request.shared_uuid, self.environment, None, finalized=True)
        facts = CustomerFacts(
            initiator=Cloud.AWS,
            bandwidth_mbps=request.spec.bandwidth_mbps,
            generation=request.spec.generation,
            aws=None,
            google=None,
        )
        outcome = CustomerOutcome(
            plan=refused(facts, message, reason=reason),
            shared_uuid=request.shared_uuid,
            aws_connection=None,
            google_transport=None,
            requeue_after=None,
        )
        return LinkResult(
            status=to_link_status(outcome, self.pool.sides),
            shared_uuid=request.shared_uuid,
            environment=self.environment,
            requeue_after=None,
        )


def to_link_status(outcome: CustomerOutcome, sides: dict[Cloud, Side]) -> LinkStatus:
    """A customer outcome as the link status the k8s layer writes (no channels: the
    providers own VLANs, BGP and MTU on customer pools)."""
    plan = outcome.plan
    ready = {c.type: c.is_true for c in plan.conditions}
    providers = (
        ProviderStatus(
            side=sides[Cloud.AWS],
            connection_name=outcome.aws_connection,
            interconnect=None,
            bandwidth_mbps=None,
            verification=_verification(outcome.aws_connection, ready.get(AWS_READY, False)),
            admin_state=None,
        ),
        ProviderStatus(
            side=sides[Cloud.GOOGLE],
            connection_name=outcome.google_transport,
            interconnect=None,
            bandwidth_mbps=None,
            verification=_verification(outcome.google_transport, ready.get(GOOGLE_READY, False)),
            admin_state=None,
        ),
    )
    failure = None
    if plan.step is Step.FAIL:
        stalled = next(c for c in plan.conditions if c.type == "Stalled")
        failure = FailureRecord(stalled.reason, plan.message, stalled.observed_generation or 0)
    message = plan.message if outcome.error is None else f"{plan.message} ({outcome.error})"
    return LinkStatus(
        phase=Phase(plan.phase),
        conditions=plan.conditions,
        interconnect=None,
        migrating_to=None,
        channels=(),
        providers=tuple(sorted(providers, key=lambda p: p.side.value)),
        ready=plan.ready,
        message=message,
        failure=failure,
    )


def _verification(name: str | None, ready: bool) -> VerificationState | None:
    if name is None:
        return None
    return VerificationState.VERIFIED if ready else VerificationState.UNVERIFIED
