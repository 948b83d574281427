"""Builders of link facts for the state machine's table tests: connections, features, a run."""

from __future__ import annotations

from datetime import UTC, datetime
from ipaddress import IPv4Address, IPv4Network

from interconnect_operator.protocol.conditions import ConditionStatus
from interconnect_operator.protocol.link_state import (
    Decision,
    decide,
)
from interconnect_operator.protocol.types import (
    AdminState,
    BgpEnd,
    ConnectionView,
    FeatureView,
    InterconnectState,
    InterconnectView,
    LinkFacts,
    LinkSpec,
    ProviderObservation,
    ProvisioningState,
    Secret,
    Side,
    VerificationState,
)

NOW = datetime(2026, 7, 1, 12, tzinfo=UTC)
CH = ("ch1", "ch2", "ch3", "ch4")
P, F = ProvisioningState.PENDING, ProvisioningState.FINAL
T, FA, U = ConditionStatus.TRUE, ConditionStatus.FALSE, ConditionStatus.UNKNOWN
SPEC = LinkSpec(bandwidth_mbps=1000, md5=Secret("md5-very-secret"))
POOL = [
    InterconnectView("ic1", InterconnectState.ACTIVE, 10_000, 1_000),
    InterconnectView("ic2", InterconnectState.ACTIVE, 10_000, 5_000),
]


def feat(ch: str, state: ProvisioningState = P) -> FeatureView:
    i = CH.index(ch) if ch in CH else 9
    return FeatureView(
        channel=ch,
        vlan=1025 + i,
        ipv4_subnet=IPv4Network(f"169.254.0.{4 * i}/30"),
        mtu=9000,
        bgp={
            Side.NEGOTIATOR: BgpEnd(64512, IPv4Address(f"169.254.0.{4 * i + 1}")),
            Side.RESPONDER: BgpEnd(16509, IPv4Address(f"169.254.0.{4 * i + 2}")),
        },
        state=state,
    )


def conn(
    ic: str = "ic1",
    bw: int = 1000,
    verified: bool = False,
    states: dict[str, ProvisioningState] | None = None,
    admin: AdminState = AdminState.ENABLED,
) -> ConnectionView:
    return ConnectionView(
        interconnect=ic,
        bandwidth_mbps=bw,
        verification=VerificationState.VERIFIED if verified else VerificationState.UNVERIFIED,
        admin_state=admin,
        features={c: feat(c, s) for c, s in (states or {}).items()},
        name=f"conn-{ic}",
    )


def obs(side: Side, *conns: ConnectionView) -> ProviderObservation:
    return ProviderObservation(side, {c.interconnect: c for c in conns})


def facts(**kw: object) -> LinkFacts:
    base: dict[str, object] = {"shared_uuid": "uuid-1", "now": NOW, "key_confirmed": True}
    base.update(kw)
    return LinkFacts(**base)  # type: ignore[arg-type]


def run(
    neg: tuple[ConnectionView, ...] = (),
    resp: tuple[ConnectionView, ...] = (),
    spec: LinkSpec = SPEC,
    pool: list[InterconnectView] = POOL,
    **kw: object,
) -> Decision:
    return decide(
        spec,
        obs(Side.NEGOTIATOR, *neg),
        obs(Side.RESPONDER, *resp),
        facts(**kw),
        pool_negotiator=pool,
        pool_responder=pool,
    )


ALL = dict.fromkeys(CH, F)
NEGOTIATED = {"interconnect": "ic1", "guidance_ready": True, "channels": CH}
