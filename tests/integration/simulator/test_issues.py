"""The Issues API: create, get, list, close, comment."""

from __future__ import annotations

from typing import Any

from tests.integration.simulator.conftest import Peer

ISSUES = "/providers/gcp/issues"


def _issue(**extra: Any) -> dict[str, Any]:
    return {"title": "features stuck PENDING", "body": "ch2 has been PENDING for 2h", **extra}


async def test_issue_lifecycle(peer: Peer) -> None:
    conn = f"{peer.conn('c1')}".lstrip("/")
    created = await peer.client.post(
        ISSUES,
        params={"issueId": "i1"},
        json=_issue(
            issueContext="ISSUE_CONTEXT_CONNECTION_ISSUE",
            connectionContexts=[{"name": conn}],
            priority="PRIORITY_P2",
            state="STATE_CLOSED",  # output-only: ignored
        ),
    )
    assert created.status_code == 200
    issue = created.json()
    assert issue["name"] == "providers/gcp/issues/i1"
    assert issue["state"] == "STATE_OPEN"
    assert issue["localIssueId"].startswith("AWS-")
    assert issue["connectionContexts"] == [{"name": conn}]
    assert (await peer.client.get(f"{ISSUES}/i1")).json() == issue

    comment = await peer.client.post(
        f"{ISSUES}/i1/AddComment", json={"comment": {"body": "still stuck"}}
    )
    assert comment.status_code == 200
    assert comment.json()["comment"]["body"] == "still stuck"
    assert comment.json()["comment"]["displayName"] == "Google Cloud Platform"
    peer.clock.advance(60)
    await peer.client.post(f"{ISSUES}/i1/AddComment", json={"comment": {"body": "recovered"}})
    comments = (await peer.client.get(f"{ISSUES}/i1/comments")).json()["comments"]
    assert [c["body"] for c in comments] == ["recovered", "still stuck"]  # newest first

    closed = await peer.client.post(f"{ISSUES}/i1/Close", json={})
    assert closed.status_code == 200
    assert closed.json()["state"] == "STATE_CLOSED"
    listed = (await peer.client.get(ISSUES)).json()["issues"]
    assert [(i["name"], i["state"]) for i in listed] == [
        ("providers/gcp/issues/i1", "STATE_CLOSED")
    ]


async def test_issue_refusals(peer: Peer) -> None:
    assert (await peer.client.post(ISSUES, json=_issue())).status_code == 400  # no issueId
    assert (
        await peer.client.post(ISSUES, params={"issueId": "i1"}, json={"title": "t"})
    ).status_code == 400
    no_context = await peer.client.post(
        ISSUES,
        params={"issueId": "i1"},
        json=_issue(issueContext="ISSUE_CONTEXT_INTERCONNECT_ISSUE"),
    )
    assert no_context.status_code == 400
    assert (
        await peer.client.post(ISSUES, params={"issueId": "i1"}, json=_issue())
    ).status_code == 200
    assert (
        await peer.client.post(ISSUES, params={"issueId": "i1"}, json=_issue())
    ).status_code == 409
    assert (await peer.client.get(f"{ISSUES}/nope")).status_code == 404
    assert (await peer.client.post(f"{ISSUES}/nope/Close", json={})).status_code == 404
    empty = await peer.client.post(f"{ISSUES}/i1/AddComment", json={"comment": {"body": " "}})
    assert empty.status_code == 400


async def test_issues_are_per_caller(peer: Peer) -> None:
    assert (
        await peer.client.post(ISSUES, params={"issueId": "i1"}, json=_issue())
    ).status_code == 200
    assert (await peer.client.get("/providers/azure/issues/i1")).status_code == 404
    assert (await peer.client.get("/providers/azure/issues")).json() == {"issues": []}


async def test_issue_without_issue_context_is_accepted(peer: Peer) -> None:
    """Upstream removed issueContext: a provider must not require it."""
    conn = f"{peer.conn('c1')}".lstrip("/")
    created = await peer.client.post(
        ISSUES, params={"issueId": "i9"}, json=_issue(connectionContexts=[{"name": conn}])
    )
    assert created.status_code == 200, created.text
    assert "issueContext" not in created.json()


async def test_issue_context_names_must_be_resource_names_of_their_kind(peer: Peer) -> None:
    ix = peer.ix("ix1").lstrip("/")
    for n, contexts in enumerate(
        [
            {"connectionContexts": [{"name": "c1"}]},  # a bare id
            {"connectionContexts": [{"name": ix}]},  # an interconnect, not a connection
            {"interconnectContexts": [{"name": "providers/gcp/nowhere/x"}]},
        ]
    ):
        response = await peer.client.post(
            ISSUES, params={"issueId": f"b{n}"}, json=_issue(**contexts)
        )
        assert response.status_code == 400, (contexts, response.text)
        assert "resource name" in response.text


async def test_admin_issue_response_sets_state_and_signs_the_comment(peer: Peer) -> None:
    """The provider's staff answer an issue (outside the spec): the caller reads
    the new state and a comment signed by this provider through the spec."""
    created = await peer.client.post(ISSUES, params={"issueId": "r1"}, json=_issue())
    assert created.status_code == 200, created.text
    answered = await peer.client.post(
        "/admin/issue-response",
        json={"caller": "gcp", "id": "r1", "state": "ACTION_REQUIRED", "comment": "need VLAN"},
    )
    assert answered.status_code == 200, answered.text
    assert answered.json() == {"id": "r1", "state": "STATE_ACTION_REQUIRED", "comments": 1}
    assert (await peer.client.get(f"{ISSUES}/r1")).json()["state"] == "STATE_ACTION_REQUIRED"
    comments = (await peer.client.get(f"{ISSUES}/r1/comments")).json()["comments"]
    assert [c["body"] for c in comments] == ["need VLAN"]
    assert comments[0]["displayName"] != (await peer.client.get("/healthz")).json()["provider"]
    for bad in (
        {"caller": "gcp", "id": "r1", "state": "SOLVED"},
        {"caller": "gcp", "id": "r1", "comment": "  "},
        {"caller": "gcp", "id": "r1", "state": 3},
        {"id": "r1"},
    ):
        response = await peer.client.post("/admin/issue-response", json=bad)
        assert response.status_code == 400, (bad, response.text)
    missing = await peer.client.post("/admin/issue-response", json={"caller": "gcp", "id": "zz"})
    assert missing.status_code == 404
