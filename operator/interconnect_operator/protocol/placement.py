"""Capacity arithmetic and interconnect placement (P6-P7).

An interconnect takes a new connection only when it is ACTIVE and has room
for the bandwidth on BOTH providers (P7): each provider keeps its own
reservations, so the usable room is the smaller of the two views.

Placement is deterministic so that every reconcile of the same link proposes
the same interconnect, and spreads load: most free capacity first, ties
broken by a stable hash of the shared connection UUID so that links created
at the same moment do not all race for the same interconnect (a 409 on
CreateConnection, P6, then moves the caller to the next candidate).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from .types import InterconnectState, InterconnectView


@dataclass(frozen=True)
class InterconnectCapacity:
    """One interconnect as both sides see it, reduced to the conservative view."""

    id: str
    negotiator: InterconnectView | None
    responder: InterconnectView | None

    @property
    def on_both_sides(self) -> bool:
        return self.negotiator is not None and self.responder is not None

    @property
    def active(self) -> bool:
        """ACTIVE on both sides (P7)."""
        negotiator, responder = self.negotiator, self.responder
        return (
            negotiator is not None
            and responder is not None
            and negotiator.state is InterconnectState.ACTIVE
            and responder.state is InterconnectState.ACTIVE
        )

    @property
    def max_mbps(self) -> int:
        views = [v for v in (self.negotiator, self.responder) if v is not None]
        return min((v.max_bandwidth_mbps for v in views), default=0)

    @property
    def allocated_mbps(self) -> int:
        views = [v for v in (self.negotiator, self.responder) if v is not None]
        return max((v.allocated_mbps for v in views), default=0)

    @property
    def free_mbps(self) -> int:
        """Room on both sides: the minimum of the two sides' free capacity."""
        negotiator, responder = self.negotiator, self.responder
        if negotiator is None or responder is None:
            return 0
        return min(negotiator.free_mbps, responder.free_mbps)

    def fits(self, bandwidth_mbps: int) -> bool:
        return self.active and self.free_mbps >= bandwidth_mbps

    def why_not(self, bandwidth_mbps: int) -> str | None:
        """Why this interconnect cannot take ``bandwidth_mbps``, or None."""
        if self.negotiator is None or self.responder is None:
            missing = "negotiator" if self.negotiator is None else "responder"
            return f"{self.id}: unknown to the {missing}"
        for side, view in (("negotiator", self.negotiator), ("responder", self.responder)):
            if view.state is not InterconnectState.ACTIVE:
                return f"{self.id}: {view.state.name} on the {side} side"
        if self.free_mbps < bandwidth_mbps:
            return f"{self.id}: {self.free_mbps} Mbps free of {self.max_mbps}"
        return None


def pair_views(
    negotiator: Iterable[InterconnectView], responder: Iterable[InterconnectView]
) -> tuple[InterconnectCapacity, ...]:
    """Join both sides' interconnect lists by id, sorted by id."""
    neg = {v.id: v for v in negotiator}
    resp = {v.id: v for v in responder}
    return tuple(
        InterconnectCapacity(i, neg.get(i), resp.get(i)) for i in sorted(neg.keys() | resp.keys())
    )


@dataclass(frozen=True)
class PlacementPolicy:
    """Pool policy: largest link allowed and pool-wide headroom to keep free."""

    max_link_mbps: int | None = None
    headroom_mbps: int = 0


@dataclass(frozen=True)
class NoCapacity:
    """No interconnect fits: what was asked and why each one was refused."""

    requested_mbps: int
    refusals: tuple[str, ...]
    policy: str | None = None

    @property
    def reason(self) -> str:
        return "NoCapacity"

    @property
    def message(self) -> str:
        if self.policy is not None:
            return f"P7: {self.requested_mbps} Mbps refused by pool policy: {self.policy}"
        if not self.refusals:
            return f"P7: no interconnect in the environment for {self.requested_mbps} Mbps"
        return f"P7: no interconnect fits {self.requested_mbps} Mbps on both sides (" + (
            "; ".join(self.refusals) + ")"
        )


def _tie_break(shared_uuid: str, interconnect: str) -> str:
    return hashlib.sha256(f"{shared_uuid}/{interconnect}".encode()).hexdigest()


@dataclass(frozen=True)
class PoolCapacity:
    """Capacity of a pool: per interconnect and in total (ACTIVE ones only count as available)."""

    interconnects: tuple[InterconnectCapacity, ...]

    @property
    def max_mbps(self) -> int:
        return sum(i.max_mbps for i in self.interconnects if i.on_both_sides)

    @property
    def allocated_mbps(self) -> int:
        return sum(i.allocated_mbps for i in self.interconnects if i.on_both_sides)

    @property
    def available_mbps(self) -> int:
        return sum(i.free_mbps for i in self.interconnects if i.active)

    @property
    def largest_free_mbps(self) -> int:
        return max((i.free_mbps for i in self.interconnects if i.active), default=0)


def pool_capacity(
    negotiator: Iterable[InterconnectView], responder: Iterable[InterconnectView]
) -> PoolCapacity:
    return PoolCapacity(pair_views(negotiator, responder))


def policy_violation(
    bandwidth_mbps: int,
    policy: PlacementPolicy,
    pool: PoolCapacity | None = None,
    supported_sizes_mbps: Sequence[int] = (),
) -> str | None:
    """Why the pool policy refuses a link of ``bandwidth_mbps``, or None.

    The headroom is pool-wide: after placing the link, the pool must keep at
    least ``headroom_mbps`` available across its ACTIVE interconnects.
    """
    if bandwidth_mbps <= 0:
        return f"bandwidth must be positive, got {bandwidth_mbps} Mbps"
    if supported_sizes_mbps and bandwidth_mbps not in supported_sizes_mbps:
        sizes = ", ".join(str(s) for s in sorted(supported_sizes_mbps))
        return f"{bandwidth_mbps} Mbps is not a supported size ({sizes})"
    if policy.max_link_mbps is not None and bandwidth_mbps > policy.max_link_mbps:
        return f"{bandwidth_mbps} Mbps exceeds the per-link maximum of {policy.max_link_mbps}"
    if pool is not None and policy.headroom_mbps > 0:
        left = pool.available_mbps - bandwidth_mbps
        if left < policy.headroom_mbps:
            return (
                f"would leave {max(left, 0)} Mbps available, below the "
                f"headroom of {policy.headroom_mbps}"
            )
    return None


def candidates(
    negotiator: Iterable[InterconnectView],
    responder: Iterable[InterconnectView],
    bandwidth_mbps: int,
    shared_uuid: str,
    exclude: Iterable[str] = (),
) -> list[InterconnectCapacity]:
    """Interconnects that fit ``bandwidth_mbps`` on both sides, best first (P6-P7).

    Most free capacity first; ties by a stable hash of the shared UUID. The
    caller proposes the first, and after a 409 (P6) the next, passing the
    refused ones in ``exclude``.
    """
    return _best_first(pair_views(negotiator, responder), bandwidth_mbps, shared_uuid, set(exclude))


def _best_first(
    pairs: Iterable[InterconnectCapacity], bandwidth_mbps: int, shared_uuid: str, excluded: set[str]
) -> list[InterconnectCapacity]:
    """``candidates`` over interconnects already paired. The tie-break hash is
    computed only when two candidates have the same free capacity (it orders
    nothing else)."""
    fitting = [(c.free_mbps, c) for c in pairs if c.id not in excluded and c.fits(bandwidth_mbps)]
    if len({free for free, _ in fitting}) == len(fitting):
        fitting.sort(key=lambda fc: -fc[0])
    else:
        fitting.sort(key=lambda fc: (-fc[0], _tie_break(shared_uuid, fc[1].id)))
    return [c for _, c in fitting]


def place(
    negotiator: Sequence[InterconnectView],
    responder: Sequence[InterconnectView],
    bandwidth_mbps: int,
    shared_uuid: str,
    *,
    exclude: Iterable[str] = (),
    policy: PlacementPolicy | None = None,
) -> InterconnectCapacity | NoCapacity:
    """The interconnect to propose, or a precise :class:`NoCapacity`."""
    excluded = set(exclude)
    pairs = pair_views(negotiator, responder)  # paired once per placement
    if policy is not None:
        violation = policy_violation(bandwidth_mbps, policy, PoolCapacity(pairs))
        if violation is not None:
            return NoCapacity(bandwidth_mbps, (), violation)
    found = _best_first(pairs, bandwidth_mbps, shared_uuid, excluded)
    if found:
        return found[0]
    refusals: list[str] = []
    for cap in pairs:
        if cap.id in excluded:
            refusals.append(f"{cap.id}: refused with 409 (P6)")
            continue
        why = cap.why_not(bandwidth_mbps)
        if why is not None:
            refusals.append(why)
    return NoCapacity(bandwidth_mbps, tuple(refusals))


#: P6: a 409 from CreateConnection means "no room there now". Capacity comes
#: back when other links go, so a refusal is remembered only this long;
#: forgetting it for good would leave a waiting link off that interconnect
#: until the operator restarts.
REJECTION_MEMORY = timedelta(seconds=10)


def live_rejections(
    rejected_at: Mapping[str, datetime], now: datetime, memory: timedelta = REJECTION_MEMORY
) -> dict[str, datetime]:
    """P6: the interconnect refusals still excluded from placement at ``now``."""
    return {ix: at for ix, at in rejected_at.items() if now - at < memory}
