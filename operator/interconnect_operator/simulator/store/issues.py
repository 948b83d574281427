"""Issues and comments opened against the simulated provider (Issues API)."""

from __future__ import annotations

from typing import Any

from interconnect_operator.api.names import InvalidResourceName, parse_name
from interconnect_operator.simulator.inventory import (
    display_name,
)
from interconnect_operator.simulator.store.base import StoreBase
from interconnect_operator.simulator.store.records import (
    CommentRecord,
    IssueRecord,
    SimError,
)


class IssueRules(StoreBase):
    """Open, read, close and comment on issues, per caller."""

    # ----------------------------------------------------------- issues

    def create_issue(
        self, caller: str, issue_id: str, data: dict[str, Any], now: float
    ) -> IssueRecord:
        """CreateIssue: a new open issue; required context per issueContext.

        issueContext is optional (upstream removed it): an issue without it is
        accepted. Context names must be resource names of their kind
        (issues.yaml), 400 otherwise.
        """
        if not issue_id or "/" in issue_id:
            raise SimError(400, "issueId is required")
        issues = self.issues.setdefault(caller, {})
        if issue_id in issues:
            raise SimError(409, f"issue {issue_id!r} already exists")
        context = data.get("issueContext")
        if context == "ISSUE_CONTEXT_CONNECTION_ISSUE" and not data.get("connectionContexts"):
            raise SimError(400, "a connection issue needs connectionContexts")
        if context == "ISSUE_CONTEXT_INTERCONNECT_ISSUE" and not data.get("interconnectContexts"):
            raise SimError(400, "an interconnect issue needs interconnectContexts")
        for key, kind in (
            ("connectionContexts", "connection"),
            ("interconnectContexts", "interconnect"),
        ):
            for item in data.get(key) or []:
                name = item.get("name") if isinstance(item, dict) else None
                try:
                    parsed = parse_name(name) if isinstance(name, str) else None
                except InvalidResourceName:
                    parsed = None
                if parsed is None or parsed.kind != kind:
                    raise SimError(400, f"{key}[].name must be a {kind} resource name")
        self._issue_counter += 1
        record = IssueRecord(
            caller=caller,
            id=issue_id,
            create_time=now,
            local_issue_id=f"{self.inventory.provider_id.upper()}-{self._issue_counter:06d}",
            state="STATE_OPEN",
            data=data,
        )
        issues[issue_id] = record
        self._put("issue", f"{caller}/{issue_id}", record)
        if self._state is not None:
            self._state.put("issue_counter", "value", {"value": self._issue_counter})
        return record

    def issue(self, caller: str, issue_id: str) -> IssueRecord:
        """An issue, else 404."""
        record = self.issues.get(caller, {}).get(issue_id)
        if record is None:
            raise SimError(404, f"issue {issue_id!r} not found")
        return record

    def close_issue(self, caller: str, issue_id: str) -> IssueRecord:
        """CloseIssue (idempotent)."""
        record = self.issue(caller, issue_id)
        record.state = "STATE_CLOSED"
        self._put("issue", f"{caller}/{issue_id}", record)
        return record

    def add_comment(self, caller: str, issue_id: str, body: str, now: float) -> CommentRecord:
        """AddComment: the commenter is the calling provider."""
        record = self.issue(caller, issue_id)
        if not body.strip():
            raise SimError(400, "comment.body is required")
        comment = CommentRecord(
            id=f"{record.local_issue_id}-c{len(record.comments) + 1}",
            body=body,
            create_time=now,
            display_name=display_name(caller),
        )
        record.comments.append(comment)
        self._put("issue", f"{caller}/{issue_id}", record)
        return comment

    def respond_to_issue(
        self, caller: str, issue_id: str, state: str | None, comment: str | None, now: float
    ) -> IssueRecord:
        """Admin: this provider's staff answer an issue ``caller`` opened: a new
        state (e.g. STATE_ACTION_REQUIRED: they need something from the caller)
        and/or a comment signed by this provider."""
        record = self.issue(caller, issue_id)
        if state is not None:
            if state not in _STATES:
                raise SimError(400, f"state must be one of {sorted(_STATES)}")
            record.state = state
        if comment is not None:
            if not comment.strip():
                raise SimError(400, "comment must not be empty")
            record.comments.append(
                CommentRecord(
                    id=f"{record.local_issue_id}-c{len(record.comments) + 1}",
                    body=comment,
                    create_time=now,
                    display_name=display_name(self.inventory.provider_id),
                )
            )
        self._put("issue", f"{caller}/{issue_id}", record)
        return record


_STATES = frozenset({"STATE_OPEN", "STATE_IN_PROGRESS", "STATE_ACTION_REQUIRED", "STATE_CLOSED"})
