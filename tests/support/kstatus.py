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
4. a ``Ready`` condition: True -> Current, False or Unknown -> InProgress
   (the library's last check for kinds it has no rules for);
5. otherwise Current: the absence of every known condition means done.

Rule 5 makes an object that has no status at all Current, which is why the
kstatus convention asks controllers to write ``observedGeneration`` and the
conditions. ``strict=True`` adds what that convention implies for a resource
that does publish them: no ``observedGeneration`` yet means InProgress.
The operator's objects must read the same under both once it has written
their status.

The referee is the library itself: `compute_go` runs sigs.k8s.io/cli-utils'
``status.Compute`` (hack/kstatus, built by hack/build-controlplane.sh) over
the same objects, and the tests require the plain reading here to agree with
it on every object they classify. The Python rules stay for what the library
does not offer: the ``strict`` reading (the convention Argo CD's health
checks and the demo apply), used where a test needs it.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
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

    ready = next((c for c in conditions if c.get("type") == "Ready"), None)
    if ready is not None and ready.get("status") == "True":
        return Result(KStatus.CURRENT, "Resource is Ready")
    if ready is not None and ready.get("status") in ("False", "Unknown"):
        return Result(KStatus.IN_PROGRESS, str(ready.get("message", "")))
    return Result(KStatus.CURRENT, "Resource is current")


def kstatus_binary() -> Path:
    """The Go kstatus referee: ``$KSTATUS``, else built (or found) by the control-plane script."""
    if os.environ.get("KSTATUS"):
        return Path(os.environ["KSTATUS"])
    from tests.support.cluster import ensure_binaries

    return ensure_binaries(quiet=True).kstatus


def compute_go(objects: Sequence[Mapping[str, Any]]) -> list[Result]:
    """What sigs.k8s.io/cli-utils' ``status.Compute`` says of each object, in order."""
    result = subprocess.run(
        [str(kstatus_binary())],
        input=json.dumps(list(objects)),
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    if result.returncode != 0:
        raise RuntimeError(f"kstatus failed: {result.stderr.strip()}")
    return [Result(KStatus(v["status"]), v["message"]) for v in json.loads(result.stdout)]
