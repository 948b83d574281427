"""P21: which leftovers the operator removes after seven days, and which never: pure.

P21 lets either provider delete a connection that never finalised, or that
exists on one side only, seven days on. The operator applies it to what it
created itself and could not finish (a crash, a create whose response was
lost), and to nothing else: a leftover qualifies only when the operator's own
ownership record for its shared UUID names a link uid that no longer exists.
A connection without such a record may belong to another party (another
operator, the provider's console, another customer) and is never touched; a
record naming a live link leaves the connection to that link's reconciler.

Seven days count twice over, both must have passed: since the ownership
record was written (it precedes every CreateConnection of the link), and
since the operator first saw the connection as a leftover (its own
observation; after a restart it starts again, which only ever delays).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from .types import Side

__all__ = ["CLEANUP_AFTER", "Leftover", "Verdict", "decide_cleanup"]

#: P21: a leftover may be deleted seven days on.
CLEANUP_AFTER = timedelta(days=7)


@dataclass(frozen=True)
class Leftover:
    """A connection under one shared UUID as both providers list it."""

    uuid: str
    interconnect: str
    sides: frozenset[Side]
    """Where a connection under the UUID exists."""
    verified: frozenset[Side]
    """Where it is VERIFIED (P14)."""

    @property
    def one_sided(self) -> bool:
        return len(self.sides) == 1

    @property
    def finalised(self) -> bool:
        return len(self.sides) == 2 and self.verified >= self.sides


@dataclass(frozen=True)
class Verdict:
    delete: bool
    reason: str
    """Delete: ``P21OneSided`` or ``P21NeverFinalised``; keep: why not."""


def decide_cleanup(
    leftover: Leftover,
    *,
    record_uid: str | None,
    record_created: datetime | None,
    live_uids: Collection[str],
    first_seen: datetime,
    now: datetime,
    after: timedelta = CLEANUP_AFTER,
) -> Verdict:
    """Whether to delete ``leftover`` now (P21), and why (not)."""
    if record_uid is None:
        return Verdict(False, "NotCreatedByUs")
    if record_uid in live_uids:
        return Verdict(False, "LinkExists")
    if leftover.finalised:
        # P21 covers connections never finalised or present on one side only.
        return Verdict(False, "Finalised")
    if record_created is None or now - record_created < after or now - first_seen < after:
        return Verdict(False, "YoungerThanSevenDays")
    return Verdict(True, "P21OneSided" if leftover.one_sided else "P21NeverFinalised")
