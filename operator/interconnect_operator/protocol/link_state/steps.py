"""Steps of the link state machine: what ``decide`` asks the reconcile layer to do next.

Each step is a frozen value naming one provider action (or a wait, finish or
failure); the reconcile layer maps each kind to calls. ``kind`` is the class
name, written to the Reconciling condition's reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..types import FeatureView, Side

#: Recheck intervals (seconds) of a link that waits.
POLL = 30
POLL_SLOW = 300


@dataclass(frozen=True)
class ConfirmKey:
    """Confirm the activation key at the responder (P2-P3)."""

    kind: str = field(default="ConfirmKey", init=False)


@dataclass(frozen=True)
class CreateLocalConnection:
    """Create the connection on the negotiator's side first (P5, P6)."""

    interconnect: str
    bandwidth_mbps: int
    kind: str = field(default="CreateLocalConnection", init=False)


@dataclass(frozen=True)
class CreateRemoteConnection:
    """Create the matching connection on the responder (P6; a 409 means: place again).

    ``then_guidance``: once the responder holds it, ask for guidance (P8) in the
    same decision; set when the table would decide exactly that next (no
    deferral, no bandwidth change pending, no guidance at hand).
    """

    interconnect: str
    bandwidth_mbps: int
    defer_provisioning: bool = False
    then_guidance: bool = False
    kind: str = field(default="CreateRemoteConnection", init=False)


@dataclass(frozen=True)
class RequestGuidance:
    """Ask both sides for feature guidance (P8)."""

    interconnect: str
    kind: str = field(default="RequestGuidance", init=False)


@dataclass(frozen=True)
class CreateFeature:
    """Create the feature of ``channel`` on ``side``.

    On the negotiator without ``copy_of``: allocate with
    :func:`~..allocation.allocate_feature` (P9). Otherwise propose exactly
    ``copy_of`` (the other side's feature: P5, the local one goes first).

    ``mirror`` (negotiator side only): once the provider answered that our half
    exists, propose the same feature to the responder in the same decision. P5
    orders the two halves of one channel; the channels are independent of each
    other (P10), so each channel runs local-then-remote on its own.
    """

    interconnect: str
    channel: str
    side: Side
    copy_of: FeatureView | None = None
    mirror: bool = False
    kind: str = field(default="CreateFeature", init=False)


@dataclass(frozen=True)
class DeleteFeature:
    """Delete one feature (P10: restart a refused channel from fresh guidance)."""

    interconnect: str
    channel: str
    side: Side
    reason: str
    kind: str = field(default="DeleteFeature", init=False)


@dataclass(frozen=True)
class NotifyStatus:
    """Send NotifyConnectionStatus to ``side``: the other side is final (P14)."""

    interconnect: str
    side: Side
    kind: str = field(default="NotifyStatus", init=False)


@dataclass(frozen=True)
class UpdateBandwidth:
    """Update the bandwidth on ``side`` in place (P16: the peer first)."""

    interconnect: str
    side: Side
    bandwidth_mbps: int
    kind: str = field(default="UpdateBandwidth", init=False)


@dataclass(frozen=True)
class Migrate:
    """Start a migration (P18): create the local connection under ``to_interconnect``."""

    from_interconnect: str
    to_interconnect: str
    bandwidth_mbps: int
    kind: str = field(default="Migrate", init=False)


@dataclass(frozen=True)
class DeleteRemote:
    """DeleteConnection on the responder (P19)."""

    interconnect: str
    kind: str = field(default="DeleteRemote", init=False)


@dataclass(frozen=True)
class DeleteLocal:
    """DeleteConnection on the negotiator's side (its features go with it)."""

    interconnect: str
    kind: str = field(default="DeleteLocal", init=False)


@dataclass(frozen=True)
class RenewKey:
    """Retire the shared UUID and its consumed key; ask the responder for a fresh
    key (P1). After a provider deleted the link's connection and the user opted in."""

    reason: str
    message: str
    kind: str = field(default="RenewKey", init=False)


@dataclass(frozen=True)
class Wait:
    """Nothing to do now; look again after ``seconds``."""

    reason: str
    message: str
    seconds: int
    kind: str = field(default="Wait", init=False)


@dataclass(frozen=True)
class Done:
    """Converged (or released, for Orphan/deleted); recheck after ``recheck_seconds``."""

    reason: str
    recheck_seconds: int | None = None
    kind: str = field(default="Done", init=False)


@dataclass(frozen=True)
class Fail:
    """Terminal for this generation: record it and stop (P3, P23)."""

    reason: str
    message: str
    kind: str = field(default="Fail", init=False)


Step = (
    ConfirmKey
    | CreateLocalConnection
    | CreateRemoteConnection
    | RequestGuidance
    | CreateFeature
    | DeleteFeature
    | NotifyStatus
    | UpdateBandwidth
    | Migrate
    | DeleteRemote
    | DeleteLocal
    | RenewKey
    | Wait
    | Done
    | Fail
)

#: Steps after which the reconcile loop stops and reports.
Settled = Wait | Done | Fail


def step_message(step: Step) -> str:
    """One line for humans describing ``step`` (condition messages)."""
    if isinstance(step, Wait | Fail | RenewKey):
        return step.message
    if isinstance(step, Done):
        return step.reason
    parts = [step.kind]
    for attr in ("interconnect", "channel", "side", "to_interconnect", "bandwidth_mbps"):
        value = getattr(step, attr, None)
        if value is not None:
            parts.append(f"{attr}={value}")
    return " ".join(parts)
