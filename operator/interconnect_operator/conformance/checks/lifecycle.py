"""A connection's life on the provider, one rule at a time (P3, P6-P22).

The kit plays the negotiator: it creates a connection on the target
interconnect (with the activation key's UUID when one was given, else a
prefixed id), probes creation limits, updates the bandwidth, asks guidance,
proposes features (valid ones and ones the provider must refuse), watches
provisioning and verification, then deletes a feature and the connection.
Every object it asks for is in the ledger first (``session.remember``).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable

from interconnect_operator.api.errors import ApiError
from interconnect_operator.api.models import Connection, Feature, FeatureGuidance
from interconnect_operator.conformance.checks.discovery import is_active, target_of
from interconnect_operator.conformance.checks.proposals import (
    L3_BASE,
    Choice,
    NoProposal,
    choose,
    excluded_block,
    feature_of,
)
from interconnect_operator.conformance.session import Blocked, CheckScope, Created, Session

__all__ = ["FEATURE_CHECKS", "LIFECYCLE_CHECKS", "run_deferral", "run_lifecycle", "wait_until"]

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
LIFECYCLE_CHECKS = (
    "P32-bad-body",
    "P32-unsupported-size",
    "P6-create-connection",
    "P3-used-key",
    "P6-duplicate-connection",
    "OBJ-third-party",
    "P7-over-capacity",
    "P7-inactive-interconnect",
    "P16-only-bandwidth",
    "P16-update-bandwidth",
    "P18-migration",
    *FEATURE_CHECKS,
    "P19-delete-connection",
)


def _id(name: str | None) -> str:
    return (name or "").rsplit("/", 1)[-1]


def _verified(connection: Connection) -> bool:
    state = (connection.verification_state or "").upper()
    return state.endswith("VERIFIED") and not state.endswith("UNVERIFIED")


def _final(feature: Feature) -> bool:
    return (feature.provisioning_state or "").upper().endswith("FINAL")


async def wait_until(
    probe: Callable[[], Awaitable[bool]], timeout: float, first_delay: float = 0.1
) -> bool:
    """Call ``probe`` with exponential backoff (capped at 5 s) until True or ``timeout``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    delay = first_delay
    while True:
        if await probe():
            return True
        if loop.time() + delay > deadline:
            return False
        await asyncio.sleep(delay)
        delay = min(delay * 2, 5.0)


class _Connection:
    """The connection under test and what was learnt about it."""

    def __init__(self, session: Session, interconnect: str, connection_id: str) -> None:
        self.session = session
        self.interconnect = interconnect
        self.id = connection_id
        self.features: dict[str, tuple[str, Choice]] = {}  # channel -> (feature id, choice)

    @property
    def env(self) -> str:
        return self.session.config.environment

    def channel_name(self, channel: str) -> str:
        config = self.session.config
        return (
            f"providers/{config.caller}/environments/{config.environment}"
            f"/interconnects/{self.interconnect}/channels/{channel}"
        )

    def body(self, choice: Choice, channel: str, **override: object) -> Feature:
        config = self.session.config
        return feature_of(
            choice,
            channel_name=self.channel_name(channel),
            caller=config.caller,
            peer=str(self.session.facts.get("peer", "")),
            caller_asn=config.caller_asn,
            **override,  # type: ignore[arg-type]
        )

    async def create_feature(self, label: str, body: Feature) -> Feature:
        feature_id = self.session.new_id(label)
        self.session.remember(Created("feature", self.interconnect, self.id, feature_id))
        return await self.session.client.create_feature(
            self.env, self.interconnect, self.id, feature_id, body
        )

    async def get(self) -> Connection:
        return await self.session.client.get_connection(self.env, self.interconnect, self.id)


# Long on purpose: one scripted run against a live endpoint, read top to bottom.
async def run_lifecycle(session: Session) -> None:  # noqa: PLR0915
    """Create, probe, update, negotiate, verify and delete one connection."""
    config = session.config
    client = session.client
    env = config.environment
    target, _channels = target_of(session)
    sizes: list[int] = list(session.facts.get("sizes") or [])
    if not sizes:
        raise Blocked("the environment sells no connection size")
    key = session.facts.get("key")
    size = key.connection_size_mbps if key is not None else sizes[0]
    main = _Connection(
        session, target, key.shared_connection_uuid if key is not None else session.new_id("conn")
    )
    defer = True if session.facts.get("defer_required") else None

    async with session.check("P32-bad-body") as check:
        bad_id = session.new_id("badbody")
        session.remember(Created("connection", target, bad_id))
        path = f"/providers/{config.caller}/environments/{env}/interconnects/{target}/connections"
        response = await session.raw.post(
            path,
            params={"connectionId": bad_id},
            content=b"{this is not json",
            headers={"Content-Type": "application/json"},
        )
        check.require(
            response.status_code == 400, f"a non-JSON body answered {response.status_code}"
        )

    async with session.check("P32-unsupported-size") as check:
        odd_id = session.new_id("oddsize")
        odd = next(s for s in range(sizes[0] + 1, sizes[0] + 1000) if s not in sizes)
        session.remember(Created("connection", target, odd_id))
        await check.expect(
            client.create_connection(
                env, target, odd_id, Connection(bandwidth_mbps=odd, defer_provisioning=defer)
            ),
            {400},
            f"CreateConnection of {odd} Mbps",
        )

    async with session.check("P6-create-connection") as check:
        session.remember(Created("connection", target, main.id))
        created = await client.create_connection(
            env,
            target,
            main.id,
            # With a key, the connection carries it (redacted from the evidence).
            Connection(
                bandwidth_mbps=size,
                defer_provisioning=defer,
                activation_key=config.activation_key if key is not None else None,
            ),
        )
        check.require(
            created.bandwidth_mbps == size,
            f"the answer says {created.bandwidth_mbps} Mbps, {size} were asked",
        )
        check.require(
            not _verified(created),
            f"a new connection says {created.verification_state}, expected UNVERIFIED",
        )
        read = await main.get()
        check.require(read.bandwidth_mbps == size, f"GetConnection says {read.bandwidth_mbps}")
        listed = await client.list_connections_all(env, target)
        check.require(main.id in {_id(c.name) for c in listed}, "ListConnections does not list it")
        check.note(f"created {main.id} ({size} Mbps) on {target}")

    issued = config.activation_key
    if key is not None and issued is not None:
        async with session.check("P3-used-key") as check:
            code, answer = await check.status(client.confirm_activation_key(env, issued))
            valid = bool(answer and answer.key_valid)
            check.require(
                code == 400 or (code == 200 and not valid),
                f"the key of a placed connection answered {code} keyValid={valid}",
            )

    async with session.check("P6-duplicate-connection") as check:
        await check.expect(
            client.create_connection(
                env, target, main.id, Connection(bandwidth_mbps=size, defer_provisioning=defer)
            ),
            {409},
            "a second CreateConnection with the same id",
        )

    async with session.check("OBJ-third-party") as check:
        other = session.other
        if other is None:
            check.skip("needs a second provider: pass --other-caller and --other-token-file")
        await check.expect(
            other.get_connection(env, target, main.id),
            {401, 403, 404},
            f"GetConnection of {main.id} as {other.caller}",
        )
        code, listed_by_other = await check.status(other.list_connections_all(env, target))
        check.require(
            main.id not in {_id(c.name) for c in listed_by_other or []},
            f"ListConnections as {other.caller} ({code}) lists {main.id}",
        )

    room = await _room(session, target)
    async with session.check("P7-over-capacity") as check:
        too_big = [s for s in sizes if room is not None and s > room]
        if not too_big:
            check.skip(f"every supported size fits the {room} Mbps left on {target}")
        big_id = session.new_id("toobig")
        session.remember(Created("connection", target, big_id))
        await check.expect(
            client.create_connection(
                env,
                target,
                big_id,
                Connection(bandwidth_mbps=too_big[0], defer_provisioning=defer),
            ),
            {409},
            f"CreateConnection of {too_big[0]} Mbps with {room} Mbps left",
        )

    async with session.check("P7-inactive-interconnect") as check:
        inactive = [
            _id(ix.name) for ix in session.facts.get("interconnects") or [] if not is_active(ix)
        ]
        if not inactive:
            check.skip("every interconnect of the environment is ACTIVE")
        closed_id = session.new_id("inactive")
        session.remember(Created("connection", inactive[0], closed_id))
        await check.expect(
            client.create_connection(
                env,
                inactive[0],
                closed_id,
                Connection(bandwidth_mbps=sizes[0], defer_provisioning=defer),
            ),
            {400, 409},
            f"CreateConnection on {inactive[0]} (not ACTIVE)",
        )

    async with session.check("P16-only-bandwidth") as check:
        await check.expect(
            client.update_connection(
                env,
                target,
                main.id,
                Connection(defer_provisioning=True),
                update_mask=["deferProvisioning"],
            ),
            {400},
            "UpdateConnection of deferProvisioning",
        )

    async with session.check("P16-update-bandwidth") as check:
        bigger = [s for s in sizes if s > size and room is not None and s - size <= room]
        if not bigger:
            check.skip("no larger supported size fits the interconnect")
        updated = await client.update_connection(
            env,
            target,
            main.id,
            Connection(bandwidth_mbps=bigger[0]),
            update_mask=["bandwidthMbps"],
        )
        check.require(
            updated.bandwidth_mbps in (bigger[0], size),
            f"UpdateConnection answered {updated.bandwidth_mbps} Mbps",
        )
        read = await main.get()
        check.require(
            read.bandwidth_mbps == bigger[0],
            f"GetConnection says {read.bandwidth_mbps} Mbps after the update to {bigger[0]}",
        )

    async with session.check("P18-migration") as check:
        await _migration(check, main)

    try:
        await _features(session, main)
    except Blocked as blocked:
        session.skip(list(FEATURE_CHECKS), f"not reached: {blocked}")

    async with session.check("P19-delete-connection") as check:
        await client.delete_connection(env, target, main.id)
        await check.expect(main.get(), {404}, "GetConnection after DeleteConnection")
        listed = await client.list_connections_all(env, target)
        check.require(main.id not in {_id(c.name) for c in listed}, "it is still listed")
        code, features = await check.status(client.list_features_all(env, target, main.id))
        check.require(
            code == 404 or (code == 200 and not features),
            f"its features answered {code} with {len(features or [])} features",
        )


async def _migration(check: CheckScope, main: _Connection) -> None:
    """P18: the same id placed on a second ACTIVE interconnect, then that placement removed."""
    session = main.session
    client = session.client
    others = [
        _id(ix.name)
        for ix in session.facts.get("interconnects") or []
        if _id(ix.name) != main.interconnect and is_active(ix)
    ]
    if not others:
        check.skip("the environment has no second ACTIVE interconnect")
    current = await main.get()
    second = Created("connection", others[0], main.id)
    session.remember(second)
    placed = await check.expect(
        client.create_connection(
            main.env,
            others[0],
            main.id,
            Connection(
                bandwidth_mbps=current.bandwidth_mbps,
                defer_provisioning=True if session.facts.get("defer_required") else None,
            ),
        ),
        {200},
        f"CreateConnection of {main.id} on {others[0]} (migration target)",
    )
    if placed is None:
        return
    await client.get_connection(main.env, others[0], main.id)
    await client.delete_connection(main.env, others[0], main.id)
    await check.expect(main.get(), {200}, f"GetConnection on {main.interconnect} after that")
    check.note(f"placed on {others[0]} as well, then removed from there")


async def _room(session: Session, target: str) -> int | None:
    maximum = session.facts.get("max_mbps")
    if not isinstance(maximum, int):
        return None
    try:
        listed = await session.client.list_connections_all(session.config.environment, target)
    except ApiError:
        return None
    return maximum - sum(c.bandwidth_mbps or 0 for c in listed)


async def _propose(
    check: CheckScope,
    main: _Connection,
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
async def _features(session: Session, main: _Connection) -> None:  # noqa: PLR0915
    config = session.config
    client = session.client
    env = config.environment
    rng = random.Random(session.run_id)
    channels = [_id(c.name) for c in target_of(session)[1]]
    timeout = config.provisioning_timeout

    guidance: dict[str, FeatureGuidance] = {}
    async with session.check("P8-guidance") as check:
        answer = await client.generate_feature_guidance(env, main.interconnect, main.id)
        entries = answer.feature_guidance or []
        for entry in entries:
            guidance.setdefault(_id(entry.channel), entry)
        check.require(
            sorted(guidance) == sorted(channels) and len(entries) == len(channels),
            f"guidance for {sorted(_id(e.channel) for e in entries)}, channels are {channels}",
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
        return bool(features) and all(_final(f) for f in features)

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
            not _verified(read),
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
            not _verified(read),
            f"before any notification since the last feature it says {read.verification_state}",
        )

    async with session.check("P14-verified-after-notify") as check:
        await client.notify_connection_status(env, main.interconnect, main.id)

        async def verified() -> bool:
            return _verified(await main.get())

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
    main: _Connection,
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
    other = _Connection(session, main.interconnect, session.new_id("conn2"))
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


async def run_deferral(session: Session) -> None:
    """P22: a deferred CreateConnection is accepted (and says so) or refused with 400."""
    env = session.config.environment
    target, _ = target_of(session)
    sizes: list[int] = list(session.facts.get("sizes") or [])
    async with session.check("P22-deferral") as check:
        if not sizes:
            check.skip("the environment sells no connection size")
        deferred_id = session.new_id("deferred")
        created_record = Created("connection", target, deferred_id)
        session.remember(created_record)
        code, created = await check.status(
            session.client.create_connection(
                env,
                target,
                deferred_id,
                Connection(bandwidth_mbps=sizes[0], defer_provisioning=True),
            )
        )
        check.require(code in (200, 400), f"a deferral request answered {code}")
        if code == 200 and created is not None:
            check.require(
                created.defer_provisioning is True,
                f"the accepted connection says deferProvisioning={created.defer_provisioning}",
            )
            check.note("accepted: the provider drives the deferred flow")
            await session.delete(created_record)
        elif code == 400:
            check.note("refused with 400")
