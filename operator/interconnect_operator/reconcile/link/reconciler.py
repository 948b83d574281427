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

Deferral (P22-P23): when the environment demands it, the peer's
CreateConnection carries the deferral flag and the peer drives the rest; the
link is rolled back (peer first, then our side) when it is not ready within
the environment's ``deferralTimeoutHours`` counted from that deferred
creation, never once it was finalised, nor during an update or a migration.

What a decision is made on (the link's facts) is ``decision.LinkDecider``;
peer intent (P19 from a provider's side) is ``peer_intent.PeerIntent``; the
refusals a 400 holds and the progress a backoff restarts on are
``refusals``; each step's provider calls are ``steps.StepRunner``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import random
from collections.abc import Callable
from dataclasses import replace

from interconnect_operator import redaction
from interconnect_operator.api.errors import ApiError, InvalidRequest
from interconnect_operator.api.retry import retry_after_of
from interconnect_operator.protocol import link_state
from interconnect_operator.protocol.link_state import Decision, Phase
from interconnect_operator.protocol.retry_discipline import (
    CONFLICTS_PER_RECONCILE,
    CycleGuard,
    Refusal,
    backoff_seconds,
    sanitise,
    step_key,
)
from interconnect_operator.protocol.types import FailureRecord
from interconnect_operator.reconcile import views
from interconnect_operator.reconcile.pool import PoolRuntime

from . import calls, keys, results
from .decision import LinkDecider
from .peer_intent import PeerIntent
from .refusals import feature_count, observed_state, refusal_message, unrefused
from .steps import StepRunner, step_side
from .types import (
    MAX_STEPS,
    FollowUpRefused,
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
        rng: random.Random | None = None,
    ) -> None:
        self.pool = pool
        self._clock = clock
        self._rng = rng or random.Random()
        self._memory: dict[str, LinkMemory] = {}
        self._retired: set[str] = set()
        """Shared UUIDs a provider deleted and the link left behind: never used again."""
        self._steps = StepRunner(pool, clock)
        self._peer = PeerIntent(pool, self._steps)
        self._decider = LinkDecider(pool, clock, self._peer)

    @property
    def environment(self) -> str:
        return self.pool.config.environment

    def retry_at(self, shared_uuid: str) -> dt.datetime | None:
        """When the link may call a provider again (Retry-After, backoff), if held back."""
        memory = self._memory.get(shared_uuid)
        return memory.not_before if memory is not None else None

    def forget(self, shared_uuid: str) -> None:
        """Drop what is kept for a released link: its memory, its redaction
        entries and the observations its last steps read (both sides', empty by
        then: a refresh carries them on, as nothing of theirs changes again)."""
        self._memory.pop(shared_uuid, None)
        redaction.release(keys.key_owner(shared_uuid))
        if self.pool.snapshot is not None:
            self.pool.snapshot.forget_observations(shared_uuid)

    # ------------------------------------------------------------------ entry

    async def reconcile(self, request: LinkRequest) -> LinkResult:
        """Drive one link as far as it can go now.

        ``LinkResult.calls`` counts the provider calls made for this link
        (retries inside the client and the pool's bulk refresh excluded).
        """
        with calls.counting() as counter:
            result = await self._reconcile(request)
        memory = self._memory.get(result.shared_uuid or "")
        pending = dict(memory.request_ids) if memory is not None else {}
        return replace(result, calls=counter[0], request_ids=pending)

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
        memory = self._memory.get(uuid)
        if memory is None:
            # Fresh (first reconcile in this process): what the status remembers.
            memory = self._memory[uuid] = LinkMemory(
                existed_on=dict(request.existed_on), deferred_since=request.deferred_since
            )
        if request.activation_key is not None:
            memory.key = request.activation_key
        if memory.interconnect is None and request.interconnect:
            memory.interconnect = request.interconnect
        if memory.failure is None and request.failure is not None:
            memory.failure = request.failure
        if not memory.prefix_limits and request.prefix_limits:
            memory.prefix_limits = dict(request.prefix_limits)
        if not memory.request_ids and request.request_ids:
            memory.request_ids = dict(request.request_ids)
        return memory

    # ------------------------------------------------------------------ loop

    async def _drive(self, request: LinkRequest, uuid: str, memory: LinkMemory) -> LinkResult:
        """Decide and act until the decision settles (Wait, Done, Fail) or a step fails.

        Retry discipline (``protocol.retry_discipline``): nothing is called before
        the link's ``not_before`` (Retry-After, backoff); steps a provider refused
        (400) are not repeated until the spec or the provider's data changes; a
        step answered 409 twice in one reconcile, a repeated or cyclic decision,
        or an exhausted call budget end the reconcile with exponential backoff.
        """
        self._on_new_generation(request, memory)
        held = self._held_back(request, uuid, memory)
        if held is not None:
            return held
        events: list[LinkEvent] = []
        try:
            await self._peer.observe(request, uuid, memory, events)
            await self._peer.settle_lost_creates(request, uuid, memory)
        except (ApiError, OSError) as exc:
            return self._back_off(
                request,
                uuid,
                memory,
                self._decider.decide(request, uuid, memory),
                reason="ProviderError",
                message=sanitise(f"{type(exc).__name__}: {exc}"),
                retry_after=retry_after_of(exc) if isinstance(exc, ApiError) else None,
            )
        decision: Decision | None = None
        guard = CycleGuard()
        conflicts_before = dict(memory.conflicts)
        features_before = feature_count(self.pool, uuid)
        for _ in range(MAX_STEPS):
            decision = self._decider.decide(request, uuid, memory)
            step = decision.step
            if isinstance(step, link_state.Settled):
                break
            if request.spec.paused and not request.deleting:
                break
            if isinstance(step, link_state.RenewKey):
                return self._with_events(await self._renew_key(request, uuid), events)
            steps, refusals = unrefused(self.pool, request, uuid, memory, decision.concurrent)
            if not steps:
                message = "; ".join(refusal_message(self.pool, r) for r in refusals)
                return self._with_events(
                    results.refused(decision, request, uuid, self.environment, message), events
                )
            if guard.no_progress(repr(steps), observed_state(self.pool, request, uuid)):
                return self._with_events(
                    self._back_off(
                        request,
                        uuid,
                        memory,
                        decision,
                        reason="NoProgress",
                        message=results.no_progress(step),
                    ),
                    events,
                )
            interrupted = await self._act_all(
                request, uuid, memory, decision, steps=steps, events=events
            )
            if interrupted is not None:
                return self._with_events(interrupted, events)
            if any(isinstance(s, link_state.DeleteFeature) for s in steps):
                # The FAILED features are gone: a new failure fails this generation.
                memory.retry_failed_features = False
            # P10 allows one restart from fresh guidance at once; a link already
            # backing off from conflicts stops at the first one.
            allowed = CONFLICTS_PER_RECONCILE if memory.attempts == 0 else 1
            repeated = sorted(
                key
                for key, count in memory.conflicts.items()
                if count - conflicts_before.get(key, 0) >= allowed
            )
            if repeated:
                if feature_count(self.pool, uuid) > features_before:
                    # This reconcile added features before the conflict: the backoff
                    # counts reconciles without progress, so it starts over.
                    memory.attempts = 0
                message = (
                    f"P6/P10/P17: {repeated[0]} answered 409 "
                    f"{memory.conflicts[repeated[0]]} times; backing off, excluding what conflicted"
                )
                return self._with_events(
                    self._back_off(
                        request, uuid, memory, decision, reason="Conflict", message=message
                    ),
                    events,
                )
        assert decision is not None
        return self._with_events(self._settle(request, uuid, memory, decision), events)

    async def _renew_key(self, request: LinkRequest, uuid: str) -> LinkResult:
        """P1 after a provider deleted the link (opted in): a fresh key, a new UUID.

        The old UUID is retired with its memory; nothing of it is left at either
        provider (the decision deleted the leftovers first).
        """
        self._retired.add(uuid)
        self._memory.pop(uuid, None)
        redaction.release(keys.key_owner(uuid))
        logger.info("connection %s deleted by a provider; renewing the key", uuid)
        return await keys.issue_key(request, self.pool, self._memory)

    @staticmethod
    def _with_events(result: LinkResult, events: list[LinkEvent]) -> LinkResult:
        if not events:
            return result
        return replace(result, events=(*events, *result.events))

    def _on_new_generation(self, request: LinkRequest, memory: LinkMemory) -> None:
        """A spec change (or a deletion) lifts refusals and backoff, not a Retry-After."""
        generation = request.spec.generation * 2 + int(request.deleting)
        if memory.generation == generation:
            return
        if memory.generation is not None:
            memory.refusals.clear()
            memory.conflicts.clear()
            memory.conflicted.clear()
            memory.attempts = 0
            if not memory.hard_not_before:
                memory.not_before = None
            failure = memory.failure
            memory.retry_failed_features = (
                failure is not None
                and failure.reason == "ProvisioningFailed"
                and failure.generation < request.spec.generation
                and not request.deleting
            )
        memory.generation = generation

    def _held_back(self, request: LinkRequest, uuid: str, memory: LinkMemory) -> LinkResult | None:
        """Before ``not_before``: the status as it stands, no provider call."""
        if memory.not_before is None:
            return None
        remaining = (memory.not_before - self._clock()).total_seconds()
        if remaining <= 0:
            memory.not_before = None
            memory.hard_not_before = False
            return None
        decision = self._decider.decide(request, uuid, memory)
        reason, message = memory.last_interruption or ("BackingOff", "backing off")
        status = results.status_with(decision, request, reason, message)
        return LinkResult(status, uuid, self.environment, max(remaining, 0.0))

    def _back_off(
        self,
        request: LinkRequest,
        uuid: str,
        memory: LinkMemory,
        decision: Decision,
        *,
        reason: str,
        message: str,
        retry_after: float | None = None,
    ) -> LinkResult:
        """End the reconcile: exponential backoff with full jitter, never below Retry-After."""
        memory.attempts += 1
        delay = backoff_seconds(memory.attempts, self._rng.random(), retry_after)
        memory.not_before = self._clock() + dt.timedelta(seconds=delay)
        memory.hard_not_before = retry_after is not None and retry_after > 0
        memory.last_interruption = (reason, message)
        return results.interrupted(
            decision,
            request,
            uuid,
            self.environment,
            reason=reason,
            message=message,
            retry_after=delay,
        )

    async def _act_all(
        self,
        request: LinkRequest,
        uuid: str,
        memory: LinkMemory,
        decision: Decision,
        *,
        steps: tuple[link_state.Step, ...],
        events: list[LinkEvent],
    ) -> LinkResult | None:
        """Run independent steps together; the result of the first that failed.

        A 400 records a refusal of that step (and an Event) and lets the loop go
        on with what remains.
        """
        outcomes = await asyncio.gather(
            *(self._steps.act(request, uuid, memory, s) for s in steps),
            return_exceptions=True,
        )
        interruption: LinkResult | None = None
        for carried, answer in zip(steps, outcomes, strict=True):
            if interruption is not None or answer is None:
                continue
            step, outcome = carried, answer
            if isinstance(answer, FollowUpRefused):
                # The carried step succeeded; its follow-up is what was refused.
                step, outcome = answer.step, answer.error
            if isinstance(outcome, InvalidRequest):
                refusal = Refusal(
                    step_key(step),
                    step_side(step),
                    sanitise(outcome.message),
                    observed_state(self.pool, request, uuid),
                )
                memory.refusals[refusal.step] = refusal
                events.append(
                    LinkEvent("Warning", "ProviderRefused", refusal_message(self.pool, refusal))
                )
            elif isinstance(outcome, calls.BudgetExhausted):
                message = f"call budget spent ({outcome}); continuing after a backoff"
                interruption = self._back_off(
                    request, uuid, memory, decision, reason="CallBudget", message=message
                )
            elif isinstance(outcome, StepFailed):
                interruption = self._back_off(
                    request,
                    uuid,
                    memory,
                    decision,
                    reason=outcome.reason,
                    message=outcome.message,
                )
            elif isinstance(outcome, ApiError | OSError):
                message = sanitise(f"{type(outcome).__name__}: {outcome}")
                retry_after = retry_after_of(outcome) if isinstance(outcome, ApiError) else None
                interruption = self._back_off(
                    request,
                    uuid,
                    memory,
                    decision,
                    reason="ProviderError",
                    message=message,
                    retry_after=retry_after,
                )
            elif isinstance(outcome, BaseException):
                raise outcome
        return interruption

    def _settle(
        self, request: LinkRequest, uuid: str, memory: LinkMemory, decision: Decision
    ) -> LinkResult:
        """The result of a settled decision: when to look again, what to remember."""
        self._peer.note_existence(uuid, memory)
        step = decision.step
        requeue: float | None
        finalized = False
        events: tuple[LinkEvent, ...] = ()
        if isinstance(step, link_state.Settled):
            # Settled: whatever failed before is behind the link.
            memory.attempts = 0
            memory.conflicts.clear()
            memory.last_interruption = None
        if isinstance(step, link_state.Done):
            requeue = float(step.recheck_seconds) if step.recheck_seconds else None
            if request.deleting:
                finalized = True
                self.forget(uuid)
                requeue = None
            else:
                # Guidance only serves allocation; a finished link holds a feature on
                # every channel (repairs re-request it), so it is not kept per link,
                # nor the copy last seen (its prefix limits are in memory.prefix_limits),
                # nor the answer those limits were read from (``prefix_basis`` holds it
                # only to skip reading it twice: ~15 KiB of RSS per Ready link otherwise).
                memory.guidance.clear()
                memory.guidance_seen.clear()
                memory.prefix_basis = None
                if self.pool.snapshot is not None:
                    self.pool.snapshot.forget_observations(uuid)
        elif isinstance(step, link_state.Fail):
            memory.failure = FailureRecord(step.reason, step.message, request.spec.generation)
            requeue = None
            events = (LinkEvent("Warning", step.reason, step.message),)
        elif isinstance(step, link_state.Wait):
            requeue = float(step.seconds)
        else:
            requeue = 1.0  # MAX_STEPS reached: continue soon, never spin
        ready_inputs = None
        if (
            isinstance(step, link_state.Done)
            and not finalized
            and decision.status.ready
            and decision.status.phase is Phase.READY
        ):
            snapshot = self.pool.snapshot
            assert snapshot is not None
            # Taken with the decision (no await between): what this Ready was decided on.
            ready_inputs = views.ready_inputs(snapshot, uuid)
        return LinkResult(
            decision.status,
            uuid,
            self.environment,
            requeue,
            finalized=finalized,
            events=events,
            ready_inputs=ready_inputs,
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
        decision = self._decider.decide(request, uuid, memory)
        return LinkResult(decision.status, uuid, self.environment, None)
