"""Ready links confirmed without a full reconcile while nothing they depend on changed.

A Ready link is looked at again every ``POLL_SLOW`` (a recheck) and after a
restart. A full reconcile of it (gate, Secrets, decision, status built,
redacted and compared) finds the same Ready from the same inputs; this module
says what those inputs are, so that an unchanged link is confirmed from a
comparison instead. The inputs of a Ready link, all of which must equal those
of its last full reconcile:

- the link object: uid and resourceVersion (any write by anyone: spec,
  annotations such as pause and the shared UUID, finalizers, deletion,
  labels, status);
- its pool: name, spec generation, deletion, and the build of its provider
  clients (a rotated credential rebuilds them);
- the provider data its decision read, taken with that decision
  (``reconcile.views.ready_inputs``: both sides' connection and feature
  records of the link, the channels of its interconnect, the deferral
  settings), compared with the latest snapshot;
- its Secrets (activation key, BGP MD5): read again at each confirmation,
  as a full reconcile reads them, and compared by digest (a link without
  Secrets reads nothing);
- the pool's namespace policy for the link's namespace and the shared
  UUID's ownership record (both answered from memory or a short cache).

Any difference, a pool whose first refresh is not done, or a snapshot with
an unreachable side: the full path. Safety net: a full reconcile at least
every 30 to 60 minutes per link (``FULL_LOOK_SECONDS``, drawn at each full
reconcile so that the links of one burst come due spread out).

After a restart nothing is in memory. A Ready status carries
``inputsDigest``: a digest of the link's uid, generation, annotations and
finalizer, its pool's name and generation and the provider data its Ready
was decided from (never a Secret: records keep keys masked). A link whose
stored status is Ready for its current generation, and whose digest equals
the one computed from the first snapshot, is confirmed (its metrics are set
from the stored status; no write, no call) and remembered as above, its
Secrets unread: its first recheck reads them and takes the full path once.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from interconnect_operator import __version__
from interconnect_operator.k8s.settings import FINALIZER

#: Longest a Ready link goes without a full reconcile (drawn uniformly per link).
FULL_LOOK_SECONDS = (1800.0, 3600.0)
#: Changes whenever what the digest covers or how the status is built changes.
DIGEST_VERSION = "1"


@dataclass(frozen=True)
class ReadyBasis:
    """What a link's last full reconcile found it Ready from (see the module docstring)."""

    link: tuple[str, str]
    pool: tuple[object, ...]
    provider: tuple[object, ...]
    secrets: tuple[tuple[str, str | None], ...]
    recheck: float
    full_due: float
    """Monotonic time after which the next look is a full reconcile."""


def link_part(body: Mapping[str, Any]) -> tuple[str, str]:
    """The link object's identity and version: any write to it changes this."""
    meta = body.get("metadata") or {}
    return str(meta.get("uid") or ""), str(meta.get("resourceVersion") or "")


def pool_part(
    name: str, body: Mapping[str, Any], generation: int, builds: int
) -> tuple[object, ...]:
    """The pool's spec generation, deletion and the build of its clients."""
    deleting = bool((body.get("metadata") or {}).get("deletionTimestamp"))
    return name, generation, builds, deleting


def full_due(rng: random.Random, now: float | None = None) -> float:
    """When the safety net's full reconcile comes due for a link just reconciled in full."""
    start = time.monotonic() if now is None else now
    return start + rng.uniform(*FULL_LOOK_SECONDS)


def inputs_digest(
    body: Mapping[str, Any], pool: str, pool_generation: int, provider: tuple[object, ...]
) -> str:
    """The digest a Ready status carries (``status.inputsDigest``), stable across processes.

    Covers what a restarted operator can check without a read of its own: the
    link's uid, generation, annotations and finalizer, its pool's name and
    generation, and the provider data (records, channels, deferral) its Ready
    was decided from. ``repr`` of the immutable records is deterministic and
    masks keys (``SecretStr``).
    """
    meta = body.get("metadata") or {}
    annotations = sorted((meta.get("annotations") or {}).items())
    parts = (
        DIGEST_VERSION,
        __version__,
        str(meta.get("uid") or ""),
        int(meta.get("generation") or 1),
        annotations,
        FINALIZER in (meta.get("finalizers") or []),
        pool,
        pool_generation,
        provider,
    )
    return hashlib.blake2b(repr(parts).encode(), digest_size=16).hexdigest()


def stored_ready(body: Mapping[str, Any]) -> str | None:
    """The stored ``inputsDigest`` of a link whose stored status says Ready for its
    current generation (None otherwise: such a link takes the full path)."""
    digest = (body.get("status") or {}).get("inputsDigest")
    if not isinstance(digest, str) or not answered_ready(body):
        return None
    return digest


def answered_ready(body: Mapping[str, Any]) -> bool:
    """Whether the stored status says Ready for the link's current generation (and the
    link is not being deleted): a link some operator process already brought up."""
    meta = body.get("metadata") or {}
    status = body.get("status") or {}
    if meta.get("deletionTimestamp") or status.get("phase") != "Ready":
        return False
    if status.get("observedGeneration") != int(meta.get("generation") or 1):
        return False
    ready = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"), None)
    return ready is not None and ready.get("status") == "True"
