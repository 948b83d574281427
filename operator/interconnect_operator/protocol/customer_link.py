"""A link brought up through the two clouds' customer APIs: observed -> next step and status.

Pure rules, no I/O. One side (the *initiator*) creates first and its cloud
generates the activation key (P1); the other side is given that key (P2-P4
run between the providers behind the APIs). Google first: create the
transport (bandwidth, the AWS account) -> its ``generatedActivationKey`` ->
AWS AcceptConnectionProposal. AWS first: CreateConnection (the Google
project) -> its ``activationKey`` -> transports.create with
``providedActivationKey``. Ready is AWS ``available`` and Google ``ACTIVE``.

Each step is idempotent by construction (the reconciler derives clientTokens,
requestIds and the transport id from the link), so deciding again after a
crash never creates twice: what exists is adopted. Bandwidth is changed on
the initiator's side (the providers carry it to the other, P16). Deletion
removes the side that was given the key first, then the initiator's (P19), or
nothing under the Orphan policy.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from interconnect_operator.protocol.conditions import Condition, ConditionStatus
from interconnect_operator.protocol.types import DeletionPolicy

__all__ = [
    "AWS_READY",
    "GOOGLE_READY",
    "Attachment",
    "AwsSide",
    "Cloud",
    "CustomerFacts",
    "CustomerPlan",
    "CustomerTarget",
    "GoogleSide",
    "Step",
    "decide",
    "refused",
    "retrying",
]

AWS_READY = "AwsConnectionAvailable"
GOOGLE_READY = "GoogleTransportActive"


class Cloud(StrEnum):
    AWS = "aws"
    GOOGLE = "gcp"


@dataclass(frozen=True)
class Attachment:
    """Where each side attaches: a Direct Connect gateway; a VPC network or NCC hub."""

    gateway: str
    network: str | None = None
    hub: str | None = None
    advertised_routes: tuple[str, ...] = ()
    ipv6: bool = False
    """Ask Google for an IPv4 and IPv6 stack."""


@dataclass(frozen=True)
class CustomerTarget:
    """What a link on a customer pool adds to its request: who it is (ids and tokens
    derive from ``uid``), which pool provider creates first, where each side attaches."""

    uid: str
    attachment: Attachment
    initiator: str | None = None
    """A pool provider's name; None: the pool's Responder (it issues keys, P1)."""


class Step(StrEnum):
    """What to do next (at most one call on each side per step)."""

    CREATE_AWS = "CreateAwsConnection"
    CREATE_GOOGLE = "CreateGoogleTransport"
    ACCEPT_ON_AWS = "AcceptOnAws"
    CREATE_GOOGLE_WITH_KEY = "CreateGoogleTransportWithKey"
    RESIZE_AWS = "ResizeAwsConnection"
    RESIZE_GOOGLE = "ResizeGoogleTransport"
    DELETE_AWS = "DeleteAwsConnection"
    DELETE_GOOGLE = "DeleteGoogleTransport"
    WAIT = "Wait"
    DONE = "Done"
    FINALIZE = "Finalize"
    FAIL = "Fail"


@dataclass(frozen=True)
class AwsSide:
    """The AWS connection of the link, as observed."""

    id: str
    state: str
    bandwidth_mbps: int
    shared_id: str
    has_key: bool


@dataclass(frozen=True)
class GoogleSide:
    """The Google transport of the link, as observed."""

    name: str
    state: str
    bandwidth_mbps: int | None
    has_generated_key: bool


@dataclass(frozen=True)
class CustomerFacts:
    initiator: Cloud
    bandwidth_mbps: int
    generation: int
    aws: AwsSide | None
    google: GoogleSide | None
    deleting: bool = False
    deletion_policy: DeletionPolicy = DeletionPolicy.DELETE
    ever_ready: bool = False


@dataclass(frozen=True)
class CustomerPlan:
    step: Step
    phase: str
    ready: bool
    message: str
    conditions: tuple[Condition, ...]


_AWS_GONE = frozenset({"deleted"})
_AWS_BROKEN = frozenset({"failed"})
_GOOGLE_BROKEN = frozenset({"DEPROVISIONED", "SUSPENDED"})


def decide(facts: CustomerFacts) -> CustomerPlan:
    """The next step and the status to show."""
    step, phase, message = _next(facts)
    return _plan(facts, step, phase, message)


def refused(facts: CustomerFacts, message: str, *, reason: str = "Refused") -> CustomerPlan:
    """A cloud refused a step in a way only the user can fix (credentials, a bad request)."""
    return _plan(facts, Step.FAIL, "Failed", message, stalled_reason=reason)


def retrying(facts: CustomerFacts, message: str) -> CustomerPlan:
    """A step met a transient error (throttling, a 5xx, no answer): try again soon."""
    phase = "Deleting" if facts.deleting else "Pending"
    return _plan(facts, Step.WAIT, phase, message)


def _next(f: CustomerFacts) -> tuple[Step, str, str]:
    if f.deleting:
        return _delete(f)
    aws_live = f.aws is not None and f.aws.state not in _AWS_GONE
    if f.aws is not None and f.aws.state in _AWS_BROKEN:
        return Step.FAIL, "Failed", "AWS reports the connection failed"
    if f.aws is not None and f.aws.state in _AWS_GONE:
        # Deleted outside the operator: its key is spent (P19) and the same tokens
        # would only replay the deletion; a new link is the way back.
        return Step.FAIL, "Failed", "AWS reports the connection deleted outside the operator"
    if f.google is not None and f.google.state in _GOOGLE_BROKEN:
        reason = "suspended" if f.google.state == "SUSPENDED" else "deprovisioned by AWS's side"
        return Step.FAIL, "Failed", f"Google reports the transport {reason}"
    if f.aws is not None and f.aws.state == "down" and f.ever_ready:
        return Step.FAIL, "Degraded", "AWS reports the connection down"
    first = _bring_up(f, aws_live)
    if first is not None:
        return first
    assert f.aws is not None
    assert f.google is not None
    if _ready(f):
        if f.aws.bandwidth_mbps != f.bandwidth_mbps:
            resize = Step.RESIZE_AWS if f.initiator is Cloud.AWS else Step.RESIZE_GOOGLE
            return resize, "Updating", f"P16: resizing to {f.bandwidth_mbps} Mbps"
        return Step.DONE, "Ready", "AWS available, Google ACTIVE"
    if f.aws.state == "updating":
        return Step.WAIT, "Updating", "AWS is applying the new bandwidth"
    return Step.WAIT, "Provisioning", (f"waiting: AWS {f.aws.state}, Google {f.google.state}")


def _bring_up(f: CustomerFacts, aws_live: bool) -> tuple[Step, str, str] | None:
    """The creation steps, in the initiator's order; None once both sides exist."""
    if f.initiator is Cloud.GOOGLE:
        if f.google is None:
            return (
                Step.CREATE_GOOGLE,
                "Pending",
                "creating the Google transport (it issues the key)",
            )
        if not aws_live:
            if not f.google.has_generated_key:
                return Step.WAIT, "Pending", f"waiting for Google's key ({f.google.state})"
            return Step.ACCEPT_ON_AWS, "Negotiating", "handing Google's key to AWS"
        return None
    if not aws_live:
        return Step.CREATE_AWS, "Pending", "creating the AWS connection (it issues the key)"
    if f.google is None:
        assert f.aws is not None
        if not f.aws.has_key:
            return Step.WAIT, "Pending", f"waiting for AWS's key ({f.aws.state})"
        return Step.CREATE_GOOGLE_WITH_KEY, "Negotiating", "handing AWS's key to Google"
    return None


def _ready(f: CustomerFacts) -> bool:
    return (
        f.aws is not None
        and f.google is not None
        and f.aws.state == "available"
        and f.google.state == "ACTIVE"
    )


def _delete(f: CustomerFacts) -> tuple[Step, str, str]:
    if f.deletion_policy is DeletionPolicy.ORPHAN:
        return Step.FINALIZE, "Deleting", "Orphan: both sides are left in place"
    aws_present = f.aws is not None and f.aws.state not in _AWS_GONE
    google_present = f.google is not None
    # The side that was given the key goes first; then the one that issued it.
    order = (Cloud.AWS, Cloud.GOOGLE) if f.initiator is Cloud.GOOGLE else (Cloud.GOOGLE, Cloud.AWS)
    for cloud in order:
        if cloud is Cloud.AWS and aws_present:
            assert f.aws is not None
            if f.aws.state == "deleting":
                return Step.WAIT, "Deleting", "AWS is deleting the connection"
            return Step.DELETE_AWS, "Deleting", "deleting the AWS connection"
        if cloud is Cloud.GOOGLE and google_present:
            assert f.google is not None
            if f.google.state == "DELETING":
                return Step.WAIT, "Deleting", "Google is deleting the transport"
            return Step.DELETE_GOOGLE, "Deleting", "deleting the Google transport"
    return Step.FINALIZE, "Deleting", "both sides are gone"


def _plan(
    f: CustomerFacts, step: Step, phase: str, message: str, *, stalled_reason: str | None = None
) -> CustomerPlan:
    # Resizing keeps serving at the old bandwidth: still Ready.
    ready = _ready(f) and not f.deleting and step is not Step.FAIL
    gen = f.generation
    aws_ok = f.aws is not None and f.aws.state == "available"
    google_ok = f.google is not None and f.google.state == "ACTIVE"
    key_handed = (f.initiator is Cloud.GOOGLE and f.aws is not None) or (
        f.initiator is Cloud.AWS and f.google is not None
    )
    failed = step is Step.FAIL
    working = not failed and step not in (Step.DONE, Step.FINALIZE)
    conditions = (
        _cond("Ready", ready, "Ready" if ready else phase, message, gen),
        _cond(
            AWS_READY,
            aws_ok,
            "Available" if aws_ok else _camel(f.aws.state if f.aws else "absent"),
            f"AWS connection {f.aws.id} is {f.aws.state}" if f.aws else "no AWS connection yet",
            gen,
        ),
        _cond(
            GOOGLE_READY,
            google_ok,
            "Active" if google_ok else _camel(f.google.state if f.google else "absent"),
            f"Google transport is {f.google.state}" if f.google else "no Google transport yet",
            gen,
        ),
        _cond(
            "KeyConfirmed",
            key_handed,
            "KeyHandedOver" if key_handed else "KeyPending",
            "the key was given to the other cloud" if key_handed else "",
            gen,
        ),
        _cond(
            "Reconciling",
            working,
            step.value if working else "Idle",
            message if working else "",
            gen,
        ),
        _cond(
            "Stalled",
            failed,
            (stalled_reason or _camel(phase)) if failed else "NotStalled",
            message if failed else "",
            gen,
        ),
    )
    return CustomerPlan(
        step, "Failed" if failed and phase != "Degraded" else phase, ready, message, conditions
    )


def _cond(type_: str, value: bool, reason: str, message: str, gen: int) -> Condition:
    status = ConditionStatus.TRUE if value else ConditionStatus.FALSE
    return Condition(type_, status, reason, message, gen)


def _camel(text: str) -> str:
    return "".join(part.capitalize() for part in text.replace("-", "_").lower().split("_"))
