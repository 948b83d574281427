"""Spec operations of the Issues API."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from interconnect_operator.api.models import (
    AddCommentRequest,
    AddCommentResponse,
    Issue,
    ListCommentsResponse,
    ListIssuesResponse,
    to_wire,
)
from interconnect_operator.simulator import views
from interconnect_operator.simulator.runtime import (
    ISSUES_DEFAULT_PAGE_SIZE,
    Simulator,
    path_param,
    wire,
)

# ----------------------------------------------------------------- issues


async def list_issues(sim: Simulator, request: Request, caller: str) -> Any:
    records = sim.store.issues.get(caller, {})
    keys, token = sim.page(request, sorted(records), ISSUES_DEFAULT_PAGE_SIZE)
    return wire(
        ListIssuesResponse(
            issues=[views.issue_view(records[k]) for k in keys], next_page_token=token
        )
    )


async def create_issue(sim: Simulator, request: Request, caller: str) -> Any:
    body = await sim.parse(request, Issue)
    issue_id = request.query_params.get("issueId", "")
    # Keep only what the caller may set; output-only fields are the server's.
    data = to_wire(body, exclude_output_only=True)
    data.pop("name", None)
    now = sim.now()
    record = await sim.mutate(lambda: sim.store.create_issue(caller, issue_id, data, now))
    return wire(views.issue_view(record))


async def get_issue(sim: Simulator, request: Request, caller: str) -> Any:
    return wire(views.issue_view(sim.store.issue(caller, path_param(request, "issue"))))


async def close_issue(sim: Simulator, request: Request, caller: str) -> Any:
    await sim.json_body(request)
    issue_id = path_param(request, "issue")
    record = await sim.mutate(lambda: sim.store.close_issue(caller, issue_id))
    return wire(views.issue_view(record))


async def add_comment(sim: Simulator, request: Request, caller: str) -> Any:
    body = await sim.parse(request, AddCommentRequest)
    issue_id = path_param(request, "issue")
    now = sim.now()
    comment = await sim.mutate(
        lambda: sim.store.add_comment(caller, issue_id, body.comment.body, now)
    )
    return wire(AddCommentResponse(comment=views.comment_view(comment)))


async def list_comments(sim: Simulator, request: Request, caller: str) -> Any:
    record = sim.store.issue(caller, path_param(request, "issue"))
    # Newest first (ListCommentsResponse), later additions first on equal times;
    # the page keys are positions in that order.
    ordered = [
        c for _, c in sorted(enumerate(record.comments), key=lambda p: (-p[1].create_time, -p[0]))
    ]
    by_key = {f"{index:08d}": comment for index, comment in enumerate(ordered)}
    keys, token = sim.page(request, list(by_key), ISSUES_DEFAULT_PAGE_SIZE)
    return wire(
        ListCommentsResponse(
            comments=[views.comment_view(by_key[k]) for k in keys], next_page_token=token
        )
    )
