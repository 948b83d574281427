"""When a link may try a provider step again (P32-P33 at the level of one link).

The provider client retries single calls (``api.retry``); this module is the
discipline across reconciles of one link:

- backoff: exponential with full jitter and a cap, raised to a provider's
  Retry-After (a minimum, never shortened) and floored so a link never spins;
- refusals: a 400 answers a step for good (P32). The step is not tried again
  until the link's spec or the provider's data for the link changes, which
  :func:`observation_fingerprint` and :class:`Refusal` capture;
- cycles: a sequence of decisions that comes back to one it has already made
  twice within one reconcile makes no progress (A, B, A, B, A), not only an
  immediate repeat;
- provider text shown in a condition is sanitised: printable, one line,
  bounded, and with anything shaped like a credential masked.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from .types import ProviderObservation, Side

#: First backoff ceiling (seconds); doubles per consecutive failed reconcile.
BACKOFF_BASE_SECONDS = 2.0
#: Highest backoff ceiling (seconds).
BACKOFF_CAP_SECONDS = 300.0
#: Lowest delay of any retry: a link never requeues at once after a failure.
BACKOFF_FLOOR_SECONDS = 1.0
#: A server's Retry-After is honoured up to this many seconds (a hostile peer
#: must not park a link for days).
MAX_RETRY_AFTER_SECONDS = 3600.0
#: Provider calls one reconcile of one link may make (a bring-up needs about 16).
CALL_BUDGET = 40
#: A decision seen this many times within one reconcile is a cycle.
CYCLE_LIMIT = 3
#: 409s of the same step within one reconcile before the link backs off (the second
#: is the P10 restart from fresh guidance; a link already backing off stops at one).
CONFLICTS_PER_RECONCILE = 2

_MAX_SHOWN = 200
_TOKEN = re.compile(r"[A-Za-z0-9+/=_\-.]{32,}")
_UNPRINTABLE = re.compile(r"[^\x20-\x7e]+")


def backoff_seconds(attempt: int, uniform: float, retry_after: float | None = None) -> float:
    """Delay before try ``attempt + 1`` after ``attempt`` (>= 1) consecutive failures.

    ``uniform`` is a draw in [0, 1) (full jitter: the delay is uniform in
    [0, ceiling], ceiling = min(cap, base * 2**(attempt-1))); the result is
    at least the floor and at least the server's Retry-After.
    """
    exponent = min(max(attempt, 1) - 1, 30)
    ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2.0**exponent)
    delay = max(BACKOFF_FLOOR_SECONDS, min(max(uniform, 0.0), 1.0) * ceiling)
    if retry_after is not None and retry_after > 0:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER_SECONDS))
    return delay


def step_key(step: object) -> str:
    """A stable name of what a step acts on (kind, interconnect, channel, side, size)."""
    parts = [str(getattr(step, "kind", type(step).__name__))]
    for attr in ("interconnect", "to_interconnect", "channel", "side", "bandwidth_mbps"):
        value = getattr(step, attr, None)
        if value is not None:
            parts.append(value.value if isinstance(value, Side) else str(value))
    return ":".join(parts)


def observation_fingerprint(generation: int, *observations: ProviderObservation) -> str:
    """What a refusal depends on: the spec generation and both sides' view of the link.

    Independent of the order the providers listed things in.
    """
    parts = [f"g{generation}"]
    for obs in observations:
        for ix, conn in sorted(obs.connections.items()):
            features = sorted(
                (ch, f.vlan, str(f.ipv4_subnet), f.mtu, str(f.state))
                for ch, f in conn.features.items()
            )
            parts.append(
                f"{obs.side.value}/{ix}/{conn.bandwidth_mbps}/{conn.admin_state}/"
                f"{conn.verification}/{conn.defer_provisioning}/{features}"
            )
    return "|".join(parts)


@dataclass(frozen=True)
class Refusal:
    """A step a provider answered with 400, and what the answer depended on."""

    step: str
    side: Side
    message: str
    fingerprint: str

    def holds(self, fingerprint: str) -> bool:
        """Still in force: nothing it depended on has changed."""
        return fingerprint == self.fingerprint


def sanitise(text: str) -> str:
    """Provider text fit for a condition message: one printable line, bounded,
    credential-shaped runs (long base64/hex tokens) masked."""
    line = _UNPRINTABLE.sub(" ", text)
    line = _TOKEN.sub("[redacted]", line)
    line = " ".join(line.split())
    if len(line) > _MAX_SHOWN:
        line = line[: _MAX_SHOWN - 3] + "..."
    return line


@dataclass
class CycleGuard:
    """Decisions made within one reconcile; tells a repeat or a cycle from progress.

    A repeat is the same decision twice in a row. A cycle is the same decision
    taken in the same observed state (the providers' view of the link) for
    the ``limit``-th time: the steps between brought the link back to where it
    was (A, B, A, B, A), e.g. a feature created, refused by the peer, deleted.
    Different states mean progress, however often a decision recurs.
    """

    limit: int = CYCLE_LIMIT
    _seen: Counter[tuple[str, str]] = field(default_factory=Counter)
    _previous: str | None = None

    def no_progress(self, decision: str, state: str) -> bool:
        """Record ``decision`` (its steps' repr) taken in ``state`` (a fingerprint)."""
        repeat = decision == self._previous
        self._previous = decision
        self._seen[decision, state] += 1
        return repeat or self._seen[decision, state] >= self.limit
