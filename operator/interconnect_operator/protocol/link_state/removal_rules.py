"""The rules that remove a link's connections: deletion (P19), the deferral
rollback (P23), and a connection a provider deleted (P19 from its side).

The peer's connection always goes first: the order P23 prescribes for a
rollback, the reverse of creation (P5), and a crash in between leaves the
leftover on our side, where the next reconcile finds it.
"""

from __future__ import annotations

from ..types import DeletionPolicy
from .health import health
from .outcome import Inputs, Outcome, Where
from .status import Phase
from .steps import DeleteLocal, DeleteRemote, Done, Fail, RenewKey, Step

__all__ = ["deferral_timeout", "delete_all", "delete_link", "deleted_by_provider"]


def deferral_timeout(inp: Inputs, where: Where) -> Outcome | None:
    """P23: the deferring side rolls back what the peer did not finalise in time.

    The timeout counts from the deferred CreateConnection (not from the link's
    creation: time spent waiting for capacity is not the peer's). A link that
    was ever finalised, and a link being updated or migrated (P16-P18), is
    never rolled back: its connection carries traffic.
    """
    facts = inp.facts
    if (
        not facts.deferred
        or facts.deferral_timeout is None
        or facts.deferred_since is None
        or facts.ever_ready
        or where.migrating_to is not None
        or facts.now - facts.deferred_since <= facts.deferral_timeout
    ):
        return None
    working = where.working
    local, remote = inp.neg.on(working), inp.resp.on(working)
    if health(local, remote, facts.channels).ready:
        return None
    want = inp.spec.bandwidth_mbps
    if any(c is not None and c.bandwidth_mbps != want for c in (local, remote)):
        return None  # an update in place (P16-P17) is under way
    rollback = delete_all(inp)
    if rollback is not None:
        return Outcome(rollback[0], Phase.DELETING, where, concurrent=rollback)
    hours = facts.deferral_timeout.total_seconds() / 3600
    message = f"P23: not finalised within the deferral timeout of {hours:g}h; rolled back"
    return Outcome(Fail("DeferralTimeout", message), Phase.FAILED, where)


def deleted_by_provider(inp: Inputs, where: Where) -> Outcome | None:
    """P19 from a provider's side: the link's connection existed there and is gone.

    The customer cancelled at that provider; its key and shared UUID are
    consumed (P3, P19) and are never used again. Default: report and wait for
    the user. Opted in (``facts.recreate``): remove what is left, peer first,
    then renew the key, which gives the link a new shared UUID.
    """
    facts = inp.facts
    if not facts.deleted_by:
        return None
    sides = sorted(facts.deleted_by)
    who = " and ".join(facts.deleted_by[s] for s in sides)
    if len(sides) == 2:
        reason = "DeletedByBothProviders"
    else:
        reason = f"DeletedBy{sides[0].value.capitalize()}"
    if facts.recreate:
        leftovers = delete_all(inp)
        if leftovers is not None:
            return Outcome(leftovers[0], Phase.PENDING, where, concurrent=leftovers)
        message = f"P19: {who} deleted the connection; starting over with a fresh key (P1)"
        return Outcome(RenewKey(reason, message), Phase.PENDING, Where(None))
    message = (
        f"P19: {who} deleted the connection (the customer's intent at that provider); "
        "its activation key and shared UUID are consumed and not reused. Delete the link "
        "(what is left goes with it) or give it a new key"
    )
    return Outcome(Fail(reason, message), Phase.FAILED, where)


def delete_all(inp: Inputs) -> tuple[Step, ...] | None:
    """Every connection of the link, the peer's first (P19, P23)."""
    remote = tuple(DeleteRemote(i) for i in sorted(inp.resp.connections))
    if remote:
        return remote
    local = tuple(DeleteLocal(i) for i in sorted(inp.neg.connections))
    return local or None


def delete_link(inp: Inputs, where: Where) -> Outcome:
    if inp.spec.deletion_policy is DeletionPolicy.ORPHAN:
        return Outcome(Done("Orphaned"), Phase.DELETING, where)
    steps = delete_all(inp)
    if steps is not None:
        return Outcome(steps[0], Phase.DELETING, where, concurrent=steps)
    return Outcome(Done("Deleted"), Phase.DELETING, where)
