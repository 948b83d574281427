"""Faults between the operator and a provider that it must survive in one process.

P33: after a lost response the operator reads before it retries and keeps
the same ids and body. SideReader: a provider that refuses the feature
wildcard is read per connection instead.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import httpx

from tests.integration.reconcile.conftest import (
    Rig,
    assert_ready_on_both,
    calls_by_operation,
    link_request,
)


class LoseFirstResponse(httpx.AsyncBaseTransport):
    """Applies every request, but drops the response of the first attempt of each
    non-idempotent create or delete (the connection breaks after the server
    committed)."""

    def __init__(self, inner: httpx.AsyncBaseTransport, lost: Counter[str]) -> None:
        self._inner = inner
        self._lost = lost
        self._seen: set[str] = set()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        path = request.url.path
        creates = request.method == "POST" and path.endswith(("/connections", "/features"))
        if (creates or request.method == "DELETE") and str(request.url) not in self._seen:
            self._seen.add(str(request.url))
            await response.aread()
            self._lost[request.method + " " + path.rsplit("/", 1)[-1]] += 1
            raise httpx.ReadError("connection reset after the request was sent")
        return response


class RefuseWildcard(httpx.AsyncBaseTransport):
    """A provider that does not know the ``connections/-/features`` wildcard."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self._inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if "/connections/-/" in request.url.path:
            return httpx.Response(
                400, json={"error": {"code": 400, "message": "invalid connection id"}}
            )
        return await self._inner.handle_async_request(request)


async def test_p33_lost_responses_are_read_back_not_duplicated(rig: Rig) -> None:
    lost: Counter[str] = Counter()
    op = rig.operator(wrap=lambda t: LoseFirstResponse(t, lost))
    ready, request = await rig.drive(op, link_request(account="acct-1"), rounds=12)
    assert request.shared_uuid is not None
    assert ready.status is not None
    interconnect = ready.status.interconnect or ""
    # Every create lost its first response (2 connections + 8 features).
    assert sum(lost.values()) == 10
    neg, res = await rig.states()
    assert_ready_on_both(neg, res, request.shared_uuid, bandwidth=1000, interconnect=interconnect)
    calls = calls_by_operation(await rig.gcp.stats(), await rig.aws.stats())
    # Each create reached the provider once; the operator read it back instead of resending.
    assert calls["CreateConnection"] == 2
    assert calls["CreateFeature"] == 8
    assert calls["GetConnection"] + calls["GetFeature"] >= 10

    lost.clear()
    gone, _ = await rig.drive(
        op, replace(request, deleting=True), until=lambda r: r.finalized, rounds=6
    )
    assert gone.finalized
    assert lost["DELETE " + request.shared_uuid] == 2
    for state in await rig.states():
        assert state["connections"] == []
        assert state["features"] == []


async def test_snapshot_falls_back_to_per_connection_feature_lists(rig: Rig) -> None:
    op = rig.operator(wrap=RefuseWildcard)
    _ready, request = await rig.drive(op, link_request(account="acct-1"))
    assert request.shared_uuid is not None
    await rig.gcp.reset_stats()
    await rig.aws.reset_stats()

    snapshot = await op.runtime.refresh()

    for side_view in (snapshot.negotiator, snapshot.responder):
        features = [by_uuid.get(request.shared_uuid, {}) for by_uuid in side_view.features.values()]
        assert sorted(ch for f in features for ch in f) == ["ch1", "ch2", "ch3", "ch4"]
    # The refusal is remembered: only per-connection lists now (one link: one each).
    for handle in (rig.gcp, rig.aws):
        assert calls_by_operation(await handle.stats())["ListFeatures"] == 1
    again = await op.reconciler.reconcile(request)
    assert again.status is not None
    assert again.status.ready


class NeverArrives(httpx.AsyncBaseTransport):
    """The first CreateConnection is lost before it reaches the provider (an outcome
    the operator cannot know); records the requestId of every CreateConnection."""

    def __init__(
        self, inner: httpx.AsyncBaseTransport, seen: list[tuple[str, str]], lose: int = 1
    ) -> None:
        self._inner = inner
        self._seen = seen
        self._lose = lose

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path.endswith("/connections"):
            self._seen.append((request.url.host, request.url.params.get("requestId", "")))
            if len(self._seen) <= self._lose:
                raise httpx.ReadError("connection reset before the request arrived")
        return await self._inner.handle_async_request(request)


async def test_p33_retry_after_an_unknown_outcome_sends_the_same_request_id(rig: Rig) -> None:
    """Feature-recovery draft: the requestId of a create whose outcome is unknown is
    kept; the retry (after the read found nothing) sends it again, so a peer that
    did commit answers the first call's result instead of creating twice."""
    seen: list[tuple[str, str]] = []
    op = rig.operator(wrap=lambda t: NeverArrives(t, seen))

    ready, _ = await rig.drive(op, link_request(account="acct-1"), rounds=12)

    assert ready.status is not None
    assert ready.status.ready
    first_host, first_id = seen[0]
    retries = [rid for host, rid in seen[1:] if host == first_host]
    assert retries
    assert retries[0] == first_id
    assert len({rid for _, rid in seen}) == 2  # the other side's create has its own
    # Known outcome: the id is forgotten, nothing is kept for later creates.
    assert not any(m.request_ids for m in op.reconciler._memory.values())


async def test_the_request_id_of_an_unknown_outcome_survives_a_restart(rig: Rig) -> None:
    """The status keeps the pending requestId (``pendingRequests``); a restarted
    operator's retry of the same create (same key, same body) sends it again."""
    issued = await rig.aws.issue_key(bandwidth=1000)
    seen: list[tuple[str, str]] = []
    first = rig.operator(wrap=lambda t: NeverArrives(t, seen))
    link = link_request(key=issued["encodedKey"], persisted=True)
    _, request = await rig.drive(first, link, until=lambda r: True)
    assert len(seen) == 1
    assert list(request.request_ids.values()) == [seen[0][1]]

    after: list[tuple[str, str]] = []
    restarted = rig.operator(wrap=lambda t: NeverArrives(t, after, lose=0))
    ready, request = await rig.drive(restarted, request, rounds=12)

    assert ready.status is not None
    assert ready.status.ready
    assert after[0] == seen[0]  # same provider, same requestId
    assert not request.request_ids  # known outcome: nothing pending any more
