"""The customer-API link rules: observed sides -> next step and status (no I/O)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from interconnect_operator.protocol.customer_link import (
    AWS_READY,
    GOOGLE_READY,
    AwsSide,
    Cloud,
    CustomerFacts,
    GoogleSide,
    Step,
    decide,
    refused,
    retrying,
)
from interconnect_operator.protocol.types import DeletionPolicy

UUID = "0b7e1f0c-55d4-4c59-a7a4-3f0b0e0d9a11"


def aws(state: str = "available", mbps: int = 1000) -> AwsSide:
    return AwsSide("mcc-a1b2c3d4", state, mbps, UUID, has_key=True)


def google(state: str = "ACTIVE", key: bool = True, mbps: int | None = 1000) -> GoogleSide:
    return GoogleSide("projects/p/locations/l/transports/t", state, mbps, key)


def facts(initiator: Cloud, a: AwsSide | None, g: GoogleSide | None, **kw: object) -> CustomerFacts:
    base = CustomerFacts(initiator, 1000, 3, a, g)
    return replace(base, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("initiator", "a", "g", "step"),
    [
        (Cloud.GOOGLE, None, None, Step.CREATE_GOOGLE),
        (Cloud.GOOGLE, None, google("CREATING", key=False), Step.WAIT),
        (Cloud.GOOGLE, None, google("PENDING_KEY"), Step.ACCEPT_ON_AWS),
        (Cloud.GOOGLE, aws("deleted"), google("PENDING_KEY"), Step.FAIL),
        (Cloud.AWS, aws("deleted"), google(), Step.FAIL),
        (Cloud.GOOGLE, aws("pending"), google("PENDING_KEY"), Step.WAIT),
        (Cloud.AWS, None, None, Step.CREATE_AWS),
        (Cloud.AWS, aws("requested"), None, Step.CREATE_GOOGLE_WITH_KEY),
        (Cloud.AWS, aws("pending"), google("PENDING_CONFIG"), Step.WAIT),
        (Cloud.AWS, aws(), google(), Step.DONE),
        (Cloud.GOOGLE, aws(), google(), Step.DONE),
    ],
)
def test_bring_up_order(
    initiator: Cloud, a: AwsSide | None, g: GoogleSide | None, step: Step
) -> None:
    assert decide(facts(initiator, a, g)).step is step


def test_ready_needs_both_sides_and_reports_each() -> None:
    plan = decide(facts(Cloud.GOOGLE, aws(), google()))
    assert plan.ready
    assert plan.phase == "Ready"
    types = {c.type: c.is_true for c in plan.conditions}
    assert types["Ready"]
    assert types[AWS_READY]
    assert types[GOOGLE_READY]
    assert not types["Reconciling"]
    assert not types["Stalled"]
    half = decide(facts(Cloud.GOOGLE, aws("pending"), google()))
    assert not half.ready
    assert {c.type: c.is_true for c in half.conditions}[GOOGLE_READY]
    assert all(c.observed_generation == 3 for c in plan.conditions)


@pytest.mark.parametrize(
    ("initiator", "step"), [(Cloud.AWS, Step.RESIZE_AWS), (Cloud.GOOGLE, Step.RESIZE_GOOGLE)]
)
def test_resize_on_the_initiators_side_stays_ready(initiator: Cloud, step: Step) -> None:
    plan = decide(facts(initiator, aws(), google(), bandwidth_mbps=5000))
    assert plan.step is step
    assert plan.phase == "Updating"
    assert plan.ready  # still serving at the old bandwidth
    assert decide(facts(initiator, aws("updating"), google())).phase == "Updating"


@pytest.mark.parametrize(
    ("a", "g", "reason"),
    [
        (aws("failed"), google(), "failed"),
        (aws(), google("SUSPENDED"), "suspended"),
        (aws(), google("DEPROVISIONED"), "deprovisioned"),
    ],
)
def test_vendor_failures_stall(a: AwsSide, g: GoogleSide, reason: str) -> None:
    plan = decide(facts(Cloud.GOOGLE, a, g))
    assert plan.step is Step.FAIL
    assert plan.phase == "Failed"
    assert reason in plan.message
    assert {c.type: c.is_true for c in plan.conditions}["Stalled"]


def test_down_after_ready_is_degraded() -> None:
    plan = decide(facts(Cloud.GOOGLE, aws("down"), google(), ever_ready=True))
    assert (plan.step, plan.phase) == (Step.FAIL, "Degraded")


@pytest.mark.parametrize(
    ("initiator", "a", "g", "step"),
    [
        # the side that was given the key goes first
        (Cloud.GOOGLE, aws(), google(), Step.DELETE_AWS),
        (Cloud.GOOGLE, aws("deleting"), google(), Step.WAIT),
        (Cloud.GOOGLE, aws("deleted"), google("DEPROVISIONED"), Step.DELETE_GOOGLE),
        (Cloud.GOOGLE, aws("deleted"), google("DELETING"), Step.WAIT),
        (Cloud.AWS, aws(), google(), Step.DELETE_GOOGLE),
        (Cloud.AWS, aws("down"), None, Step.DELETE_AWS),
        (Cloud.AWS, aws("deleted"), None, Step.FINALIZE),
        (Cloud.GOOGLE, None, None, Step.FINALIZE),
    ],
)
def test_deletion_order(
    initiator: Cloud, a: AwsSide | None, g: GoogleSide | None, step: Step
) -> None:
    assert decide(facts(initiator, a, g, deleting=True)).step is step


def test_orphan_leaves_both_sides() -> None:
    plan = decide(
        facts(Cloud.AWS, aws(), google(), deleting=True, deletion_policy=DeletionPolicy.ORPHAN)
    )
    assert plan.step is Step.FINALIZE
    assert not plan.ready


def test_refusals_and_retries() -> None:
    base = facts(Cloud.AWS, None, None)
    stuck = refused(base, "Unauthorized: 403")
    assert (stuck.step, stuck.phase) == (Step.FAIL, "Failed")
    again = retrying(base, "Throttled")
    assert again.step is Step.WAIT
    assert {c.type: c.is_true for c in again.conditions}["Reconciling"]
    assert retrying(replace(base, deleting=True), "x").phase == "Deleting"
