"""Publishing (k8s.publish): status writes only on change, Event de-duplication, metrics."""

from __future__ import annotations

from typing import Any

from interconnect_operator.k8s.kube import LINKS
from interconnect_operator.k8s.publish import EventLimiter, EventMemory, Publisher, stalled_event
from interconnect_operator.metrics import OperatorMetrics
from interconnect_operator.protocol.conditions import Condition, ConditionStatus
from interconnect_operator.protocol.link_state import LinkStatus, Phase
from interconnect_operator.reconcile.link import LinkEvent, LinkResult
from tests.unit.k8s.fake_kube import FakeKube

KEY = ("team-a", "link")
ERRORS = "interconnect_reconcile_errors_total"


def _body(kube: FakeKube) -> dict[str, Any]:
    return kube.add_object(LINKS, {"metadata": {"namespace": "team-a", "name": "link"}})


def _errors(metrics: OperatorMetrics, reason: str) -> float:
    value = metrics.registry.get_sample_value(ERRORS, {"kind": "link", "reason": reason})
    return value or 0.0


async def test_the_same_reason_is_not_emitted_twice_in_a_row(
    kube: FakeKube, metrics: OperatorMetrics
) -> None:
    publisher = Publisher(kube, metrics)
    memory = EventMemory()
    body = _body(kube)
    missing = LinkEvent("Warning", "SecretNotFound", "secret gone")
    for _ in range(3):
        await publisher.link_events(memory, body, [missing])
    await publisher.link_events(memory, body, [LinkEvent("Normal", "Created", "ok")])
    await publisher.link_events(memory, body, [missing])
    assert [(e.reason, e.type) for e in kube.events] == [
        ("SecretNotFound", "Warning"),
        ("Created", "Normal"),
        ("SecretNotFound", "Warning"),
    ]
    assert {e.kind for e in kube.events} == {"MulticloudLink"}
    assert _errors(metrics, "SecretNotFound") == 2.0
    assert _errors(metrics, "Created") == 0.0


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_event_limiter_spends_a_burst_then_refills_per_reason() -> None:
    clock = Clock()
    limiter = EventLimiter(burst=3, rate=0.5, clock=clock)
    assert [limiter.allow("Normal", "LinkReady") for _ in range(4)] == [True, True, True, False]
    # Another reason (or type) has a bucket of its own.
    assert limiter.allow("Warning", "LinkReady")
    assert limiter.allow("Normal", "LinkPending")
    clock.now = 1.0  # half a token: still nothing
    assert not limiter.allow("Normal", "LinkReady")
    clock.now = 2.5
    assert limiter.allow("Normal", "LinkReady")
    assert not limiter.allow("Normal", "LinkReady")
    clock.now = 1000.0  # never more than the burst
    assert [limiter.allow("Normal", "LinkReady") for _ in range(4)] == [True, True, True, False]
    assert limiter.dropped == 4


async def test_a_burst_of_links_emits_a_bounded_number_of_events(
    kube: FakeKube, metrics: OperatorMetrics
) -> None:
    """A thousand links Ready at once: the API server gets the burst, not a thousand writes."""
    clock = Clock()
    publisher = Publisher(kube, metrics, EventLimiter(burst=5, rate=1.0, clock=clock))
    body = _body(kube)
    for _ in range(1000):
        await publisher.transition(body, "Negotiating", "Ready", "up")
    failing = LinkEvent("Warning", "NoCapacity", "no room")
    for _ in range(1000):
        await publisher.link_events(EventMemory(), body, [failing])
    clock.now = 2.0
    await publisher.transition(body, "Negotiating", "Ready", "up")
    reasons = [e.reason for e in kube.events]
    assert reasons.count("LinkReady") == 6
    assert reasons.count("NoCapacity") == 5
    # Dropped Warnings are still counted as reconcile errors.
    assert _errors(metrics, "NoCapacity") == 1000.0


async def test_transition_events(kube: FakeKube, metrics: OperatorMetrics) -> None:
    publisher = Publisher(kube, metrics)
    body = _body(kube)
    await publisher.transition(body, None, "Pending", None)
    await publisher.transition(body, "Pending", "Negotiating", "negotiating")  # not announced
    await publisher.transition(body, "Negotiating", "Ready", "up")
    await publisher.transition(body, "Ready", "Degraded", "ch2 down")
    await publisher.transition(body, None, "Failed", "bad key")  # its own event says why
    assert [(e.type, e.reason, e.message) for e in kube.events] == [
        ("Normal", "LinkPending", "phase New -> Pending"),
        ("Normal", "LinkReady", "phase Negotiating -> Ready: up"),
        ("Warning", "LinkDegraded", "phase Ready -> Degraded: ch2 down"),
    ]


async def test_link_status_is_written_only_when_it_changed(
    kube: FakeKube, metrics: OperatorMetrics
) -> None:
    publisher = Publisher(kube, metrics)
    body = _body(kube)
    status = {"phase": "Pending", "observedGeneration": 1}
    await publisher.write_link_status(KEY, body, status)
    await publisher.write_link_status(KEY, body, {**status, "message": None})
    assert len(kube.status_patches) == 1
    assert body["status"] == status
    assert (
        body["metadata"]["resourceVersion"]
        == kube.objects[(LINKS, *KEY)]["metadata"]["resourceVersion"]
    )


def _result(*conditions: Condition, events: tuple[LinkEvent, ...] = ()) -> LinkResult:
    status = LinkStatus(
        phase=Phase.PLACING,
        conditions=conditions,
        interconnect=None,
        migrating_to=None,
        channels=(),
        providers=(),
        ready=False,
        message="",
    )
    return LinkResult(status, None, "env", 30.0, events=events)


def test_a_stalled_wait_becomes_one_warning_unless_an_event_says_it() -> None:
    stalled = Condition("Stalled", ConditionStatus.TRUE, "NoCapacity", "pool full")
    assert stalled_event(_result(stalled)) == LinkEvent("Warning", "NoCapacity", "pool full")
    said = LinkEvent("Warning", "NoCapacity", "pool full (P7)")
    assert stalled_event(_result(stalled, events=(said,))) is None
    not_stalled = Condition("Stalled", ConditionStatus.FALSE, "Progressing", "")
    assert stalled_event(_result(not_stalled)) is None


async def test_a_ready_status_is_signed_as_written_and_only_when_written(
    kube: FakeKube, metrics: OperatorMetrics
) -> None:
    from interconnect_operator.k8s import confirm

    calls: list[dict[str, Any]] = []

    class Signer(confirm.StatusSigner):
        __slots__ = ()

        def __call__(self, status: Any) -> str:
            calls.append(dict(status))
            return super().__call__(status)

    publisher = Publisher(kube, metrics)
    body = _body(kube)
    sign = Signer(b"k" * 32, body, "pool", 1, ())
    status = {"phase": "Ready", "observedGeneration": 1, "message": "up"}
    await publisher.write_link_status(KEY, body, dict(status), sign=sign)
    assert len(calls) == 1
    assert calls[0]["message"] == "up"  # the status as written
    digest = body["status"]["inputsDigest"]
    assert digest == sign(status)
    assert digest.startswith(sign.key_id + ".")
    await publisher.write_link_status(KEY, body, dict(status), sign=sign)
    assert len(kube.status_patches) == 1  # unchanged: neither written nor signed
    assert len(calls) == 2  # (the one above, by the test)
    await publisher.write_link_status(KEY, body, {**status, "phase": "Degraded"})
    assert "inputsDigest" not in kube.objects[(LINKS, *KEY)]["status"] or (
        kube.objects[(LINKS, *KEY)]["status"]["inputsDigest"] is None
    )  # no longer Ready: no digest stays
