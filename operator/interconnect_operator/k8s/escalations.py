"""Escalation of a pool's stuck links, in Kubernetes terms: status and Events.

After each refresh of a symmetric pool, :class:`LinkEscalations` reads every
link of the pool from the index, turns its stored status into stuck signals
(:func:`link_view`, :func:`~interconnect_operator.protocol.stuck.stuck_signals`)
with the maintenance its providers announced (P24: none of it is raised
against a provider inside such a window), and lets the pool's
:class:`~interconnect_operator.reconcile.escalation_loop.PoolEscalations`
open, comment on, close and read back the link's one issue. What changed is
written to ``status.issue`` with an ``Escalated`` condition (merge patch of
those two fields only; the link's own writer carries both over), and an
opened, closed or ACTION_REQUIRED issue is announced with an Event. The
issue id in the status is what a restarted operator continues from: it never
raises the same episode twice.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping
from typing import Any

from interconnect_operator import redaction
from interconnect_operator.k8s import status as status_mod
from interconnect_operator.k8s.index import LinkIndex, LinkKey, shared_uuid
from interconnect_operator.k8s.kube import LINKS, KubeError
from interconnect_operator.k8s.kubeapi import KubeApi
from interconnect_operator.k8s.publish import involved, redacted, tenant_of
from interconnect_operator.protocol.conditions import Condition, ConditionStatus, LinkConditionType
from interconnect_operator.protocol.escalation import Thresholds
from interconnect_operator.protocol.stuck import LinkView, stuck_signals
from interconnect_operator.protocol.types import Side
from interconnect_operator.reconcile.channels import ChannelHealth
from interconnect_operator.reconcile.escalation import Escalator, LinkContext
from interconnect_operator.reconcile.escalation_loop import (
    DEFAULT_CALLS_PER_MINUTE,
    IssueStatus,
    PoolEscalations,
)
from interconnect_operator.reconcile.pool import PoolRuntime

__all__ = [
    "LinkEscalations",
    "escalated_condition",
    "healthy_without_issue",
    "issue_from_status",
    "issue_to_status",
    "link_view",
]

logger = logging.getLogger(__name__)

#: A pool's links are judged at most this often (sooner with a shorter threshold).
ROUND_EVERY = dt.timedelta(seconds=30)

_ROLE_SIDE = {"Negotiator": Side.NEGOTIATOR, "Responder": Side.RESPONDER}


def _time(value: dt.datetime | None) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value is not None else None


def issue_to_status(issue: IssueStatus) -> dict[str, Any]:
    """``status.issue`` of a link."""
    body: dict[str, Any] = {
        "provider": issue.provider,
        "id": issue.issue_id,
        "state": issue.state,
        "side": issue.side.value,
        "priority": issue.priority,
        "summary": issue.summary[:1024] if issue.summary else None,
        "openedAt": _time(issue.opened_at),
        "lastCommentAt": _time(issue.last_comment_at),
        "closedAt": _time(issue.closed_at),
        "issuesOpened": issue.issues_opened,
        "actionRequired": issue.action_required,
        "comments": issue.comments,
        "lastComment": issue.last_comment[:1024] if issue.last_comment else None,
        "readAt": _time(issue.read_at),
    }
    return {k: v for k, v in body.items() if v is not None}


def issue_from_status(raw: Any) -> IssueStatus | None:
    """The issue a link's status records, or None when there is none (or it is unreadable)."""
    if not isinstance(raw, Mapping) or not raw.get("id") or not raw.get("provider"):
        return None
    try:
        side = Side(str(raw.get("side") or Side.RESPONDER.value))
    except ValueError:
        return None
    parse = status_mod.parse_time
    comments = raw.get("comments")
    return IssueStatus(
        provider=str(raw["provider"]),
        issue_id=str(raw["id"]),
        state=str(raw.get("state") or "STATE_OPEN"),
        side=side,
        priority=raw.get("priority"),
        summary=str(raw.get("summary") or ""),
        opened_at=parse(raw.get("openedAt")),
        last_comment_at=parse(raw.get("lastCommentAt")),
        closed_at=parse(raw.get("closedAt")),
        issues_opened=int(raw.get("issuesOpened") or 0),
        comments=int(comments) if isinstance(comments, int) else None,
        last_comment=raw.get("lastComment"),
        read_at=parse(raw.get("readAt")),
    )


def _condition(status: Mapping[str, Any], type_: str) -> Mapping[str, Any] | None:
    for cond in status.get("conditions") or ():
        if isinstance(cond, Mapping) and cond.get("type") == type_:
            return cond
    return None


def healthy_without_issue(status: Mapping[str, Any]) -> bool:
    """Ready, not Degraded and no issue recorded: nothing for a round to do.

    Such a link has no stuck signal (:func:`stuck_signals` finds nothing for a
    Ready, non-Degraded link), so the rules can only say ``NotStuck``: no
    issue to open, close or read back, no call, no write. The round skips it
    before building its view (most links of a settled pool are such)."""
    if status.get("issue"):
        return False
    ready_c = _condition(status, "Ready")
    if not (ready_c and ready_c.get("status") == "True"):
        return False
    degraded_c = _condition(status, "Degraded")
    return not (degraded_c and degraded_c.get("status") == "True")


def link_view(
    status: Mapping[str, Any],
    providers: Mapping[Side, str],
    maintenance: Mapping[Side, tuple[dt.datetime, dt.datetime]],
) -> LinkView:
    """A link's stored status reduced to what the stuck rules read."""
    ready_c = _condition(status, "Ready")
    degraded_c = _condition(status, "Degraded")
    ready = bool(ready_c and ready_c.get("status") == "True")
    degraded = bool(degraded_c and degraded_c.get("status") == "True")
    source = degraded_c if ready else ready_c
    since = status_mod.parse_time(source.get("lastTransitionTime")) if source else None
    side_of = {name: side for side, name in providers.items()}
    states: dict[Side, list[str]] = {Side.NEGOTIATOR: [], Side.RESPONDER: []}
    for channel in status.get("channels") or ():
        for entry in (channel or {}).get("provisioning") or ():
            side = side_of.get(str(entry.get("provider")))
            if side is not None:
                states[side].append(str(entry.get("state")))
    verification: dict[Side, str | None] = {}
    for provider in status.get("providers") or ():
        side = _ROLE_SIDE.get(str(provider.get("role"))) or side_of.get(str(provider.get("name")))
        if side is not None:
            verification[side] = provider.get("verificationState")
    return LinkView(
        ready=ready,
        ever_ready=bool(status.get("readyTime")),
        degraded=degraded,
        since=since,
        feature_states={side: tuple(v) for side, v in states.items()},
        verification=verification,
        maintenance=maintenance,
    )


def active_maintenance(
    health: Mapping[tuple[str, str], ChannelHealth], interconnect: str | None, now: dt.datetime
) -> dict[Side, tuple[dt.datetime, dt.datetime]]:
    """A window in progress on any channel of the link's interconnect (P24).

    The pool's maintenance read merges both providers' windows, so a window
    holds off escalation against either side: never an issue against a
    provider during maintenance it announced, at the cost of none against the
    other side during its peer's window.
    """
    if interconnect is None:
        return {}
    for (ix, _), channel in sorted(health.items()):
        if ix != interconnect:
            continue
        for _, start, end in channel.windows:
            if start <= now < end:
                return {Side.NEGOTIATOR: (start, end), Side.RESPONDER: (start, end)}
    return {}


def escalated_condition(issue: IssueStatus, generation: int | None) -> Condition:
    """``Escalated``: True while an issue is open (reason says its state)."""
    where = f"issue {issue.issue_id} with {issue.provider}"
    if not issue.is_open:
        return Condition(
            LinkConditionType.ESCALATED.value,
            ConditionStatus.FALSE,
            "IssueClosed",
            f"{where} is closed",
            generation,
        )
    reason = "ActionRequired" if issue.action_required else "IssueOpen"
    parts = [f"{where} ({issue.priority or 'no priority'}): {issue.summary}"]
    if issue.action_required:
        parts.append("the provider needs action from us (STATE_ACTION_REQUIRED)")
    if issue.comments is not None:
        parts.append(f"{issue.comments} comment(s)")
    if issue.last_comment:
        parts.append(f"last: {issue.last_comment}")
    return Condition(
        LinkConditionType.ESCALATED.value,
        ConditionStatus.TRUE,
        reason,
        "; ".join(parts)[:1024],
        generation,
    )


class LinkEscalations:
    """Per pool, the escalation state shared across rounds (its call budget)."""

    def __init__(
        self,
        kube: KubeApi,
        index: LinkIndex,
        *,
        clock: Callable[[], dt.datetime] = status_mod.now,
        thresholds: Thresholds | None = None,
        calls_per_minute: int = DEFAULT_CALLS_PER_MINUTE,
        every: dt.timedelta = ROUND_EVERY,
    ) -> None:
        self.thresholds = thresholds or Thresholds()
        shortest = min(self.thresholds.features_pending, self.thresholds.verification_missing)
        self._every = min(every, shortest)
        self._last_round: dict[str, dt.datetime] = {}
        self._kube = kube
        self._index = index
        self._clock = clock
        self._calls_per_minute = calls_per_minute
        self._pools: dict[str, tuple[PoolRuntime, PoolEscalations]] = {}
        self.judged = 0
        """Links whose stuck signals a round computed (healthy links without an issue are not)."""

    def forget_pool(self, pool: str) -> None:
        self._pools.pop(pool, None)
        self._last_round.pop(pool, None)

    def _for(self, pool: str, runtime: PoolRuntime) -> PoolEscalations:
        known = self._pools.get(pool)
        if known is not None and known[0] is runtime:
            return known[1]
        by_name = {runtime.providers[side]: runtime.client(side) for side in Side}
        escalator = Escalator(by_name.__getitem__, clock=self._clock, thresholds=self.thresholds)
        escalations = PoolEscalations(
            escalator, self._clock, calls_per_minute=self._calls_per_minute
        )
        self._pools[pool] = (runtime, escalations)
        return escalations

    async def run(
        self, pool: str, runtime: PoolRuntime, health: Mapping[tuple[str, str], ChannelHealth]
    ) -> None:
        """One round over the pool's links, at most every ``every``; failures stay per link."""
        now = self._clock()
        last = self._last_round.get(pool)
        if last is not None and now - last < self._every:
            return
        self._last_round[pool] = now
        escalations = self._for(pool, runtime)
        for key in sorted(self._index.keys_of_pool(pool)):
            body = self._index.links.get(key)
            if body is None or body["metadata"].get("deletionTimestamp"):
                continue
            try:
                await self._one(key, body, runtime, escalations, health)
            except KubeError as exc:
                logger.warning("escalation status write failed: %s", exc, extra={"pool": pool})

    async def _one(
        self,
        key: LinkKey,
        body: dict[str, Any],
        runtime: PoolRuntime,
        escalations: PoolEscalations,
        health: Mapping[tuple[str, str], ChannelHealth],
    ) -> None:
        status = body.get("status") or {}
        if healthy_without_issue(status):
            return
        uuid = shared_uuid(body)
        environment = status.get("environment")
        if not uuid or not environment:
            return  # nothing at any provider to speak of yet
        if status.get("phase") == "Paused" and not status.get("issue"):
            return  # held by its owner (annotation): nothing to ask a provider about
        self.judged += 1
        now = self._clock()
        interconnect = status.get("interconnect")
        view = link_view(status, runtime.providers, active_maintenance(health, interconnect, now))
        issue = issue_from_status(status.get("issue"))
        context = LinkContext(
            shared_uuid=uuid,
            environment=str(environment),
            providers=runtime.providers,
            interconnect=interconnect,
            issues_opened=issue.issues_opened if issue is not None else 0,
        )
        step = await escalations.step(context, stuck_signals(view), issue)
        if step.issue is None:
            return
        await self._write(key, body, step.issue)
        await self._announce(body, issue, step.issue)

    async def _write(self, key: LinkKey, body: dict[str, Any], issue: IssueStatus) -> None:
        old = body.get("status") or {}
        generation = body["metadata"].get("generation")
        condition = escalated_condition(issue, generation)
        new = {
            "issue": issue_to_status(issue),
            "conditions": status_mod.merged_conditions(old, [condition], self._clock()),
        }
        new = redacted(new, tenant_of(body))
        patched = await self._kube.patch_status(LINKS, key[0], key[1], new)
        # What the merge patch made of the status we know (the server's answer
        # has the same, plus whatever another writer changed meanwhile).
        body["status"] = {**(patched.get("status") or {}), **old, **new}
        if "metadata" in patched:
            body["metadata"] = patched["metadata"]

    async def _announce(
        self, body: Mapping[str, Any], old: IssueStatus | None, new: IssueStatus
    ) -> None:
        reason: str | None = None
        if new.is_open and (old is None or old.issue_id != new.issue_id or not old.is_open):
            reason = "IssueOpened"
            message = (
                f"issue {new.issue_id} opened with {new.provider} ({new.priority}): {new.summary}"
            )
        elif not new.is_open and old is not None and old.is_open:
            reason = "IssueClosed"
            message = f"issue {new.issue_id} with {new.provider} closed"
        elif new.action_required and not (old is not None and old.action_required):
            reason = "IssueActionRequired"
            message = f"issue {new.issue_id} with {new.provider} needs action from us"
        if reason is None:
            return
        meta = body.get("metadata") or {}
        link = f"{meta.get('namespace')}/{meta.get('name')}"
        logger.info("link escalation: %s", message, extra={"link": link})
        await self._kube.create_event(
            involved(body, "MulticloudLink"),
            type_="Warning" if reason != "IssueClosed" else "Normal",
            reason=reason,
            message=redaction.redact(message, tenant_of(body)),
        )
