"""Pool policy decisions: the ``namespaceSelector`` and the capacity limits (pure)."""

from __future__ import annotations

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
    *,
    holds_capacity: bool = True,
) -> str | None:
    """Why the pool's capacity policy refuses this link now, or None.

    ``holds_capacity`` is False for a TEST link (upstream PR #57): it reserves
    nothing, so the headroom does not apply to it (the per-link maximum does).

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
    if headroom <= 0 or not holds_capacity or snapshot is None or snapshot.errors:
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
