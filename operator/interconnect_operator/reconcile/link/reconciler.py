"""Link reconciliation: carry out ``protocol.link_state.decide`` against both providers.

One :meth:`LinkReconciler.reconcile` call loops observe -> decide -> act until
the decision is to wait, finish or fail, and returns the status to show and
when to look again. Observation comes from the pool's bulk snapshot (no
per-link reads); every call the reconciler makes is recorded back into the
snapshot so the next decision sees it at once. The negotiator side is always
created first (P5).

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
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import replace

from interconnect_operator.api.errors import ApiError
from interconnect_operator.protocol import link_state
from interconnect_operator.protocol.link_state import Decision, Phase
from interconnect_operator.protocol.notifications import live_notifications
from interconnect_operator.protocol.placement import live_rejections
from interconnect_operator.protocol.types import FailureRecord, LinkFacts, Side
from interconnect_operator.reconcile import views
from interconnect_operator.reconcile.pool import PoolRuntime

from . import calls, keys, results
from .steps import StepRunner
from .types import (
    MAX_STEPS,
    TRANSIENT_RETRY_SECONDS,
    LinkEvent,
    LinkMemory,
    LinkRequest,
    LinkResult,
    StepFailed,
)

logger = logging.getLogger(__name__)


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
        self._steps = StepRunner(pool, clock)

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
        with calls.counting() as counter:
            result = await self._reconcile(request)
        return replace(result, calls=counter[0])

    async def _reconcile(self, request: LinkRequest) -> LinkResult:
        if request.spec.paused and not request.deleting:
            return await self._paused(request)
        uuid = request.shared_uuid
        if request.activation_key is not None:
            resolved = await self._key_uuid(request)
            if isinstance(resolved, LinkResult):
                return resolved
            uuid = resolved
        if uuid is None:
            return await self._without_uuid(request)
        if request.activation_key is not None and request.shared_uuid is None:
            # Write-ahead: the caller records the UUID before anything exists on
            # a provider, so a deletion after a crash still finds what was created.
            return LinkResult(None, uuid, self.environment, 0.0, persist_uuid=uuid)
        memory = self._remember(request, uuid)
        if self.pool.snapshot is None:
            await self.pool.refresh()
        if keys.lost_before_use(request, uuid, self.pool, memory):
            self._memory.pop(uuid, None)
            logger.info("activation key of %s lost before use; requesting a new one", uuid)
            return await keys.issue_key(request, self.pool, self._memory)
        return await self._drive(request, uuid, memory)

    async def _key_uuid(self, request: LinkRequest) -> str | LinkResult:
        """P2-P3: the UUID the link's key names, or why the link cannot go on with it."""
        resolved = keys.key_uuid(request, self.environment)
        if isinstance(resolved, LinkResult):
            return resolved
        if not request.deleting:
            if self.pool.snapshot is None:
                await self.pool.refresh()
            mismatch = keys.size_mismatch(request, resolved, self.pool, self._memory.get(resolved))
            if mismatch is not None:
                return mismatch
        if request.shared_uuid is not None and request.shared_uuid != resolved:
            # Following the new key would abandon the objects of the old UUID.
            return results.failed(
                request,
                request.shared_uuid,
                self.environment,
                "KeyChanged",
                "P3: the activation key now names another connection than the one this "
                "link created; delete the link and create a new one for the new key",
            )
        return resolved

    async def _without_uuid(self, request: LinkRequest) -> LinkResult:
        """A link with no connection yet: nothing to delete, or a key to ask for (P1)."""
        if request.deleting:
            return LinkResult(None, None, self.environment, None, finalized=True)
        if request.destination_account_id is None:
            return results.failed(
                request,
                None,
                self.environment,
                "NoActivationKey",
                "P1: the link names neither an activation key nor a destination account",
            )
        refusal = keys.policy_refusal(request, self.pool)
        if refusal is not None:
            return results.failed(request, None, self.environment, refusal.reason, refusal.message)
        return await keys.issue_key(request, self.pool, self._memory)

    def _remember(self, request: LinkRequest, uuid: str) -> LinkMemory:
        """The link's memory, seeded from its request (key, interconnect, recorded failure)."""
        memory = self._memory.setdefault(uuid, LinkMemory())
        if request.activation_key is not None:
            memory.key = request.activation_key
        if memory.interconnect is None and request.interconnect:
            memory.interconnect = request.interconnect
        if memory.failure is None and request.failure is not None:
            memory.failure = request.failure
        return memory

    # ------------------------------------------------------------------ loop

    async def _drive(self, request: LinkRequest, uuid: str, memory: LinkMemory) -> LinkResult:
        """Decide and act until the decision settles (Wait, Done, Fail) or a step fails."""
        decision: Decision | None = None
        previous: tuple[link_state.Step, ...] | None = None
        for _ in range(MAX_STEPS):
            decision = self._decide(request, uuid, memory)
            step = decision.step
            if isinstance(step, link_state.Settled):
                break
            if decision.concurrent == previous:
                # The same steps again without progress: a provider keeps refusing in
                # a way the rules did not foresee. Back off instead of looping hot.
                message = results.no_progress(step)
                return results.interrupted(
                    decision,
                    request,
                    uuid,
                    self.environment,
                    reason="NoProgress",
                    message=message,
                    retry_after=TRANSIENT_RETRY_SECONDS * 6,
                )
            previous = decision.concurrent
            if request.spec.paused and not request.deleting:
                break
            interrupted = await self._act_all(request, uuid, memory, decision)
            if interrupted is not None:
                return interrupted
        assert decision is not None
        return self._settle(request, uuid, memory, decision)

    async def _act_all(
        self, request: LinkRequest, uuid: str, memory: LinkMemory, decision: Decision
    ) -> LinkResult | None:
        """Run the decision's independent steps together; the result of the first that failed."""
        outcomes = await asyncio.gather(
            *(self._steps.act(request, uuid, memory, s) for s in decision.concurrent),
            return_exceptions=True,
        )
        for outcome in outcomes:
            if isinstance(outcome, StepFailed):
                return results.interrupted(
                    decision,
                    request,
                    uuid,
                    self.environment,
                    reason=outcome.reason,
                    message=outcome.message,
                    retry_after=TRANSIENT_RETRY_SECONDS * 6,
                )
            if isinstance(outcome, ApiError | OSError):
                message = f"{type(outcome).__name__}: {outcome}"
                return results.interrupted(
                    decision,
                    request,
                    uuid,
                    self.environment,
                    reason="ProviderError",
                    message=message,
                    retry_after=TRANSIENT_RETRY_SECONDS,
                )
            if isinstance(outcome, BaseException):
                raise outcome
        return None

    def _settle(
        self, request: LinkRequest, uuid: str, memory: LinkMemory, decision: Decision
    ) -> LinkResult:
        """The result of a settled decision: when to look again, what to remember."""
        step = decision.step
        requeue: float | None
        finalized = False
        events: tuple[LinkEvent, ...] = ()
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
            events = (LinkEvent("Warning", step.reason, step.message),)
        elif isinstance(step, link_state.Wait):
            requeue = float(step.seconds)
        else:
            requeue = 1.0  # MAX_STEPS reached: continue soon, never spin
        return LinkResult(
            decision.status, uuid, self.environment, requeue, finalized=finalized, events=events
        )

    # ------------------------------------------------------------------ decide

    def _decide(self, request: LinkRequest, uuid: str, memory: LinkMemory) -> Decision:
        snapshot = self.pool.snapshot
        assert snapshot is not None
        providers = self.pool.config.providers
        return link_state.decide(
            request.spec,
            snapshot.observation(Side.NEGOTIATOR, uuid, providers),
            snapshot.observation(Side.RESPONDER, uuid, providers),
            self._facts(request, uuid, memory),
            pool_negotiator=snapshot.interconnect_views(Side.NEGOTIATOR),
            pool_responder=snapshot.interconnect_views(Side.RESPONDER),
        )

    def _facts(self, request: LinkRequest, uuid: str, memory: LinkMemory) -> LinkFacts:
        snapshot = self.pool.snapshot
        if memory.interconnect is None and memory.migrating_to is None:
            # Status lost (restart without it): the link lives where the providers
            # hold it, the negotiator's side first (P5), as decide() assumes too.
            memory.interconnect = views.where_held(snapshot, uuid)
        now = self._clock()
        memory.rejected_at = live_rejections(memory.rejected_at, now)
        working = memory.migrating_to or memory.interconnect
        channels, guidance_ready = self._channels(uuid, memory, working)
        deferred, deferral_timeout = views.deferral(snapshot, uuid)
        return LinkFacts(
            shared_uuid=uuid,
            now=now,
            deleting=request.deleting,
            key_confirmed=memory.key_confirmed,
            key_refused=memory.key_refused,
            interconnect=memory.interconnect,
            migrating_to=memory.migrating_to,
            rejected_interconnects=frozenset(memory.rejected_at),
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

    def _channels(
        self, uuid: str, memory: LinkMemory, working: str | None
    ) -> tuple[tuple[str, ...], bool]:
        """The channels of the working interconnect, and whether guidance is at hand (P8)."""
        if working is not None and working in memory.guidance:
            neg_g, res_g = memory.guidance[working]
            return tuple(sorted(set(neg_g) & set(res_g))), True
        snapshot = self.pool.snapshot
        if working is None or snapshot is None:
            return (), False
        channels = tuple(sorted(c.id for c in snapshot.negotiator.channels.get(working, [])))
        local = snapshot.negotiator.features.get(working, {}).get(uuid, {})
        remote = snapshot.responder.features.get(working, {}).get(uuid, {})
        # Guidance is only needed to allocate: once every channel has a
        # feature on both sides (e.g. after a restart) there is nothing to ask.
        ready = bool(channels) and all(c in local and c in remote for c in channels)
        return channels, ready

    def _live_notifications(
        self, uuid: str, memory: LinkMemory, working: str | None
    ) -> dict[Side, dt.datetime]:
        """Notifications still worth waiting on (P14-P15, ``protocol.notifications``)."""
        snapshot = self.pool.snapshot
        if snapshot is None or working is None:
            return dict(memory.notified_at)
        return live_notifications(
            memory.notified_at,
            memory.notified_generation,
            self.pool.generation,
            views.finality(snapshot, working, uuid),
            views.unverified(snapshot, working, uuid),
        )

    # ------------------------------------------------------------------ paused

    async def _paused(self, request: LinkRequest) -> LinkResult:
        """No provider call while paused; status still shows what the snapshot knows."""
        uuid = request.shared_uuid
        if uuid is None and request.activation_key is not None:
            decoded = keys.key_uuid(request, self.environment)
            uuid = decoded if isinstance(decoded, str) else None
        if uuid is None or self.pool.snapshot is None:
            status = results.bare_status(
                request, Phase.PAUSED, "Paused", "reconciliation paused by annotation"
            )
            return LinkResult(status, uuid, self.environment, None)
        memory = self._memory.setdefault(uuid, LinkMemory())
        decision = self._decide(request, uuid, memory)
        return LinkResult(decision.status, uuid, self.environment, None)
