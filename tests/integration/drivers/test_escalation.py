"""Escalator against two simulators: open, comment, close; no duplicate issues (P33)."""

from __future__ import annotations

from datetime import timedelta

import httpx

from interconnect_operator.protocol.escalation import Impact, OpenIssueRecord, StuckSignals
from interconnect_operator.protocol.types import Side
from interconnect_operator.reconcile.escalation import (
    EscalationResult,
    Escalator,
    LinkContext,
    issue_id_for,
)
from tests.integration.drivers.conftest import ENV, OURS, PEER, MakePair, Pair

UUID = "6b1c0c4e-3c5e-4a7e-9f1e-2f3b0c9d8e7a"
HOURS = timedelta(hours=1)


def link(issues_opened: int = 0) -> LinkContext:
    return LinkContext(
        shared_uuid=UUID,
        environment=ENV,
        providers={Side.NEGOTIATOR: OURS, Side.RESPONDER: PEER},
        interconnect="ix1",
        issues_opened=issues_opened,
    )


def pending_at_peer(pair: Pair, hours: float = 3) -> StuckSignals:
    return StuckSignals(
        impact=Impact.BRING_UP,
        pending_since={Side.RESPONDER: pair.clock.datetime() - hours * HOURS},
    )


def issues_at_peer(pair: Pair) -> dict[str, object]:
    return dict(pair.peer.store.issues.get(OURS, {}))


async def test_open_comment_close_on_recovery(make_pair: MakePair) -> None:
    pair = make_pair()
    escalator = Escalator(pair.client_for, clock=pair.clock.datetime)

    opened = await escalator.escalate(link(), pending_at_peer(pair), None)
    assert opened.action == "OpenIssue"
    assert opened.error is None
    assert opened.issues_opened == 1
    assert opened.record is not None
    assert opened.ref is not None
    assert opened.ref.provider == PEER  # the side that holds the link up
    assert opened.ref.issue_id == issue_id_for(UUID, 1)
    assert opened.ref.state == "STATE_OPEN"
    stored = pair.peer.store.issue(OURS, opened.ref.issue_id)
    assert stored.data["priority"] == "PRIORITY_P3"  # a new link not coming up
    assert "issueContext" not in stored.data  # removed upstream, never sent
    assert stored.data["connectionContexts"] == [
        {"name": f"providers/{OURS}/environments/{ENV}/interconnects/ix1/connections/{UUID}"}
    ]

    # Same situation, shortly after: nothing new to say.
    pair.clock.advance(600)
    quiet = await escalator.escalate(link(1), pending_at_peer(pair), opened.record)
    assert quiet.action == "NoEscalation"
    assert quiet.record == opened.record
    assert stored.comments == []

    # The situation changes: a comment, and the record follows.
    worse = StuckSignals(
        impact=Impact.BRING_UP,
        pending_since={Side.RESPONDER: pair.clock.datetime() - 4 * HOURS},
        unverified_since={Side.RESPONDER: pair.clock.datetime() - 3 * HOURS},
    )
    commented = await escalator.escalate(link(1), worse, opened.record)
    assert commented.action == "CommentIssue"
    assert commented.record is not None
    assert commented.record.last_comment_at == pair.clock.datetime()
    assert "unverified" in commented.record.summary
    assert len(stored.comments) == 1
    assert "unverified" in stored.comments[0].body

    # Recovered: closed, and nothing left to record.
    closed = await escalator.escalate(link(1), StuckSignals(Impact.NONE), commented.record)
    assert closed.action == "CloseIssue"
    assert closed.record is None
    assert closed.ref is not None
    assert closed.ref.state == "STATE_CLOSED"
    assert stored.state == "STATE_CLOSED"
    assert "recovered" in stored.comments[-1].body

    # A later episode opens a new issue under the next id.
    again = await escalator.escalate(link(closed.issues_opened), pending_at_peer(pair), None)
    assert again.ref is not None
    assert again.ref.issue_id == issue_id_for(UUID, 2)
    assert len(issues_at_peer(pair)) == 2


async def test_lost_response_then_retry_opens_no_duplicate_P33(make_pair: MakePair) -> None:
    class LoseFirstCreateIssue(httpx.AsyncBaseTransport):
        """Forwards every request; the first CreateIssue is applied, its answer lost."""

        def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
            self.inner = inner
            self.lost = 0

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            response = await self.inner.handle_async_request(request)
            if request.method == "POST" and request.url.path.endswith("/issues") and not self.lost:
                self.lost += 1
                raise httpx.ReadTimeout("response lost", request=request)
            return response

    transports: list[LoseFirstCreateIssue] = []

    def wrap(inner: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
        transports.append(LoseFirstCreateIssue(inner))
        return transports[-1]

    pair = make_pair(peer_transport=wrap)
    escalator = Escalator(pair.client_for, clock=pair.clock.datetime)
    result = await escalator.escalate(link(), pending_at_peer(pair), None)

    assert transports[0].lost == 1  # the fault did happen
    assert result.error is None
    assert result.ref is not None
    assert result.ref.issue_id == issue_id_for(UUID, 1)
    assert list(issues_at_peer(pair)) == [issue_id_for(UUID, 1)]


async def test_status_lost_after_create_adopts_the_issue(make_pair: MakePair) -> None:
    # The operator opened the issue but crashed before writing the status:
    # the next reconcile decides "open" again, with the same counter.
    pair = make_pair()
    escalator = Escalator(pair.client_for, clock=pair.clock.datetime)
    first = await escalator.escalate(link(), pending_at_peer(pair), None)
    second = await escalator.escalate(link(), pending_at_peer(pair), None)
    assert second.action == "OpenIssue"
    assert second.error is None
    assert second.ref is not None
    assert first.ref is not None
    assert second.ref.issue_id == first.ref.issue_id
    assert second.issues_opened == 1
    assert len(issues_at_peer(pair)) == 1


async def test_closed_issue_under_reused_id_is_not_reopened(make_pair: MakePair) -> None:
    pair = make_pair()
    escalator = Escalator(pair.client_for, clock=pair.clock.datetime)
    first = await escalator.escalate(link(), pending_at_peer(pair), None)
    assert first.record is not None
    await escalator.escalate(link(1), StuckSignals(Impact.NONE), first.record)
    # The counter was lost (status rebuilt): esc1 exists and is closed, so esc2.
    fresh = await escalator.escalate(link(0), pending_at_peer(pair), None)
    assert fresh.ref is not None
    assert fresh.ref.issue_id == issue_id_for(UUID, 2)
    assert fresh.issues_opened == 2


async def test_issue_goes_to_the_side_that_is_stuck(make_pair: MakePair) -> None:
    pair = make_pair()
    escalator = Escalator(pair.client_for, clock=pair.clock.datetime)
    signals = StuckSignals(
        impact=Impact.OUTAGE,
        refusals={Side.NEGOTIATOR: 6},
        last_refusal={Side.NEGOTIATOR: "409 from CreateFeature"},
    )
    result = await escalator.escalate(link(), signals, None)
    assert result.ref is not None
    assert result.ref.provider == OURS
    assert result.ref.priority == "PRIORITY_P0"
    stored = pair.ours.store.issue(PEER, result.ref.issue_id)  # on our server, filed as the peer
    assert "refusals" in stored.data["title"]
    assert issues_at_peer(pair) == {}


async def test_unreachable_provider_keeps_the_record(make_pair: MakePair) -> None:
    pair = make_pair()
    escalator = Escalator(pair.client_for, clock=pair.clock.datetime)
    opened = await escalator.escalate(link(), pending_at_peer(pair), None)
    assert opened.record is not None
    await pair.peer_http.post(
        "/admin/faults", json={"operations": {"AddComment": {"error_rate": 1.0}}}
    )
    # A different finding (news, worth a comment) while the provider fails AddComment.
    worse = StuckSignals(
        impact=Impact.DEGRADED,
        unverified_since={Side.RESPONDER: pair.clock.datetime() - 9 * HOURS},
    )
    failed: EscalationResult = await escalator.escalate(link(1), worse, opened.record)
    assert failed.error is not None
    assert failed.record == opened.record  # retried next time with the same issue
    assert isinstance(failed.record, OpenIssueRecord)
