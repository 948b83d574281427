"""Values the link reconciler takes, returns and remembers between calls.

``LinkRequest`` is one MulticloudLink reduced to what reconciliation needs,
``LinkResult`` what to write and when to look again, ``LinkMemory`` what the
reconciler remembers per shared UUID in process (all of it can be lost and
is rebuilt from the providers and the link's status).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from interconnect_operator.protocol.customer_link import CustomerTarget
from interconnect_operator.protocol.link_state import LinkStatus
from interconnect_operator.protocol.types import FailureRecord, GuidanceView, LinkSpec, Secret, Side

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
    rejected_at: dict[str, dt.datetime] = field(default_factory=dict)
    """Interconnects that answered CreateConnection with 409, and when (they expire, P6)."""
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
