"""Routing guardrails: the route prefixes a link plans against what each provider accepts.

Guidance (P8) gives ``maxReceivedBgpRoutePrefixes`` per channel: the most
prefixes that provider accepts on the BGP sessions. A link that plans to
advertise more (``spec.bgp.maxPrefixes``) would see sessions torn down or
routes dropped once it grows there; the verdict says so before it happens.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .types import GuidanceView, Side


def side_limit(guidance: Iterable[GuidanceView]) -> int | None:
    """The side's limit: the lowest its guidance states over the channels (None: none stated)."""
    limits = [g.max_received_bgp_prefixes for g in guidance if g.max_received_bgp_prefixes]
    return min(limits) if limits else None


@dataclass(frozen=True)
class PrefixVerdict:
    within: bool | None
    reason: str
    message: str


def prefix_verdict(requested: int | None, limits: Mapping[Side, int]) -> PrefixVerdict:
    """``WithinPrefixLimits``: True when every known limit is at least ``requested``.

    False (``ProviderLimitBelowRequest``) naming each side whose limit is lower;
    Unknown (``LimitUnknown``) when a limit is asked against but no guidance
    stated one yet; True (``NotRequested``) when the link asks for nothing,
    with the limits in the message so route filters can be set to them.
    """
    stated = ", ".join(f"{side.value} {limit}" for side, limit in sorted(limits.items()))
    if requested is None:
        message = f"provider limits: {stated}" if stated else "no provider limit known"
        return PrefixVerdict(True, "NotRequested", message)
    lower = {side: limit for side, limit in sorted(limits.items()) if limit < requested}
    if lower:
        detail = ", ".join(f"{side.value} accepts at most {limit}" for side, limit in lower.items())
        return PrefixVerdict(
            False,
            "ProviderLimitBelowRequest",
            f"spec.bgp.maxPrefixes is {requested} but {detail} (maxReceivedBgpRoutePrefixes, "
            "P8): filter routes to the lower limit or lower maxPrefixes",
        )
    if set(limits) != set(Side):
        missing = ", ".join(s.value for s in Side if s not in limits)
        return PrefixVerdict(None, "LimitUnknown", f"no limit known yet for {missing}")
    return PrefixVerdict(True, "WithinLimits", f"{requested} prefixes within {stated}")
