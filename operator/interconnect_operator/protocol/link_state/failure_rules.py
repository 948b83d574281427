"""The rules that stop a bring-up short: FAILED features (feature-recovery draft, P20)
and too few channels to negotiate (P12).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

from ..types import MIN_CHANNELS, ConnectionView, FeatureFailure, LinkFacts, Side
from .health import Health
from .outcome import Inputs, Outcome, Where
from .status import Phase
from .steps import POLL, POLL_SLOW, DeleteFeature, Fail, Step, Wait

__all__ = ["RETRYABLE_FAILURE_GRACE", "negotiation_failed", "provisioning_failed"]

#: How long a failure the provider calls retryable is left to the provider's own
#: retries (the draft allows at most 5 attempts, Retry-After respected) before
#: the link reports it as terminal.
RETRYABLE_FAILURE_GRACE: Final = timedelta(minutes=30)


def provisioning_failed(
    inp: Inputs,
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


def negotiation_failed(
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
