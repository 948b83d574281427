"""One pool's escalation round: per link, decide, act, read the issue back.

The pool loop calls :meth:`PoolEscalations.step` for each of its links after
a refresh. ``step`` takes the link's stuck signals
(:func:`~interconnect_operator.protocol.stuck.stuck_signals`) and the issue
its status records (:class:`IssueStatus`), lets the
:class:`~interconnect_operator.reconcile.escalation.Escalator` open, comment
on or close the one issue a link may have, and reads an open issue back from
the provider (state, ACTION_REQUIRED, how many comments and the last one,
sanitised) on a slower cadence. It returns the new :class:`IssueStatus`, or
``None`` when nothing changed, so the k8s layer writes only on change.

Bounded: one open issue per link (the Escalator's ids), a per-pool budget of
provider calls per minute (:class:`CallBudget`; a link that finds it spent
waits for the next round), no new issue for a link within ``reopen_after``
of its last one being closed (a provider closing an issue it considers
answered is not answered by a new one at once). No Kubernetes here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from interconnect_operator.api.errors import ApiError, NotFound
from interconnect_operator.api.models import IssueState
from interconnect_operator.protocol.escalation import (
    OpenIssueRecord,
    Priority,
    StuckSignals,
    Thresholds,
)
from interconnect_operator.protocol.retry_discipline import sanitise
from interconnect_operator.protocol.types import Side
from interconnect_operator.reconcile.escalation import EscalationResult, Escalator, LinkContext

__all__ = ["CallBudget", "IssueStatus", "PoolEscalations", "StepResult"]

logger = logging.getLogger(__name__)

#: Provider calls one pool's escalations may make per minute.
DEFAULT_CALLS_PER_MINUTE = 30
#: An open issue is read back (GetIssue, ListComments) at most this often.
DEFAULT_READBACK_EVERY = timedelta(minutes=5)
#: Comments read back per issue (one page): the count shown is capped at it.
COMMENT_PAGE = 100
_CALLS = {"OpenIssue": 2, "CommentIssue": 1, "CloseIssue": 2, "NoEscalation": 0}
MAX_ACTION_CALLS = max(_CALLS.values())
_READBACK_CALLS = 2


class CallBudget:
    """A token bucket of provider calls per minute, on an injected clock."""

    def __init__(self, per_minute: int, clock: Callable[[], datetime]) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._tokens = float(per_minute)
        self._at = clock()

    def take(self, calls: int) -> bool:
        now = self._clock()
        elapsed = max((now - self._at).total_seconds(), 0.0)
        self._at = now
        self._tokens = min(float(self.per_minute), self._tokens + elapsed * self.per_minute / 60)
        if calls > self._tokens:
            return False
        self._tokens -= calls
        return True

    def refund(self, calls: int) -> None:
        self._tokens = min(float(self.per_minute), self._tokens + max(calls, 0))


@dataclass(frozen=True)
class IssueStatus:
    """The issue a link's status records (``status.issue``)."""

    provider: str
    issue_id: str
    state: str
    side: Side
    priority: str | None = None
    summary: str = ""
    opened_at: datetime | None = None
    last_comment_at: datetime | None = None
    closed_at: datetime | None = None
    issues_opened: int = 0
    comments: int | None = None
    last_comment: str | None = None
    read_at: datetime | None = None

    @property
    def is_open(self) -> bool:
        return self.state != IssueState.CLOSED.value

    @property
    def action_required(self) -> bool:
        return self.state == IssueState.ACTION_REQUIRED.value

    def record(self) -> OpenIssueRecord | None:
        """The escalation rules' view of it: the open issue, if any."""
        if not self.is_open or self.opened_at is None:
            return None
        try:
            priority = Priority(self.priority or Priority.P3.value)
        except ValueError:
            priority = Priority.P3
        return OpenIssueRecord(
            issue_id=self.issue_id,
            side=self.side,
            priority=priority,
            summary=self.summary,
            opened_at=self.opened_at,
            last_comment_at=self.last_comment_at,
        )


@dataclass(frozen=True)
class StepResult:
    """What one step did: the action, the status to write (None: unchanged), an error."""

    action: str
    issue: IssueStatus | None
    error: str | None = None


class PoolEscalations:
    """Escalation of one pool's links, sharing one call budget."""

    def __init__(
        self,
        escalator: Escalator,
        clock: Callable[[], datetime],
        *,
        calls_per_minute: int = DEFAULT_CALLS_PER_MINUTE,
        readback_every: timedelta | None = None,
        reopen_after: timedelta | None = None,
    ) -> None:
        self._escalator = escalator
        self._clock = clock
        self.budget = CallBudget(calls_per_minute, clock)
        # Read back every five minutes, sooner when the thresholds are shorter
        # (an operator told to escalate after seconds follows the answer as fast).
        shortest = min(
            escalator.thresholds.features_pending, escalator.thresholds.verification_missing
        )
        self._readback_every = (
            readback_every if readback_every is not None else min(DEFAULT_READBACK_EVERY, shortest)
        )
        self._reopen_after = (
            reopen_after if reopen_after is not None else escalator.thresholds.comment_every
        )

    @property
    def thresholds(self) -> Thresholds:
        return self._escalator.thresholds

    async def step(
        self, link: LinkContext, signals: StuckSignals, issue: IssueStatus | None
    ) -> StepResult:
        """Decide and act for one link; read its open issue back when due."""
        now = self._clock()
        record = issue.record() if issue is not None else None
        if (
            record is None
            and issue is not None
            and issue.closed_at is not None
            and now - issue.closed_at < self._reopen_after
        ):
            return StepResult("NoEscalation", None)
        opened = issue.issues_opened if issue is not None else 0
        link = replace(link, issues_opened=max(link.issues_opened, opened))
        # The most any action costs is held up front; what it did not use is given back.
        if not self.budget.take(MAX_ACTION_CALLS):
            return StepResult("Deferred", None, "EscalationBudgetSpent")
        result = await self._escalator.escalate(link, signals, record)
        self.budget.refund(MAX_ACTION_CALLS - _CALLS.get(result.action, MAX_ACTION_CALLS))
        new = _after(issue, result.action, result, now)
        if new is not None and new.is_open and (new.read_at is None or self._due(new, now)):
            new = await self._read_back(new, now)
        elif new is None and issue is not None and issue.is_open and self._due(issue, now):
            new = await self._read_back(issue, now)
        if new == issue:
            new = None
        return StepResult(result.action, new, result.error)

    def _due(self, issue: IssueStatus, now: datetime) -> bool:
        return issue.read_at is None or now - issue.read_at >= self._readback_every

    async def _read_back(self, issue: IssueStatus, now: datetime) -> IssueStatus:
        """The issue's state and comments as the provider holds them now."""
        if not self.budget.take(_READBACK_CALLS):
            return issue
        client = self._escalator.client_for(issue.provider)
        try:
            remote = await client.get_issue(issue.issue_id)
            comments = await client.list_comments_all(issue.issue_id, page_size=COMMENT_PAGE)
        except NotFound:
            # Gone on their side: counts as closed; a link still stuck opens a
            # new one after ``reopen_after``.
            return replace(issue, state=IssueState.CLOSED.value, closed_at=now, read_at=now)
        except ApiError as error:
            logger.warning("issue %s read back failed: %s", issue.issue_id, error)
            return issue
        state = remote.state or issue.state
        last = comments[-1].body if comments else None
        closed_at = issue.closed_at
        if state == IssueState.CLOSED.value and issue.is_open:
            closed_at = now  # closed by the provider
        return replace(
            issue,
            state=state,
            comments=len(comments),
            last_comment=sanitise(last) if last else None,
            closed_at=closed_at,
            read_at=now,
        )


def _after(
    issue: IssueStatus | None, action: str, result: EscalationResult, now: datetime
) -> IssueStatus | None:
    """The issue status after the Escalator's action (None: nothing to record)."""
    if result.error is not None and action != "CommentIssue":
        return None
    if action == "OpenIssue" and result.record is not None and result.ref is not None:
        record = result.record
        return IssueStatus(
            provider=result.ref.provider,
            issue_id=record.issue_id,
            state=result.ref.state,
            side=record.side,
            priority=record.priority.value,
            summary=record.summary,
            opened_at=record.opened_at,
            issues_opened=result.issues_opened,
        )
    if issue is None:
        return None
    if action == "CommentIssue":
        if result.record is None:  # the issue vanished at the provider
            return replace(issue, state=IssueState.CLOSED.value, closed_at=now)
        return replace(
            issue,
            summary=result.record.summary,
            last_comment_at=result.record.last_comment_at,
        )
    if action == "CloseIssue":
        state = result.ref.state if result.ref is not None else IssueState.CLOSED.value
        return replace(issue, state=state, closed_at=now)
    return None
