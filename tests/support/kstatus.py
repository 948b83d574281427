"""kstatus, the status reading Flux (and kpt, cli-utils) apply to any object.

A Python rendering of the rules of sigs.k8s.io/cli-utils ``pkg/kstatus``
(``status.Compute``) for custom resources, so tests can check that the
operator's status lets Flux tell Ready, in progress and failed links apart
without custom code:

1. ``metadata.deletionTimestamp`` set -> Terminating;
2. ``status.observedGeneration`` present and != ``metadata.generation`` ->
   InProgress (the controller has not seen the latest spec);
3. the first of ``Reconciling=True`` -> InProgress, ``Stalled=True`` ->
   Failed ("abnormal-true" conditions);
4. otherwise Current: kstatus has no type-specific rule for custom resources,
   so the absence of the abnormal conditions means done.

Rule 4 makes an object that has no status at all Current, which is why the
kstatus convention asks controllers to write ``observedGeneration`` and the
two abnormal-true conditions. ``strict=True`` adds what that convention
implies for a resource that does publish them: no ``observedGeneration`` yet
means InProgress, and a ``Ready`` condition that is not True means
InProgress. The operator's objects must read the same under both.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class KStatus(StrEnum):
    CURRENT = "Current"
    IN_PROGRESS = "InProgress"
    FAILED = "Failed"
    TERMINATING = "Terminating"


@dataclass(frozen=True)
class Result:
    status: KStatus
    message: str


def _conditions(obj: Mapping[str, Any]) -> Sequence[Mapping[str, Any]]:
    status = obj.get("status") or {}
    conditions = status.get("conditions") or []
    return [c for c in conditions if isinstance(c, Mapping)]


def compute(obj: Mapping[str, Any], *, strict: bool = False) -> Result:
    """The kstatus of ``obj`` (a Kubernetes object as a dict)."""
    metadata = obj.get("metadata") or {}
    if metadata.get("deletionTimestamp"):
        return Result(KStatus.TERMINATING, "Resource scheduled for deletion")

    kind = obj.get("kind", "Resource")
    generation = metadata.get("generation")
    observed = (obj.get("status") or {}).get("observedGeneration")
    if generation is not None and observed is not None and int(observed) != int(generation):
        return Result(
            KStatus.IN_PROGRESS,
            f"{kind} generation is {generation}, but latest observed generation is {observed}",
        )
    if strict and generation is not None and observed is None:
        return Result(KStatus.IN_PROGRESS, f"{kind} has no observed generation yet")

    conditions = _conditions(obj)
    for condition in conditions:
        if condition.get("status") != "True":
            continue
        if condition.get("type") == "Reconciling":
            return Result(KStatus.IN_PROGRESS, str(condition.get("message", "")))
        if condition.get("type") == "Stalled":
            return Result(KStatus.FAILED, str(condition.get("message", "")))

    if strict:
        ready = next((c for c in conditions if c.get("type") == "Ready"), None)
        if ready is not None and ready.get("status") != "True":
            return Result(KStatus.IN_PROGRESS, str(ready.get("message", "")))
    return Result(KStatus.CURRENT, "Resource is current")
