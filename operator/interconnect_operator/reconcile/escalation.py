"""Escalation of stuck links through the Issues API: act on the pure decisions.

:func:`interconnect_operator.protocol.escalation.decide_escalation` says
whether to open, comment on or close an issue; :class:`Escalator` makes the
call on the responsible provider's server and returns what the link status
records: the open issue (:class:`OpenIssueRecord`), a reference to show
(:class:`IssueRef`) and the count of issues opened for the link.

Issue ids are deterministic: ``{shared uuid}-esc{n}``, ``n`` counting the
issues opened for the link. A retry after a lost response, or after a crash
between CreateIssue and the status write, uses the same id, so it finds the
issue instead of opening a second one: on an unknown outcome the issue is
read before the create is repeated with the same id and body (P33), and a
409 "already exists" adopts the existing issue.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from interconnect_operator.api.client import ProviderClient
from interconnect_operator.api.errors import ApiError, Conflict, NotFound, OutcomeUnknown
from interconnect_operator.api.models import (
    Comment,
    ConnectionContext,
    InterconnectContext,
    Issue,
    IssueState,
)
from interconnect_operator.api.names import connection_name, interconnect_name
from interconnect_operator.protocol.escalation import (
    CloseIssue,
    CommentIssue,
    NoEscalation,
    OpenIssue,
    OpenIssueRecord,
    StuckSignals,
    Thresholds,
    decide_escalation,
)
from interconnect_operator.protocol.types import Side

__all__ = ["EscalationResult", "Escalator", "IssueRef", "LinkContext", "issue_id_for"]

logger = logging.getLogger(__name__)

# Ids already taken by closed issues of earlier episodes are skipped; this
# bounds how many a single call walks past.
_MAX_ID_SKIPS = 5


def issue_id_for(shared_uuid: str, counter: int) -> str:
    """The id of the ``counter``-th issue opened for a link (1-based)."""
    return f"{shared_uuid}-esc{counter}"


@dataclass(frozen=True)
class LinkContext:
    """Who the link is, where it is, and how many issues it opened so far."""

    shared_uuid: str
    environment: str
    providers: Mapping[Side, str]
    interconnect: str | None = None
    issues_opened: int = 0


@dataclass(frozen=True)
class IssueRef:
    """The issue as the link status shows it."""

    provider: str
    issue_id: str
    state: str
    priority: str | None = None
    local_issue_id: str | None = None


@dataclass(frozen=True)
class EscalationResult:
    """What happened, and what to write back into the link's status."""

    action: str  # OpenIssue, CommentIssue, CloseIssue, NoEscalation
    record: OpenIssueRecord | None
    ref: IssueRef | None
    issues_opened: int
    error: str | None = None


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Escalator:
    """Opens, comments on and closes issues for stuck links.

    ``client_for_provider(provider_id)`` returns the client that calls that
    provider's server (the issue goes to the provider that holds the link up).
    """

    def __init__(
        self,
        client_for_provider: Callable[[str], ProviderClient],
        clock: Callable[[], datetime] = _utcnow,
        thresholds: Thresholds | None = None,
    ) -> None:
        self._client_for = client_for_provider
        self._clock = clock
        self.thresholds = thresholds or Thresholds()

    def client_for(self, provider: str) -> ProviderClient:
        """The client that calls ``provider``'s server (where its issues live)."""
        return self._client_for(provider)

    async def escalate(
        self,
        link: LinkContext,
        signals: StuckSignals,
        open_issue: OpenIssueRecord | None,
    ) -> EscalationResult:
        """Decide with the protocol rules and perform the one resulting call."""
        now = self._clock()
        action = decide_escalation(
            signals, open_issue, now, link.shared_uuid, thresholds=self.thresholds
        )
        try:
            if isinstance(action, OpenIssue):
                return await self._open(link, action, now)
            if isinstance(action, CommentIssue):
                assert open_issue is not None  # decide_escalation comments only on an open issue
                return await self._comment(link, action, open_issue, now)
            if isinstance(action, CloseIssue):
                return await self._close(link, action)
        except ApiError as error:
            # Keep what the status holds; the next reconcile retries with the
            # same ids (P33).
            logger.warning("escalation for %s: %s failed: %s", link.shared_uuid, action.kind, error)
            ref = self._ref(link, open_issue, IssueState.OPEN) if open_issue else None
            return EscalationResult(action.kind, open_issue, ref, link.issues_opened, str(error))
        assert isinstance(action, NoEscalation)
        ref = self._ref(link, open_issue, IssueState.OPEN) if open_issue else None
        return EscalationResult(action.kind, open_issue, ref, link.issues_opened)

    # ------------------------------------------------------------------ calls

    def _provider(self, link: LinkContext, side: Side) -> str:
        return link.providers[side]

    def _ref(self, link: LinkContext, record: OpenIssueRecord, state: str) -> IssueRef:
        return IssueRef(
            self._provider(link, record.side), record.issue_id, state, record.priority.value
        )

    def _issue_body(self, link: LinkContext, caller: str, action: OpenIssue) -> Issue:
        # No issueContext: upstream removed the field and its enum; the
        # contexts below say what the issue is about.
        issue = Issue(title=action.title, body=action.body, priority=action.priority.value)
        if link.interconnect is None:
            # Not placed yet: no connection resource to name; the uuid is in the text.
            issue.body = f"{action.body} Shared connection UUID: {link.shared_uuid}."
            return issue
        issue.connection_contexts = [
            ConnectionContext(
                name=connection_name(caller, link.environment, link.interconnect, link.shared_uuid)
            )
        ]
        issue.interconnect_contexts = [
            InterconnectContext(name=interconnect_name(caller, link.environment, link.interconnect))
        ]
        return issue

    async def _open(self, link: LinkContext, action: OpenIssue, now: datetime) -> EscalationResult:
        provider = self._provider(link, action.side)
        client = self._client_for(provider)
        body = self._issue_body(link, client.caller, action)
        counter = link.issues_opened
        for _ in range(_MAX_ID_SKIPS):
            counter += 1
            issue_id = issue_id_for(link.shared_uuid, counter)
            issue = await self._create_once(client, issue_id, body)
            if issue.state == IssueState.CLOSED:
                # An earlier episode's issue under this id (status lost its
                # counter): move on to the next id rather than reopen history.
                continue
            record = OpenIssueRecord(
                issue_id=issue_id,
                side=action.side,
                priority=action.priority,
                summary=action.summary,
                opened_at=now,
            )
            logger.info(
                "escalation for %s: issue %s opened with %s (%s)",
                link.shared_uuid,
                issue_id,
                provider,
                action.priority.value,
            )
            ref = IssueRef(
                provider,
                issue_id,
                issue.state or IssueState.OPEN.value,
                action.priority.value,
                issue.local_issue_id,
            )
            return EscalationResult(action.kind, record, ref, counter)
        raise Conflict("CreateIssue", f"{_MAX_ID_SKIPS} issue ids in a row were already used", 409)

    async def _create_once(self, client: ProviderClient, issue_id: str, body: Issue) -> Issue:
        """CreateIssue that never makes a duplicate (P33)."""
        try:
            return await client.create_issue(issue_id, body)
        except OutcomeUnknown:
            try:
                return await client.get_issue(issue_id)
            except NotFound:
                return await client.create_issue(issue_id, body)
        except Conflict:
            # "already exists": a previous attempt got through; adopt it.
            return await client.get_issue(issue_id)

    async def _comment(
        self,
        link: LinkContext,
        action: CommentIssue,
        record: OpenIssueRecord,
        now: datetime,
    ) -> EscalationResult:
        provider = self._provider(link, action.side)
        client = self._client_for(provider)
        try:
            await client.add_comment(action.issue_id, Comment(body=action.body))
        except NotFound:
            # The issue is gone on their side: forget it; the next run opens a new one.
            logger.warning(
                "escalation for %s: issue %s vanished", link.shared_uuid, record.issue_id
            )
            return EscalationResult(action.kind, None, None, link.issues_opened, "IssueNotFound")
        updated = replace(record, summary=action.summary, last_comment_at=now)
        logger.info("escalation for %s: comment on issue %s", link.shared_uuid, record.issue_id)
        return EscalationResult(
            action.kind, updated, self._ref(link, updated, IssueState.OPEN), link.issues_opened
        )

    async def _close(self, link: LinkContext, action: CloseIssue) -> EscalationResult:
        provider = self._provider(link, action.side)
        client = self._client_for(provider)
        try:
            # The reason first, so the peer sees why it was closed.
            await client.add_comment(action.issue_id, Comment(body=action.body))
            issue = await client.close_issue(action.issue_id)
            state = issue.state or IssueState.CLOSED.value
            local = issue.local_issue_id
        except NotFound:
            state, local = IssueState.CLOSED.value, None
        logger.info("escalation for %s: issue %s closed", link.shared_uuid, action.issue_id)
        ref = IssueRef(provider, action.issue_id, state, None, local)
        return EscalationResult(action.kind, None, ref, link.issues_opened)
