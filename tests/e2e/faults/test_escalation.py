"""A stuck link raises one issue with the provider that holds it up (Issues API).

The operator process runs with ``--escalation-after=3``: a link whose
features stay unfinished three seconds raises an issue. A Ready link's
feature at the responder fails for good (``PROVISIONING_STATE_FAILED``, not
retryable); the operator opens one issue at the responder's simulator and
records it in ``status.issue`` with an ``Escalated`` condition and an Event.
The provider's staff answer (ACTION_REQUIRED, a comment carrying a
credential-shaped token): the operator reads it back into status, the token
masked. A restarted operator raises nothing new. The feature is finalised
again: the link recovers and the issue is closed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.e2e.faults.rig import FaultRig, record_summary
from tests.support.stack import condition, wait_for

pytestmark = pytest.mark.e2e

ENV = "aws-gcp-us-east"
TOKEN = "Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZmdoaWprbG1ub3A="


def _calls(rig: FaultRig, operation: str) -> int:
    total = 0
    for sim in rig.sims:
        by_op = sim.stats().get("byOperation") or {}
        total += int((by_op.get(operation) or {}).get("total", 0))
    return total


def _issue(rig: FaultRig, ns: str, predicate: Callable[[dict[str, Any]], bool]) -> Any:
    obj = rig.kube.try_get("mcl", "stuck", ns)
    issue = (obj or {}).get("status", {}).get("issue")
    return obj if issue and predicate(issue) else None


def test_a_stuck_link_raises_one_issue_reads_the_answer_and_closes_it(
    rig_factory: Callable[..., FaultRig],
) -> None:
    rig = rig_factory("escalation", operator_args=("--escalation-after=3",))
    ns = rig.namespace("escalation-links")
    rig.apply_links(ns, ["stuck"])
    rig.wait_ready(ns, ["stuck"], timeout=120)
    uuid = rig.uuids(ns)["stuck"]
    assert _calls(rig, "CreateIssue") == 0  # a link that came up raised nothing

    feature = next(f for f in rig.aws.state()["features"] if f["connection"] == uuid)
    name = (
        f"providers/gcp/environments/{ENV}/interconnects/{feature['interconnect']}"
        f"/connections/{uuid}/features/{feature['feature']}"
    )
    rig.aws.admin(
        "/admin/lose-feature",
        {"name": name, "mode": "failed", "message": "port broken", "retryable": False},
    )

    opened = wait_for(
        lambda: _issue(rig, ns, lambda i: i.get("state") == "STATE_OPEN"),
        90,
        "an issue recorded in the link's status",
        0.5,
    )
    issue = opened["status"]["issue"]
    assert issue["provider"] == "aws"
    assert issue["side"] == "responder"
    assert issue["id"] == f"{uuid}-esc1"
    escalated = condition(opened, "Escalated")
    assert escalated is not None
    assert (escalated["status"], escalated["reason"]) == ("True", "IssueOpen")
    (held,) = [i for i in rig.aws.state()["issues"] if i["issue"] == issue["id"]]
    assert held["caller"] == "gcp"
    assert held["state"] == "STATE_OPEN"
    assert rig.gcp.state()["issues"] == []

    # The responder's staff answer: they need action from us.
    rig.aws.admin(
        "/admin/issue-response",
        {
            "caller": "gcp",
            "id": issue["id"],
            "state": "ACTION_REQUIRED",
            "comment": f"please send the port's light levels (ref {TOKEN})",
        },
    )
    answered = wait_for(
        lambda: _issue(rig, ns, lambda i: i.get("actionRequired") is True),
        60,
        "ACTION_REQUIRED read back into the link's status",
        0.5,
    )
    issue = answered["status"]["issue"]
    assert issue["comments"] >= 1
    assert issue["lastComment"].startswith("please send the port's light levels")
    escalated = condition(answered, "Escalated")
    assert escalated is not None
    assert escalated["reason"] == "ActionRequired"
    assert TOKEN not in str(answered["status"])

    # A restarted operator continues from the status: no second issue.
    assert rig.operator is not None
    created = _calls(rig, "CreateIssue")
    reads = _calls(rig, "GetIssue")
    rig.operator.restart()
    wait_for(
        lambda: _calls(rig, "GetIssue") > reads,
        60,
        "the restarted operator reading the recorded issue back",
        0.5,
    )
    assert _calls(rig, "CreateIssue") == created

    # The customer asks for a retry (any spec change: here the deletion policy):
    # the FAILED feature is deleted and created again, the link recovers, the
    # issue is closed.
    rig.kube.run(
        "patch", "mcl", "stuck", "-n", ns, "--type=merge",
        "-p", json.dumps({"spec": {"deletionPolicy": "Orphan"}}),
    )  # fmt: skip
    closed = wait_for(
        lambda: _issue(rig, ns, lambda i: i.get("state") == "STATE_CLOSED"),
        90,
        "the issue closed after the link recovered",
        0.5,
    )
    assert condition(closed, "Ready")["status"] == "True"  # type: ignore[index]
    escalated = condition(closed, "Escalated")
    assert escalated is not None
    assert (escalated["status"], escalated["reason"]) == ("False", "IssueClosed")
    (held,) = [i for i in rig.aws.state()["issues"] if i["caller"] == "gcp"]
    assert held["state"] == "STATE_CLOSED"
    assert _calls(rig, "CreateIssue") == created == 1
    reasons = [e["reason"] for e in rig.kube.events(ns) if e["involvedObject"]["name"] == "stuck"]
    for reason in ("IssueOpened", "IssueActionRequired", "IssueClosed"):
        assert reason in reasons
    record_summary(
        "stuck link escalated (Issues API)",
        issues_created=_calls(rig, "CreateIssue"),
        comments=_calls(rig, "AddComment"),
        issue_reads=_calls(rig, "GetIssue"),
    )
