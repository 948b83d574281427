"""Retry discipline of one link: backoff, refusals, cycles, sanitised provider text."""

from __future__ import annotations

from ipaddress import IPv4Network

from interconnect_operator.protocol.link_state import CreateFeature, UpdateBandwidth
from interconnect_operator.protocol.retry_discipline import (
    BACKOFF_CAP_SECONDS,
    BACKOFF_FLOOR_SECONDS,
    CycleGuard,
    Refusal,
    backoff_seconds,
    observation_fingerprint,
    sanitise,
    step_key,
)
from interconnect_operator.protocol.types import (
    ConnectionView,
    FeatureView,
    ProviderObservation,
    Side,
)


def test_backoff_is_full_jitter_under_a_growing_capped_ceiling() -> None:
    assert backoff_seconds(1, 0.999) < 2.0
    assert backoff_seconds(4, 0.999) > 15.0
    assert backoff_seconds(40, 0.999) <= BACKOFF_CAP_SECONDS
    # full jitter reaches down to the floor, never to zero
    assert backoff_seconds(10, 0.0) == BACKOFF_FLOOR_SECONDS


def test_backoff_never_undercuts_retry_after() -> None:
    assert backoff_seconds(1, 0.0, retry_after=120.0) == 120.0
    assert backoff_seconds(9, 0.999, retry_after=1.0) > 1.0
    # a hostile peer cannot park a link for days
    assert backoff_seconds(1, 0.0, retry_after=10**9) == 3600.0


def test_step_key_names_what_the_step_acts_on() -> None:
    assert (
        step_key(CreateFeature("ix1", "ch2", Side.RESPONDER)) == "CreateFeature:ix1:ch2:responder"
    )
    assert step_key(UpdateBandwidth("ix1", Side.RESPONDER, 1500)) == (
        "UpdateBandwidth:ix1:responder:1500"
    )


def _feature(channel: str, vlan: int) -> FeatureView:
    return FeatureView(channel, vlan, IPv4Network("169.254.0.0/30"), 1500, {})


def test_fingerprint_ignores_listing_order_and_sees_changes() -> None:
    a, b = _feature("ch1", 1100), _feature("ch2", 1101)
    one = ProviderObservation(
        Side.RESPONDER, {"ix1": ConnectionView("ix1", 1000, features={"ch1": a, "ch2": b})}
    )
    other = ProviderObservation(
        Side.RESPONDER, {"ix1": ConnectionView("ix1", 1000, features={"ch2": b, "ch1": a})}
    )
    changed = ProviderObservation(Side.RESPONDER, {"ix1": ConnectionView("ix1", 2000)})
    assert observation_fingerprint(1, one) == observation_fingerprint(1, other)
    assert observation_fingerprint(1, one) != observation_fingerprint(2, one)
    refusal = Refusal("UpdateBandwidth:ix1", Side.RESPONDER, "no", observation_fingerprint(1, one))
    assert refusal.holds(observation_fingerprint(1, other))
    assert not refusal.holds(observation_fingerprint(1, changed))


def test_cycle_guard_sees_cycles_not_only_repeats() -> None:
    guard = CycleGuard()
    sequence = ["A", "B", "A", "B"]
    assert not any(guard.no_progress(d, "s0") for d in sequence)
    assert guard.no_progress("A", "s0")  # third A in the same state: a cycle

    repeat = CycleGuard()
    assert not repeat.no_progress("A", "s0")
    assert repeat.no_progress("A", "s1")


def test_cycle_guard_lets_progress_through() -> None:
    guard = CycleGuard()
    states = [f"s{n}" for n in range(10)]
    assert not any(guard.no_progress("A" if n % 2 else "B", s) for n, s in enumerate(states))


def test_sanitise_masks_tokens_and_bounds_provider_text() -> None:
    key = "eyJ2ZXJzaW9uIjoxLCJzaGFyZWRDb25uZWN0aW9uVXVpZCI6ImFiYyJ9"
    shown = sanitise(f"bad key {key}\n\x1b[31mred\x00" + "x" * 500)
    assert key not in shown
    assert "[redacted]" in shown
    assert "\n" not in shown
    assert "\x1b" not in shown
    assert len(shown) <= 200
