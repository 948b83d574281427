"""The decision table of the link state machine: observed state of both sides -> next step.

``decide()`` is a pure function. The reconcile layer reads both providers,
fills a :class:`~..types.LinkFacts` from the link's status, calls ``decide``,
performs ``decision.step`` (or all of ``decision.concurrent``, which are
independent of each other), writes ``decision.status`` and calls again.

Order of concerns, first match wins:

1. deletion (P19): ``Orphan`` stops managing and touches nothing; ``Delete``
   removes the remote connection first, then the local one. Reverse order of
   creation (P5 creates local first) and the order P23 prescribes for a
   rollback: the peer is told the customer wants the link gone while our own
   connection still exists, so if the operator dies in between, the leftover
   is on our side where the next reconcile (or P21's 7-day rule) finds it;
2. a terminal failure recorded for this generation stays (change the spec to retry);
3. pause: nothing is done, status still reported;
4. deferral timeout (P23): roll back remote then local, then fail;
   a connection a provider deleted (P19 from its side): report it and stop,
   or, when the user opted in, delete what is left and renew the key;
5. key (P2-P3); placement (P6-P7, P5 local first); bandwidth update in
   place (P16-P17) or migration (P18, make before break);
6. guidance (P8), features (P9-P11, local then remote per channel),
   notifications (P14), then wait for FINAL and VERIFIED.

Every rule returns an :class:`Outcome` that names, besides the step, what the
status needs: the phase, where the link lives after the step, and why it is
stalled (no hidden state is carried from the decision to the status).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Final

from ..notifications import notify_targets
from ..placement import NoCapacity, candidates, pair_views, place
from ..types import (
    MIN_CHANNELS,
    ConnectionView,
    DeletionPolicy,
    FeatureFailure,
    InterconnectView,
    LinkFacts,
    LinkSpec,
    ProviderObservation,
    Side,
)
from .health import Health, degraded, health
from .status import Decision, LinkStatus, Phase, link_status
from .steps import (
    POLL,
    POLL_SLOW,
    ConfirmKey,
    CreateFeature,
    CreateLocalConnection,
    CreateRemoteConnection,
    DeleteFeature,
    DeleteLocal,
    DeleteRemote,
    Done,
    Fail,
    Migrate,
    NotifyStatus,
    RenewKey,
    RequestGuidance,
    Step,
    UpdateBandwidth,
    Wait,
)


@dataclass(frozen=True)
class Where:
    """Where the link lives: its interconnect and, during a migration (P18), the target."""

    interconnect: str | None
    migrating_to: str | None = None

    @property
    def working(self) -> str | None:
        """The interconnect steps act on: the migration target while there is one."""
        return self.migrating_to or self.interconnect


@dataclass(frozen=True)
class Outcome:
    """A rule's answer: the step(s), the phase, and what the status must show."""

    step: Step
    phase: Phase
    where: Where
    concurrent: tuple[Step, ...] = ()
    stalled: str | None = None
    """Reason of the Stalled condition when the link cannot progress without a change."""
    no_capacity: str | None = None
    """Why placement found no room (P6-P7, P18): the Placed condition's message."""


@dataclass(frozen=True)
class _Inputs:
    spec: LinkSpec
    neg: ProviderObservation
    resp: ProviderObservation
    facts: LinkFacts
    pool_neg: Sequence[InterconnectView]
    pool_resp: Sequence[InterconnectView]

    def both_present(self, interconnect: str | None) -> bool:
        return self.neg.on(interconnect) is not None and self.resp.on(interconnect) is not None


def decide(
    spec: LinkSpec,
    negotiator: ProviderObservation,
    responder: ProviderObservation,
    facts: LinkFacts,
    *,
    pool_negotiator: Sequence[InterconnectView] = (),
    pool_responder: Sequence[InterconnectView] = (),
) -> Decision:
    """The next step for a link and the status to show.

    ``pool_*`` are both sides' interconnect views (with reservations), needed
    for placement (P6-P7) and bandwidth updates (P16-P18).
    """
    inputs = _Inputs(spec, negotiator, responder, facts, pool_negotiator, pool_responder)
    where = Where(
        facts.interconnect or observed_interconnect(negotiator, responder), facts.migrating_to
    )
    outcome = _next(inputs, where)

    def status() -> LinkStatus:
        return link_status(
            spec,
            negotiator,
            responder,
            facts,
            step=outcome.step,
            phase=outcome.phase,
            interconnect=outcome.where.interconnect,
            migrating_to=outcome.where.migrating_to,
            stalled=outcome.stalled,
            no_capacity=outcome.no_capacity,
        )

    return Decision(outcome.step, status, outcome.concurrent)


def observed_interconnect(neg: ProviderObservation, resp: ProviderObservation) -> str | None:
    """Where the link lives when status was lost: the local side decides (P5)."""
    for obs in (neg, resp):
        if obs.connections:
            return sorted(obs.connections)[0]
    return None


# Long on purpose: the decision table.
def _next(inp: _Inputs, where: Where) -> Outcome:  # noqa: PLR0912
    # Long on purpose: the decision table, read top to bottom in rule order.
    spec, facts, neg, resp = inp.spec, inp.facts, inp.neg, inp.resp

    if facts.deleting:
        return _delete(inp, where)
    if facts.failure is not None and facts.failure.generation == spec.generation:
        return Outcome(Fail(facts.failure.reason, facts.failure.message), Phase.FAILED, where)
    if spec.paused:
        wait = Wait("Paused", "reconciliation paused by annotation", POLL_SLOW)
        return Outcome(wait, Phase.PAUSED, where)

    timed_out = _deferral_timeout(inp, where)
    if timed_out is not None:
        return timed_out

    deleted = _deleted_by_provider(inp, where)
    if deleted is not None:
        return deleted

    key = _key(inp, where)
    if key is not None:
        return key

    placed = _place(inp, where)
    if isinstance(placed, Outcome):
        return placed
    where = placed

    working = where.working
    assert working is not None
    local = neg.on(working)
    remote = resp.on(working)
    assert local is not None
    assert remote is not None

    if where.migrating_to is None:
        update = _update(inp, where, working, local, remote)
        if update is not None:
            return update

    h = health(local, remote, facts.channels)
    busy_phase = Phase.MIGRATING if where.migrating_to else None

    failed = _provisioning_failed(
        inp, where, working=working, local=local, remote=remote, busy_phase=busy_phase
    )
    if failed is not None:
        return failed

    if facts.deferred:
        # P22: the peer drives guidance, features and notifications.
        if h.ready:
            return _finish(inp, where)
        wait = Wait("DeferredToPeer", "P22: the peer drives provisioning", POLL)
        return Outcome(wait, busy_phase or progress_phase(h, facts), where)

    if not facts.guidance_ready:
        return Outcome(RequestGuidance(working), busy_phase or Phase.NEGOTIATING, where)
    if not h.channels:
        wait = Wait("NoChannels", "guidance names no channel", POLL_SLOW)
        return Outcome(wait, busy_phase or Phase.NEGOTIATING, where, stalled="NoChannels")

    feature_steps = _feature_steps(working, local, remote, h.channels, facts)
    if feature_steps:
        # A link that was Ready and is repairing a lost feature (P20) is Degraded
        # meanwhile (P12), not back to Negotiating.
        repairing = progress_phase(h, facts) if facts.ever_ready else Phase.NEGOTIATING
        return Outcome(
            feature_steps[0], busy_phase or repairing, where, concurrent=tuple(feature_steps)
        )

    failed = _negotiation_failed(h, facts, where, busy_phase)
    if failed is not None:
        return failed

    required = [c for c in h.channels if c not in facts.disabled_channels]
    targets = notify_targets(
        local, remote, h.negotiated, facts.notified_at, facts.now, required=required
    )
    # P16: "notify when done": after an update both sides are told, verified or not.
    targets += [s for s in (Side.RESPONDER, Side.NEGOTIATOR) if s in facts.notify_after_update]
    notify = [NotifyStatus(working, target) for target in dict.fromkeys(targets)]
    if notify:
        phase = busy_phase or progress_phase(h, facts)
        return Outcome(notify[0], phase, where, concurrent=tuple(notify))

    if h.ready:
        return _finish(inp, where)
    blocked = [c for c in required if c not in h.negotiated and c in facts.blocked_channels]
    if blocked:
        # P12: traffic may flow on the others, but no notification and no
        # verification before every required channel is FINAL.
        detail = "; ".join(facts.blocked_channels[c] for c in blocked)
        message = (
            f"P12: {len(h.negotiated)}/{len(h.channels)} channels negotiated; blocked: "
            f"{detail}; retried when the provider's data for the channel changes"
        )
        wait = Wait("ChannelBlocked", message, POLL)
        return Outcome(wait, busy_phase or progress_phase(h, facts), where)
    return _await_provider(h, busy_phase or progress_phase(h, facts), where)


#: How long a failure the provider calls retryable is left to the provider's own
#: retries (the draft allows at most 5 attempts, Retry-After respected) before
#: the link reports it as terminal.
RETRYABLE_FAILURE_GRACE: Final = timedelta(minutes=30)


def _provisioning_failed(
    inp: _Inputs,
    where: Where,
    *,
    working: str,
    local: ConnectionView,
    remote: ConnectionView,
    busy_phase: Phase | None,
) -> Outcome | None:
    """Features a provider reports FAILED (feature-recovery draft): never waited on forever.

    A failure the provider marks retryable, observed less than
    ``RETRYABLE_FAILURE_GRACE`` ago, is the provider's to retry: the link waits
    (Ready False, not stalled). Anything else fails the link for this
    generation (Ready False, Stalled True, ``ProvisioningFailed``, the
    provider's message). Recovery: a spec change deletes the FAILED features
    once so they are created afresh (P20, the channel's owner recreates them),
    or delete the link.
    """
    failed = [
        (channel, side, feature)
        for channel in sorted(set(local.features) | set(remote.features))
        for side, conn in ((Side.NEGOTIATOR, local), (Side.RESPONDER, remote))
        if (feature := conn.features.get(channel)) is not None and feature.failed
    ]
    if not failed:
        return None
    facts = inp.facts
    if facts.retry_failed_features and not facts.deferred:
        steps: tuple[Step, ...] = tuple(
            DeleteFeature(working, channel, side, "FAILED at the provider; created afresh (P20)")
            for channel, side, _ in failed
        )
        return Outcome(steps[0], busy_phase or Phase.NEGOTIATING, where, concurrent=steps)
    detail = "; ".join(_failure_text(channel, side, f.failure) for channel, side, f in failed)
    if all(_provider_retries(f.failure, facts.now) for _, _, f in failed):
        message = f"provider retries FAILED features: {detail}"
        wait = Wait("ProvisioningRetrying", message, POLL)
        return Outcome(wait, busy_phase or Phase.PROVISIONING, where)
    message = (
        f"{len(failed)} feature(s) FAILED at the provider: {detail}. Change the spec to "
        "delete and recreate them, or delete the link"
    )
    return Outcome(Fail("ProvisioningFailed", message), Phase.FAILED, where)


def _provider_retries(failure: FeatureFailure | None, now: datetime) -> bool:
    return (
        failure is not None
        and failure.retryable
        and failure.observed_at is not None
        and now - failure.observed_at < RETRYABLE_FAILURE_GRACE
    )


def _failure_text(channel: str, side: Side, failure: FeatureFailure | None) -> str:
    if failure is None:
        return f"{channel} on {side.value} (no failureInfo)"
    code = f"{failure.code}: " if failure.code else ""
    retry = ", retryable" if failure.retryable else ""
    return f"{channel} on {side.value} ({code}{failure.message or 'no message'}{retry})"


def _deferral_timeout(inp: _Inputs, where: Where) -> Outcome | None:
    """P23: the deferring side rolls back what the peer did not finalise in time.

    The timeout counts from the deferred CreateConnection (not from the link's
    creation: time spent waiting for capacity is not the peer's). A link that
    was ever finalised, and a link being updated or migrated (P16-P18), is
    never rolled back: its connection carries traffic.
    """
    facts = inp.facts
    if (
        not facts.deferred
        or facts.deferral_timeout is None
        or facts.deferred_since is None
        or facts.ever_ready
        or where.migrating_to is not None
        or facts.now - facts.deferred_since <= facts.deferral_timeout
    ):
        return None
    working = where.working
    local, remote = inp.neg.on(working), inp.resp.on(working)
    if health(local, remote, facts.channels).ready:
        return None
    want = inp.spec.bandwidth_mbps
    if any(c is not None and c.bandwidth_mbps != want for c in (local, remote)):
        return None  # an update in place (P16-P17) is under way
    rollback = _delete_all(inp)
    if rollback is not None:
        return Outcome(rollback[0], Phase.DELETING, where, concurrent=rollback)
    hours = facts.deferral_timeout.total_seconds() / 3600
    message = f"P23: not finalised within the deferral timeout of {hours:g}h; rolled back"
    return Outcome(Fail("DeferralTimeout", message), Phase.FAILED, where)


def _deleted_by_provider(inp: _Inputs, where: Where) -> Outcome | None:
    """P19 from a provider's side: the link's connection existed there and is gone.

    The customer cancelled at that provider; its key and shared UUID are
    consumed (P3, P19) and are never used again. Default: report and wait for
    the user. Opted in (``facts.recreate``): remove what is left, peer first,
    then renew the key, which gives the link a new shared UUID.
    """
    facts = inp.facts
    if not facts.deleted_by:
        return None
    sides = sorted(facts.deleted_by)
    who = " and ".join(facts.deleted_by[s] for s in sides)
    if len(sides) == 2:
        reason = "DeletedByBothProviders"
    else:
        reason = f"DeletedBy{sides[0].value.capitalize()}"
    if facts.recreate:
        leftovers = _delete_all(inp)
        if leftovers is not None:
            return Outcome(leftovers[0], Phase.PENDING, where, concurrent=leftovers)
        message = f"P19: {who} deleted the connection; starting over with a fresh key (P1)"
        return Outcome(RenewKey(reason, message), Phase.PENDING, Where(None))
    message = (
        f"P19: {who} deleted the connection (the customer's intent at that provider); "
        "its activation key and shared UUID are consumed and not reused. Delete the link "
        "(what is left goes with it) or give it a new key"
    )
    return Outcome(Fail(reason, message), Phase.FAILED, where)


def _key(inp: _Inputs, where: Where) -> Outcome | None:
    """P2-P3: confirm the key first; a refusal deletes what was created for it, then fails."""
    facts = inp.facts
    if facts.key_confirmed or inp.resp.present:
        return None
    if facts.key_refused is None:
        return Outcome(ConfirmKey(), Phase.PENDING, where)
    # P3: must not proceed, and should delete what it created for it.
    leftover = sorted(inp.neg.connections)
    if leftover:
        return Outcome(DeleteLocal(leftover[0]), Phase.PENDING, where)
    return Outcome(Fail("KeyRefused", f"P3: {facts.key_refused}"), Phase.FAILED, where)


def _negotiation_failed(
    h: Health, facts: LinkFacts, where: Where, busy_phase: Phase | None
) -> Outcome | None:
    """P12: fewer than MIN_CHANNELS channels can ever be negotiated."""
    possible = [c for c in h.channels if c not in facts.blocked_channels]
    if len(h.negotiated) >= MIN_CHANNELS or len(possible) >= MIN_CHANNELS:
        return None
    blocked = "; ".join(f"{c}: {r}" for c, r in sorted(facts.blocked_channels.items()))
    blocked = blocked or f"the interconnect has only {len(h.channels)} channels"
    wait = Wait(
        "NegotiationFailed",
        f"P12: fewer than {MIN_CHANNELS} channels can be negotiated ({blocked})",
        POLL_SLOW,
    )
    return Outcome(wait, busy_phase or Phase.NEGOTIATING, where, stalled="NegotiationFailed")


def _await_provider(h: Health, phase: Phase, where: Where) -> Outcome:
    """Everything is asked: wait for FINAL (P13), then for VERIFIED (P14)."""
    if not h.all_final:
        msg = f"{len(h.final)}/{len(h.channels)} channels FINAL on both sides (P13)"
        return Outcome(Wait("WaitingForProvisioning", msg, POLL), phase, where)
    message = f"P14: unverified on {', '.join(h.unverified)}"
    return Outcome(Wait("WaitingForVerification", message, POLL), phase, where)


def progress_phase(h: Health, facts: LinkFacts) -> Phase:
    """The phase of a placed link still on its way to Ready."""
    if degraded(h, facts.blocked_channels, facts.ever_ready):
        return Phase.DEGRADED
    if len(h.negotiated) < len(h.channels):
        return Phase.NEGOTIATING
    if not h.all_final:
        return Phase.PROVISIONING
    return Phase.VERIFYING


def _finish(inp: _Inputs, where: Where) -> Outcome:
    """Working interconnect ready: complete a migration (P18) or report Ready."""
    old = where.interconnect
    if where.migrating_to is not None and old is not None and old != where.migrating_to:
        # P18: the new connection is up; now break the old one, peer first (P19).
        if inp.resp.on(old) is not None:
            return Outcome(DeleteRemote(old), Phase.MIGRATING, where)
        if inp.neg.on(old) is not None:
            return Outcome(DeleteLocal(old), Phase.MIGRATING, where)
    if where.migrating_to is not None:
        where = Where(where.migrating_to)
    return Outcome(Done("Ready", POLL_SLOW), Phase.READY, where)


def _delete_all(inp: _Inputs) -> tuple[Step, ...] | None:
    """Every connection of the link, the peer's first (P19, P23)."""
    remote = tuple(DeleteRemote(i) for i in sorted(inp.resp.connections))
    if remote:
        return remote
    local = tuple(DeleteLocal(i) for i in sorted(inp.neg.connections))
    return local or None


def _delete(inp: _Inputs, where: Where) -> Outcome:
    if inp.spec.deletion_policy is DeletionPolicy.ORPHAN:
        return Outcome(Done("Orphaned"), Phase.DELETING, where)
    steps = _delete_all(inp)
    if steps is not None:
        return Outcome(steps[0], Phase.DELETING, where, concurrent=steps)
    return Outcome(Done("Deleted"), Phase.DELETING, where)


def _place(inp: _Inputs, where: Where) -> Outcome | Where:
    """P5-P7: make sure both connections exist on the working interconnect.

    Returns the step that gets them there, or where the link lives once they do.
    """
    facts, neg, resp = inp.facts, inp.neg, inp.resp
    phase = Phase.MIGRATING if where.migrating_to else Phase.PLACING
    working = where.working

    # P6: the peer answered 409 there. Undo our side, then place elsewhere.
    if working is not None and working in facts.rejected_interconnects and resp.on(working) is None:
        if neg.on(working) is not None:
            return Outcome(DeleteLocal(working), phase, where)
        if where.migrating_to:
            # Back to the old interconnect; a new target is chosen by _update.
            back = Where(where.interconnect)
            return back if inp.both_present(back.interconnect) else _place(inp, back)
        where = Where(None)
        working = None

    if working is None:
        # A TEST connection holds no capacity (upstream PR #57): any ACTIVE interconnect.
        choice = place(
            inp.pool_neg,
            inp.pool_resp,
            inp.spec.reserved_mbps,
            facts.shared_uuid,
            exclude=facts.rejected_interconnects,
        )
        if isinstance(choice, NoCapacity):
            wait = Wait("NoCapacity", choice.message, POLL_SLOW // 5)
            return Outcome(
                wait, Phase.PLACING, where, stalled="NoCapacity", no_capacity=choice.message
            )
        step = CreateLocalConnection(choice.id, inp.spec.bandwidth_mbps)
        return Outcome(step, Phase.PLACING, replace(where, interconnect=choice.id))

    if neg.on(working) is None:
        return Outcome(CreateLocalConnection(working, inp.spec.bandwidth_mbps), phase, where)
    local = neg.on(working)
    if resp.on(working) is None:
        assert local is not None
        step_ = CreateRemoteConnection(working, local.bandwidth_mbps, facts.deferred)
        return Outcome(step_, phase, where)
    return where


def _update(
    inp: _Inputs, where: Where, working: str, local: ConnectionView, remote: ConnectionView
) -> Outcome | None:
    """P16-P18: change bandwidth in place when the interconnect has room, else migrate."""
    want = inp.spec.bandwidth_mbps
    if local.bandwidth_mbps == want and remote.bandwidth_mbps == want:
        return None
    if inp.facts.update_in_progress:
        wait = Wait(
            "UpdateInProgress",
            "P17: the provider is processing an update of this connection (409)",
            max(1, inp.facts.update_wait_seconds),
        )
        return Outcome(wait, Phase.UPDATING, where)
    if _fits_in_place(inp, working, local, remote):
        # P16 in the spec's order: the local provider first (it checks its own
        # capacity), then it confirms with the peer.
        side = Side.NEGOTIATOR if local.bandwidth_mbps != want else Side.RESPONDER
        return Outcome(UpdateBandwidth(working, side, want), Phase.UPDATING, where)
    exclude = {working, *inp.facts.rejected_interconnects}
    reserved = inp.spec.reserved_mbps
    found = candidates(
        inp.pool_neg, inp.pool_resp, reserved, inp.facts.shared_uuid, exclude=exclude
    )
    if not found:
        choice = place(
            inp.pool_neg, inp.pool_resp, reserved, inp.facts.shared_uuid, exclude=exclude
        )
        detail = choice.message if isinstance(choice, NoCapacity) else ""
        why = f"P18: {working} lacks room for {want} Mbps and no other interconnect fits: {detail}"
        wait = Wait("NoCapacity", why, POLL_SLOW // 5)
        return Outcome(wait, Phase.UPDATING, where, stalled="NoCapacity", no_capacity=why)
    target = found[0].id
    return Outcome(
        Migrate(working, target, want), Phase.MIGRATING, replace(where, migrating_to=target)
    )


def _fits_in_place(
    inp: _Inputs, working: str, local: ConnectionView, remote: ConnectionView
) -> bool:
    """Room for the change on both sides of the current interconnect (P16).

    Each side's reservation already counts that side's current bandwidth, so
    each side needs room for the difference only. Without a pool view the
    peer decides (it answers 409 when the change does not fit).
    """
    want = inp.spec.bandwidth_mbps
    if inp.spec.test_connection:
        return True  # a TEST connection holds no capacity (upstream PR #57)
    pairs = {c.id: c for c in pair_views(inp.pool_neg, inp.pool_resp)}
    cap = pairs.get(working)
    if cap is None or cap.negotiator is None or cap.responder is None:
        return True
    return (
        cap.negotiator.free_mbps >= want - local.bandwidth_mbps
        and cap.responder.free_mbps >= want - remote.bandwidth_mbps
    )


def _feature_steps(
    working: str,
    local: ConnectionView,
    remote: ConnectionView,
    channels: Sequence[str],
    facts: LinkFacts,
) -> list[Step]:
    """One step per channel that lacks a feature on a side (channels are independent, P10)."""
    steps: list[Step] = []
    for ch in channels:
        lf = local.features.get(ch)
        rf = remote.features.get(ch)
        if ch in facts.rejected_features and lf is not None and rf is None:
            # P10: a refused channel restarts from fresh guidance.
            steps.append(
                DeleteFeature(working, ch, Side.NEGOTIATOR, f"P10: {facts.rejected_features[ch]}")
            )
        elif lf is None and rf is None:
            if ch not in facts.blocked_channels:
                steps.append(CreateFeature(working, ch, Side.NEGOTIATOR))
        elif lf is None:
            # The peer holds a feature we lack (status lost, or P20 repair): mirror it.
            steps.append(CreateFeature(working, ch, Side.NEGOTIATOR, copy_of=rf))
        elif rf is None:
            steps.append(CreateFeature(working, ch, Side.RESPONDER, copy_of=lf))
    return steps
