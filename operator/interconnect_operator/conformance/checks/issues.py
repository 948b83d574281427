"""The Issues API: open, read, comment on and close one issue.

The API has no DeleteIssue: the issue stays, closed. That is why this
scenario only runs with ``--allow-issues``.
"""

from __future__ import annotations

from interconnect_operator.api.models import Comment, InterconnectContext, Issue
from interconnect_operator.conformance.checks.discovery import target_of
from interconnect_operator.conformance.session import Created, Session

__all__ = ["run_issues"]


async def run_issues(session: Session) -> None:
    """ISSUE-lifecycle."""
    config = session.config
    client = session.client
    target, _ = target_of(session)
    async with session.check("ISSUE-lifecycle") as check:
        issue_id = session.new_id("issue")
        session.remember(Created("issue", issue=issue_id))
        context = (
            f"providers/{config.caller}/environments/{config.environment}/interconnects/{target}"
        )
        created = await client.create_issue(
            issue_id,
            Issue(
                title=f"Conformance run {session.run_id} (test issue, closed by the run)",
                body="Opened by interconnect-operator conformance to check the Issues API.",
                priority="PRIORITY_P4",
                interconnect_contexts=[InterconnectContext(name=context)],
            ),
        )
        check.require(
            (created.state or "").upper().endswith("OPEN"),
            f"a new issue says state {created.state}",
        )
        read = await client.get_issue(issue_id)
        check.require(read.title == created.title, "GetIssue answers another title")
        listed = await client.list_issues_all()
        check.require(
            any((i.name or "").rsplit("/", 1)[-1] == issue_id for i in listed),
            "ListIssues lacks it",
        )
        await client.add_comment(issue_id, Comment(body=f"comment of run {session.run_id}"))
        comments = await client.list_comments_all(issue_id)
        check.require(
            any(session.run_id in (c.body or "") for c in comments), "ListComments lacks it"
        )
        closed = await client.close_issue(issue_id)
        check.require(
            (closed.state or "").upper().endswith("CLOSED"),
            f"CloseIssue answered state {closed.state}",
        )
