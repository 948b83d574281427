"""Link status and health as functions of explicit inputs (no state carried from decide)."""

from __future__ import annotations

from datetime import UTC, datetime
from ipaddress import IPv4Address, IPv4Network

from interconnect_operator.protocol.conditions import ConditionStatus
from interconnect_operator.protocol.link_state import (
    Done,
    Phase,
    RequestGuidance,
    Wait,
    decide,
    degraded,
    health,
    link_status,
    progress_phase,
)
from interconnect_operator.protocol.types import (
    BgpEnd,
    ConnectionView,
    FeatureView,
    LinkFacts,
    LinkSpec,
    ProviderObservation,
    ProvisioningState,
    Side,
    VerificationState,
)

NOW = datetime(2026, 7, 1, 12, tzinfo=UTC)
CH = ("ch1", "ch2", "ch3", "ch4")
P, F = ProvisioningState.PENDING, ProvisioningState.FINAL
SPEC = LinkSpec(bandwidth_mbps=1000, generation=3)


def feat(ch: str, state: ProvisioningState) -> FeatureView:
    i = CH.index(ch)
    return FeatureView(
        channel=ch,
        vlan=1025 + i,
        ipv4_subnet=IPv4Network(f"169.254.0.{4 * i}/30"),
        mtu=9000,
        bgp={Side.NEGOTIATOR: BgpEnd(64512, IPv4Address(f"169.254.0.{4 * i + 1}"))},
        state=state,
    )


def conn(states: dict[str, ProvisioningState], *, verified: bool = False) -> ConnectionView:
    verification = VerificationState.VERIFIED if verified else VerificationState.UNVERIFIED
    return ConnectionView(
        "ic1",
        1000,
        verification=verification,
        features={c: feat(c, s) for c, s in states.items()},
    )


def obs(side: Side, connection: ConnectionView | None) -> ProviderObservation:
    return ProviderObservation(side, {"ic1": connection} if connection else {})


def facts(**kw: object) -> LinkFacts:
    base: dict[str, object] = {"shared_uuid": "u", "now": NOW, "key_confirmed": True}
    base.update(kw)
    return LinkFacts(**base)  # type: ignore[arg-type]


def test_p12_health_counts_negotiated_and_final_channels() -> None:
    local = conn({"ch1": F, "ch2": F, "ch3": P})
    remote = conn({"ch1": F, "ch2": P})
    h = health(local, remote, CH)
    assert h.negotiated == ("ch1", "ch2")
    assert h.final == ("ch1",)
    assert not h.all_final
    assert h.unverified == ["negotiator", "responder"]


def test_p12_degraded_only_when_the_rest_cannot_progress_or_was_ready() -> None:
    three = dict.fromkeys(CH[:3], F)
    h = health(conn(three), conn(three), CH)
    assert not degraded(h, {}, ever_ready=False)
    assert degraded(h, {"ch4": "no VLAN left"}, ever_ready=False)
    assert degraded(h, {}, ever_ready=True)
    assert progress_phase(h, facts(ever_ready=True)) is Phase.DEGRADED


def test_stalled_and_no_capacity_come_only_from_the_arguments() -> None:
    wait = Wait("NoCapacity", "no interconnect fits 1000 Mbps", 60)
    args = (SPEC, obs(Side.NEGOTIATOR, None), obs(Side.RESPONDER, None), facts())
    stalled = link_status(
        *args,
        step=wait,
        phase=Phase.PLACING,
        interconnect=None,
        migrating_to=None,
        stalled="NoCapacity",
        no_capacity=wait.message,
    )
    assert stalled.condition("Stalled").status is ConditionStatus.TRUE
    assert stalled.condition("Placed").reason == "NoCapacity"
    assert stalled.condition("Reconciling").status is ConditionStatus.FALSE
    waiting = link_status(
        *args,
        step=wait,
        phase=Phase.PLACING,
        interconnect=None,
        migrating_to=None,
        stalled=None,
        no_capacity=None,
    )
    assert waiting.condition("Stalled").status is ConditionStatus.FALSE
    assert waiting.condition("Placed").reason == "NotPlaced"
    assert waiting.condition("Reconciling").status is ConditionStatus.TRUE


def test_status_carries_the_generation_and_where_the_link_lives() -> None:
    both = conn(dict.fromkeys(CH, F), verified=True)
    status = link_status(
        SPEC,
        obs(Side.NEGOTIATOR, both),
        obs(Side.RESPONDER, both),
        facts(interconnect="ic1", channels=CH),
        step=Done("Ready", 300),
        phase=Phase.READY,
        interconnect="ic1",
        migrating_to=None,
        stalled=None,
        no_capacity=None,
    )
    assert status.ready
    assert status.interconnect == "ic1"
    assert {c.observed_generation for c in status.conditions} == {3}
    assert status.condition("Ready").reason == "Ready"


def test_decide_and_link_status_agree_on_the_same_outcome() -> None:
    both = conn({})
    neg, resp = obs(Side.NEGOTIATOR, both), obs(Side.RESPONDER, both)
    f = facts(interconnect="ic1")
    decision = decide(SPEC, neg, resp, f)
    assert decision.step == RequestGuidance("ic1")
    again = link_status(
        SPEC,
        neg,
        resp,
        f,
        step=decision.step,
        phase=decision.status.phase,
        interconnect="ic1",
        migrating_to=None,
        stalled=None,
        no_capacity=None,
    )
    assert again == decision.status
