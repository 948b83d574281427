"""Activation key checks before any call (P1-P2)."""

from __future__ import annotations

from interconnect_operator.protocol.keys import (
    bandwidth_refusal,
    environment_mismatch,
    environment_of,
    size_mismatch,
)
from interconnect_operator.protocol.placement import PlacementPolicy, PoolCapacity, pool_capacity
from interconnect_operator.protocol.types import InterconnectState, InterconnectView

URI = "providers/aws/environments/aws-gcp-us-east"


def test_p2_environment_is_the_uri_last_segment() -> None:
    assert environment_of(URI) == "aws-gcp-us-east"
    assert environment_of(URI + "/") == "aws-gcp-us-east"


def test_p2_key_for_the_pool_environment_passes() -> None:
    assert environment_mismatch(URI, "aws-gcp-us-east") is None


def test_p2_key_for_another_environment_is_refused_for_good() -> None:
    problem = environment_mismatch(URI, "aws-gcp-eu-west")
    assert problem is not None
    assert problem.reason == "KeyEnvironmentMismatch"
    assert not problem.transient
    assert "aws-gcp-eu-west" in problem.message
    assert problem.message.startswith("P2:")


def test_p2_same_size_passes_whatever_is_known() -> None:
    for placed in (True, False, None):
        assert size_mismatch(1000, 1000, placed=placed) is None


def test_p2_size_differs_before_placement_is_refused() -> None:
    problem = size_mismatch(1000, 2000, placed=False)
    assert problem is not None
    assert problem.reason == "KeySizeMismatch"
    assert not problem.transient
    assert "1000 Mbps" in problem.message
    assert "2000 Mbps" in problem.message


def test_p16_p18_size_differs_after_placement_is_an_update_not_a_mismatch() -> None:
    assert size_mismatch(1000, 2000, placed=True) is None


def test_p2_size_differs_and_providers_unreadable_is_transient() -> None:
    problem = size_mismatch(1000, 2000, placed=None)
    assert problem is not None
    assert problem.reason == "ProvidersUnreadable"
    assert problem.transient


def test_p1_size_not_sold_by_the_environment() -> None:
    problem = bandwidth_refusal(300, (100, 1000), PlacementPolicy(), None)
    assert problem is not None
    assert problem.reason == "BandwidthNotOffered"
    assert "100, 1000" in problem.message


def test_p1_without_offered_sizes_only_policy_counts() -> None:
    assert bandwidth_refusal(300, (), PlacementPolicy(), None) is None


def test_pool_policy_per_link_maximum_and_headroom() -> None:
    over = bandwidth_refusal(2000, (1000, 2000), PlacementPolicy(max_link_mbps=1000), None)
    assert over is not None
    assert over.reason == "PolicyDenied"
    ix = InterconnectView("ic1", InterconnectState.ACTIVE, 10_000, 8_000)
    pool = pool_capacity([ix], [ix])
    tight = bandwidth_refusal(1000, (), PlacementPolicy(headroom_mbps=1500), pool)
    assert tight is not None
    assert "headroom" in tight.message
    assert bandwidth_refusal(1000, (), PlacementPolicy(headroom_mbps=1000), pool) is None


def test_test_connection_may_be_below_the_minimum_and_ignores_headroom() -> None:
    """Upstream PR #57: TEST below the smallest size sold; it holds no capacity."""
    offered = (1000, 10000)
    full = PoolCapacity(())  # nothing available
    policy = PlacementPolicy(max_link_mbps=5000, headroom_mbps=1000)
    assert bandwidth_refusal(100, offered, policy, full, test=True) is None
    assert bandwidth_refusal(1000, offered, policy, full, test=True) is None
    refused = bandwidth_refusal(100, offered, policy, full)
    assert refused is not None
    assert refused.reason == "BandwidthNotOffered"
    # Above the minimum but not sold: still refused; the per-link maximum still applies.
    between = bandwidth_refusal(2000, offered, policy, full, test=True)
    assert between is not None
    assert between.reason == "BandwidthNotOffered"
    too_big = bandwidth_refusal(10000, offered, policy, full, test=True)
    assert too_big is not None
    assert too_big.reason == "PolicyDenied"
    assert bandwidth_refusal(1000, offered, policy, full) is not None  # headroom
