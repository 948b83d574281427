"""Crash anywhere (P33): the operator dies at its k-th mutating call, a fresh one finishes.

For every k of a full bring-up, in both flavours (the fatal call never
leaves, or it is applied and only the response is lost), a new operator
with empty memory reconciles the same link to Ready; the final provider
state is the same and nothing exists twice on either provider.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from tests.integration.reconcile.conftest import (
    CrashSwitch,
    OperatorCrash,
    Rig,
    assert_ready_on_both,
    link_objects,
    link_request,
)

# Mutating calls of a clean bring-up: the 14 of the protocol minimum, the
# negotiator's own guidance (once per interconnect) and, for a
# destination-account link, the customer key request. k beyond the last one
# means no crash, which checks the baseline through the same path.
BRING_UP_CALLS = {True: 15, False: 16}
CRASH_POINTS = range(1, 18)


async def _crash_then_recover(
    rig: Rig, k: int, commit: bool, *, with_key: bool
) -> tuple[str, str, bool]:
    key = (await rig.aws.issue_key())["encodedKey"] if with_key else None
    request = link_request(key=key, account=None if with_key else "acct-1")
    crashing = rig.operator(CrashSwitch(after=k, commit=commit))
    try:
        await rig.drive(crashing, request, rounds=4)
        crashed = False
    except OperatorCrash:
        crashed = True
    # The controller keeps what it wrote ahead (the UUID annotation) and
    # nothing else; the provider-side state is whatever the crash left.
    fresh = rig.operator()
    request = replace(request, shared_uuid=rig.persisted.get(request.name))
    rig.events.clear()
    result, request = await rig.drive(fresh, request, rounds=2)
    assert result.status is not None
    assert result.status.ready, (k, commit, crashed)
    assert request.shared_uuid is not None
    # The fresh operator went straight to Ready: no refusal, no step without progress.
    assert [e.reason for _, e in rig.events] == []
    return request.shared_uuid, result.status.interconnect or "", crashed


def _no_duplicates(state: dict[str, Any]) -> None:
    connections = Counter((c["interconnect"], c["connection"]) for c in state["connections"])
    features = Counter((f["connection"], f["channel"]) for f in state["features"])
    assert max(connections.values(), default=1) == 1
    assert max(features.values(), default=1) == 1


@pytest.mark.parametrize("commit", [False, True], ids=["lost-request", "lost-response"])
@pytest.mark.parametrize("k", CRASH_POINTS)
@pytest.mark.parametrize("with_key", [True, False], ids=["key", "account"])
async def test_p33_crash_at_any_call_converges_to_the_same_state(
    make_rig: Callable[..., Rig], k: int, commit: bool, with_key: bool
) -> None:
    rig = make_rig()

    uuid, interconnect, crashed = await _crash_then_recover(rig, k, commit, with_key=with_key)

    assert crashed == (k <= BRING_UP_CALLS[with_key])
    neg, res = await rig.states()
    assert_ready_on_both(neg, res, uuid, bandwidth=1000, interconnect=interconnect)
    for state in (neg, res):
        _no_duplicates(state)
        # Exactly one link's worth of objects: nothing left from the dead operator.
        assert len(state["connections"]) == 1
        assert len(state["features"]) == 4
        assert link_objects(state, uuid)[0][0]["connection"] == uuid
    # A key is consumed once; a key lost with the dead operator is never used.
    assert sorted(k_["state"] for k_ in res["activationKeys"])[-1] == "placed"
    assert [k_["state"] for k_ in res["activationKeys"]].count("placed") == 1


@pytest.mark.parametrize("commit", [False, True], ids=["lost-request", "lost-response"])
@pytest.mark.parametrize("k", [1, 2])
async def test_p19_crash_during_deletion_a_fresh_operator_finishes_it(
    make_rig: Callable[..., Rig], k: int, commit: bool
) -> None:
    rig = make_rig()
    op = rig.operator()
    _, request = await rig.drive(op, link_request(account="acct-1"))
    uuid = request.shared_uuid
    assert uuid is not None
    # The controller passes no key and the persisted UUID while deleting.
    deleting = replace(request, deleting=True, interconnect=None, ever_ready=False)
    crashing = rig.operator(CrashSwitch(after=k, commit=commit))
    with pytest.raises(OperatorCrash):
        await rig.drive(crashing, deleting, until=lambda r: r.finalized)

    result, _ = await rig.drive(rig.operator(), deleting, until=lambda r: r.finalized, rounds=1)

    assert result.finalized
    for state in await rig.states():
        assert link_objects(state, uuid) == ([], [])
        assert all(ix["allocatedMbps"] == 0 for ix in state["interconnects"])
