"""Results of a link reconcile that does not come straight from a decision.

Bad input, paused links and provider errors: the status to show (built with
the protocol's condition helpers) and when to look again.
"""

from __future__ import annotations

from dataclasses import replace

from interconnect_operator.protocol.conditions import (
    ConditionStatus,
    LinkConditionType,
    not_reconciled,
)
from interconnect_operator.protocol.link_state import POLL_SLOW, Decision, LinkStatus, Phase, Step
from interconnect_operator.protocol.types import FailureRecord

from .types import TRANSIENT_RETRY_SECONDS, LinkEvent, LinkRequest, LinkResult


def bare_status(
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


def failed(
    request: LinkRequest, uuid: str | None, environment: str, reason: str, message: str
) -> LinkResult:
    """Terminal for this generation: only a change of the link helps."""
    status = bare_status(request, Phase.FAILED, reason, message, stalled=True)
    return LinkResult(
        status, uuid, environment, None, events=(LinkEvent("Warning", reason, message),)
    )


def transient(
    request: LinkRequest, uuid: str | None, environment: str, reason: str, message: str
) -> LinkResult:
    """Not decidable now (a provider is unreadable or refused for the moment): look again."""
    status = bare_status(request, Phase.PENDING, reason, message)
    return LinkResult(
        status,
        uuid,
        environment,
        TRANSIENT_RETRY_SECONDS * 2,
        events=(LinkEvent("Warning", reason, message),),
    )


def interrupted(
    decision: Decision,
    request: LinkRequest,
    uuid: str,
    environment: str,
    *,
    reason: str,
    message: str,
    retry_after: float,
) -> LinkResult:
    """A step could not be carried out: the decision's status naming why, and a retry."""
    return LinkResult(
        status_with(decision, request, reason, message),
        uuid,
        environment,
        retry_after,
        events=(LinkEvent("Warning", reason, message),),
    )


def status_with(
    decision: Decision, request: LinkRequest, reason: str, message: str, *, stalled: bool = False
) -> LinkStatus:
    """The decision's status, with Ready/Reconciling naming the provider error.

    ``stalled``: the provider refused for good (P32 400); Stalled is True and
    Reconciling False until the spec or the provider's data changes.
    """
    gen = request.spec.generation
    conditions = []
    for cond in decision.status.conditions:
        if cond.type == LinkConditionType.READY and not cond.is_true:
            shown = replace(cond, reason=reason, message=message, observed_generation=gen)
        elif cond.type == LinkConditionType.READY and stalled:
            shown = replace(
                cond,
                status=ConditionStatus.FALSE,
                reason=reason,
                message=message,
                observed_generation=gen,
            )
        elif cond.type == LinkConditionType.RECONCILING:
            shown = replace(
                cond,
                status=ConditionStatus.FALSE if stalled else ConditionStatus.TRUE,
                reason=reason,
                message=message,
                observed_generation=gen,
            )
        elif cond.type == LinkConditionType.STALLED and stalled:
            shown = replace(
                cond,
                status=ConditionStatus.TRUE,
                reason=reason,
                message=message,
                observed_generation=gen,
            )
        else:
            shown = cond
        conditions.append(shown)
    ready = decision.status.ready and not stalled
    return replace(decision.status, conditions=tuple(conditions), message=message, ready=ready)


def no_progress(step: Step) -> str:
    return f"step {step.kind} repeated or cycled without progress; backing off"


def refused(
    decision: Decision, request: LinkRequest, uuid: str, environment: str, message: str
) -> LinkResult:
    """Every step the link needs was refused (400): stalled, no call until a change."""
    return LinkResult(
        status_with(decision, request, "ProviderRefused", message, stalled=True),
        uuid,
        environment,
        float(POLL_SLOW),
    )
