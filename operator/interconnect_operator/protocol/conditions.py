"""Kubernetes-style status conditions, as pure values.

Follows the Kubernetes API conventions (and cluster-api's helper): a
condition's ``last_transition_time`` moves only when its status flips, so
that kstatus, Argo CD and Flux see stable timestamps across reconciles that
merely refresh a reason or a message.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum


class ConditionStatus(StrEnum):
    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


class PoolConditionType(StrEnum):
    """Condition types a CapacityPool reports."""

    READY = "Ready"
    PROVIDERS_REACHABLE = "ProvidersReachable"
    IN_SYNC = "InSync"
    RESILIENT = "Resilient"
    TLS_COMPLIANT = "TlsCompliant"


class LinkConditionType(StrEnum):
    """Condition types a MulticloudLink reports.

    ``Ready`` is the summary that kstatus, Argo CD and Flux read; ``Reconciling``
    and ``Stalled`` are the kstatus abnormal-true conditions.
    """

    READY = "Ready"
    KEY_CONFIRMED = "KeyConfirmed"
    PLACED = "Placed"
    NEGOTIATED = "Negotiated"
    PROVISIONED = "Provisioned"
    VERIFIED = "Verified"
    DEGRADED = "Degraded"
    RESILIENT = "Resilient"
    WITHIN_PREFIX_LIMITS = "WithinPrefixLimits"
    RECONCILING = "Reconciling"
    STALLED = "Stalled"
    ESCALATED = "Escalated"


@dataclass(frozen=True)
class Condition:
    """One condition. ``reason`` is CamelCase; ``message`` is for humans."""

    type: str
    status: ConditionStatus
    reason: str
    message: str = ""
    observed_generation: int | None = None
    last_transition_time: datetime | None = None

    @property
    def is_true(self) -> bool:
        return self.status is ConditionStatus.TRUE

    def to_kube(self) -> dict[str, object]:
        """The Kubernetes wire form (``metav1.Condition``)."""
        out: dict[str, object] = {
            "type": self.type,
            "status": str(self.status),
            "reason": self.reason,
            "message": self.message,
        }
        if self.observed_generation is not None:
            out["observedGeneration"] = self.observed_generation
        if self.last_transition_time is not None:
            out["lastTransitionTime"] = self.last_transition_time.strftime("%Y-%m-%dT%H:%M:%SZ")
        return out


def status_of(value: bool | None) -> ConditionStatus:
    """True/False/None to a condition status."""
    if value is None:
        return ConditionStatus.UNKNOWN
    return ConditionStatus.TRUE if value else ConditionStatus.FALSE


def find(conditions: Iterable[Condition], type_: str) -> Condition | None:
    return next((c for c in conditions if c.type == type_), None)


def merge(
    old: Sequence[Condition], new: Sequence[Condition], now: datetime
) -> tuple[Condition, ...]:
    """Merge freshly computed conditions into the stored ones.

    - a condition whose status did not change keeps its old transition time;
    - a new condition, or one whose status flipped, gets ``now``;
    - order: the order of ``new``, then stored conditions ``new`` does not
      mention, in their stored order (kept, not dropped: another writer may
      own them).
    """
    by_type = {c.type: c for c in old}
    merged: list[Condition] = []
    seen: set[str] = set()
    for cond in new:
        if cond.type in seen:
            raise ValueError(f"duplicate condition type {cond.type!r}")
        seen.add(cond.type)
        previous = by_type.get(cond.type)
        if previous is not None and previous.status == cond.status:
            when = previous.last_transition_time or now
        else:
            when = now
        merged.append(replace(cond, last_transition_time=when))
    merged.extend(c for c in old if c.type not in seen)
    return tuple(merged)


def ready_summary(
    conditions: Iterable[Condition],
    required: Sequence[str],
    observed_generation: int | None = None,
) -> Condition:
    """A ``Ready`` condition summarising ``required`` conditions.

    True when all are True; otherwise False (or Unknown when the first
    non-true one is Unknown) carrying that condition's reason and message.
    """
    by_type = {c.type: c for c in conditions}
    for type_ in required:
        cond = by_type.get(type_)
        if cond is None:
            return Condition(
                "Ready",
                ConditionStatus.UNKNOWN,
                f"{type_}Unknown",
                f"condition {type_} not yet evaluated",
                observed_generation,
            )
        if not cond.is_true:
            status = (
                ConditionStatus.UNKNOWN
                if cond.status is ConditionStatus.UNKNOWN
                else ConditionStatus.FALSE
            )
            return Condition("Ready", status, cond.reason, cond.message, observed_generation)
    return Condition(
        "Ready", ConditionStatus.TRUE, "Ready", "all conditions are met", observed_generation
    )


def not_reconciled(
    reason: str, message: str, generation: int | None, *, stalled: bool, idle: bool = False
) -> tuple[Condition, Condition, Condition]:
    """Ready/Reconciling/Stalled for a link no provider step can advance now.

    ``stalled``: only a change by the user helps (kstatus Failed). Otherwise the
    operator is still at work (Reconciling=True) unless ``idle`` (e.g. paused).
    """
    false, true = ConditionStatus.FALSE, ConditionStatus.TRUE
    quiet = stalled or idle
    return (
        Condition("Ready", false, reason, message, generation),
        Condition(
            "Reconciling",
            false if quiet else true,
            "Idle" if quiet else reason,
            "" if quiet else message,
            generation,
        ),
        Condition(
            "Stalled",
            true if stalled else false,
            reason if stalled else "NotStalled",
            message if stalled else "",
            generation,
        ),
    )
