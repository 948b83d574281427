"""The rules that put a link's connections on an interconnect: placement (P5-P7)
and a bandwidth change, in place (P16-P17) or by migration (P18).
"""

from __future__ import annotations

from dataclasses import replace

from ..placement import NoCapacity, candidates, pair_views, place
from ..types import ConnectionView, Side
from .outcome import Inputs, Outcome, Where
from .status import Phase
from .steps import (
    POLL_SLOW,
    CreateLocalConnection,
    CreateRemoteConnection,
    DeleteLocal,
    Migrate,
    UpdateBandwidth,
    Wait,
)

__all__ = ["change_bandwidth", "place_connections"]


def place_connections(inp: Inputs, where: Where) -> Outcome | Where:
    """P5-P7: make sure both connections exist on the working interconnect.

    Returns the step that gets them there, or where the link lives once they do.
    """
    facts, neg, resp = inp.facts, inp.neg, inp.resp
    phase = Phase.MIGRATING if where.migrating_to else Phase.PLACING
    working = where.working

    # P6: the peer answered 409 there. Undo our side, then place elsewhere.
    if working is not None and working in facts.rejected_interconnects and resp.on(working) is None:
        if neg.on(working) is not None:
            return Outcome(DeleteLocal(working), phase, where)
        if where.migrating_to:
            # Back to the old interconnect; a new target is chosen by _update.
            back = Where(where.interconnect)
            return back if inp.both_present(back.interconnect) else place_connections(inp, back)
        where = Where(None)
        working = None

    if working is None:
        # A TEST connection holds no capacity (upstream PR #57): any ACTIVE interconnect.
        choice = place(
            inp.pool_neg,
            inp.pool_resp,
            inp.spec.reserved_mbps,
            facts.shared_uuid,
            exclude=facts.rejected_interconnects,
        )
        if isinstance(choice, NoCapacity):
            wait = Wait("NoCapacity", choice.message, POLL_SLOW // 5)
            return Outcome(
                wait, Phase.PLACING, where, stalled="NoCapacity", no_capacity=choice.message
            )
        step = CreateLocalConnection(choice.id, inp.spec.bandwidth_mbps)
        return Outcome(step, Phase.PLACING, replace(where, interconnect=choice.id))

    if neg.on(working) is None:
        return Outcome(CreateLocalConnection(working, inp.spec.bandwidth_mbps), phase, where)
    local = neg.on(working)
    if resp.on(working) is None:
        assert local is not None
        # The table's next decision once the responder holds it is RequestGuidance
        # (P8) unless the peer drives (P22), guidance is at hand, or the bandwidth
        # changes first (P16): then it is asked for in the same decision.
        then_guidance = (
            not facts.deferred
            and not facts.guidance_ready
            and local.bandwidth_mbps == inp.spec.bandwidth_mbps
        )
        step_ = CreateRemoteConnection(
            working, local.bandwidth_mbps, facts.deferred, then_guidance=then_guidance
        )
        return Outcome(step_, phase, where)
    return where


def change_bandwidth(
    inp: Inputs, where: Where, working: str, local: ConnectionView, remote: ConnectionView
) -> Outcome | None:
    """P16-P18: change bandwidth in place when the interconnect has room, else migrate."""
    want = inp.spec.bandwidth_mbps
    if local.bandwidth_mbps == want and remote.bandwidth_mbps == want:
        return None
    if inp.facts.update_in_progress:
        wait = Wait(
            "UpdateInProgress",
            "P17: the provider is processing an update of this connection (409)",
            max(1, inp.facts.update_wait_seconds),
        )
        return Outcome(wait, Phase.UPDATING, where)
    if _fits_in_place(inp, working, local, remote):
        # P16 in the spec's order: the local provider first (it checks its own
        # capacity), then it confirms with the peer.
        side = Side.NEGOTIATOR if local.bandwidth_mbps != want else Side.RESPONDER
        return Outcome(UpdateBandwidth(working, side, want), Phase.UPDATING, where)
    exclude = {working, *inp.facts.rejected_interconnects}
    reserved = inp.spec.reserved_mbps
    found = candidates(
        inp.pool_neg, inp.pool_resp, reserved, inp.facts.shared_uuid, exclude=exclude
    )
    if not found:
        choice = place(
            inp.pool_neg, inp.pool_resp, reserved, inp.facts.shared_uuid, exclude=exclude
        )
        detail = choice.message if isinstance(choice, NoCapacity) else ""
        why = f"P18: {working} lacks room for {want} Mbps and no other interconnect fits: {detail}"
        wait = Wait("NoCapacity", why, POLL_SLOW // 5)
        return Outcome(wait, Phase.UPDATING, where, stalled="NoCapacity", no_capacity=why)
    target = found[0].id
    return Outcome(
        Migrate(working, target, want), Phase.MIGRATING, replace(where, migrating_to=target)
    )


def _fits_in_place(
    inp: Inputs, working: str, local: ConnectionView, remote: ConnectionView
) -> bool:
    """Room for the change on both sides of the current interconnect (P16).

    Each side's reservation already counts that side's current bandwidth, so
    each side needs room for the difference only. Without a pool view the
    peer decides (it answers 409 when the change does not fit).
    """
    want = inp.spec.bandwidth_mbps
    if inp.spec.test_connection:
        return True  # a TEST connection holds no capacity (upstream PR #57)
    pairs = {c.id: c for c in pair_views(inp.pool_neg, inp.pool_resp)}
    cap = pairs.get(working)
    if cap is None or cap.negotiator is None or cap.responder is None:
        return True
    return (
        cap.negotiator.free_mbps >= want - local.bandwidth_mbps
        and cap.responder.free_mbps >= want - remote.bandwidth_mbps
    )
