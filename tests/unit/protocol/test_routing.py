"""Routing guardrails verdicts (pure)."""

from __future__ import annotations

from interconnect_operator.protocol.routing import prefix_verdict, side_limit
from interconnect_operator.protocol.types import GuidanceView, Side


def test_side_limit_is_the_lowest_stated() -> None:
    views = [
        GuidanceView("ch1", max_received_bgp_prefixes=200),
        GuidanceView("ch2", max_received_bgp_prefixes=80),
        GuidanceView("ch3"),
    ]
    assert side_limit(views) == 80
    assert side_limit([GuidanceView("ch1")]) is None


def test_verdicts() -> None:
    both = {Side.NEGOTIATOR: 100, Side.RESPONDER: 1000}
    low = prefix_verdict(500, both)
    assert (low.within, low.reason) == (False, "ProviderLimitBelowRequest")
    assert "negotiator accepts at most 100" in low.message
    assert "responder" not in low.message
    assert prefix_verdict(100, both).within is True
    unknown = prefix_verdict(50, {Side.NEGOTIATOR: 100})
    assert (unknown.within, unknown.reason) == (None, "LimitUnknown")
    # A known lower limit is reported even while the other side's is unknown.
    assert prefix_verdict(500, {Side.NEGOTIATOR: 100}).within is False
    assert prefix_verdict(None, {}).reason == "NotRequested"
