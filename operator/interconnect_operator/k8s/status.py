"""Status computation: reconcile results -> the ``.status`` bodies written to Kubernetes
(a link's here, a pool's in ``k8s.pool_status``), and when a body differs from the stored one.

Kept apart from the handlers (as cluster-api does) so it is unit-tested as
func(input) = output. Conditions follow the Kubernetes conventions through
``protocol.conditions.merge``: ``lastTransitionTime`` moves only when a
condition's status flips, and the whole list is written in one patch.
Nothing here ever touches a secret: the inputs carry none.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from interconnect_operator.protocol.conditions import (
    Condition,
    ConditionStatus,
    merge,
    not_reconciled,
)
from interconnect_operator.protocol.link_state import LinkStatus
from interconnect_operator.protocol.types import Side, VerificationState

_ROLE = {Side.NEGOTIATOR: "Negotiator", Side.RESPONDER: "Responder"}


def now() -> dt.datetime:
    """The current time as status timestamps hold it (UTC, whole seconds)."""
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def format_time(value: dt.datetime) -> str:
    """RFC 3339 in UTC, to the second, as Kubernetes writes its own times."""
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def existed_on(old_status: Mapping[str, Any] | None) -> dict[Side, str]:
    """Sides whose provider held the link's connection settled, by the link's status
    (and the interconnect it was on): the fact a peer deletion is judged by after a
    restart (P19 from a provider's side).

    Settled means VERIFIED at that provider, or the link was Ready: a connection
    the status shows during bring-up may be one whose create is still in flight or
    lost (P33), and its absence later is no deletion by anyone. A link already
    reported as deleted by a provider existed on both sides."""
    old = old_status or {}
    interconnect = str(old.get("interconnect") or "")
    roles = {role: side for side, role in _ROLE.items()}
    was_ready = bool(old.get("readyTime"))
    found: dict[Side, str] = {}
    for entry in old.get("providers") or []:
        side = roles.get(str(entry.get("role")))
        settled = was_ready or entry.get("verificationState") == VerificationState.VERIFIED.value
        if side is not None and entry.get("connection") and settled:
            found[side] = interconnect
    for cond in old.get("conditions") or []:
        reason = str(cond.get("reason") or "")
        stalled = cond.get("type") == "Stalled" and cond.get("status") == "True"
        if stalled and reason.startswith("DeletedBy") and interconnect:
            found = dict.fromkeys(Side, interconnect)
    return found


#: Creates with an unknown outcome kept in status (a link has at most 2 + 2 x channels).
MAX_PENDING_REQUESTS = 16


def pending_requests(old_status: Mapping[str, Any] | None) -> dict[str, str]:
    """The requestIds of creates whose outcome was unknown, as the status kept them."""
    found: dict[str, str] = {}
    for entry in (old_status or {}).get("pendingRequests") or []:
        call, request_id = entry.get("call"), entry.get("requestId")
        if isinstance(call, str) and isinstance(request_id, str) and call and request_id:
            found[call] = request_id
    return found


def prefix_limits(old_status: Mapping[str, Any] | None) -> dict[Side, int]:
    """Each side's route-prefix limit as the link's status last showed it (it survives
    a restart; guidance is read again only when a channel needs allocating)."""
    old = old_status or {}
    roles = {role: side for side, role in _ROLE.items()}
    side_of = {
        str(entry.get("name")): roles[str(entry.get("role"))]
        for entry in old.get("providers") or []
        if str(entry.get("role")) in roles
    }
    found: dict[Side, int] = {}
    for entry in (old.get("routing") or {}).get("providerLimits") or []:
        side = side_of.get(str(entry.get("provider")))
        limit = entry.get("maxReceivedPrefixes")
        if side is not None and isinstance(limit, int) and not isinstance(limit, bool):
            found[side] = limit
    return found


def parse_time(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def conditions_from_status(status: Mapping[str, Any] | None) -> tuple[Condition, ...]:
    """The stored conditions, as pure values (unknown statuses read as Unknown)."""
    result = []
    for raw in (status or {}).get("conditions") or []:
        try:
            cond_status = ConditionStatus(raw.get("status", "Unknown"))
        except ValueError:
            cond_status = ConditionStatus.UNKNOWN
        result.append(
            Condition(
                type=str(raw.get("type", "")),
                status=cond_status,
                reason=str(raw.get("reason", "")),
                message=str(raw.get("message", "")),
                observed_generation=raw.get("observedGeneration"),
                last_transition_time=parse_time(raw.get("lastTransitionTime")),
            )
        )
    return tuple(c for c in result if c.type)


def merged_conditions(
    old_status: Mapping[str, Any] | None, new: Sequence[Condition], now: dt.datetime
) -> list[dict[str, object]]:
    return [c.to_kube() for c in merge(conditions_from_status(old_status), new, now)]


def link_status_body(
    status: LinkStatus,
    *,
    old_status: Mapping[str, Any] | None,
    generation: int,
    providers: Mapping[Side, str],
    shared_uuid: str | None,
    environment: str | None,
    created_at: dt.datetime | None,
    now: dt.datetime,
    request_ids: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The full ``.status`` of a MulticloudLink for a reconcile result.

    ``request_ids``: creates whose outcome is unknown and their requestIds
    (feature-recovery draft), kept so a restarted operator retries with them.
    """
    old = old_status or {}
    body: dict[str, Any] = {
        "observedGeneration": generation,
        "phase": status.phase.value,
        "conditions": merged_conditions(old, status.conditions, now),
        "sharedConnectionUuid": shared_uuid,
        "environment": environment,
        "interconnect": status.interconnect,
        "message": status.message[:1024] if status.message else None,
    }
    body["channels"] = [_channel(c, providers) for c in status.channels]
    body["providers"] = [
        {
            "name": providers[p.side],
            "role": _ROLE[p.side],
            "connection": p.connection_name,
            "connectionId": p.connection_id,
            "sourceConnection": p.source_connection,
            "verificationState": p.verification.value if p.verification else None,
            "adminState": p.admin_state.value if p.admin_state else None,
        }
        for p in status.providers
    ]
    body["routing"] = {
        "maxPrefixes": status.max_prefixes,
        "providerLimits": [
            {"provider": providers[side], "maxReceivedPrefixes": limit}
            for side, limit in sorted(status.prefix_limits.items())
        ],
    }
    body["pendingRequests"] = [
        {"call": call, "requestId": request_id}
        for call, request_id in sorted((request_ids or {}).items())[:MAX_PENDING_REQUESTS]
    ]
    ready_time = old.get("readyTime")
    if status.ready and not ready_time:
        ready_time = format_time(now)
        if created_at is not None:
            body["timeToReadySeconds"] = round((now - created_at).total_seconds(), 3)
    elif old.get("timeToReadySeconds") is not None:
        body["timeToReadySeconds"] = old.get("timeToReadySeconds")
    body["readyTime"] = ready_time
    if status.deferred_since is not None:
        body["deferredSince"] = format_time(status.deferred_since)
    if old.get("issue"):
        body["issue"] = old["issue"]
    return {k: v for k, v in body.items() if v is not None}


def _channel(channel: Any, providers: Mapping[Side, str]) -> dict[str, Any]:
    out: dict[str, Any] = {"id": channel.channel}
    if channel.vlan is not None:
        out["vlan"] = channel.vlan
    if channel.ipv4_subnet is not None:
        out["ipv4Subnet"] = str(channel.ipv4_subnet)
    if channel.ipv6_subnet is not None:
        out["ipv6Subnet"] = str(channel.ipv6_subnet)
    if channel.mtu is not None:
        out["mtu"] = channel.mtu
    out["bgp"] = [
        {
            "provider": providers[side],
            "asn": end.asn,
            "address": str(end.ipv4),
        }
        for side, end in sorted(channel.bgp.items())
    ]
    out["provisioning"] = [
        {"provider": providers[side], "state": state.value}
        for side, state in sorted(channel.provisioning.items())
    ]
    return out


def status_changed(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> bool:
    """Whether writing ``new`` would change anything (no write when not: steady state).

    Compared as the API server stores them: a null at any depth is no field
    (a merge patch deletes it; inside a list the server prunes nulls of
    fields that are not nullable), and an empty top-level list or map is no
    field either. Without that a status holding e.g. ``routing.maxPrefixes:
    null`` differs from its own stored copy forever, and every reconcile of a
    steady link writes the same status again.
    """
    old = old or {}
    return not _same_stored(old, new) or _digest_key(old) != _digest_key(new)


def _same_stored(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """``comparable(old) == comparable(new)`` without building either copy: the
    fields compared in place, stopping at the first difference (a Ready link's
    status is compared on every reconcile that publishes; equal is the common
    answer). tests/unit/k8s/test_status.py compares the two on arbitrary values."""
    shown_old = [k for k, v in old.items() if v not in _EMPTY and k not in NOT_COMPARED]
    shown_new = [k for k, v in new.items() if v not in _EMPTY and k not in NOT_COMPARED]
    if len(shown_old) != len(shown_new) or set(shown_old) != set(shown_new):
        return False
    return all(_same(old[k], new[k]) for k in shown_new)


_EMPTY: tuple[Any, ...] = (None, [], {})


def _same(a: Any, b: Any) -> bool:
    """``_without_nulls(a) == _without_nulls(b)``, in place for what JSON holds
    (dicts, lists, scalars); anything else through the copies."""
    kind = type(a)
    if kind is dict and type(b) is dict:
        if a is b:
            return True  # a kept body's shared part (``bodies``): equal by identity
        count = 0
        for key, value in a.items():
            if value is None:
                continue
            count += 1
            other = b.get(key)
            if other is None or not _same(value, other):
                return False
        return count == sum(1 for value in b.values() if value is not None)
    if kind is list and type(b) is list:
        return len(a) == len(b) and all(map(_same, a, b))
    if kind in _SCALARS and type(b) in _SCALARS:
        return bool(a == b)
    return bool(_without_nulls(a) == _without_nulls(b))


_SCALARS = frozenset({str, int, float, bool, type(None)})


#: Status fields written along with a change, never a reason to write: a Ready link's
#: ``inputsDigest`` moves when only inputs that do not show in its status changed.
#: Only the id of the key that signed it is compared (``_digest_key``): a digest of a
#: rotated key, or an unsigned one, is replaced once.
NOT_COMPARED = frozenset({"inputsDigest"})


def _digest_key(status: Mapping[str, Any]) -> str | None:
    """The key id leading a stored ``inputsDigest`` (``confirm``); "" when unsigned."""
    digest = status.get("inputsDigest")
    if not isinstance(digest, str):
        return None
    kid, dot, _ = digest.partition(".")
    return kid if dot else ""


def comparable(status: Mapping[str, Any]) -> dict[str, Any]:
    """The status as the API server stores it, less ``NOT_COMPARED``."""
    return {
        k: _without_nulls(v)
        for k, v in status.items()
        if v not in (None, [], {}) and k not in NOT_COMPARED
    }


def _without_nulls(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def simple_link_status(
    *,
    old_status: Mapping[str, Any] | None,
    generation: int,
    phase: str,
    reason: str,
    message: str,
    now: dt.datetime,
    stalled: bool,
) -> dict[str, Any]:
    """Status for a link the reconciler never saw (no pool, policy, missing secret)."""
    conditions = not_reconciled(reason, message, generation, stalled=stalled)
    old = dict(old_status or {})
    body = {
        **{k: v for k, v in old.items() if k not in ("conditions", "phase", "message")},
        "observedGeneration": generation,
        "phase": phase,
        "conditions": merged_conditions(old, conditions, now),
        "message": message[:1024],
    }
    return body
