"""Values the link reconciler takes, returns and remembers between calls.

``LinkRequest`` is one MulticloudLink reduced to what reconciliation needs,
``LinkResult`` what to write and when to look again, ``LinkMemory`` what the
reconciler remembers per shared UUID in process (all of it can be lost and
is rebuilt from the providers and the link's status).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field

from interconnect_operator.api.errors import InvalidRequest
from interconnect_operator.protocol import link_state
from interconnect_operator.protocol.customer_link import CustomerTarget
from interconnect_operator.protocol.link_state import LinkStatus
from interconnect_operator.protocol.retry_discipline import Refusal
from interconnect_operator.protocol.types import (
    FailureRecord,
    FeatureView,
    GuidanceView,
    LinkSpec,
    Secret,
    Side,
)

#: Most decide/act rounds in one reconcile call (then continue soon, never spin).
MAX_STEPS = 64
#: Seconds before a reconcile that met a transient provider error runs again.
TRANSIENT_RETRY_SECONDS = 5.0


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
    customer: CustomerTarget | None = None
    """Set for links on a pool of the clouds' customer APIs (``reconcile.customer``)."""
    existed_on: Mapping[Side, str] = field(default_factory=dict)
    """Sides whose provider held the link's connection, and on which interconnect
    (from the link's status: it survives a restart)."""
    deferred_since: dt.datetime | None = None
    """When the deferred CreateConnection reached the peer (from status, P23)."""
    prefix_limits: Mapping[Side, int] = field(default_factory=dict)
    """Each side's maxReceivedBgpRoutePrefixes as the status last showed it."""
    request_ids: Mapping[str, str] = field(default_factory=dict)
    """requestIds of creates whose outcome was unknown, as the status kept them."""


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
    request_ids: Mapping[str, str] = field(default_factory=dict)
    """requestIds to keep in status: creates whose outcome is still unknown (P33)."""
    ready_inputs: tuple[object, ...] | None = None
    """For a link found Ready: the provider data its decision read
    (``views.ready_inputs``), taken at that decision; None otherwise."""


@dataclass
class LinkMemory:
    """What the reconciler remembers between calls for one shared UUID (in process only).

    Everything here can be lost: after a restart it is rebuilt from the
    providers (the snapshot) and the link's status.
    """

    key: Secret | None = field(default=None, repr=False)
    key_confirmed: bool = False
    request_ids: dict[str, str] = field(default_factory=dict)
    """requestIds (feature-recovery draft) of creates whose outcome is unknown, by
    call and body digest: the retry after the read (P33) sends the same one."""
    key_refused: str | None = None
    interconnect: str | None = None
    migrating_to: str | None = None
    rejected_at: dict[str, dt.datetime] = field(default_factory=dict)
    """Interconnects that answered CreateConnection with 409, and when (they expire, P6)."""
    guidance: dict[str, tuple[dict[str, GuidanceView], dict[str, GuidanceView]]] = field(
        default_factory=dict
    )
    blocked_channels: dict[str, str] = field(default_factory=dict)
    blocked_basis: dict[str, tuple[str, str]] = field(default_factory=dict)
    """Channel -> the provider data it was blocked on (P12: a change unblocks it)."""
    guidance_seen: dict[str, tuple[dict[str, GuidanceView], dict[str, GuidanceView]]] = field(
        default_factory=dict
    )
    """The latest guidance fetched per interconnect (kept across P10 restarts)."""
    refused_on: dict[str, tuple[str, str]] = field(default_factory=dict)
    """Channel -> the guidance a proposal refused with 400 was made from, and why (P10)."""
    refresh_own_guidance: bool = False
    """The negotiator's cached guidance is suspect (P10 restart, 400): read it again."""
    rejected_features: dict[str, str] = field(default_factory=dict)
    notified_at: dict[Side, dt.datetime] = field(default_factory=dict)
    # pool refresh generation at each notification: a later refresh that still
    # shows the side UNVERIFIED proves the notification stale (P15)
    notified_generation: dict[Side, int] = field(default_factory=dict)
    update_busy_until: dt.datetime | None = None
    """P17: the provider answered 409 to an update; not asked again before then."""
    update_conflicts: int = 0
    notify_after_update: set[Side] = field(default_factory=set)
    """P16: sides to notify once an update completed on both."""
    failure: FailureRecord | None = None
    attempts: int = 0
    """Consecutive reconciles that ended on an error, a conflict or no progress."""
    not_before: dt.datetime | None = None
    """No provider call for this link before then (Retry-After, backoff)."""
    hard_not_before: bool = False
    """``not_before`` came from a provider's Retry-After: even a spec change waits."""
    last_interruption: tuple[str, str] | None = None
    """(reason, message) of the interruption that set ``not_before``."""
    generation: int | None = None
    """Spec generation of the last reconcile (a change lifts backoff and refusals)."""
    retry_failed_features: bool = False
    """The spec changed after a ProvisioningFailed: delete the FAILED features once."""
    prefix_limits: dict[Side, int] = field(default_factory=dict)
    """Each side's route-prefix limit last known (guidance, or the status after a restart)."""
    prefix_basis: object | None = field(default=None, repr=False)
    """The guidance answer ``prefix_limits`` was last read from (read once per answer)."""
    refusals: dict[str, Refusal] = field(default_factory=dict)
    """Steps a provider answered with 400, by step key (P32: not retried unchanged)."""
    conflicts: dict[str, int] = field(default_factory=dict)
    """409s per step key since the link last settled."""
    conflicted: dict[tuple[str, str], list[FeatureView]] = field(default_factory=dict)
    """(interconnect, channel) -> proposals a responder answered 409: excluded next time."""
    existed_on: dict[Side, str] = field(default_factory=dict)
    """Sides that have held the link's connection settled (VERIFIED there), and
    where, until the operator itself deleted it there."""
    unsettled_creates: set[tuple[Side, str]] = field(default_factory=set)
    """(side, interconnect) of CreateConnection calls of the operator in flight or
    of unknown outcome (lost response, timeout, 5xx: P33): until a definite answer,
    the provider showing that connection VERIFIED, or the operator deleting it, its
    absence there proves nothing."""
    deleted_by: dict[Side, str] = field(default_factory=dict)
    """Sides whose provider deleted the connection (P19 from its side): sticky."""
    deferred_since: dt.datetime | None = None
    """When the deferred CreateConnection reached the peer (P23 counts from it)."""


class StepFailed(Exception):
    """A provider refused a step in a way that needs the user (wrong credentials, ...)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class FollowUpRefused(Exception):
    """A provider refused (400) the follow-up a step carries (``then_guidance``):
    the refusal belongs to ``step``, not to the step that carried it."""

    def __init__(self, step: link_state.Step, error: InvalidRequest) -> None:
        super().__init__(error.message)
        self.step = step
        self.error = error
