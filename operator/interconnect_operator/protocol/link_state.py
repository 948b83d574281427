"""The link state machine: observed state of both sides -> next step and status.

``decide()`` is a pure function. The reconcile layer reads both providers,
fills a :class:`~.types.LinkFacts` from the link's status, calls ``decide``,
performs ``decision.step`` (or all of ``decision.concurrent``, which are
independent of each other), writes ``decision.status`` and calls again.

Order of concerns, first match wins:

1. a terminal failure recorded for this generation stays (change the spec to retry);
2. deletion (P19): ``Orphan`` stops managing and touches nothing; ``Delete``
   removes the remote connection first, then the local one. Reverse order of
   creation (P5 creates local first) and the order P23 prescribes for a
   rollback: the peer is told the customer wants the link gone while our own
   connection still exists, so if the operator dies in between, the leftover
   is on our side where the next reconcile (or P21's 7-day rule) finds it;
3. pause: nothing is done, status still reported;
4. deferral timeout (P23): roll back remote then local, then fail;
5. key (P2-P3); placement (P6-P7, P5 local first); bandwidth update in
   place (P16-P17) or migration (P18, make before break);
6. guidance (P8), features (P9-P11, local then remote per channel),
   notifications (P14), then wait for FINAL and VERIFIED.

Ready: both connections VERIFIED and every channel's feature FINAL on both
sides. Degraded (P12): at least 3 of the channels FINAL on both sides, but
not all, and the rest cannot progress (or the link was ready before).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

from .conditions import Condition, ConditionStatus
from .placement import NoCapacity, candidates, pair_views, place
from .types import (
    AdminState,
    ConnectionView,
    DeletionPolicy,
    FailureRecord,
    FeatureView,
    InterconnectView,
    LinkFacts,
    LinkSpec,
    ProviderObservation,
    ProvisioningState,
    Side,
    VerificationState,
)

#: P12: a connection is usable once this many of its features are negotiated.
MIN_CHANNELS: int = 3
#: Notifications are refresh hints (P14); resend when the peer has not verified by then.
RENOTIFY_AFTER = timedelta(minutes=10)

POLL_FAST = 10
POLL = 30
POLL_SLOW = 300


# ---------------------------------------------------------------- steps


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
    """Create the matching connection on the responder (P6; a 409 means: place again)."""

    interconnect: str
    bandwidth_mbps: int
    defer_provisioning: bool = False
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
    :func:`~.allocation.allocate_feature` (P9). Otherwise propose exactly
    ``copy_of`` (the other side's feature: P5, the local one goes first).
    """

    interconnect: str
    channel: str
    side: Side
    copy_of: FeatureView | None = None
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
    | Wait
    | Done
    | Fail
)


# ---------------------------------------------------------------- status


class Phase(StrEnum):
    PENDING = "Pending"
    PLACING = "Placing"
    NEGOTIATING = "Negotiating"
    PROVISIONING = "Provisioning"
    VERIFYING = "Verifying"
    READY = "Ready"
    DEGRADED = "Degraded"
    UPDATING = "Updating"
    MIGRATING = "Migrating"
    DELETING = "Deleting"
    PAUSED = "Paused"
    FAILED = "Failed"


CONDITION_TYPES = (
    "Ready",
    "KeyConfirmed",
    "Placed",
    "Negotiated",
    "Provisioned",
    "Verified",
    "Degraded",
    "Reconciling",
    "Stalled",
)


@dataclass(frozen=True)
class BgpEndStatus:
    asn: int
    ipv4: IPv4Address
    ipv6: IPv6Address | None


@dataclass(frozen=True)
class ChannelStatus:
    """Per channel detail for status: never the MD5 password."""

    channel: str
    vlan: int | None = None
    ipv4_subnet: IPv4Network | None = None
    ipv6_subnet: IPv6Network | None = None
    mtu: int | None = None
    bgp: dict[Side, BgpEndStatus] = field(default_factory=dict)
    provisioning: dict[Side, ProvisioningState] = field(default_factory=dict)
    blocked: str | None = None


@dataclass(frozen=True)
class ProviderStatus:
    side: Side
    connection_name: str | None
    interconnect: str | None
    bandwidth_mbps: int | None
    verification: VerificationState | None
    admin_state: AdminState | None


@dataclass(frozen=True)
class LinkStatus:
    """What to write to the link's status; ``conditions`` carry no transition times
    (merge them with :func:`~.conditions.merge`)."""

    phase: Phase
    conditions: tuple[Condition, ...]
    interconnect: str | None
    migrating_to: str | None
    channels: tuple[ChannelStatus, ...]
    providers: tuple[ProviderStatus, ...]
    ready: bool
    message: str
    failure: FailureRecord | None = None

    def condition(self, type_: str) -> Condition:
        return next(c for c in self.conditions if c.type == type_)


@dataclass(frozen=True)
class Decision:
    step: Step
    status: LinkStatus
    concurrent: tuple[Step, ...] = ()

    def __post_init__(self) -> None:
        if not self.concurrent:
            object.__setattr__(self, "concurrent", (self.step,))


# ---------------------------------------------------------------- health


@dataclass(frozen=True)
class _Health:
    channels: tuple[str, ...]
    negotiated: tuple[str, ...]
    final: tuple[str, ...]
    verified: dict[Side, bool]
    disabled: tuple[Side, ...]

    @property
    def all_final(self) -> bool:
        return bool(self.channels) and len(self.final) == len(self.channels)

    @property
    def ready(self) -> bool:
        return self.all_final and all(self.verified.values()) and not self.disabled


def _health(
    local: ConnectionView | None, remote: ConnectionView | None, channels: Sequence[str]
) -> _Health:
    if not channels:
        keys = set(local.features if local else ()) | set(remote.features if remote else ())
        channels = tuple(sorted(keys))
    lf = local.features if local else {}
    rf = remote.features if remote else {}
    negotiated = tuple(c for c in channels if c in lf and c in rf)
    final = tuple(c for c in negotiated if lf[c].final and rf[c].final)
    verified = {
        Side.NEGOTIATOR: bool(local and local.verified),
        Side.RESPONDER: bool(remote and remote.verified),
    }
    disabled = tuple(
        side
        for side, conn in ((Side.NEGOTIATOR, local), (Side.RESPONDER, remote))
        if conn is not None and conn.admin_state is AdminState.DISABLED
    )
    return _Health(tuple(channels), negotiated, final, verified, disabled)


# ---------------------------------------------------------------- decide


@dataclass
class _Ctx:
    spec: LinkSpec
    neg: ProviderObservation
    resp: ProviderObservation
    facts: LinkFacts
    pool_neg: Sequence[InterconnectView]
    pool_resp: Sequence[InterconnectView]
    interconnect: str | None = None
    migrating_to: str | None = None
    no_capacity: str | None = None
    stalled: str | None = None


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
    ctx = _Ctx(spec, negotiator, responder, facts, pool_negotiator, pool_responder)
    ctx.interconnect = facts.interconnect or _observed_interconnect(negotiator, responder)
    ctx.migrating_to = facts.migrating_to
    step, concurrent, phase = _next(ctx)
    return Decision(step, _status(ctx, step, phase), concurrent)


def _observed_interconnect(neg: ProviderObservation, resp: ProviderObservation) -> str | None:
    """Where the link lives when status was lost: the local side decides (P5)."""
    for obs in (neg, resp):
        if obs.connections:
            return sorted(obs.connections)[0]
    return None


def _next(ctx: _Ctx) -> tuple[Step, tuple[Step, ...], Phase]:
    spec, facts, neg, resp = ctx.spec, ctx.facts, ctx.neg, ctx.resp

    if facts.deleting:
        return _delete(ctx)
    if facts.failure is not None and facts.failure.generation == spec.generation:
        return Fail(facts.failure.reason, facts.failure.message), (), Phase.FAILED
    if spec.paused:
        return Wait("Paused", "reconciliation paused by annotation", POLL_SLOW), (), Phase.PAUSED

    working = ctx.migrating_to or ctx.interconnect
    health = _health(neg.on(working), resp.on(working), facts.channels)

    # P23: the deferring side rolls back what the peer did not finalise in time.
    if (
        facts.deferred
        and facts.deferral_timeout is not None
        and facts.started_at is not None
        and facts.now - facts.started_at > facts.deferral_timeout
        and not health.ready
    ):
        hours = facts.deferral_timeout.total_seconds() / 3600
        message = f"P23: not finalised within the deferral timeout of {hours:g}h; rolled back"
        rollback = _delete_all(ctx)
        if rollback is not None:
            return rollback[0], rollback[1], Phase.DELETING
        return Fail("DeferralTimeout", message), (), Phase.FAILED

    key_ok = facts.key_confirmed or resp.present
    if not key_ok:
        if facts.key_refused is not None:
            # P3: must not proceed, and should delete what it created for it.
            leftover = sorted(neg.connections)
            if leftover:
                return DeleteLocal(leftover[0]), (), Phase.PENDING
            return Fail("KeyRefused", f"P3: {facts.key_refused}"), (), Phase.FAILED
        return ConfirmKey(), (), Phase.PENDING

    placed = _place(ctx)
    if placed is not None:
        return placed

    working = ctx.migrating_to or ctx.interconnect
    assert working is not None
    local = neg.on(working)
    remote = resp.on(working)
    assert local is not None
    assert remote is not None

    if ctx.migrating_to is None:
        update = _update(ctx, working, local, remote)
        if update is not None:
            return update

    health = _health(local, remote, facts.channels)
    busy_phase = Phase.MIGRATING if ctx.migrating_to else None

    if facts.deferred:
        # P22: the peer drives guidance, features and notifications.
        if health.ready:
            return _finish(ctx, health)
        phase = busy_phase or _progress_phase(health, facts)
        return Wait("DeferredToPeer", "P22: the peer drives provisioning", POLL), (), phase

    if not facts.guidance_ready:
        return RequestGuidance(working), (), busy_phase or Phase.NEGOTIATING
    if not health.channels:
        ctx.stalled = "NoChannels"
        return (
            Wait("NoChannels", "guidance names no channel", POLL_SLOW),
            (),
            busy_phase or Phase.NEGOTIATING,
        )

    feature_steps = _feature_steps(working, local, remote, health.channels, facts)
    if feature_steps:
        # A link that was Ready and is repairing a lost feature (P20) is Degraded
        # meanwhile (P12), not back to Negotiating.
        repairing = _progress_phase(health, facts) if facts.ever_ready else Phase.NEGOTIATING
        return feature_steps[0], tuple(feature_steps), busy_phase or repairing

    possible = [c for c in health.channels if c not in facts.blocked_channels]
    if len(health.negotiated) < MIN_CHANNELS and len(possible) < MIN_CHANNELS:
        ctx.stalled = "NegotiationFailed"
        blocked = "; ".join(f"{c}: {r}" for c, r in sorted(facts.blocked_channels.items()))
        blocked = blocked or f"the interconnect has only {len(health.channels)} channels"
        return (
            Wait(
                "NegotiationFailed",
                f"P12: fewer than {MIN_CHANNELS} channels can be negotiated ({blocked})",
                POLL_SLOW,
            ),
            (),
            busy_phase or Phase.NEGOTIATING,
        )

    notify = _notify_steps(working, local, remote, health, facts)
    if notify:
        return notify[0], tuple(notify), busy_phase or _progress_phase(health, facts)

    if health.ready:
        return _finish(ctx, health)
    phase = busy_phase or _progress_phase(health, facts)
    if not health.all_final:
        msg = f"{len(health.final)}/{len(health.channels)} channels FINAL on both sides (P13)"
        return Wait("WaitingForProvisioning", msg, POLL), (), phase
    unverified = [s.value for s, ok in health.verified.items() if not ok]
    return (
        Wait("WaitingForVerification", f"P14: unverified on {', '.join(unverified)}", POLL),
        (),
        phase,
    )


def _progress_phase(health: _Health, facts: LinkFacts) -> Phase:
    if _degraded(health, facts):
        return Phase.DEGRADED
    if len(health.negotiated) < len(health.channels):
        return Phase.NEGOTIATING
    if not health.all_final:
        return Phase.PROVISIONING
    return Phase.VERIFYING


def _degraded(health: _Health, facts: LinkFacts) -> bool:
    """P12: 3 of 4 carries traffic without full redundancy.

    During bring-up the 4th channel is merely late, so Degraded applies only
    when the missing channels cannot progress or the link was ready before.
    """
    n, k = len(health.channels), len(health.final)
    if not (MIN_CHANNELS <= k < n):
        return False
    missing = [c for c in health.channels if c not in health.final]
    return facts.ever_ready or all(c in facts.blocked_channels for c in missing)


def _finish(ctx: _Ctx, health: _Health) -> tuple[Step, tuple[Step, ...], Phase]:
    """Working interconnect ready: complete a migration (P18) or report Ready."""
    old = ctx.interconnect
    if ctx.migrating_to is not None and old is not None and old != ctx.migrating_to:
        # P18: the new connection is up; now break the old one, peer first (P19).
        if ctx.resp.on(old) is not None:
            return DeleteRemote(old), (), Phase.MIGRATING
        if ctx.neg.on(old) is not None:
            return DeleteLocal(old), (), Phase.MIGRATING
    if ctx.migrating_to is not None:
        ctx.interconnect, ctx.migrating_to = ctx.migrating_to, None
    return Done("Ready", POLL_SLOW), (), Phase.READY


def _delete_all(ctx: _Ctx) -> tuple[Step, tuple[Step, ...]] | None:
    remote = tuple(DeleteRemote(i) for i in sorted(ctx.resp.connections))
    if remote:
        return remote[0], remote
    local = tuple(DeleteLocal(i) for i in sorted(ctx.neg.connections))
    if local:
        return local[0], local
    return None


def _delete(ctx: _Ctx) -> tuple[Step, tuple[Step, ...], Phase]:
    if ctx.spec.deletion_policy is DeletionPolicy.ORPHAN:
        return Done("Orphaned"), (), Phase.DELETING
    steps = _delete_all(ctx)
    if steps is not None:
        return steps[0], steps[1], Phase.DELETING
    return Done("Deleted"), (), Phase.DELETING


def _place(ctx: _Ctx) -> tuple[Step, tuple[Step, ...], Phase] | None:
    """P5-P7: make sure both connections exist on the working interconnect."""
    facts, neg, resp = ctx.facts, ctx.neg, ctx.resp
    phase = Phase.MIGRATING if ctx.migrating_to else Phase.PLACING
    working = ctx.migrating_to or ctx.interconnect

    # P6: the peer answered 409 there. Undo our side, then place elsewhere.
    if working is not None and working in facts.rejected_interconnects and resp.on(working) is None:
        if neg.on(working) is not None:
            return DeleteLocal(working), (), phase
        if ctx.migrating_to:
            ctx.migrating_to = None
            # Back to the old interconnect; a new target is chosen by _update.
            return None if _both_present(ctx, ctx.interconnect) else _place(ctx)
        ctx.interconnect = None
        working = None

    if working is None:
        choice = place(
            ctx.pool_neg,
            ctx.pool_resp,
            ctx.spec.bandwidth_mbps,
            facts.shared_uuid,
            exclude=facts.rejected_interconnects,
        )
        if isinstance(choice, NoCapacity):
            ctx.no_capacity = choice.message
            ctx.stalled = "NoCapacity"
            return Wait("NoCapacity", ctx.no_capacity, POLL_SLOW // 5), (), Phase.PLACING
        ctx.interconnect = choice.id
        return (
            CreateLocalConnection(ctx.interconnect, ctx.spec.bandwidth_mbps),
            (),
            Phase.PLACING,
        )

    if neg.on(working) is None:
        return CreateLocalConnection(working, ctx.spec.bandwidth_mbps), (), phase
    if resp.on(working) is None:
        local = neg.on(working)
        assert local is not None
        return (
            CreateRemoteConnection(working, local.bandwidth_mbps, facts.deferred),
            (),
            phase,
        )
    return None


def _both_present(ctx: _Ctx, interconnect: str | None) -> bool:
    return ctx.neg.on(interconnect) is not None and ctx.resp.on(interconnect) is not None


def _update(
    ctx: _Ctx, working: str, local: ConnectionView, remote: ConnectionView
) -> tuple[Step, tuple[Step, ...], Phase] | None:
    """P16-P18: change bandwidth in place when the interconnect has room, else migrate."""
    want = ctx.spec.bandwidth_mbps
    if local.bandwidth_mbps == want and remote.bandwidth_mbps == want:
        return None
    if ctx.facts.update_in_progress:
        return (
            Wait("UpdateInProgress", "P17: the peer is processing an update", POLL),
            (),
            Phase.UPDATING,
        )
    if _fits_in_place(ctx, working, local, remote):
        # P16: confirm with the peer first; our side changes only after its 200.
        if remote.bandwidth_mbps != want:
            return UpdateBandwidth(working, Side.RESPONDER, want), (), Phase.UPDATING
        return UpdateBandwidth(working, Side.NEGOTIATOR, want), (), Phase.UPDATING
    found = candidates(
        ctx.pool_neg,
        ctx.pool_resp,
        want,
        ctx.facts.shared_uuid,
        exclude={working, *ctx.facts.rejected_interconnects},
    )
    if not found:
        choice = place(
            ctx.pool_neg,
            ctx.pool_resp,
            want,
            ctx.facts.shared_uuid,
            exclude={working, *ctx.facts.rejected_interconnects},
        )
        detail = choice.message if isinstance(choice, NoCapacity) else ""
        ctx.no_capacity = (
            f"P18: {working} lacks room for {want} Mbps and no other interconnect fits: {detail}"
        )
        ctx.stalled = "NoCapacity"
        return Wait("NoCapacity", ctx.no_capacity, POLL_SLOW // 5), (), Phase.UPDATING
    target = found[0].id
    ctx.migrating_to = target
    return Migrate(working, target, want), (), Phase.MIGRATING


def _fits_in_place(ctx: _Ctx, working: str, local: ConnectionView, remote: ConnectionView) -> bool:
    """Room for the change on both sides of the current interconnect (P16).

    Each side's reservation already counts that side's current bandwidth, so
    each side needs room for the difference only. Without a pool view the
    peer decides (it answers 409 when the change does not fit).
    """
    want = ctx.spec.bandwidth_mbps
    pairs = {c.id: c for c in pair_views(ctx.pool_neg, ctx.pool_resp)}
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


def _notify_steps(
    working: str,
    local: ConnectionView,
    remote: ConnectionView,
    health: _Health,
    facts: LinkFacts,
) -> list[Step]:
    """P14: tell each side when the other side's features are all FINAL."""
    steps: list[Step] = []
    if len(health.negotiated) < MIN_CHANNELS:
        return steps
    for target, target_conn, source_conn in (
        (Side.RESPONDER, remote, local),
        (Side.NEGOTIATOR, local, remote),
    ):
        if target_conn.verified:
            continue
        if not all(source_conn.features[c].final for c in health.negotiated):
            continue
        last = facts.notified_at.get(target)
        if last is None or facts.now - last >= RENOTIFY_AFTER:
            steps.append(NotifyStatus(working, target))
    return steps


# ---------------------------------------------------------------- status


def _cond(type_: str, value: bool | None, reason: str, message: str, gen: int) -> Condition:
    status = (
        ConditionStatus.UNKNOWN
        if value is None
        else (ConditionStatus.TRUE if value else ConditionStatus.FALSE)
    )
    return Condition(type_, status, reason, message, gen)


def _channel_status(
    channels: Sequence[str],
    local: ConnectionView | None,
    remote: ConnectionView | None,
    facts: LinkFacts,
) -> tuple[ChannelStatus, ...]:
    out: list[ChannelStatus] = []
    for ch in channels:
        views = {
            side: conn.features.get(ch)
            for side, conn in ((Side.NEGOTIATOR, local), (Side.RESPONDER, remote))
            if conn is not None
        }
        present = {s: f for s, f in views.items() if f is not None}
        ref = present.get(Side.NEGOTIATOR) or present.get(Side.RESPONDER)
        if ref is None:
            out.append(ChannelStatus(ch, blocked=facts.blocked_channels.get(ch)))
            continue
        out.append(
            ChannelStatus(
                channel=ch,
                vlan=ref.vlan,
                ipv4_subnet=ref.ipv4_subnet,
                ipv6_subnet=ref.ipv6_subnet,
                mtu=ref.mtu,
                bgp={s: BgpEndStatus(e.asn, e.ipv4, e.ipv6) for s, e in ref.bgp.items()},
                provisioning={s: f.state for s, f in present.items()},
                blocked=facts.blocked_channels.get(ch),
            )
        )
    return tuple(out)


def _provider_status(side: Side, conn: ConnectionView | None) -> ProviderStatus:
    if conn is None:
        return ProviderStatus(side, None, None, None, None, None)
    return ProviderStatus(
        side, conn.name, conn.interconnect, conn.bandwidth_mbps, conn.verification, conn.admin_state
    )


def _status(ctx: _Ctx, step: Step, phase: Phase) -> LinkStatus:
    spec, facts, neg, resp = ctx.spec, ctx.facts, ctx.neg, ctx.resp
    gen = spec.generation
    working = ctx.migrating_to or ctx.interconnect
    local, remote = neg.on(working), resp.on(working)
    health = _health(local, remote, facts.channels)
    # During a migration the old connection still carries the traffic.
    old_ready = False
    if ctx.migrating_to and ctx.interconnect and ctx.interconnect != ctx.migrating_to:
        old_ready = _health(neg.on(ctx.interconnect), resp.on(ctx.interconnect), ()).ready
    ready = (health.ready or old_ready) and not isinstance(step, Fail) and not facts.deleting
    n = len(health.channels)

    failure: FailureRecord | None = None
    if isinstance(step, Fail):
        failure = FailureRecord(step.reason, step.message, gen)

    conds: list[Condition] = []
    key_ok = facts.key_confirmed or resp.present
    if key_ok:
        conds.append(
            _cond("KeyConfirmed", True, "KeyConfirmed", "P3: activation key confirmed", gen)
        )
    elif facts.key_refused is not None:
        conds.append(_cond("KeyConfirmed", False, "KeyRefused", f"P3: {facts.key_refused}", gen))
    else:
        conds.append(
            _cond("KeyConfirmed", None, "AwaitingConfirmation", "P3: key not yet confirmed", gen)
        )

    both = local is not None and remote is not None
    if both:
        conds.append(_cond("Placed", True, "Placed", f"P6: on interconnect {working}", gen))
    elif ctx.no_capacity is not None:
        conds.append(_cond("Placed", False, "NoCapacity", ctx.no_capacity, gen))
    else:
        missing = [
            s.value for s, c in ((Side.NEGOTIATOR, local), (Side.RESPONDER, remote)) if not c
        ]
        conds.append(
            _cond("Placed", False, "NotPlaced", f"P5: no connection on {', '.join(missing)}", gen)
        )

    k_neg = len(health.negotiated)
    if n and k_neg == n:
        conds.append(_cond("Negotiated", True, "Negotiated", f"P9: {n}/{n} channels", gen))
    else:
        reason = "PartiallyNegotiated" if k_neg >= MIN_CHANNELS else "Negotiating"
        conds.append(_cond("Negotiated", False, reason, f"P12: {k_neg}/{n} channels", gen))

    k_fin = len(health.final)
    conds.append(
        _cond(
            "Provisioned",
            health.all_final,
            "Provisioned" if health.all_final else "FeaturesPending",
            f"P13: {k_fin}/{n} channels FINAL on both sides",
            gen,
        )
    )
    unverified = [s.value for s, ok in health.verified.items() if not ok]
    conds.append(
        _cond(
            "Verified",
            not unverified,
            "Verified" if not unverified else "Unverified",
            "P14: VERIFIED on both sides"
            if not unverified
            else "P14: unverified on " + ", ".join(unverified),
            gen,
        )
    )
    degraded = _degraded(health, facts)
    conds.append(
        _cond(
            "Degraded",
            degraded,
            "ReducedRedundancy"
            if degraded
            else "FullRedundancy"
            if health.all_final
            else "NotDegraded",
            f"P12: {k_fin}/{n} channels FINAL on both sides",
            gen,
        )
    )

    stalled = ctx.stalled or (step.reason if isinstance(step, Fail) else None)
    reconciling = (
        not isinstance(step, Done | Fail) and stalled is None and phase is not Phase.PAUSED
    )
    conds.append(
        _cond(
            "Reconciling",
            reconciling,
            step.kind if reconciling else "Idle",
            _step_message(step) if reconciling else "",
            gen,
        )
    )
    conds.append(
        _cond(
            "Stalled",
            stalled is not None,
            stalled or "NotStalled",
            _step_message(step) if stalled is not None else "",
            gen,
        )
    )

    if ready:
        ready_cond = _cond("Ready", True, "Ready", "P14: verified, all channels FINAL", gen)
        if old_ready and not health.ready:
            ready_cond = _cond(
                "Ready", True, "Migrating", "P18: old connection carries traffic", gen
            )
    elif health.disabled:
        sides = ", ".join(s.value for s in health.disabled)
        ready_cond = _cond("Ready", False, "ConnectionDisabled", f"disabled on {sides}", gen)
    else:
        ready_cond = _cond("Ready", False, phase.value, _step_message(step), gen)
    conds.insert(0, ready_cond)

    channels = _channel_status(health.channels, local, remote, facts)
    providers = (_provider_status(Side.NEGOTIATOR, local), _provider_status(Side.RESPONDER, remote))
    return LinkStatus(
        phase=phase,
        conditions=tuple(conds),
        interconnect=ctx.interconnect,
        migrating_to=ctx.migrating_to,
        channels=channels,
        providers=providers,
        ready=ready,
        message=_step_message(step),
        failure=failure,
    )


def _step_message(step: Step) -> str:
    if isinstance(step, Wait | Fail):
        return step.message
    if isinstance(step, Done):
        return step.reason
    parts = [step.kind]
    for attr in ("interconnect", "channel", "side", "to_interconnect", "bandwidth_mbps"):
        value = getattr(step, attr, None)
        if value is not None:
            parts.append(f"{attr}={value}")
    return " ".join(parts)
