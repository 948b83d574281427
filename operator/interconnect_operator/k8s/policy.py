"""Pool policy decisions: label selectors, ``namespaceSelector``, capacity limits (pure)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from interconnect_operator.protocol import placement
from interconnect_operator.protocol.types import Side
from interconnect_operator.reconcile.snapshot import PoolSnapshot


def selector_matches(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """Kubernetes LabelSelector semantics: every matchLabels and matchExpressions term holds.

    An empty selector matches everything.
    """
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key = expression.get("key", "")
        operator = expression.get("operator")
        values = set(expression.get("values") or [])
        present = key in labels
        if operator == "In" and not (present and labels[key] in values):
            return False
        if operator == "NotIn" and present and labels[key] in values:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
    return True


# A label key (optional DNS prefix) and a label value, as Kubernetes validates them.
_KEY = re.compile(
    r"^([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
)
_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")
_SET = re.compile(r"^(?P<key>\S+)\s+(?P<op>in|notin)\s*\((?P<values>[^()]*)\)$")
_EQUALITY = re.compile(r"^(?P<key>[^!=\s]+)\s*(?P<op>==|=|!=)\s*(?P<value>\S*)$")


def _requirements(text: str) -> list[str]:
    """Split a selector at the commas outside parentheses."""
    parts: list[str] = []
    depth = 0
    current = ""
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                raise ValueError(f"unbalanced ')' in {text!r}")
        if char == "," and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += char
    if depth != 0:
        raise ValueError(f"unbalanced '(' in {text!r}")
    parts.append(current.strip())
    return parts


def _checked_key(key: str, text: str) -> str:
    if not _KEY.match(key):
        raise ValueError(f"invalid label key {key!r} in {text!r}")
    return key


def _checked_value(value: str, text: str) -> str:
    if not _VALUE.match(value):
        raise ValueError(f"invalid label value {value!r} in {text!r}")
    return value


def _expression(part: str, text: str) -> dict[str, Any]:
    """One requirement of a selector string as a matchExpressions term."""
    if found := _SET.match(part):
        values = [v.strip() for v in found["values"].split(",")]
        if any(not v for v in values):
            raise ValueError(f"empty value in {part!r}")
        operator = "In" if found["op"] == "in" else "NotIn"
        return {
            "key": _checked_key(found["key"], text),
            "operator": operator,
            "values": [_checked_value(v, text) for v in values],
        }
    if found := _EQUALITY.match(part):
        operator = "NotIn" if found["op"] == "!=" else "In"
        return {
            "key": _checked_key(found["key"], text),
            "operator": operator,
            "values": [_checked_value(found["value"], text)],
        }
    if part.startswith("!"):
        return {"key": _checked_key(part[1:].strip(), text), "operator": "DoesNotExist"}
    return {"key": _checked_key(part, text), "operator": "Exists"}


def parse_selector(text: str) -> dict[str, Any]:
    """A label selector in kubectl's string form as a LabelSelector object.

    ``a=b``, ``a==b``, ``a!=b``, ``a in (x,y)``, ``a notin (x,y)``, ``a``, ``!a``,
    joined by commas (all must hold). Raises ValueError naming the bad part.
    An empty string is refused: an instance that owns "everything" has no selector.
    """
    if not text.strip():
        raise ValueError("empty label selector")
    expressions = []
    for part in _requirements(text):
        if not part:
            raise ValueError(f"empty requirement in {text!r}")
        expressions.append(_expression(part, text))
    return {"matchExpressions": expressions}


def provisioned_mbps(snapshot: PoolSnapshot | None, uuid: str | None) -> int:
    """The bandwidth the link's connection has at the providers now (0 when it has none)."""
    if snapshot is None or uuid is None:
        return 0
    sizes = [
        connection.bandwidth_mbps or 0
        for side in (Side.NEGOTIATOR, Side.RESPONDER)
        for connections in snapshot.side(side).connections.values()
        if (connection := connections.get(uuid)) is not None
    ]
    return max(sizes, default=0)


def capacity_denial(
    requested_mbps: int,
    pool_policy: Mapping[str, Any],
    snapshot: PoolSnapshot | None,
    uuid: str | None,
) -> str | None:
    """Why the pool's capacity policy refuses this link now, or None.

    Checked before every reconcile that could create or grow capacity (a new
    link, an activation-key or destination-account link, a bandwidth
    increase, a migration): the per-link maximum always, so a link above it
    is neither created, resized nor moved; the headroom whenever the link
    would take more than it holds now, and only on a snapshot both providers
    answered (a missing answer would make an existing link look new).
    ``pool_policy`` is the CapacityPool's ``spec.policy``; ``snapshot`` the
    pool's last bulk read where the pool has one (None: headroom unjudged).
    """
    maximum = pool_policy.get("maxBandwidthMbpsPerLink")
    headroom = int(pool_policy.get("headroomMbps") or 0)
    if maximum is not None and requested_mbps > int(maximum):
        return f"pool policy: {requested_mbps} Mbps exceeds the per-link maximum of {maximum}"
    if headroom <= 0 or snapshot is None or snapshot.errors:
        return None
    growth = requested_mbps - provisioned_mbps(snapshot, uuid)
    if growth <= 0:
        return None
    pool = placement.pool_capacity(
        snapshot.interconnect_views(Side.NEGOTIATOR),
        snapshot.interconnect_views(Side.RESPONDER),
    )
    why = placement.policy_violation(growth, placement.PlacementPolicy(None, headroom), pool)
    return None if why is None else f"pool policy: {requested_mbps} Mbps {why}"
