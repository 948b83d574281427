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

A step may carry the one this table would decide right after it, where the
protocol orders only those two: the remote CreateConnection carries the
guidance request (``then_guidance``, P8), a new feature's local create its
remote half (``mirror``, P5 per channel). A bring-up takes 6 decisions.

Every rule returns an :class:`~.outcome.Outcome` that names, besides the step,
what the status needs: the phase, where the link lives after the step, and why
it is stalled (no hidden state is carried from the decision to the status).
This module holds the table (concerns 2 and 3 inline), the key rule and the
rules of concern 6; the rule groups are ``removal_rules`` (1 and 4),
``placement_rules`` (5: placement, update, migration) and ``failure_rules``
(within 6: FAILED features, too few channels).
"""

from __future__ import annotations

from collections.abc import Sequence

from ..notifications import notify_targets
from ..types import (
    ConnectionView,
    InterconnectView,
    LinkFacts,
    LinkSpec,
    ProviderObservation,
    Side,
)
from .failure_rules import negotiation_failed, provisioning_failed
from .health import Health, degraded, health
from .outcome import Inputs, Outcome, Where
from .placement_rules import change_bandwidth, place_connections
from .removal_rules import deferral_timeout, delete_link, deleted_by_provider
from .status import Decision, LinkStatus, Phase, link_status
from .steps import (
    POLL,
    POLL_SLOW,
    ConfirmKey,
    CreateFeature,
    DeleteFeature,
    DeleteLocal,
    DeleteRemote,
    Done,
    Fail,
    NotifyStatus,
    RequestGuidance,
    Step,
    Wait,
)


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
    inputs = Inputs(spec, negotiator, responder, facts, pool_negotiator, pool_responder)
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
def _next(inp: Inputs, where: Where) -> Outcome:  # noqa: PLR0912
    # Long on purpose: the decision table, read top to bottom in rule order.
    spec, facts, neg, resp = inp.spec, inp.facts, inp.neg, inp.resp

    if facts.deleting:
        return delete_link(inp, where)
    if facts.failure is not None and facts.failure.generation == spec.generation:
        return Outcome(Fail(facts.failure.reason, facts.failure.message), Phase.FAILED, where)
    if spec.paused:
        wait = Wait("Paused", "reconciliation paused by annotation", POLL_SLOW)
        return Outcome(wait, Phase.PAUSED, where)

    timed_out = deferral_timeout(inp, where)
    if timed_out is not None:
        return timed_out

    deleted = deleted_by_provider(inp, where)
    if deleted is not None:
        return deleted

    key = _key(inp, where)
    if key is not None:
        return key

    placed = place_connections(inp, where)
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
        update = change_bandwidth(inp, where, working, local, remote)
        if update is not None:
            return update

    h = health(local, remote, facts.channels)
    busy_phase = Phase.MIGRATING if where.migrating_to else None

    failed = provisioning_failed(
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

    failed = negotiation_failed(h, facts, where, busy_phase)
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


def _key(inp: Inputs, where: Where) -> Outcome | None:
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


def _finish(inp: Inputs, where: Where) -> Outcome:
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
                # P5 per channel: our half first, the responder's as soon as it exists.
                steps.append(CreateFeature(working, ch, Side.NEGOTIATOR, mirror=True))
        elif lf is None:
            # The peer holds a feature we lack (status lost, or P20 repair): mirror it.
            steps.append(CreateFeature(working, ch, Side.NEGOTIATOR, copy_of=rf))
        elif rf is None:
            steps.append(CreateFeature(working, ch, Side.RESPONDER, copy_of=lf))
    return steps
