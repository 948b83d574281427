"""Link reconciliation: carry out ``protocol.link_state.decide`` against both providers.

One :meth:`LinkReconciler.reconcile` call loops observe -> decide -> act until
the decision is to wait, finish or fail, and returns the status to show and
when to look again. Observation comes from the pool's bulk snapshot (no
per-link reads); every call the reconciler makes is recorded back into the
snapshot so the next decision sees it at once.

Idempotence: the connection id is the shared UUID and the feature id is
derived from the channel, so a retried or repeated step addresses the same
objects; a 409 on a create is resolved by reading before deciding (P33); an
outcome-unknown error is followed by a read of the object. The negotiator
side is always created first (P5).

Crash safety: the shared UUID is written ahead (``LinkResult.persist_uuid``)
before any provider object exists, for key links as for destination-account
links. Everything else may be lost with the process: a fresh reconciler
finds the link's objects in the snapshot, takes the interconnect from where
they are, and recovers the activation key from the negotiator's own
connection (created only after the responder confirmed it, P3/P5). A key
issued for a destination account that died with the process before anything
used it is replaced by a new one (a new UUID, written ahead again). The
integration tests stop the operator after every single call of a bring-up
and check that a fresh one converges to the same state without duplicates.

Calls per link to Ready, against the protocol minimum: ConfirmActivationKey,
CreateConnection x2, GenerateFeatureGuidance at the responder, CreateFeature
x8, NotifyConnectionStatus x2: 14. The negotiator's own guidance is read once
per interconnect and reused (its ranges are per channel, not per connection;
what is in use comes from the snapshot). Verification is inferred from P14
(both notifications acknowledged after both sides were FINAL) and confirmed by
the next bulk refresh. A notification the provider has evidently discarded
(a refresh after it still shows that side UNVERIFIED with every feature
FINAL: a feature changed since, P15) is sent again at once.

Deferral (P22-P23): when the environment demands it, both connections are
created with ``deferProvisioning`` and the peer drives the rest; the link is
rolled back (peer first, then our side) when it is not ready within the
environment's ``deferralTimeoutHours`` counted from the link's creation.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import datetime as dt
import ipaddress
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from interconnect_operator.api import models
from interconnect_operator.api.activation_key import InvalidActivationKey, decode
from interconnect_operator.api.client import ProviderClient
from interconnect_operator.api.customer import request_activation_key
from interconnect_operator.api.errors import (
    ApiError,
    AuthError,
    Conflict,
    InvalidRequest,
    NotFound,
    OutcomeUnknown,
)
from interconnect_operator.api.names import channel_name
from interconnect_operator.protocol import link_state, placement
from interconnect_operator.protocol.allocation import (
    AllocationFailure,
    ChannelUsage,
    FeatureAllocation,
    allocate_feature,
)
from interconnect_operator.protocol.conditions import ConditionStatus, not_reconciled
from interconnect_operator.protocol.link_state import Decision, LinkStatus, Phase
from interconnect_operator.protocol.types import (
    AdminState,
    FailureRecord,
    FeatureView,
    GuidanceView,
    InterconnectView,
    IntRange,
    LinkFacts,
    LinkSpec,
    ProvisioningState,
    Secret,
    Side,
    SubnetGuidance,
    VerificationState,
)
from interconnect_operator.reconcile.pool import PoolRuntime

logger = logging.getLogger(__name__)

# Provider calls of the reconcile in progress (a list shared with the tasks of
# concurrent steps, which copy the context).
_CALLS: contextvars.ContextVar[list[int]] = contextvars.ContextVar("link_calls")

MAX_STEPS = 64
L3_BASE = "FEATURE_TYPE_L3_BASE"
TRANSIENT_RETRY_SECONDS = 5.0
# P6: a 409 from CreateConnection means "no room there now". Capacity comes
# back when other links go, so the refusal is remembered only this long;
# forgetting it for good would leave a waiting link off that interconnect
# until the operator restarts.
REJECTION_MEMORY = dt.timedelta(seconds=10)


def feature_id(channel: str) -> str:
    """Deterministic feature id: one L3 base feature per (connection, channel) (P11)."""
    return f"l3-{channel}"


@dataclass(frozen=True)
class LinkRequest:
    """One MulticloudLink, reduced to what reconciliation needs (secrets resolved)."""

    namespace: str
    name: str
    spec: LinkSpec
    activation_key: Secret | None = field(default=None, repr=False)
    destination_account_id: str | None = None
    shared_uuid: str | None = None
    interconnect: str | None = None
    deleting: bool = False
    created_at: dt.datetime | None = None
    ever_ready: bool = False
    failure: FailureRecord | None = None


@dataclass(frozen=True)
class LinkEvent:
    type: str
    reason: str
    message: str


@dataclass(frozen=True)
class LinkResult:
    """What to write and when to look again."""

    status: LinkStatus | None
    shared_uuid: str | None
    environment: str
    requeue_after: float | None
    persist_uuid: str | None = None
    finalized: bool = False
    events: tuple[LinkEvent, ...] = ()
    calls: int = 0
    """Provider calls this reconcile made for the link (the pool refresh excluded)."""


@dataclass
class LinkMemory:
    """What the reconciler remembers between calls for one shared UUID (in process only).

    Everything here can be lost: after a restart it is rebuilt from the
    providers (the snapshot) and the link's status.
    """

    key: Secret | None = field(default=None, repr=False)
    key_confirmed: bool = False
    key_refused: str | None = None
    interconnect: str | None = None
    migrating_to: str | None = None
    rejected_interconnects: set[str] = field(default_factory=set)
    rejected_at: dict[str, dt.datetime] = field(default_factory=dict)
    """When each of ``rejected_interconnects`` answered 409 (they expire, P6)."""
    guidance: dict[str, tuple[dict[str, GuidanceView], dict[str, GuidanceView]]] = field(
        default_factory=dict
    )
    blocked_channels: dict[str, str] = field(default_factory=dict)
    rejected_features: dict[str, str] = field(default_factory=dict)
    notified_at: dict[Side, dt.datetime] = field(default_factory=dict)
    # pool refresh generation at each notification: a later refresh that still
    # shows the side UNVERIFIED proves the notification stale (P15)
    notified_generation: dict[Side, int] = field(default_factory=dict)
    update_in_progress: bool = False
    failure: FailureRecord | None = None


class StepFailed(Exception):
    """A provider refused a step in a way that needs the user (wrong credentials, ...)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class LinkReconciler:
    """Reconciles the links of one pool."""

    def __init__(
        self,
        pool: PoolRuntime,
        *,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.pool = pool
        self._clock = clock
        self._memory: dict[str, LinkMemory] = {}
        # (interconnect, channel) -> tentative features allocated but not yet recorded
        self._tentative: dict[tuple[str, str], dict[str, FeatureView]] = {}
        # interconnect -> the negotiator's guidance per channel (P8, static part)
        self._own_guidance: dict[str, dict[str, GuidanceView]] = {}

    @property
    def environment(self) -> str:
        return self.pool.config.environment

    def forget(self, shared_uuid: str) -> None:
        self._memory.pop(shared_uuid, None)

    # ------------------------------------------------------------------ entry

    async def reconcile(self, request: LinkRequest) -> LinkResult:
        """Drive one link as far as it can go now.

        ``LinkResult.calls`` counts the provider calls made for this link
        (retries inside the client and the pool's bulk refresh excluded).
        """
        counter = [0]
        token = _CALLS.set(counter)
        try:
            result = await self._reconcile(request)
        finally:
            _CALLS.reset(token)
        return replace(result, calls=counter[0])

    def _client(self, side: Side) -> ProviderClient:
        """The provider client of ``side``, counting one call for this link."""
        counter = _CALLS.get(None)
        if counter is not None:
            counter[0] += 1
        return self.pool.client(side)

    async def _reconcile(self, request: LinkRequest) -> LinkResult:
        if request.spec.paused and not request.deleting:
            return await self._paused(request)
        uuid = request.shared_uuid
        if request.activation_key is not None:
            resolved = self._decode_key(request)
            if isinstance(resolved, LinkResult):
                return resolved
            uuid = resolved
            if not request.deleting:
                if self.pool.snapshot is None:
                    await self.pool.refresh()
                mismatch = self._key_size_mismatch(request, uuid)
                if mismatch is not None:
                    return mismatch
        if uuid is None:
            if request.deleting:
                return LinkResult(None, None, self.environment, None, finalized=True)
            if request.destination_account_id is None:
                return self._failed(
                    request,
                    None,
                    "NoActivationKey",
                    "P1: the link names neither an activation key nor a destination account",
                )
            violation = self._policy_violation(request)
            if violation is not None:
                return self._failed(request, None, violation[0], violation[1])
            return await self._issue_key(request)
        if (
            request.activation_key is not None
            and request.shared_uuid is not None
            and request.shared_uuid != uuid
        ):
            # Following the new key would abandon the objects of the old UUID.
            return self._failed(
                request,
                request.shared_uuid,
                "KeyChanged",
                "P3: the activation key now names another connection than the one this "
                "link created; delete the link and create a new one for the new key",
            )
        if request.activation_key is not None and request.shared_uuid is None:
            # Write-ahead: the caller records the UUID before anything exists on
            # a provider, so a deletion after a crash still finds what was created.
            return LinkResult(None, uuid, self.environment, 0.0, persist_uuid=uuid)
        memory = self._memory.setdefault(uuid, LinkMemory())
        if request.activation_key is not None:
            memory.key = request.activation_key
        if memory.interconnect is None and request.interconnect:
            memory.interconnect = request.interconnect
        if memory.failure is None and request.failure is not None:
            memory.failure = request.failure
        if self.pool.snapshot is None:
            await self.pool.refresh()
        if memory.key is None and not request.deleting:
            memory.key = self._recover_key(uuid)
            if (
                memory.key is None
                and request.destination_account_id is not None
                and self.pool.snapshot is not None
                and not self.pool.snapshot.errors  # a side we cannot read may hold it
                and not self._anywhere(uuid)
            ):
                # The key issued for this UUID lived only in the memory of a
                # process that is gone, and nothing was created with it: ask for
                # a new one (the old one is never used, P3 refuses reuse anyway).
                self._memory.pop(uuid, None)
                logger.info("activation key of %s lost before use; requesting a new one", uuid)
                return await self._issue_key(request)
        return await self._drive(request, uuid, memory)

    def _recover_key(self, uuid: str) -> Secret | None:
        """The key a connection of this UUID was created with (after a restart).

        The negotiator's own connection carries the key it was created with,
        and it was created only after the responder confirmed it (P3, P5).
        """
        snapshot = self.pool.snapshot
        assert snapshot is not None
        for side in Side:
            for by_id in snapshot.side(side).connections.values():
                connection = by_id.get(uuid)
                if connection is not None and connection.activation_key is not None:
                    value = connection.activation_key.get_secret_value()
                    if value:
                        return Secret(value)
        return None

    def _observed_interconnect(self, uuid: str) -> str | None:
        snapshot = self.pool.snapshot
        if snapshot is None:
            return None
        for side in Side:
            held = sorted(
                ix for ix, by_id in snapshot.side(side).connections.items() if uuid in by_id
            )
            if held:
                return held[0]
        return None

    def _anywhere(self, uuid: str) -> bool:
        snapshot = self.pool.snapshot
        assert snapshot is not None
        return any(
            uuid in by_id for side in Side for by_id in snapshot.side(side).connections.values()
        )

    # ------------------------------------------------------------------ key

    def _decode_key(self, request: LinkRequest) -> str | LinkResult:
        """P2: the key is well formed and for this pool's environment; its UUID."""
        assert request.activation_key is not None
        try:
            key = decode(request.activation_key.reveal())
        except InvalidActivationKey as exc:
            return self._failed(request, None, "InvalidActivationKey", f"P2: {exc}")
        if key.destination_environment_uri.rstrip("/").rsplit("/", 1)[-1] != self.environment:
            return self._failed(
                request,
                key.shared_connection_uuid,
                "KeyEnvironmentMismatch",
                f"P2: the key is for {key.destination_environment_uri}, "
                f"the pool's environment is {self.environment}",
            )
        return key.shared_connection_uuid

    def _key_size_mismatch(self, request: LinkRequest, uuid: str) -> LinkResult | None:
        """P2: a key is for one size; only a link not yet placed must match it.

        Once placed, the bandwidth may have been updated (P16) or migrated
        (P18) since the key was used, which is no mismatch.
        """
        assert request.activation_key is not None
        size = decode(request.activation_key.reveal()).connection_size_mbps
        if size == request.spec.bandwidth_mbps:
            return None
        memory = self._memory.get(uuid)
        if memory is not None and memory.interconnect is not None:
            return None
        snapshot = self.pool.snapshot
        if snapshot is not None and self._anywhere(uuid):
            return None
        if snapshot is None or snapshot.errors:
            # Cannot tell whether it was placed before: look again later.
            return self._transient(
                request, uuid, "ProvidersUnreadable", "P2: cannot read both providers"
            )
        return self._failed(
            request,
            uuid,
            "KeySizeMismatch",
            f"P2: the key is for {size} Mbps, the link asks for {request.spec.bandwidth_mbps} Mbps",
        )

    def _policy_violation(self, request: LinkRequest) -> tuple[str, str] | None:
        config = self.pool.config
        snapshot = self.pool.snapshot
        sizes: tuple[int, ...] = ()
        pool_cap = None
        if snapshot is not None:
            env = snapshot.responder.environment or snapshot.negotiator.environment
            if env is not None:
                sizes = tuple(env.supported_connection_size_mbps or ())
            pool_cap = placement.pool_capacity(
                snapshot.interconnect_views(Side.NEGOTIATOR),
                snapshot.interconnect_views(Side.RESPONDER),
            )
        bandwidth = request.spec.bandwidth_mbps
        if sizes and bandwidth not in sizes:
            offered = ", ".join(str(s) for s in sorted(sizes))
            return (
                "BandwidthNotOffered",
                f"P1: {bandwidth} Mbps is not a size the environment sells ({offered})",
            )
        why = placement.policy_violation(
            bandwidth,
            placement.PlacementPolicy(config.max_bandwidth_mbps_per_link, config.headroom_mbps),
            pool_cap,
        )
        if why is not None:
            return "PolicyDenied", f"pool policy: {why}"
        return None

    async def _issue_key(self, request: LinkRequest) -> LinkResult:
        """P1 for a destination account: the responder issues the key; persist the UUID first."""
        assert request.destination_account_id is not None
        if self.pool.snapshot is None:
            await self.pool.refresh()
        violation = self._policy_violation(request)
        if violation is not None:
            return self._failed(request, None, violation[0], violation[1])
        try:
            issued = await request_activation_key(
                self._client(Side.RESPONDER),
                self.environment,
                request.spec.bandwidth_mbps,
                request.destination_account_id,
            )
        except ApiError as exc:
            return self._transient(request, None, "KeyRequestFailed", str(exc))
        memory = self._memory.setdefault(issued.shared_connection_uuid, LinkMemory())
        memory.key = Secret(issued.encoded_key.get_secret_value())
        # Write-ahead: the k8s layer stores the UUID before anything else is created,
        # so a restart finds the link's objects again.
        return LinkResult(
            status=None,
            shared_uuid=issued.shared_connection_uuid,
            environment=self.environment,
            requeue_after=0.0,
            persist_uuid=issued.shared_connection_uuid,
        )

    # ------------------------------------------------------------------ loop

    async def _drive(self, request: LinkRequest, uuid: str, memory: LinkMemory) -> LinkResult:
        events: list[LinkEvent] = []
        decision: Decision | None = None
        previous: tuple[link_state.Step, ...] | None = None
        for _ in range(MAX_STEPS):
            decision = self._decide(request, uuid, memory)
            step = decision.step
            if isinstance(step, link_state.Wait | link_state.Done | link_state.Fail):
                break
            if decision.concurrent == previous:
                # The same steps again without progress: a provider keeps refusing in
                # a way the rules did not foresee. Back off instead of looping hot.
                return LinkResult(
                    self._status_with(decision, request, "NoProgress", _no_progress(step)),
                    uuid,
                    self.environment,
                    TRANSIENT_RETRY_SECONDS * 6,
                    events=(LinkEvent("Warning", "NoProgress", _no_progress(step)),),
                )
            previous = decision.concurrent
            if request.spec.paused and not request.deleting:
                break
            try:
                results = await asyncio.gather(
                    *(self._act(request, uuid, memory, s) for s in decision.concurrent),
                    return_exceptions=True,
                )
            except asyncio.CancelledError:
                raise
            for result in results:
                if isinstance(result, StepFailed):
                    status = self._status_with(decision, request, result.reason, result.message)
                    return LinkResult(
                        status,
                        uuid,
                        self.environment,
                        TRANSIENT_RETRY_SECONDS * 6,
                        events=(LinkEvent("Warning", result.reason, result.message),),
                    )
                if isinstance(result, ApiError | OSError):
                    message = f"{type(result).__name__}: {result}"
                    status = self._status_with(decision, request, "ProviderError", message)
                    return LinkResult(
                        status,
                        uuid,
                        self.environment,
                        TRANSIENT_RETRY_SECONDS,
                        events=(LinkEvent("Warning", "ProviderError", message),),
                    )
                if isinstance(result, BaseException):
                    raise result
        assert decision is not None
        step = decision.step
        requeue: float | None
        finalized = False
        if isinstance(step, link_state.Done):
            requeue = float(step.recheck_seconds) if step.recheck_seconds else None
            if request.deleting:
                finalized = True
                self.forget(uuid)
                requeue = None
            else:
                # Guidance only serves allocation; a finished link holds a feature on
                # every channel (repairs re-request it), so it is not kept per link.
                memory.guidance.clear()
        elif isinstance(step, link_state.Fail):
            memory.failure = FailureRecord(step.reason, step.message, request.spec.generation)
            requeue = None
            events.append(LinkEvent("Warning", step.reason, step.message))
        elif isinstance(step, link_state.Wait):
            requeue = float(step.seconds)
        else:
            requeue = 1.0  # MAX_STEPS reached: continue soon, never spin
        return LinkResult(
            decision.status,
            uuid,
            self.environment,
            requeue,
            finalized=finalized,
            events=tuple(events),
        )

    def _facts(self, request: LinkRequest, uuid: str, memory: LinkMemory) -> LinkFacts:
        if memory.interconnect is None and memory.migrating_to is None:
            # Status lost (restart without it): the link lives where the providers
            # hold it, the negotiator's side first (P5), as decide() assumes too.
            memory.interconnect = self._observed_interconnect(uuid)
        self._expire_rejections(memory)
        working = memory.migrating_to or memory.interconnect
        channels: tuple[str, ...] = ()
        guidance_ready = False
        if working is not None and working in memory.guidance:
            guidance_ready = True
            neg_g, res_g = memory.guidance[working]
            channels = tuple(sorted(set(neg_g) & set(res_g)))
        elif working is not None and self.pool.snapshot is not None:
            channels = tuple(
                sorted(c.id for c in self.pool.snapshot.negotiator.channels.get(working, []))
            )
            obs = self.pool.snapshot
            local = obs.negotiator.features.get(working, {}).get(uuid, {})
            remote = obs.responder.features.get(working, {}).get(uuid, {})
            # Guidance is only needed to allocate: once every channel has a
            # feature on both sides (e.g. after a restart) there is nothing to ask.
            guidance_ready = bool(channels) and all(c in local and c in remote for c in channels)
        deferred, deferral_timeout = self._deferral(uuid)
        return LinkFacts(
            shared_uuid=uuid,
            now=self._clock(),
            deleting=request.deleting,
            key_confirmed=memory.key_confirmed,
            key_refused=memory.key_refused,
            interconnect=memory.interconnect,
            migrating_to=memory.migrating_to,
            rejected_interconnects=frozenset(memory.rejected_interconnects),
            channels=channels,
            guidance_ready=guidance_ready,
            blocked_channels=dict(memory.blocked_channels),
            rejected_features=dict(memory.rejected_features),
            notified_at=self._live_notifications(uuid, memory, working),
            update_in_progress=memory.update_in_progress,
            deferred=deferred,
            deferral_timeout=deferral_timeout,
            started_at=request.created_at,
            ever_ready=request.ever_ready,
            failure=memory.failure,
        )

    def _expire_rejections(self, memory: LinkMemory) -> None:
        """Forget P6 refusals older than REJECTION_MEMORY: capacity may be back."""
        now = self._clock()
        for interconnect in list(memory.rejected_interconnects):
            at = memory.rejected_at.setdefault(interconnect, now)
            if now - at >= REJECTION_MEMORY:
                memory.rejected_interconnects.discard(interconnect)
                memory.rejected_at.pop(interconnect, None)

    def _deferral(self, uuid: str) -> tuple[bool, dt.timedelta | None]:
        """P22: whether this link is deferred to the peer, and the P23 timeout.

        Deferred when the environment demands it, or when our own connection
        was created deferred (so a restart keeps the role it had).
        """
        snapshot = self.pool.snapshot
        if snapshot is None:
            return False, None
        env = snapshot.negotiator.environment or snapshot.responder.environment
        demanded = bool(env is not None and env.defer_connection_provisioning)
        created_deferred = any(
            bool(by_id[uuid].defer_provisioning)
            for by_id in snapshot.negotiator.connections.values()
            if uuid in by_id
        )
        hours = env.deferral_timeout_hours if env is not None else None
        timeout = dt.timedelta(hours=hours) if hours else None
        return demanded or created_deferred, timeout

    def _live_notifications(
        self, uuid: str, memory: LinkMemory, working: str | None
    ) -> dict[Side, dt.datetime]:
        """Notifications still worth waiting on (P14-P15).

        A notification is a refresh hint the peer evaluates against its own
        feature set. When a refresh taken after it still shows that side
        UNVERIFIED although every feature on both sides is FINAL, a feature
        changed after it (P15: back to PENDING, recreated): forget it so the
        decision sends a fresh one instead of waiting for the resend timer.
        """
        notified = dict(memory.notified_at)
        snapshot = self.pool.snapshot
        if snapshot is None or working is None:
            return notified
        all_final = True
        for side in Side:
            features = snapshot.side(side).features.get(working, {}).get(uuid, {})
            if not features or any(
                f.provisioning_state != ProvisioningState.FINAL.value for f in features.values()
            ):
                all_final = False
        for side in list(notified):
            if memory.notified_generation.get(side, self.pool.generation) >= self.pool.generation:
                continue  # no refresh since: the provider has not been asked again
            connection = snapshot.side(side).connections.get(working, {}).get(uuid)
            if (
                all_final
                and connection is not None
                and connection.verification_state != VerificationState.VERIFIED.value
            ):
                del notified[side]
        return notified

    def _decide(self, request: LinkRequest, uuid: str, memory: LinkMemory) -> Decision:
        snapshot = self.pool.snapshot
        assert snapshot is not None
        providers = self.pool.config.providers
        return link_state.decide(
            request.spec,
            snapshot.observation(Side.NEGOTIATOR, uuid, providers),
            snapshot.observation(Side.RESPONDER, uuid, providers),
            self._facts(request, uuid, memory),
            pool_negotiator=self._views(Side.NEGOTIATOR),
            pool_responder=self._views(Side.RESPONDER),
        )

    def _views(self, side: Side) -> list[InterconnectView]:
        snapshot = self.pool.snapshot
        assert snapshot is not None
        return snapshot.interconnect_views(side)

    # ------------------------------------------------------------------ steps

    async def _act(
        self, request: LinkRequest, uuid: str, memory: LinkMemory, step: link_state.Step
    ) -> None:
        if isinstance(step, link_state.ConfirmKey):
            await self._confirm_key(memory)
        elif isinstance(step, link_state.CreateLocalConnection):
            await self._create_connection(
                uuid,
                memory,
                side=Side.NEGOTIATOR,
                interconnect=step.interconnect,
                bandwidth=step.bandwidth_mbps,
                # P22: a deferring provider creates its own side deferred too.
                defer=self._deferral(uuid)[0],
            )
        elif isinstance(step, link_state.CreateRemoteConnection):
            await self._create_connection(
                uuid,
                memory,
                side=Side.RESPONDER,
                interconnect=step.interconnect,
                bandwidth=step.bandwidth_mbps,
                defer=step.defer_provisioning,
            )
        elif isinstance(step, link_state.RequestGuidance):
            await self._guidance(uuid, memory, step.interconnect)
        elif isinstance(step, link_state.CreateFeature):
            await self._create_feature(request, uuid, memory, step)
        elif isinstance(step, link_state.DeleteFeature):
            await self._delete_feature(uuid, memory, step)
        elif isinstance(step, link_state.NotifyStatus):
            await self._notify(uuid, memory, step)
        elif isinstance(step, link_state.UpdateBandwidth):
            await self._update(uuid, memory, step)
        elif isinstance(step, link_state.Migrate):
            memory.migrating_to = step.to_interconnect
            # Notifications are about one connection's feature set (P14): the new
            # connection needs its own.
            memory.notified_at.clear()
        elif isinstance(step, link_state.DeleteRemote):
            await self._delete_connection(uuid, memory, Side.RESPONDER, step.interconnect)
        elif isinstance(step, link_state.DeleteLocal):
            await self._delete_connection(uuid, memory, Side.NEGOTIATOR, step.interconnect)

    async def _confirm_key(self, memory: LinkMemory) -> None:
        """P3: the responder confirms the key; anything but keyValid stops the flow."""
        if memory.key is None:
            memory.key_refused = "the activation key is no longer known; re-issue required"
            return
        client = self._client(Side.RESPONDER)
        try:
            answer = await client.confirm_activation_key(self.environment, memory.key.reveal())
        except InvalidRequest as exc:
            memory.key_refused = f"responder refused the key: {exc.message}"
            return
        except AuthError as exc:
            raise StepFailed("ProviderAuthFailed", str(exc)) from exc
        if answer.key_valid:
            memory.key_confirmed = True
        else:
            memory.key_refused = (
                "the responder answered keyValid=false (unknown, used or mismatched)"
            )

    async def _create_connection(
        self,
        uuid: str,
        memory: LinkMemory,
        *,
        side: Side,
        interconnect: str,
        bandwidth: int,
        defer: bool = False,
    ) -> None:
        """P5-P7: create on ``side``; a 409 there means no room (P6): place elsewhere."""
        client = self._client(side)
        body = models.Connection(
            bandwidth_mbps=bandwidth,
            activation_key=memory.key.reveal() if memory.key is not None else None,
            defer_provisioning=True if defer else None,
        )
        if memory.migrating_to is None:
            memory.interconnect = interconnect
        placeholder = self._reserve(side, interconnect, uuid, bandwidth)
        try:
            created = await client.create_connection(self.environment, interconnect, uuid, body)
        except Conflict:
            existing = await self._read_connection(side, interconnect, uuid)
            if existing is None:
                self._unreserve(side, interconnect, uuid, placeholder)
                memory.rejected_interconnects.add(interconnect)
                memory.rejected_at[interconnect] = self._clock()
                return
            created = existing
        except OutcomeUnknown:
            # P33: read before retrying, with the same id and body.
            existing = await self._read_connection(side, interconnect, uuid)
            if existing is None:
                raise
            created = existing
        except InvalidRequest as exc:
            self._unreserve(side, interconnect, uuid, placeholder)
            raise StepFailed("ConnectionRefused", f"P22/P32: {exc.message}") from exc
        except AuthError as exc:
            self._unreserve(side, interconnect, uuid, placeholder)
            raise StepFailed("ProviderAuthFailed", str(exc)) from exc
        except BaseException:
            self._unreserve(side, interconnect, uuid, placeholder)
            raise
        self._record_connection(side, interconnect, uuid, created)

    def _reserve(
        self, side: Side, interconnect: str, uuid: str, bandwidth: int
    ) -> models.Connection | None:
        """Count the bandwidth in the snapshot before the call returns (P7).

        Links placed concurrently then see each other's reservations and spread
        over the interconnects instead of racing for the same one (P6 409s).
        Returns the placeholder, or None when the snapshot already holds one.
        """
        snapshot = self.pool.snapshot
        if snapshot is None or uuid in snapshot.side(side).connections.get(interconnect, {}):
            return None
        placeholder = models.Connection(bandwidth_mbps=bandwidth)
        self._record_connection(side, interconnect, uuid, placeholder)
        return placeholder

    def _unreserve(
        self, side: Side, interconnect: str, uuid: str, placeholder: models.Connection | None
    ) -> None:
        snapshot = self.pool.snapshot
        if placeholder is None or snapshot is None:
            return
        if snapshot.side(side).connections.get(interconnect, {}).get(uuid) is placeholder:
            self._forget_connection(side, interconnect, uuid)

    async def _read_connection(
        self, side: Side, interconnect: str, uuid: str
    ) -> models.Connection | None:
        try:
            return await self._client(side).get_connection(self.environment, interconnect, uuid)
        except NotFound:
            return None

    async def _guidance(self, uuid: str, memory: LinkMemory, interconnect: str) -> None:
        """P8: the responder's guidance for this connection; ours once per interconnect."""
        res_client = self._client(Side.RESPONDER)
        res_task = res_client.generate_feature_guidance(self.environment, interconnect, uuid)
        own = self._own_guidance.get(interconnect)
        if own is None:
            neg_client = self._client(Side.NEGOTIATOR)
            neg_answer, res_answer = await asyncio.gather(
                neg_client.generate_feature_guidance(self.environment, interconnect, uuid),
                res_task,
            )
            own = guidance_views(neg_answer)
            self._own_guidance[interconnect] = own
        else:
            res_answer = await res_task
        memory.guidance[interconnect] = (own, guidance_views(res_answer))

    def _usage(self, interconnect: str, channel: str, uuid: str) -> ChannelUsage:
        """In use on the channel (snapshot, cached) plus allocations still in flight.

        The link's own features need no exclusion: allocation only happens on a
        channel where neither side holds one of them.
        """
        snapshot = self.pool.snapshot
        assert snapshot is not None
        base = snapshot.channel_usage(interconnect, channel)
        pending = self._tentative.get((interconnect, channel), {})
        if not pending:
            return base
        vlans = set(base.vlans)
        v4 = list(base.ipv4)
        v6 = list(base.ipv6)
        for conn_id, tentative in self._tentative.get((interconnect, channel), {}).items():
            if conn_id == uuid:
                continue
            vlans.add(tentative.vlan)
            v4.append(tentative.ipv4_subnet)
            if tentative.ipv6_subnet is not None:
                v6.append(tentative.ipv6_subnet)
        return ChannelUsage(frozenset(vlans), tuple(v4), tuple(v6))

    async def _create_feature(
        self,
        request: LinkRequest,
        uuid: str,
        memory: LinkMemory,
        step: link_state.CreateFeature,
    ) -> None:
        ix, channel, side = step.interconnect, step.channel, step.side
        if step.copy_of is not None:
            view = step.copy_of
        else:
            guidance = memory.guidance.get(ix)
            if guidance is None:
                memory.blocked_channels[channel] = f"channel {channel}: no guidance (P8)"
                return
            usage = self._usage(ix, channel, uuid)
            allocation = allocate_feature(
                channel, guidance[0].get(channel), guidance[1].get(channel), usage, request.spec
            )
            if isinstance(allocation, AllocationFailure):
                memory.blocked_channels[channel] = f"{allocation.reason}: {allocation.message}"
                return
            view = allocation.to_view(connection_id=uuid)
        self._tentative.setdefault((ix, channel), {})[uuid] = view
        body = self._feature_body(side, ix, channel, view, request.spec)
        client = self._client(side)
        fid = feature_id(channel)
        try:
            created = await client.create_feature(self.environment, ix, uuid, fid, body)
        except Conflict as exc:
            existing = await self._read_feature(side, ix, uuid, fid)
            if existing is not None:
                created = existing
            elif side is Side.RESPONDER:
                # P10: something else took that space; restart the channel from fresh guidance.
                memory.rejected_features[channel] = exc.message
                memory.guidance.pop(ix, None)
                return
            else:
                memory.guidance.pop(ix, None)
                return
        except InvalidRequest as exc:
            memory.blocked_channels[channel] = (
                f"P10: {side.value} refused the feature: {exc.message}"
            )
            return
        except OutcomeUnknown:
            existing = await self._read_feature(side, ix, uuid, fid)
            if existing is None:
                raise
            created = existing
        except AuthError as exc:
            raise StepFailed("ProviderAuthFailed", str(exc)) from exc
        finally:
            self._tentative.get((ix, channel), {}).pop(uuid, None)
        memory.rejected_features.pop(channel, None)
        # P15: a changed feature set needs fresh notifications (the peer ignores
        # one older than the change).
        memory.notified_at.clear()
        self._record_feature(side, ix, uuid, channel, created)

    def _feature_body(
        self, side: Side, interconnect: str, channel: str, view: FeatureView, spec: LinkSpec
    ) -> models.Feature:
        caller = self.pool.config.provider(side).call_as
        providers = self.pool.config.providers
        bgp = [
            models.ProviderBgpConfig(
                provider=providers[side],
                asn=end.asn,
                host_ipv4=str(end.ipv4),
                host_ipv6=str(end.ipv6) if end.ipv6 is not None else None,
            )
            for side, end in sorted(view.bgp.items())
        ]
        config = models.L3BaseConfig(
            ipv4_subnet=str(view.ipv4_subnet.network_address),
            ipv4_subnet_prefix_length=view.ipv4_subnet.prefixlen,
            ipv6_subnet=str(view.ipv6_subnet.network_address) if view.ipv6_subnet else None,
            ipv6_subnet_prefix_length=view.ipv6_subnet.prefixlen if view.ipv6_subnet else None,
            mtu_bytes=view.mtu,
            vlan_id=view.vlan,
            provider_bgp_configs=bgp,
            md5_bgp_password=spec.md5.reveal() if spec.md5 is not None else None,
        )
        return models.Feature(
            channel=channel_name(
                caller, self.environment, interconnect, channel
            ),  # caller's prefix
            feature_config=models.FeatureConfig(feature_type=L3_BASE, l3_base_config=config),
        )

    async def _read_feature(
        self, side: Side, interconnect: str, uuid: str, fid: str
    ) -> models.Feature | None:
        try:
            return await self._client(side).get_feature(self.environment, interconnect, uuid, fid)
        except NotFound:
            return None

    async def _delete_feature(
        self, uuid: str, memory: LinkMemory, step: link_state.DeleteFeature
    ) -> None:
        """P20: remove one feature (the rejected local half after a P10 refusal)."""
        with contextlib.suppress(NotFound):  # already gone: the goal is reached
            await self._client(step.side).delete_feature(
                self.environment, step.interconnect, uuid, feature_id(step.channel)
            )
        self._forget_feature(step.side, step.interconnect, uuid, step.channel)
        memory.notified_at.clear()
        memory.rejected_features.pop(step.channel, None)
        memory.guidance.pop(step.interconnect, None)

    async def _notify(self, uuid: str, memory: LinkMemory, step: link_state.NotifyStatus) -> None:
        """P14: tell ``step.side`` that the other side is final."""
        await self._client(step.side).notify_connection_status(
            self.environment, step.interconnect, uuid
        )
        memory.notified_at[step.side] = self._clock()
        memory.notified_generation[step.side] = self.pool.generation
        self._infer_verified(uuid, memory, step.interconnect)

    def _infer_verified(self, uuid: str, memory: LinkMemory, interconnect: str) -> None:
        """P14: both notifications acknowledged while both sides were FINAL: VERIFIED.

        Recorded in the snapshot only; the next bulk refresh replaces it with
        what the providers say, so a provider that disagrees is seen.
        """
        if len(memory.notified_at) < 2:
            return
        snapshot = self.pool.snapshot
        assert snapshot is not None
        for side in Side:
            view = snapshot.side(side)
            features = view.features.get(interconnect, {}).get(uuid, {})
            if not features or not all(
                (f.provisioning_state or "") == ProvisioningState.FINAL.value
                for f in features.values()
            ):
                return
        for side in Side:
            connection = snapshot.side(side).connections.get(interconnect, {}).get(uuid)
            if connection is not None:
                connection.verification_state = VerificationState.VERIFIED.value

    async def _update(
        self, uuid: str, memory: LinkMemory, step: link_state.UpdateBandwidth
    ) -> None:
        """P16-P17: the peer confirms first; our side changes after its 200."""
        client = self._client(step.side)
        try:
            updated = await client.update_connection(
                self.environment,
                step.interconnect,
                uuid,
                models.Connection(bandwidth_mbps=step.bandwidth_mbps),
                update_mask=["bandwidthMbps"],
            )
        except Conflict:
            # P17 (update in flight) or no room after all: look again after a refresh.
            memory.update_in_progress = True
            await self.pool.refresh()
            memory.update_in_progress = False
            return
        self._record_connection(step.side, step.interconnect, uuid, updated)
        memory.notified_at.pop(step.side.other, None)

    async def _delete_connection(
        self, uuid: str, memory: LinkMemory, side: Side, interconnect: str
    ) -> None:
        """P19: DeleteConnection implies its features; 404 means already gone."""
        try:
            await self._client(side).delete_connection(self.environment, interconnect, uuid)
        except NotFound:
            pass
        except OutcomeUnknown:
            if await self._read_connection(side, interconnect, uuid) is not None:
                raise
        self._forget_connection(side, interconnect, uuid)
        if side is Side.NEGOTIATOR and memory.migrating_to and interconnect == memory.interconnect:
            # P18 complete: the new interconnect is the link's home now.
            memory.interconnect, memory.migrating_to = memory.migrating_to, None
            memory.notified_at.clear()
        elif (
            side is Side.NEGOTIATOR
            and interconnect in memory.rejected_interconnects
            and memory.interconnect == interconnect
        ):
            memory.interconnect = None

    # ------------------------------------------------------------------ snapshot records

    # The pool applies these to its snapshot and replays them onto a refresh
    # that was in flight meanwhile (pool.py), so a slow bulk read never
    # hides what this reconciler just created or deleted.

    def _record_connection(
        self, side: Side, interconnect: str, uuid: str, connection: models.Connection
    ) -> None:
        self.pool.record_connection(side, interconnect, uuid, connection)

    def _forget_connection(self, side: Side, interconnect: str, uuid: str) -> None:
        self.pool.forget_connection(side, interconnect, uuid)

    def _record_feature(
        self, side: Side, interconnect: str, uuid: str, channel: str, feature: models.Feature
    ) -> None:
        self.pool.record_feature(side, interconnect, uuid, channel, feature)

    def _forget_feature(self, side: Side, interconnect: str, uuid: str, channel: str) -> None:
        self.pool.forget_feature(side, interconnect, uuid, channel)

    # ------------------------------------------------------------------ results

    async def _paused(self, request: LinkRequest) -> LinkResult:
        """No provider call while paused; status still shows what the snapshot knows."""
        uuid = request.shared_uuid
        if uuid is None and request.activation_key is not None:
            decoded = self._decode_key(request)
            uuid = decoded if isinstance(decoded, str) else None
        if uuid is None or self.pool.snapshot is None:
            status = _bare_status(
                request, Phase.PAUSED, "Paused", "reconciliation paused by annotation"
            )
            return LinkResult(status, uuid, self.environment, None)
        memory = self._memory.setdefault(uuid, LinkMemory())
        decision = self._decide(request, uuid, memory)
        return LinkResult(decision.status, uuid, self.environment, None)

    def _failed(
        self, request: LinkRequest, uuid: str | None, reason: str, message: str
    ) -> LinkResult:
        status = _bare_status(request, Phase.FAILED, reason, message, stalled=True)
        return LinkResult(
            status,
            uuid,
            self.environment,
            None,
            events=(LinkEvent("Warning", reason, message),),
        )

    def _transient(
        self, request: LinkRequest, uuid: str | None, reason: str, message: str
    ) -> LinkResult:
        status = _bare_status(request, Phase.PENDING, reason, message)
        return LinkResult(
            status,
            uuid,
            self.environment,
            TRANSIENT_RETRY_SECONDS * 2,
            events=(LinkEvent("Warning", reason, message),),
        )

    def _status_with(
        self, decision: Decision, request: LinkRequest, reason: str, message: str
    ) -> LinkStatus:
        """The decision's status, with Ready/Reconciling naming the provider error."""
        gen = request.spec.generation
        conditions = []
        for cond in decision.status.conditions:
            if cond.type == "Ready" and not cond.is_true:
                shown = replace(cond, reason=reason, message=message, observed_generation=gen)
            elif cond.type == "Reconciling":
                shown = replace(
                    cond, status=_TRUE, reason=reason, message=message, observed_generation=gen
                )
            else:
                shown = cond
            conditions.append(shown)
        return replace(decision.status, conditions=tuple(conditions), message=message)


_TRUE = ConditionStatus.TRUE


def _no_progress(step: link_state.Step) -> str:
    return f"step {step.kind} repeated without progress; retrying later"


def _bare_status(
    request: LinkRequest, phase: Phase, reason: str, message: str, *, stalled: bool = False
) -> LinkStatus:
    """Status of a link that never reached the providers (bad input, paused, waiting)."""
    gen = request.spec.generation
    conditions = not_reconciled(reason, message, gen, stalled=stalled, idle=phase is Phase.PAUSED)
    failure = FailureRecord(reason, message, gen) if stalled else None
    return LinkStatus(
        phase=phase,
        conditions=conditions,
        interconnect=None,
        migrating_to=None,
        channels=(),
        providers=(),
        ready=False,
        message=message,
        failure=failure,
    )


def guidance_views(answer: models.GenerateFeatureGuidanceResponse) -> dict[str, GuidanceView]:
    """Convert a GenerateFeatureGuidance answer into protocol views keyed by channel id."""
    result: dict[str, GuidanceView] = {}
    for entry in answer.feature_guidance or []:
        if entry.channel is None:
            continue
        channel = entry.channel.rsplit("/", 1)[-1]
        l3 = entry.l3_base_guidance
        if l3 is None:
            result[channel] = GuidanceView(
                channel=channel, admin_state=AdminState(entry.channel_admin_state or "UNKNOWN")
            )
            continue
        result[channel] = GuidanceView(
            channel=channel,
            admin_state=AdminState(entry.channel_admin_state or "ADMIN_STATE_ENABLED"),
            vlan_ranges=_ranges(l3.vlan_ranges),
            ipv4_subnets=_subnets(l3.ipv4_subnet_guidance),
            ipv6_subnets=_subnets(l3.ipv6_subnet_guidance),
            ipv4_prefix_lengths=tuple(l3.ipv4_allowed_subnet_prefix_lengths or ()),
            ipv6_prefix_lengths=tuple(l3.ipv6_allowed_subnet_prefix_lengths or ()),
            mtu_ranges=_ranges(l3.mtu_ranges),
            asn_ranges=_ranges(l3.asn_ranges),
            max_received_bgp_prefixes=l3.max_received_bgp_route_prefixes,
        )
    return result


def _ranges(
    ranges: list[models.VLANRange] | list[models.MTURange] | list[models.ASNRange] | None,
) -> tuple[IntRange, ...]:
    out = []
    for r in ranges or []:
        if r.start is None or r.stop is None or r.start > r.stop:
            continue
        out.append(IntRange(r.start, r.stop))
    return tuple(out)


def _subnets(guidance: list[models.SubnetGuidance] | None) -> tuple[SubnetGuidance, ...]:
    out = []
    for g in guidance or []:
        if not g.include_subnet:
            continue
        try:
            out.append(
                SubnetGuidance(
                    include=ipaddress.ip_network(g.include_subnet, strict=False),
                    excludes=tuple(
                        ipaddress.ip_network(x, strict=False) for x in g.exclude_subnets or ()
                    ),
                    preferred=ipaddress.ip_network(g.preferred_subnet, strict=False)
                    if g.preferred_subnet
                    else None,
                )
            )
        except ValueError:
            continue
    return tuple(out)


__all__ = [
    "FeatureAllocation",
    "LinkEvent",
    "LinkReconciler",
    "LinkRequest",
    "LinkResult",
    "guidance_views",
]
