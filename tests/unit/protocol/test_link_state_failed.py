"""Features a provider reports FAILED (feature-recovery draft): the decision and its status."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from interconnect_operator.protocol.conditions import ConditionStatus
from interconnect_operator.protocol.link_state import DeleteFeature, Fail, Phase, Wait
from interconnect_operator.protocol.link_state.failure_rules import RETRYABLE_FAILURE_GRACE
from interconnect_operator.protocol.types import (
    ConnectionView,
    FeatureFailure,
    ProvisioningState,
    Side,
)
from tests.unit.protocol.link_state_fixtures import ALL, NEGOTIATED, NOW, conn, run

FAILED = ProvisioningState.FAILED


def with_failure(c: ConnectionView, channel: str, failure: FeatureFailure | None) -> ConnectionView:
    features = dict(c.features)
    features[channel] = replace(features[channel], state=FAILED, failure=failure)
    return replace(c, features=features)


def test_wire_value_of_failed_is_the_drafts() -> None:
    assert ProvisioningState("PROVISIONING_STATE_FAILED") is FAILED
    # Still tolerant of anything else a draft peer may send.
    assert ProvisioningState("PROVISIONING_STATE_SOMETHING") is ProvisioningState.UNKNOWN


def test_failed_feature_fails_the_link_instead_of_waiting_for_final() -> None:
    failure = FeatureFailure(code="E1", message="device down", retryable=False, observed_at=NOW)
    remote = with_failure(conn(states=ALL, verified=True), "ch3", failure)

    d = run((conn(states=ALL, verified=True),), (remote,), **NEGOTIATED)

    assert isinstance(d.step, Fail)
    assert d.step.reason == "ProvisioningFailed"
    assert d.status.phase is Phase.FAILED
    assert "ch3 on responder (E1: device down)" in d.step.message
    assert d.status.condition("Ready").status is ConditionStatus.FALSE
    assert d.status.condition("Ready").reason == "ProvisioningFailed"
    stalled = d.status.condition("Stalled")
    assert (stalled.status, stalled.reason) == (ConditionStatus.TRUE, "ProvisioningFailed")
    assert d.status.failure is not None


def test_failed_without_failure_info_fails_too() -> None:
    local = with_failure(conn(states=ALL), "ch1", None)

    d = run((local,), (conn(states=ALL),), **NEGOTIATED)

    assert isinstance(d.step, Fail)
    assert "ch1 on negotiator (no failureInfo)" in d.step.message


def test_recent_retryable_failure_is_left_to_the_provider() -> None:
    failure = FeatureFailure(code="BUSY", retryable=True, observed_at=NOW - timedelta(minutes=5))
    remote = with_failure(conn(states=ALL), "ch2", failure)

    d = run((conn(states=ALL),), (remote,), **NEGOTIATED)

    assert isinstance(d.step, Wait)
    assert d.step.reason == "ProvisioningRetrying"
    assert d.status.phase is Phase.PROVISIONING
    assert d.status.condition("Stalled").status is ConditionStatus.FALSE


def test_retryable_failure_past_the_grace_or_without_time_fails() -> None:
    old = NOW - RETRYABLE_FAILURE_GRACE - timedelta(seconds=1)
    for failure in (
        FeatureFailure(retryable=True, observed_at=old),
        FeatureFailure(retryable=True, observed_at=None),
    ):
        remote = with_failure(conn(states=ALL), "ch2", failure)
        d = run((conn(states=ALL),), (remote,), **NEGOTIATED)
        assert isinstance(d.step, Fail), failure


def test_after_a_spec_change_every_failed_feature_is_deleted_once() -> None:
    local = with_failure(conn(states=ALL), "ch1", FeatureFailure())
    remote = with_failure(conn(states=ALL), "ch4", FeatureFailure())

    d = run((local,), (remote,), retry_failed_features=True, **NEGOTIATED)

    assert all(isinstance(s, DeleteFeature) for s in d.concurrent)
    assert {(s.channel, s.side) for s in d.concurrent if isinstance(s, DeleteFeature)} == {
        ("ch1", Side.NEGOTIATOR),
        ("ch4", Side.RESPONDER),
    }
    assert d.status.phase is Phase.NEGOTIATING


def test_deferred_link_is_not_repaired_by_the_operator() -> None:
    remote = with_failure(conn(states=ALL), "ch4", FeatureFailure())

    d = run((conn(states=ALL),), (remote,), retry_failed_features=True, deferred=True, **NEGOTIATED)

    assert isinstance(d.step, Fail)
