"""Escalation as the running operator does it, against two simulators.

The pool loop's escalation round (``k8s.escalations.LinkEscalations``) reads
the link's stored status, raises one issue at the provider that holds the
link up (the Issues API), keeps its id in ``status.issue`` so a restarted
operator does not raise it again, reads the issue back (state,
ACTION_REQUIRED, comments, sanitised) into status and an ``Escalated``
condition, and closes it when the link recovers. Nothing is raised against a
provider during a maintenance window it announced (P24). The link's status
is what the controller writes (``k8s.status.link_status_body``); the
simulators share the fake clock, so hours pass when the test says so.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections import Counter
from dataclasses import replace
from typing import Any

from interconnect_operator.k8s.escalations import LinkEscalations
from interconnect_operator.k8s.index import LinkIndex
from interconnect_operator.k8s.kube import LINKS
from interconnect_operator.k8s.link_request import carried_over, observed_generation
from interconnect_operator.k8s.settings import UUID_ANNOTATION
from interconnect_operator.k8s.status import link_status_body
from interconnect_operator.protocol.escalation import Thresholds
from interconnect_operator.protocol.link_state import Phase
from interconnect_operator.reconcile.channels import ChannelWatch
from interconnect_operator.reconcile.escalation import issue_id_for
from interconnect_operator.reconcile.link import LinkRequest
from tests.integration.reconcile.conftest import (
    ENV,
    NEGOTIATOR,
    RESPONDER,
    Operator,
    Rig,
    calls_by_operation,
    link_request,
)
from tests.unit.k8s.fake_kube import FakeKube

HOUR = 3600.0
KEY = ("team-a", "link")
#: The responder finalises its features ten hours after creating them.
SLOW = 10 * HOUR


class Controller:
    """The controller's part: the stored link (the index's copy) and its status writes."""

    def __init__(self, rig: Rig, op: Operator, request: LinkRequest) -> None:
        self.rig, self.op, self.request = rig, op, request
        self.kube = FakeKube()
        self.index = LinkIndex()
        body: dict[str, Any] = {
            "metadata": {
                "namespace": KEY[0],
                "name": KEY[1],
                "uid": "uid-link",
                "generation": 1,
                "resourceVersion": "1",
                "annotations": {UUID_ANNOTATION: request.shared_uuid},
            },
            "spec": {"poolRef": {"name": "pool"}, "bandwidthMbps": 1000},
            "status": {},
        }
        self.kube.add_object(LINKS, copy.deepcopy(body))
        self.index.observe(body)

    @property
    def body(self) -> dict[str, Any]:
        return self.index.links[KEY]

    @property
    def status(self) -> dict[str, Any]:
        return dict(self.body.get("status") or {})

    async def reconcile(self) -> Phase:
        """One reconcile and the status write the controller makes of it."""
        await self.op.runtime.refresh()
        result = await self.op.reconciler.reconcile(self.request)
        assert result.status is not None
        old = self.status
        self.body["status"] = link_status_body(
            result.status,
            old_status=old,
            generation=observed_generation(self.request, old),
            providers=self.op.runtime.config.providers,
            shared_uuid=result.shared_uuid,
            environment=result.environment,
            created_at=self.request.created_at,
            now=self.rig.clock.datetime(),
        )
        self.request = replace(
            self.request, **carried_over(self.body, self.request.spec.generation)
        )
        return result.status.phase

    def escalations(self, **kwargs: Any) -> LinkEscalations:
        """A fresh escalation round (a restarted operator: nothing in memory)."""
        kwargs.setdefault("every", dt.timedelta())
        return LinkEscalations(self.kube, self.index, clock=self.rig.clock.datetime, **kwargs)

    def condition(self, type_: str) -> dict[str, Any]:
        return next(c for c in self.status.get("conditions", []) if c["type"] == type_)


async def issue_calls(rig: Rig) -> Counter[str]:
    ops = calls_by_operation(await rig.gcp.stats(), await rig.aws.stats())
    return Counter(
        {k: v for k, v in ops.items() if k in ("CreateIssue", "AddComment", "CloseIssue")}
    )


async def stuck_at_the_responder(rig: Rig) -> Controller:
    """A link whose negotiator half is live and whose responder half is PENDING."""
    issued = await rig.aws.issue_key()
    ctl = Controller(rig, rig.operator(), link_request(key=issued["encodedKey"], persisted=True))
    for _ in range(6):
        phase = await ctl.reconcile()
    assert phase is Phase.PROVISIONING
    channels = ctl.status["channels"]
    states = {(p["provider"], p["state"]) for c in channels for p in c["provisioning"]}
    assert states == {
        (NEGOTIATOR, "PROVISIONING_STATE_FINAL"),
        (RESPONDER, "PROVISIONING_STATE_PENDING"),
    }
    return ctl


async def test_a_stuck_link_raises_one_issue_reads_it_back_and_closes_it_on_recovery(
    make_rig: Any,
) -> None:
    rig = make_rig(responder_provisioning_delay=SLOW)
    ctl = await stuck_at_the_responder(rig)
    uuid = ctl.request.shared_uuid
    assert uuid is not None

    # Below the threshold (two hours): nothing raised.
    await ctl.escalations().run("pool", ctl.op.runtime, {})
    assert (await issue_calls(rig))["CreateIssue"] == 0
    assert "issue" not in ctl.status

    rig.clock.advance(3 * HOUR)
    assert await ctl.reconcile() is Phase.PROVISIONING
    round_one = ctl.escalations()
    await round_one.run("pool", ctl.op.runtime, {})

    # One issue, at the responder (the side whose features are PENDING, P13),
    # P3 (a new link that does not come up), under the deterministic id.
    issue_id = issue_id_for(uuid, 1)
    stored = rig.aws.sim.store.issue(NEGOTIATOR, issue_id)
    assert stored.data["priority"] == "PRIORITY_P3"
    assert "PENDING" in stored.data["title"]
    assert rig.gcp.sim.store.issues.get(RESPONDER, {}) == {}
    issue = ctl.status["issue"]
    assert issue["provider"] == RESPONDER
    assert issue["id"] == issue_id
    assert issue["side"] == "responder"
    assert issue["state"] == "STATE_OPEN"
    assert issue["issuesOpened"] == 1
    assert issue["comments"] == 0
    escalated = ctl.condition("Escalated")
    assert (escalated["status"], escalated["reason"]) == ("True", "IssueOpen")
    assert [e.reason for e in ctl.kube.events] == ["IssueOpened"]

    # The same round again, and a restarted operator: no second issue.
    await round_one.run("pool", ctl.op.runtime, {})
    await ctl.escalations().run("pool", ctl.op.runtime, {})
    assert (await issue_calls(rig))["CreateIssue"] == 1
    assert set(rig.aws.sim.store.issues[NEGOTIATOR]) == {issue_id}

    # The provider's staff answer: they need action from us, with a comment
    # that carries a credential-shaped token.
    token = "Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZmdoaWprbG1ub3A="
    response = await rig.aws.admin.post(
        "/admin/issue-response",
        json={
            "caller": NEGOTIATOR,
            "id": issue_id,
            "state": "ACTION_REQUIRED",
            "comment": f"please confirm the VLAN\n(token {token})",
        },
    )
    assert response.status_code == 200, response.text
    rig.clock.advance(600)  # past the read-back cadence (five minutes)
    await ctl.escalations().run("pool", ctl.op.runtime, {})
    issue = ctl.status["issue"]
    assert issue["state"] == "STATE_ACTION_REQUIRED"
    assert issue["actionRequired"] is True
    assert issue["comments"] == 1
    assert issue["lastComment"].startswith("please confirm the VLAN (token ")
    assert token not in issue["lastComment"]
    escalated = ctl.condition("Escalated")
    assert (escalated["status"], escalated["reason"]) == ("True", "ActionRequired")
    assert token not in escalated["message"]
    assert [e.reason for e in ctl.kube.events][-1] == "IssueActionRequired"

    # The responder finalises: the link recovers, the issue is closed with a comment.
    rig.clock.advance(SLOW)
    for _ in range(6):
        if await ctl.reconcile() is Phase.READY:
            break
    assert ctl.condition("Ready")["status"] == "True"
    await ctl.escalations().run("pool", ctl.op.runtime, {})
    assert rig.aws.sim.store.issue(NEGOTIATOR, issue_id).state == "STATE_CLOSED"
    issue = ctl.status["issue"]
    assert issue["state"] == "STATE_CLOSED"
    assert "closedAt" in issue
    escalated = ctl.condition("Escalated")
    assert (escalated["status"], escalated["reason"]) == ("False", "IssueClosed")
    assert [e.reason for e in ctl.kube.events][-1] == "IssueClosed"
    calls = await issue_calls(rig)
    assert calls == Counter({"CreateIssue": 1, "AddComment": 1, "CloseIssue": 1})

    # Healthy and closed: further rounds make no issue call and write nothing.
    writes = len(ctl.kube.status_patches)
    await ctl.escalations().run("pool", ctl.op.runtime, {})
    assert await issue_calls(rig) == calls
    assert len(ctl.kube.status_patches) == writes


async def test_no_issue_during_a_maintenance_window_the_provider_announced_p24(
    make_rig: Any,
) -> None:
    rig = make_rig(responder_provisioning_delay=SLOW)
    ctl = await stuck_at_the_responder(rig)
    interconnect = ctl.status["interconnect"]
    channel = ctl.status["channels"][0]["id"]
    start = rig.clock.datetime() + dt.timedelta(hours=1)
    end = start + dt.timedelta(hours=4)
    response = await rig.aws.admin.post(
        "/admin/maintenance",
        json={
            "environment": ENV,
            "interconnect": interconnect,
            "channel": channel,
            "startTime": start.isoformat(),
            "endTime": end.isoformat(),
            "maintenanceId": "m-1",
        },
    )
    assert response.status_code == 200, response.text
    watch = ChannelWatch(ctl.op.runtime, clock=rig.clock.datetime)

    rig.clock.advance(3 * HOUR)  # stuck past the threshold, inside the window
    assert await ctl.reconcile() is Phase.PROVISIONING
    health = await watch.run()
    assert any(h.maintenance_active for h in health.values())
    await ctl.escalations().run("pool", ctl.op.runtime, health)
    assert (await issue_calls(rig))["CreateIssue"] == 0
    assert "issue" not in ctl.status

    rig.clock.advance(3 * HOUR)  # the window is over, still stuck
    assert await ctl.reconcile() is Phase.PROVISIONING
    health = await watch.run()
    assert not any(h.maintenance_active for h in health.values())
    await ctl.escalations().run("pool", ctl.op.runtime, health)
    assert (await issue_calls(rig))["CreateIssue"] == 1
    assert ctl.status["issue"]["provider"] == RESPONDER


async def test_issue_calls_are_rate_limited_per_pool(make_rig: Any) -> None:
    """A budget of four calls per minute holds whatever the rules ask for: with
    a comment due on every round (comment_every zero) and a round every
    second for five minutes, the Issues API sees at most the bucket (4) plus
    four a minute."""
    rig = make_rig(responder_provisioning_delay=SLOW)
    ctl = await stuck_at_the_responder(rig)
    rig.clock.advance(3 * HOUR)
    assert await ctl.reconcile() is Phase.PROVISIONING
    rounds = ctl.escalations(
        calls_per_minute=4, thresholds=Thresholds(comment_every=dt.timedelta())
    )
    await rounds.run("pool", ctl.op.runtime, {})
    opened = await all_issue_calls(rig)
    assert opened == Counter({"CreateIssue": 1, "GetIssue": 1, "ListComments": 1})
    # The same instant: the budget is spent, nothing is called.
    await rounds.run("pool", ctl.op.runtime, {})
    assert await all_issue_calls(rig) == opened
    for _ in range(300):
        rig.clock.advance(1)
        await rounds.run("pool", ctl.op.runtime, {})
    calls = await all_issue_calls(rig)
    assert calls["AddComment"] >= 5  # the rules did get their comments through
    assert sum(calls.values()) <= 4 + 4 * 5
    assert calls["CreateIssue"] == 1


async def all_issue_calls(rig: Rig) -> Counter[str]:
    ops = calls_by_operation(await rig.gcp.stats(), await rig.aws.stats())
    names = ("CreateIssue", "GetIssue", "AddComment", "CloseIssue", "ListComments", "ListIssues")
    return Counter({k: v for k, v in ops.items() if k in names and v})


async def test_a_pools_links_are_judged_at_most_every_thirty_seconds(make_rig: Any) -> None:
    """Pool refreshes come every second while links are busy; escalation rounds
    do not: with a comment due on every round (comment_every zero), a round ten
    seconds after the last makes no call, one thirty-five seconds after does."""
    rig = make_rig(responder_provisioning_delay=SLOW)
    ctl = await stuck_at_the_responder(rig)
    rig.clock.advance(3 * HOUR)
    assert await ctl.reconcile() is Phase.PROVISIONING
    rounds = LinkEscalations(
        ctl.kube,
        ctl.index,
        clock=rig.clock.datetime,
        thresholds=Thresholds(comment_every=dt.timedelta()),
    )
    await rounds.run("pool", ctl.op.runtime, {})
    assert (await issue_calls(rig))["CreateIssue"] == 1
    rig.clock.advance(10)
    await rounds.run("pool", ctl.op.runtime, {})
    assert (await issue_calls(rig))["AddComment"] == 0
    rig.clock.advance(25)
    await rounds.run("pool", ctl.op.runtime, {})
    assert (await issue_calls(rig))["AddComment"] == 1


async def test_a_paused_link_raises_nothing(make_rig: Any) -> None:
    rig = make_rig(responder_provisioning_delay=SLOW)
    ctl = await stuck_at_the_responder(rig)
    rig.clock.advance(3 * HOUR)
    assert await ctl.reconcile() is Phase.PROVISIONING
    ctl.body["status"]["phase"] = "Paused"  # paused by its owner (annotation)
    await ctl.escalations().run("pool", ctl.op.runtime, {})
    assert (await issue_calls(rig))["CreateIssue"] == 0
    ctl.body["status"]["phase"] = "Provisioning"
    await ctl.escalations().run("pool", ctl.op.runtime, {})
    assert (await issue_calls(rig))["CreateIssue"] == 1


async def test_a_healthy_link_without_an_issue_is_not_judged_one_degraded_or_with_an_issue_is(
    make_rig: Any,
) -> None:
    """Most links of a settled pool are Ready with no issue: a round skips them
    before building their view (nothing could come of it); a Degraded one, or
    one whose status records an issue (to close or read back), is judged."""
    rig = make_rig()
    issued = await rig.aws.issue_key()
    ctl = Controller(rig, rig.operator(), link_request(key=issued["encodedKey"], persisted=True))
    for _ in range(8):
        if await ctl.reconcile() is Phase.READY:
            break
    assert ctl.condition("Ready")["status"] == "True"
    rounds = ctl.escalations()
    await rounds.run("pool", ctl.op.runtime, {})
    assert rounds.judged == 0
    assert await all_issue_calls(rig) == Counter()

    degraded = {"type": "Degraded", "status": "True", "reason": "ChannelMissing"}
    others = [c for c in ctl.status["conditions"] if c["type"] != "Degraded"]
    ctl.body["status"]["conditions"] = [*others, degraded]
    await rounds.run("pool", ctl.op.runtime, {})
    assert rounds.judged == 1

    ctl.body["status"]["conditions"] = [
        c for c in ctl.status["conditions"] if c["type"] != "Degraded"
    ]
    ctl.body["status"]["issue"] = {"provider": RESPONDER, "id": "i-1", "state": "STATE_CLOSED"}
    await rounds.run("pool", ctl.op.runtime, {})
    assert rounds.judged == 2
    assert await all_issue_calls(rig) == Counter()
