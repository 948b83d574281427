"""Races that must never read as a deletion by a provider (P19 from its side, P33).

A connection counts as deleted by a provider only when it was seen there
settled (VERIFIED, or the link was Ready) and a fresh read confirms it gone,
with no create of the operator's in flight or of unknown outcome. Each test
plays a race the every-operation fault scenario produces: a CreateConnection
whose request or response is lost, a 5xx on create, a bulk list that raced the
operator's own create, a failed confirming read, and a restart from a status
written while a create's outcome was unknown. Each link must end Ready with
one connection per side and no DeletedBy reason ever reported.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import httpx
import pytest

from interconnect_operator.protocol.conditions import LinkConditionType
from interconnect_operator.reconcile.link import LinkRequest, LinkResult
from tests.integration.reconcile.conftest import (
    Operator,
    Rig,
    assert_ready_on_both,
    link_request,
)

CADENCES = pytest.mark.parametrize("refresh_every", [1, 2, 3, 4])
"""Reconciles per pool refresh: which reconcile sees the snapshot a lost call left."""


def _is_create_connection(request: httpx.Request, host: str) -> bool:
    return (
        request.method == "POST"
        and request.url.host == host
        and request.url.path.endswith("/connections")
    )


class LoseCreate(httpx.AsyncBaseTransport):
    """The first ``times`` CreateConnection calls to ``host`` fail without an answer.

    ``mode``: ``drop`` (never reaches the provider), ``commit`` (applied, the
    response lost), ``error`` (a 503 before processing), ``late`` (lost now,
    applied when the next request to that host goes out: a delayed packet).
    """

    def __init__(
        self, inner: httpx.AsyncBaseTransport, host: str, mode: str, times: int = 1
    ) -> None:
        self._inner = inner
        self._host = host
        self._mode = mode
        self._left = times
        self._late: list[httpx.Request] = []
        self.seen: Counter[str] = Counter()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.host == self._host and self._late and request.method == "GET":
            # The delayed create lands only after the operator read the connection
            # back and found nothing (the worst order for a lost outcome).
            response = await self._inner.handle_async_request(request)
            late, self._late = self._late, []
            for pending in late:
                await (await self._inner.handle_async_request(pending)).aread()
            return response
        if not _is_create_connection(request, self._host) or self._left <= 0:
            return await self._inner.handle_async_request(request)
        self._left -= 1
        self.seen[self._mode] += 1
        if self._mode == "error":
            return httpx.Response(
                503, json={"error": {"code": 503, "message": "backend unavailable"}}
            )
        if self._mode == "commit":
            await (await self._inner.handle_async_request(request)).aread()
        if self._mode == "late":
            await request.aread()
            self._late.append(request)
        raise httpx.ReadTimeout("no response", request=request)


def _deleted_reasons(results: list[LinkResult], rig: Rig) -> list[str]:
    """Every DeletedBy reason a condition or an Event ever showed."""
    seen = [e.reason for _, e in rig.events if e.reason.startswith("DeletedBy")]
    for result in results:
        if result.status is None:
            continue
        for cond in result.status.conditions:
            if cond.reason.startswith("DeletedBy"):
                seen.append(cond.reason)
    return seen


async def _play(
    rig: Rig, op: Operator, request: LinkRequest, *, rounds: int, refresh_every: int
) -> tuple[list[LinkResult], LinkRequest]:
    """The controller with a slow pool timer: several reconciles between bulk
    refreshes, so a reconcile sees the snapshot its own failed call left behind."""
    results: list[LinkResult] = []
    for round_ in range(rounds):
        result = await op.reconciler.reconcile(request)
        results.append(result)
        rig.events.extend((request.name, e) for e in result.events)
        if result.persist_uuid is not None:
            request = replace(request, shared_uuid=result.persist_uuid)
            continue
        if result.status is not None and result.status.interconnect:
            request = replace(request, interconnect=result.status.interconnect)
        if result.status is not None and result.status.ready:
            request = replace(request, ever_ready=True)
            break
        rig.clock.advance(max(result.requeue_after or 1.0, 0.001))
        if round_ % refresh_every == refresh_every - 1:
            await op.runtime.refresh()
    return results, request


async def _assert_ready_once(rig: Rig, results: list[LinkResult], request: LinkRequest) -> None:
    assert _deleted_reasons(results, rig) == []
    last = results[-1]
    assert last.status is not None
    assert last.status.ready, (last.status.phase, last.status.message)
    assert request.shared_uuid is not None
    neg, res = await rig.states()
    assert_ready_on_both(
        neg, res, request.shared_uuid, bandwidth=1000, interconnect=last.status.interconnect or ""
    )


@CADENCES
async def test_a_dropped_create_at_the_responder_is_not_a_deletion_p33(
    rig: Rig, refresh_every: int
) -> None:
    lost: list[LoseCreate] = []

    def wrap(inner: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
        lost.append(LoseCreate(inner, "aws.sim", "drop"))
        return lost[-1]

    op = rig.operator(wrap=wrap)
    results, request = await _play(
        rig, op, link_request(account="acct-1"), rounds=30, refresh_every=refresh_every
    )

    assert sum(t.seen["drop"] for t in lost) == 1
    await _assert_ready_once(rig, results, request)


@CADENCES
async def test_a_create_applied_with_its_response_lost_is_not_a_deletion_p33(
    rig: Rig, refresh_every: int
) -> None:
    lost: list[LoseCreate] = []

    def wrap(inner: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
        lost.append(LoseCreate(inner, "aws.sim", "commit"))
        return lost[-1]

    op = rig.operator(wrap=wrap)
    results, request = await _play(
        rig, op, link_request(account="acct-1"), rounds=30, refresh_every=refresh_every
    )

    assert sum(t.seen["commit"] for t in lost) == 1
    await _assert_ready_once(rig, results, request)


@CADENCES
async def test_a_5xx_on_create_at_either_side_is_not_a_deletion_p32(
    rig: Rig, refresh_every: int
) -> None:
    lost: list[LoseCreate] = []

    def wrap(inner: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
        # Three 503s at each provider: more than the client's own retries.
        lost.append(LoseCreate(LoseCreate(inner, "gcp.sim", "error", 3), "aws.sim", "error", 3))
        return lost[-1]

    op = rig.operator(wrap=wrap)
    results, request = await _play(
        rig, op, link_request(account="acct-1"), rounds=40, refresh_every=refresh_every
    )

    assert sum(t.seen["error"] for t in lost) >= 3
    await _assert_ready_once(rig, results, request)


@CADENCES
async def test_a_create_that_lands_after_the_read_back_is_not_a_deletion_p33(
    rig: Rig, refresh_every: int
) -> None:
    lost: list[LoseCreate] = []

    def wrap(inner: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
        lost.append(LoseCreate(inner, "aws.sim", "late"))
        return lost[-1]

    op = rig.operator(wrap=wrap)
    results, request = await _play(
        rig, op, link_request(account="acct-1"), rounds=30, refresh_every=refresh_every
    )

    assert sum(t.seen["late"] for t in lost) == 1
    await _assert_ready_once(rig, results, request)


@CADENCES
async def test_a_bulk_list_that_raced_the_create_is_not_a_deletion(
    rig: Rig, refresh_every: int
) -> None:
    op = rig.operator()
    request = link_request(account="acct-1")
    # A refresh that started before the creates and ends after them: its lists
    # hold neither connection, and it replaces the snapshot the creates updated.
    stale = await op.runtime.refresh()
    results: list[LinkResult] = []
    for _ in range(3):
        result = await op.reconciler.reconcile(request)
        results.append(result)
        if result.persist_uuid is not None:
            request = replace(request, shared_uuid=result.persist_uuid)
        elif result.status is not None and result.status.interconnect:
            request = replace(request, interconnect=result.status.interconnect)
    assert request.shared_uuid is not None
    neg, _ = await rig.states()
    assert [c["connection"] for c in neg["connections"]] == [request.shared_uuid]
    op.runtime.snapshot = stale

    more, request = await _play(rig, op, request, rounds=30, refresh_every=refresh_every)

    await _assert_ready_once(rig, results + more, request)


async def test_a_restart_from_a_status_written_during_a_lost_create_is_not_a_deletion(
    rig: Rig,
) -> None:
    lost: list[LoseCreate] = []

    def wrap(inner: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
        lost.append(LoseCreate(inner, "aws.sim", "drop"))
        return lost[-1]

    first = rig.operator(wrap=wrap)
    # The status the controller wrote while the create was lost (the placeholder
    # the operator counts the bandwidth with shows in the status it computes).
    _, request = await rig.drive(
        first, link_request(account="acct-1"), until=lambda r: True, rounds=2
    )
    for _ in range(4):
        _, request = await rig.drive(first, request, until=lambda r: True, rounds=1)
    assert sum(t.seen["drop"] for t in lost) == 1
    assert request.shared_uuid is not None

    fresh = rig.operator()
    await fresh.runtime.refresh()
    results, request = await _play(rig, fresh, request, rounds=30, refresh_every=2)

    await _assert_ready_once(rig, results, request)


async def test_a_ready_link_whose_confirming_read_fails_is_not_deleted_p19(rig: Rig) -> None:
    op = rig.operator()
    _, request = await rig.drive(op, link_request(account="acct-1"))
    assert request.shared_uuid is not None
    # The bulk list misses the connection (a paged list that shifted) and the
    # confirming GetConnection fails: nothing may be concluded.
    response = await rig.aws.admin.post(
        "/admin/faults",
        json={"seed": 1, "operations": {"GetConnection": {"error_rate": 1.0}}},
    )
    assert response.status_code == 200, response.text
    snapshot = await op.runtime.refresh()
    for by_uuid in snapshot.responder.connections.values():
        by_uuid.pop(request.shared_uuid, None)

    result = await op.reconciler.reconcile(replace(request, ever_ready=True))

    assert result.status is not None
    assert [e.reason for e in result.events if e.reason.startswith("DeletedBy")] == []
    ready_cond = result.status.condition(LinkConditionType.READY)
    assert not ready_cond.reason.startswith("DeletedBy")
    # Once the provider answers again, the link is simply Ready.
    assert (await rig.aws.admin.post("/admin/faults", json={"operations": {}})).status_code == 200
    rig.clock.advance(600)
    await op.runtime.refresh()
    again = await op.reconciler.reconcile(replace(request, ever_ready=True))
    assert again.status is not None
    assert again.status.ready
    assert [e.reason for e in again.events if e.reason.startswith("DeletedBy")] == []


async def test_a_create_that_landed_unseen_is_deleted_with_the_link_p19_p33(rig: Rig) -> None:
    """The responder's create was lost, read back as absent, then landed; the
    user deletes the link before any refresh shows it: it goes with the link."""
    lost: list[LoseCreate] = []

    def wrap(inner: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
        lost.append(LoseCreate(inner, "aws.sim", "late"))
        return lost[-1]

    op = rig.operator(wrap=wrap)
    request = link_request(account="acct-1")
    for _ in range(2):
        result = await op.reconciler.reconcile(request)
        if result.persist_uuid is not None:
            request = replace(request, shared_uuid=result.persist_uuid)
    assert sum(t.seen["late"] for t in lost) == 1
    assert request.shared_uuid is not None
    _, res = await rig.states()
    assert [c["connection"] for c in res["connections"]] == [request.shared_uuid]

    gone, _ = await rig.drive(
        op, replace(request, deleting=True), until=lambda r: r.finalized, rounds=4
    )

    assert gone.finalized
    for state in await rig.states():
        assert state["connections"] == []
        assert state["features"] == []


@CADENCES
async def test_seeded_simulator_faults_on_create_connection_are_never_a_deletion_p33(
    rig: Rig, refresh_every: int
) -> None:
    """The simulators' own fault injection: CreateConnection dropped, applied with
    its response lost, or answered 503, at both providers, seeded."""
    rule = {"drop_rate": 0.3, "timeout_after_commit_rate": 0.3, "error_rate": 0.2}
    for handle in (rig.aws, rig.gcp):
        config = {"seed": 11, "hang_seconds": 0, "operations": {"CreateConnection": rule}}
        response = await handle.admin.post("/admin/faults", json=config)
        assert response.status_code == 200, response.text
    op = rig.operator()

    results, request = await _play(
        rig, op, link_request(account="acct-1"), rounds=60, refresh_every=refresh_every
    )

    stats = [await handle.stats() for handle in (rig.aws, rig.gcp)]
    injected = sum(
        count
        for s in stats
        for status, count in s["byOperation"]["CreateConnection"].get("byStatus", {}).items()
        if status != "200"
    )
    assert injected > 0, stats
    await _assert_ready_once(rig, results, request)
