"""A feature a provider reports FAILED (feature-recovery draft): escalated, never waited on.

The simulator fails a feature through its admin API (``mode: failed``, with a
failureInfo); the link leaves Provisioning for Failed (Stalled, with the
provider's message, redacted), a retryable failure is left to the provider for
a bounded time, and a spec change recreates the FAILED features (P20).
"""

from __future__ import annotations

import uuid as uuid_module
from dataclasses import replace
from typing import Any

from interconnect_operator import redaction
from interconnect_operator.api import models
from interconnect_operator.protocol.link_state import Phase
from interconnect_operator.protocol.link_state.failure_rules import RETRYABLE_FAILURE_GRACE
from interconnect_operator.reconcile.records import feature_failure
from tests.integration.reconcile.conftest import (
    Rig,
    assert_ready_on_both,
    calls_by_operation,
    is_phase,
    link_objects,
    link_request,
)

# A credential-shaped run a careless provider might put in its message.
_TOKEN = "QUtJQUlPU0ZPRE5ON0VYQU1QTEVhYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0"


async def _fail_one(rig: Rig, uuid: str, interconnect: str, **failure: Any) -> dict[str, Any]:
    """Fail the responder's (aws) feature on ch2; returns the feature as aws holds it."""
    _, features = link_objects(await rig.aws.state(), uuid)
    feature = next(f for f in features if f["channel"] == "ch2")
    await rig.aws.lose_feature(
        f"providers/gcp/environments/{feature['environment']}/interconnects/{interconnect}"
        f"/connections/{uuid}/features/{feature['feature']}",
        mode="failed",
        **failure,
    )
    return feature


async def test_failed_feature_fails_the_link_with_the_provider_message(rig: Rig) -> None:
    op = rig.operator()
    ready, request = await rig.drive(op, link_request(account="acct-1"))
    uuid = request.shared_uuid
    assert uuid is not None
    assert ready.status is not None
    interconnect = ready.status.interconnect or ""
    await _fail_one(
        rig,
        uuid,
        interconnect,
        code="DEVICE_UNREACHABLE",
        message=f"router rejected config\nsession {_TOKEN}",
    )
    await op.runtime.refresh()

    failed, request = await rig.drive(op, request, until=is_phase(Phase.FAILED), rounds=3)

    assert failed.status is not None
    ready_cond = failed.status.condition("Ready")
    stalled = failed.status.condition("Stalled")
    assert (ready_cond.is_true, ready_cond.reason) == (False, "ProvisioningFailed")
    assert (stalled.is_true, stalled.reason) == (True, "ProvisioningFailed")
    assert "ch2 on responder (DEVICE_UNREACHABLE: router rejected config" in stalled.message
    assert _TOKEN not in stalled.message
    assert "\n" not in stalled.message
    assert [e.reason for e in failed.events] == ["ProvisioningFailed"]
    assert _TOKEN not in failed.events[0].message
    assert failed.requeue_after is None
    ch2 = next(c for c in failed.status.channels if c.channel == "ch2")
    assert {s.value: p.value for s, p in ch2.provisioning.items()} == {
        "negotiator": "PROVISIONING_STATE_FINAL",
        "responder": "PROVISIONING_STATE_FAILED",
    }

    # Terminal for this generation: no provider call until the spec changes.
    again = await op.reconciler.reconcile(request)
    assert again.status is not None
    assert again.status.phase is Phase.FAILED
    assert again.calls == 0


async def test_spec_change_recreates_the_failed_feature(rig: Rig) -> None:
    op = rig.operator()
    ready, request = await rig.drive(op, link_request(account="acct-1"))
    uuid = request.shared_uuid
    assert uuid is not None
    assert ready.status is not None
    interconnect = ready.status.interconnect or ""
    lost = await _fail_one(rig, uuid, interconnect, code="X", message="gave up")
    await op.runtime.refresh()
    _, request = await rig.drive(op, request, until=is_phase(Phase.FAILED), rounds=3)
    await rig.aws.reset_stats()
    await rig.gcp.reset_stats()

    edited = replace(request, spec=replace(request.spec, generation=request.spec.generation + 1))
    result, _ = await rig.drive(op, edited, rounds=4, advance=5.0)

    assert result.status is not None
    assert result.status.ready
    neg, res = await rig.states()
    assert_ready_on_both(neg, res, uuid, bandwidth=1000, interconnect=interconnect)
    recreated = next(f for f in link_objects(res, uuid)[1] if f["channel"] == "ch2")
    assert recreated["provisioningState"] == "PROVISIONING_STATE_FINAL"
    # Recreated with the parameters the negotiator holds (P20: copy of its half).
    assert (recreated["vlanId"], recreated["ipv4Subnet"]) == (lost["vlanId"], lost["ipv4Subnet"])
    # Exactly the FAILED feature was deleted and created again, at the responder only.
    aws_calls = calls_by_operation(await rig.aws.stats())
    gcp_calls = calls_by_operation(await rig.gcp.stats())
    assert (aws_calls["DeleteFeature"], aws_calls["CreateFeature"]) == (1, 1)
    assert (gcp_calls["DeleteFeature"], gcp_calls["CreateFeature"]) == (0, 0)


async def test_retryable_failure_waits_for_a_bounded_time_then_fails(rig: Rig) -> None:
    op = rig.operator()
    ready, request = await rig.drive(op, link_request(account="acct-1"))
    uuid = request.shared_uuid
    assert uuid is not None
    assert ready.status is not None
    await _fail_one(
        rig, uuid, ready.status.interconnect or "", code="BUSY", message="retry", retryable=True
    )
    await op.runtime.refresh()

    waiting = await op.reconciler.reconcile(request)

    assert waiting.status is not None
    assert not waiting.status.ready
    assert waiting.status.phase is Phase.PROVISIONING
    assert waiting.status.condition("Reconciling").reason == "Wait"
    assert not waiting.status.condition("Stalled").is_true
    assert "provider retries FAILED features" in waiting.status.message
    assert waiting.requeue_after is not None

    rig.clock.advance(RETRYABLE_FAILURE_GRACE.total_seconds() + 1)
    await op.runtime.refresh()
    failed = await op.reconciler.reconcile(request)

    assert failed.status is not None
    assert failed.status.phase is Phase.FAILED
    assert failed.status.condition("Stalled").reason == "ProvisioningFailed"
    assert "retryable" in failed.status.condition("Stalled").message


def test_failure_info_is_redacted_bounded_and_tolerant() -> None:
    """The provider's failureInfo as the decision sees it: hostile text tamed."""
    redaction.hold("test:md5", ["md5-echoed-back-by-provider"], scope="team-a")
    try:
        info = models.FailureInfo.model_validate(
            {
                "code": "C" * 500,
                "message": "bad md5 md5-echoed-back-by-provider\x1b[31m" + "x" * 5000,
                "retryable": None,
                "observedAt": "2026-12-01T10:00:00",
                "vendorDetail": {"ignored": True},
            }
        )
        failure = feature_failure(info)
    finally:
        redaction.release("test:md5")
    assert failure is not None
    assert failure.code is not None
    assert len(failure.code) <= 64
    assert failure.message is not None
    assert "md5-echoed-back-by-provider" not in failure.message
    assert "\x1b" not in failure.message
    assert len(failure.message) <= 200
    assert failure.retryable is False
    assert failure.observed_at is None  # no time zone: not trusted for the grace period
    assert feature_failure(None) is None


async def test_a_feature_a_peer_named_with_an_opaque_id_is_found_by_channel(rig: Rig) -> None:
    """Retries draft: feature ids are opaque, a peer may name a feature otherwise.
    The responder's ch2 feature is re-created under a UUID; when it FAILS, the
    repair after a spec change deletes it under that id, not ours."""
    op = rig.operator()
    ready, request = await rig.drive(op, link_request(account="acct-1"))
    uuid = request.shared_uuid or ""
    assert ready.status is not None
    ix = ready.status.interconnect or ""
    path = f"/interconnects/{ix}/connections/{uuid}/features"
    ours = (await rig.aws.as_peer("GET", f"{path}/l3-ch2")).json()
    opaque = str(uuid_module.uuid4())
    deleted = await rig.aws.as_peer("DELETE", f"{path}/l3-ch2")
    assert deleted.status_code == 200, deleted.text
    created = await rig.aws.as_peer(
        "POST",
        path,
        params={"featureId": opaque},
        body={"channel": ours["channel"], "featureConfig": ours["featureConfig"]},
    )
    assert created.status_code == 200, created.text
    environment = ours["name"].split("/environments/")[1].split("/")[0]
    await rig.aws.lose_feature(
        f"providers/gcp/environments/{environment}/interconnects/{ix}/connections/{uuid}"
        f"/features/{opaque}",
        mode="failed",
    )
    await op.runtime.refresh()
    _, request = await rig.drive(op, request, until=is_phase(Phase.FAILED), rounds=3)

    edited = replace(request, spec=replace(request.spec, generation=request.spec.generation + 1))
    result, _ = await rig.drive(op, edited, rounds=4, advance=5.0)

    assert result.status is not None
    assert result.status.ready
    _, features = link_objects(await rig.aws.state(), uuid)
    assert sorted(f["feature"] for f in features) == ["l3-ch1", "l3-ch2", "l3-ch3", "l3-ch4"]
