"""Status of a link: its phase, conditions and per-channel/per-provider detail.

Built from the observation and the decision's outcome, passed in explicitly
(the step, the phase, where the link lives, why it is stalled); ``Phase``
is the one list of phases the
other layers (CRD models, metrics, controller) read.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from functools import cached_property
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

from ..conditions import Condition, LinkConditionType, status_of
from ..resiliency import device_spread, resiliency
from ..routing import prefix_verdict
from ..types import (
    MIN_CHANNELS,
    AdminState,
    ConnectionView,
    FailureRecord,
    LinkFacts,
    LinkSpec,
    ProviderObservation,
    ProvisioningState,
    Side,
    VerificationState,
)
from .health import Health, degraded, health
from .steps import Done, Fail, Step, step_message


class Phase(StrEnum):
    """Values of ``MulticloudLink.status.phase`` (a one-word summary)."""

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


_T = LinkConditionType


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
    source_connection: str | None = None
    """During a migration (P18): the connection it moves from, at this provider."""

    @property
    def connection_id(self) -> str | None:
        """The connection's own id at this provider (not assumed to be the shared UUID)."""
        return self.connection_name.rsplit("/", 1)[-1] if self.connection_name else None


@dataclass(frozen=True)
class LinkStatus:
    """What to write to the link's status; ``conditions`` carry no transition times
    (merge them with :func:`~..conditions.merge`)."""

    phase: Phase
    conditions: tuple[Condition, ...]
    interconnect: str | None
    migrating_to: str | None
    channels: tuple[ChannelStatus, ...]
    providers: tuple[ProviderStatus, ...]
    ready: bool
    message: str
    failure: FailureRecord | None = None
    deferred_since: datetime | None = None
    """When the deferred CreateConnection reached the peer (P23; kept in status)."""
    max_prefixes: int | None = None
    prefix_limits: dict[Side, int] = field(default_factory=dict)
    """Each side's maxReceivedBgpRoutePrefixes as last read from guidance (P8)."""

    def condition(self, type_: str) -> Condition:
        return next(c for c in self.conditions if c.type == type_)


@dataclass(frozen=True)
class Decision:
    """The next step(s) and the status to show.

    ``status`` is built when first read (``build``, a pure function of what the
    decision saw): a reconcile decides ~6 times per bring-up and shows only the
    status of the decision it ends on.
    """

    step: Step
    build: Callable[[], LinkStatus] = field(repr=False, compare=False)
    concurrent: tuple[Step, ...] = ()

    def __post_init__(self) -> None:
        if not self.concurrent:
            object.__setattr__(self, "concurrent", (self.step,))

    @cached_property
    def status(self) -> LinkStatus:
        return self.build()


def _cond(type_: str, value: bool | None, reason: str, message: str, gen: int) -> Condition:
    return Condition(str(type_), status_of(value), reason, message, gen)


def link_status(
    spec: LinkSpec,
    neg: ProviderObservation,
    resp: ProviderObservation,
    facts: LinkFacts,
    *,
    step: Step,
    phase: Phase,
    interconnect: str | None,
    migrating_to: str | None,
    stalled: str | None,
    no_capacity: str | None,
) -> LinkStatus:
    """The status after deciding ``step`` in ``phase``.

    ``interconnect``/``migrating_to`` say where the link lives once the step
    is decided; ``stalled`` names why it cannot progress and ``no_capacity``
    why placement found no room (both None when not so).
    """
    gen = spec.generation
    working = migrating_to or interconnect
    local, remote = neg.on(working), resp.on(working)
    h = health(local, remote, facts.channels)
    # During a migration the old connection still carries the traffic.
    old_ready = False
    old_source = bool(migrating_to and interconnect and interconnect != migrating_to)
    if migrating_to and interconnect and interconnect != migrating_to:
        old_ready = health(neg.on(interconnect), resp.on(interconnect), ()).ready
    ready = (h.ready or old_ready) and not isinstance(step, Fail) and not facts.deleting
    failure = FailureRecord(step.reason, step.message, gen) if isinstance(step, Fail) else None

    conds = [
        _key_condition(facts, resp, gen),
        _placed_condition(local, remote, working, no_capacity, gen),
        *_progress_conditions(h, facts, gen),
        _resilient_condition(h.channels, facts, gen),
        _prefix_condition(spec, facts, gen),
        *_activity_conditions(step, phase, stalled, gen),
    ]
    conds.insert(0, _ready_condition(ready, old_ready, h, step=step, phase=phase, gen=gen))
    return LinkStatus(
        phase=phase,
        conditions=tuple(conds),
        interconnect=interconnect,
        migrating_to=migrating_to,
        channels=_channel_status(h.channels, local, remote, facts),
        providers=(
            _provider_status(Side.NEGOTIATOR, local, neg.on(interconnect) if old_source else None),
            _provider_status(Side.RESPONDER, remote, resp.on(interconnect) if old_source else None),
        ),
        ready=ready,
        message=step_message(step),
        failure=failure,
        deferred_since=facts.deferred_since if facts.deferred else None,
        max_prefixes=spec.max_prefixes,
        prefix_limits=dict(facts.prefix_limits),
    )


def _key_condition(facts: LinkFacts, resp: ProviderObservation, gen: int) -> Condition:
    if facts.key_confirmed or resp.present:
        return _cond(_T.KEY_CONFIRMED, True, "KeyConfirmed", "P3: activation key confirmed", gen)
    if facts.key_refused is not None:
        return _cond(_T.KEY_CONFIRMED, False, "KeyRefused", f"P3: {facts.key_refused}", gen)
    return _cond(_T.KEY_CONFIRMED, None, "AwaitingConfirmation", "P3: key not yet confirmed", gen)


def _placed_condition(
    local: ConnectionView | None,
    remote: ConnectionView | None,
    working: str | None,
    no_capacity: str | None,
    gen: int,
) -> Condition:
    if local is not None and remote is not None:
        return _cond(_T.PLACED, True, "Placed", f"P6: on interconnect {working}", gen)
    if no_capacity is not None:
        return _cond(_T.PLACED, False, "NoCapacity", no_capacity, gen)
    missing = [s.value for s, c in ((Side.NEGOTIATOR, local), (Side.RESPONDER, remote)) if not c]
    message = f"P5: no connection on {', '.join(missing)}"
    return _cond(_T.PLACED, False, "NotPlaced", message, gen)


def _progress_conditions(h: Health, facts: LinkFacts, gen: int) -> list[Condition]:
    """Negotiated (P9, P12), Provisioned (P13), Verified (P14), Degraded (P12)."""
    n, k_neg, k_fin = len(h.channels), len(h.negotiated), len(h.final)
    if n and k_neg == n:
        negotiated = _cond(_T.NEGOTIATED, True, "Negotiated", f"P9: {n}/{n} channels", gen)
    else:
        reason = "PartiallyNegotiated" if k_neg >= MIN_CHANNELS else "Negotiating"
        negotiated = _cond(_T.NEGOTIATED, False, reason, f"P12: {k_neg}/{n} channels", gen)
    provisioned = _cond(
        _T.PROVISIONED,
        h.all_final,
        "Provisioned" if h.all_final else "FeaturesPending",
        f"P13: {k_fin}/{n} channels FINAL on both sides",
        gen,
    )
    unverified = h.unverified
    verified = _cond(
        _T.VERIFIED,
        not unverified,
        "Unverified" if unverified else "Verified",
        "P14: unverified on " + ", ".join(unverified)
        if unverified
        else "P14: VERIFIED on both sides",
        gen,
    )
    is_degraded = degraded(h, facts.blocked_channels, facts.ever_ready)
    if is_degraded:
        reason = "ReducedRedundancy"
    else:
        reason = "FullRedundancy" if h.all_final else "NotDegraded"
    message = f"P12: {k_fin}/{n} channels FINAL on both sides"
    return [
        negotiated,
        provisioned,
        verified,
        _cond(_T.DEGRADED, is_degraded, reason, message, gen),
    ]


def _resilient_condition(channels: Sequence[str], facts: LinkFacts, gen: int) -> Condition:
    """Resilient: the link's channels sit on distinct devices at both providers."""
    if not channels or set(facts.channel_devices) != set(Side):
        verdict = resiliency(())
    else:
        verdict = resiliency(
            [device_spread(side, channels, facts.channel_devices[side]) for side in Side]
        )
    return _cond(_T.RESILIENT, verdict.resilient, verdict.reason, verdict.message, gen)


def _prefix_condition(spec: LinkSpec, facts: LinkFacts, gen: int) -> Condition:
    """WithinPrefixLimits: the planned prefixes fit what each provider accepts (P8)."""
    verdict = prefix_verdict(spec.max_prefixes, facts.prefix_limits)
    return _cond(_T.WITHIN_PREFIX_LIMITS, verdict.within, verdict.reason, verdict.message, gen)


def _activity_conditions(
    step: Step, phase: Phase, stalled: str | None, gen: int
) -> list[Condition]:
    """Reconciling and Stalled (kstatus): working on it, or waiting for a change."""
    stalled = stalled or (step.reason if isinstance(step, Fail) else None)
    reconciling = (
        not isinstance(step, Done | Fail) and stalled is None and phase is not Phase.PAUSED
    )
    return [
        _cond(
            _T.RECONCILING,
            reconciling,
            step.kind if reconciling else "Idle",
            step_message(step) if reconciling else "",
            gen,
        ),
        _cond(
            _T.STALLED,
            stalled is not None,
            stalled or "NotStalled",
            step_message(step) if stalled is not None else "",
            gen,
        ),
    ]


def _ready_condition(
    ready: bool, old_ready: bool, h: Health, *, step: Step, phase: Phase, gen: int
) -> Condition:
    if ready:
        if old_ready and not h.ready:
            return _cond(_T.READY, True, "Migrating", "P18: old connection carries traffic", gen)
        return _cond(_T.READY, True, "Ready", "P14: verified, all channels FINAL", gen)
    if h.disabled:
        sides = ", ".join(s.value for s in h.disabled)
        return _cond(_T.READY, False, "ConnectionDisabled", f"disabled on {sides}", gen)
    reason = step.reason if isinstance(step, Fail) else phase.value
    return _cond(_T.READY, False, reason, step_message(step), gen)


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


def _provider_status(
    side: Side, conn: ConnectionView | None, source: ConnectionView | None = None
) -> ProviderStatus:
    source_name = source.name if source is not None else None
    if conn is None:
        return ProviderStatus(side, None, None, None, None, None, source_name)
    return ProviderStatus(
        side,
        conn.name,
        conn.interconnect,
        conn.bandwidth_mbps,
        conn.verification,
        conn.admin_state,
        source_name,
    )
