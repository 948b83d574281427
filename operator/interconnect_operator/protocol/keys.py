"""Activation key checks the negotiator makes before it calls anyone (P1-P2).

Pure verdicts over a decoded key's fields and what the pool knows; the
reconcile layer decodes the key (api/) and turns a :class:`KeyProblem` into
status. ``KeyProblem.transient`` marks a verdict that cannot be given yet
(look again later) rather than one only a change by the user fixes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .placement import PlacementPolicy, PoolCapacity, policy_violation


@dataclass(frozen=True)
class KeyProblem:
    """Why the link cannot go on with its key (CamelCase reason, message citing the rule)."""

    reason: str
    message: str
    transient: bool = False


def environment_of(environment_uri: str) -> str:
    """The environment id a key's destination environment URI names (its last segment)."""
    return environment_uri.rstrip("/").rsplit("/", 1)[-1]


def environment_mismatch(environment_uri: str, pool_environment: str) -> KeyProblem | None:
    """P2: the key must be for the pool's environment."""
    if environment_of(environment_uri) == pool_environment:
        return None
    return KeyProblem(
        "KeyEnvironmentMismatch",
        f"P2: the key is for {environment_uri}, the pool's environment is {pool_environment}",
    )


def size_mismatch(key_mbps: int, link_mbps: int, *, placed: bool | None) -> KeyProblem | None:
    """P2: a key is for one size; only a link not yet placed must match it.

    Once placed, the bandwidth may have been updated (P16) or migrated (P18)
    since the key was used, which is no mismatch. ``placed`` is None when the
    providers cannot be read, so whether the link was placed is unknown.
    """
    if key_mbps == link_mbps or placed:
        return None
    if placed is None:
        return KeyProblem("ProvidersUnreadable", "P2: cannot read both providers", transient=True)
    return KeyProblem(
        "KeySizeMismatch",
        f"P2: the key is for {key_mbps} Mbps, the link asks for {link_mbps} Mbps",
    )


def bandwidth_refusal(
    bandwidth_mbps: int,
    offered_mbps: Sequence[int],
    policy: PlacementPolicy,
    pool: PoolCapacity | None,
    *,
    test: bool = False,
) -> KeyProblem | None:
    """P1 and pool policy: the size must be one the environment sells and the pool admits.

    A TEST connection (upstream PR #57) may also be below the smallest size
    sold, and holds no capacity, so the pool's headroom does not apply to it.
    """
    below_minimum = test and bool(offered_mbps) and 0 < bandwidth_mbps < min(offered_mbps)
    if offered_mbps and bandwidth_mbps not in offered_mbps and not below_minimum:
        offered = ", ".join(str(s) for s in sorted(offered_mbps))
        return KeyProblem(
            "BandwidthNotOffered",
            f"P1: {bandwidth_mbps} Mbps is not a size the environment sells ({offered})",
        )
    why = policy_violation(bandwidth_mbps, policy, None if test else pool)
    if why is not None:
        return KeyProblem("PolicyDenied", f"pool policy: {why}")
    return None
