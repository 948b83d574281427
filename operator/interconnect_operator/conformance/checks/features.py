"""Feature negotiation on the connection under test (P8-P14, P20).

Guidance, proposals the provider must accept or refuse (VLAN floor,
excluded subnets, a VLAN in use), three then four channels FINAL, and
verification only after NotifyConnectionStatus.
"""

from __future__ import annotations

import asyncio
import random

from interconnect_operator.api.models import Connection, FeatureGuidance
from interconnect_operator.conformance.checks.connection import (
    ProbeConnection,
    is_final,
    is_verified,
    resource_id,
    wait_until,
)
from interconnect_operator.conformance.checks.discovery import target_of
from interconnect_operator.conformance.checks.proposals import (
    L3_BASE,
    NoProposal,
    choose,
    excluded_block,
)
from interconnect_operator.conformance.session import Blocked, CheckScope, Created, Session

__all__ = ["FEATURE_CHECKS", "run_features"]

FEATURE_CHECKS = (
    "P8-guidance",
    "P9-vlan-floor",
    "P9-subnet-excluded",
    "P9-feature-accepted",
    "P11-second-l3",
    "P10-vlan-in-use",
    "P13-final",
    "P12-three-of-four",
    "P14-not-verified-before-notify",
    "P14-verified-after-notify",
    "P20-delete-feature",
)


async def _propose(
    check: CheckScope,
    main: ProbeConnection,
    channel: str,
    guidance: FeatureGuidance,
    rng: random.Random,
) -> None:
    """One valid feature on ``channel``; a 409 (space taken meanwhile) is retried (P10)."""
    for attempt in range(3):
        choice = choose(guidance, rng)
        code, created = await check.status(
            main.create_feature(f"{channel}-{attempt}", main.body(choice, channel))
        )
        if code == 409:
            continue
        check.require(code == 200, f"CreateFeature on {channel} answered {code}")
        if created is not None:
            config = (created.feature_config or None) and created.feature_config.l3_base_config
            echoed = (config.vlan_id, config.mtu_bytes) if config else None
            check.require(
                echoed == (choice.vlan, choice.mtu),
                f"{channel}: accepted VLAN/MTU {echoed}, proposed {(choice.vlan, choice.mtu)}",
            )
            feature_id = main.session.new_id(f"{channel}-{attempt}")
            main.features[channel] = (feature_id, choice)
            read = await main.session.client.get_feature(
                main.env, main.interconnect, main.id, feature_id
            )
            check.require(read.channel is not None, f"GetFeature {feature_id} names no channel")
        return
    check.require(False, f"CreateFeature on {channel} answered 409 three times")


# Long on purpose: one scripted feature negotiation, read top to bottom.
async def run_features(session: Session, main: ProbeConnection) -> None:  # noqa: PLR0915
    config = session.config
    client = session.client
    env = config.environment
    rng = random.Random(session.run_id)
    channels = [resource_id(c.name) for c in target_of(session)[1]]
    timeout = config.provisioning_timeout

    guidance: dict[str, FeatureGuidance] = {}
    async with session.check("P8-guidance") as check:
        answer = await client.generate_feature_guidance(env, main.interconnect, main.id)
        entries = answer.feature_guidance or []
        for entry in entries:
            guidance.setdefault(resource_id(entry.channel), entry)
        check.require(
            sorted(guidance) == sorted(channels) and len(entries) == len(channels),
            f"guidance for {sorted(resource_id(e.channel) for e in entries)}, "
            f"channels are {channels}",
        )
        for ch, entry in sorted(guidance.items()):
            l3 = entry.l3_base_guidance
            check.require(entry.feature_type == L3_BASE, f"{ch}: featureType {entry.feature_type}")
            if not check.require(l3 is not None, f"{ch}: no l3BaseGuidance"):
                continue
            assert l3 is not None
            check.require(bool(l3.vlan_ranges), f"{ch}: no VLAN ranges")
            check.require(
                all((r.start or 0) > 1024 for r in l3.vlan_ranges or []),
                f"{ch}: a VLAN range starts at or below 1024",
            )
            check.require(bool(l3.mtu_ranges), f"{ch}: no MTU ranges")
            check.require(bool(l3.ipv4_subnet_guidance), f"{ch}: no IPv4 subnet guidance")
            check.require(
                bool(l3.ipv4_allowed_subnet_prefix_lengths), f"{ch}: no allowed prefix lengths"
            )
    # Features go on enabled channels only; a disabled one takes none.
    usable = [
        ch
        for ch in channels
        if ch in guidance
        and not (guidance[ch].channel_admin_state or "").upper().endswith("DISABLED")
    ]
    if not usable:
        raise Blocked("no enabled channel has guidance")
    first, last = usable[0], usable[-1]
    try:
        choose(guidance[first], rng)
    except NoProposal as error:
        raise Blocked(f"the guidance leaves no valid feature: {error}") from None

    async with session.check("P9-vlan-floor") as check:
        choice = choose(guidance[first], rng)
        await check.expect(
            main.create_feature("vlan1000", main.body(choice, first, vlan=1000)),
            {400},
            "CreateFeature with VLAN 1000",
        )

    async with session.check("P9-subnet-excluded") as check:
        block = excluded_block(guidance[first])
        if block is None:
            check.skip("the guidance excludes no subnet that holds an allowed prefix length")
        await check.expect(
            main.create_feature(
                "excluded", main.body(choose(guidance[first], rng), first, subnet=block)
            ),
            {400},
            f"CreateFeature with {block} (inside an exclude subnet)",
        )

    held_back = usable[:-1] if len(usable) > 1 else usable
    async with session.check("P9-feature-accepted") as check:
        for channel in held_back:
            await _propose(check, main, channel, guidance[channel], rng)
        if not main.features:
            raise Blocked("no feature was accepted")

    async with session.check("P11-second-l3") as check:
        await check.expect(
            main.create_feature("second", main.body(choose(guidance[first], rng), first)),
            {409},
            f"a second L3 base feature on {first}",
        )

    async with session.check("P10-vlan-in-use") as check:
        await _vlan_in_use(check, main, first, guidance=guidance[first], rng=rng)

    async def all_final() -> bool:
        features = await client.list_features_all(env, main.interconnect, main.id)
        return bool(features) and all(is_final(f) for f in features)

    async with session.check("P13-final") as check:
        check.require(
            await wait_until(all_final, timeout),
            f"features not FINAL within {timeout:.0f} s",
        )

    async with session.check("P12-three-of-four") as check:
        if len(usable) < 2:
            check.skip("the interconnect has one channel")
        await client.notify_connection_status(env, main.interconnect, main.id)
        # A notification is a refresh hint (P14): give the provider a moment to
        # act on it, so that a wrong VERIFIED has the chance to show.
        await asyncio.sleep(1.0)
        read = await main.get()
        check.require(
            not is_verified(read),
            f"with {len(main.features)} of {len(usable)} channels it says "
            f"{read.verification_state}",
        )

    async with session.check("P14-not-verified-before-notify") as check:
        if last not in main.features:
            await _propose(check, main, last, guidance[last], rng)
        check.require(
            await wait_until(all_final, timeout), f"features not FINAL within {timeout:.0f} s"
        )
        read = await main.get()
        check.require(
            not is_verified(read),
            f"before any notification since the last feature it says {read.verification_state}",
        )

    async with session.check("P14-verified-after-notify") as check:
        await client.notify_connection_status(env, main.interconnect, main.id)

        async def verified() -> bool:
            return is_verified(await main.get())

        check.require(await wait_until(verified, timeout), f"not VERIFIED within {timeout:.0f} s")

    async with session.check("P20-delete-feature") as check:
        feature_id = main.features[first][0]
        await client.delete_feature(env, main.interconnect, main.id, feature_id)
        await check.expect(
            client.get_feature(env, main.interconnect, main.id, feature_id),
            {404},
            "GetFeature after DeleteFeature",
        )


async def _vlan_in_use(
    check: CheckScope,
    main: ProbeConnection,
    channel: str,
    *,
    guidance: FeatureGuidance,
    rng: random.Random,
) -> None:
    """A second kit connection proposes the VLAN the first already uses on ``channel``."""
    if channel not in main.features:
        check.skip(f"no feature of the first connection on {channel}")
    session = main.session
    env = session.config.environment
    sizes: list[int] = list(session.facts.get("sizes") or [])
    other = ProbeConnection(session, main.interconnect, session.new_id("conn2"))
    session.remember(Created("connection", main.interconnect, other.id))
    code, _ = await check.status(
        session.client.create_connection(
            env,
            main.interconnect,
            other.id,
            Connection(
                bandwidth_mbps=sizes[0],
                defer_provisioning=True if session.facts.get("defer_required") else None,
            ),
        )
    )
    if code != 200:
        check.skip(f"a second connection could not be created ({code})")
    try:
        used_vlan = main.features[channel][1].vlan
        await check.expect(
            other.create_feature(
                "reuse", other.body(choose(guidance, rng), channel, vlan=used_vlan)
            ),
            {409},
            f"CreateFeature with VLAN {used_vlan}, in use on {channel}",
        )
    finally:
        await session.delete(Created("connection", main.interconnect, other.id))
