"""A connection's life on the provider, one rule at a time (P3, P6-P22).

The kit plays the negotiator: it creates a connection on the target
interconnect (with the activation key's UUID when one was given, else a
prefixed id), probes creation limits, updates the bandwidth, asks guidance,
proposes features (`features.py`: valid ones and ones the provider must refuse), watches
provisioning and verification, then deletes a feature and the connection.
Every object it asks for is in the ledger first (``session.remember``).
"""

from __future__ import annotations

from interconnect_operator.api.errors import ApiError
from interconnect_operator.api.models import Connection
from interconnect_operator.conformance.checks.connection import (
    ProbeConnection,
    is_verified,
    resource_id,
)
from interconnect_operator.conformance.checks.discovery import is_active, target_of
from interconnect_operator.conformance.checks.features import FEATURE_CHECKS, run_features
from interconnect_operator.conformance.session import Blocked, CheckScope, Created, Session

__all__ = ["LIFECYCLE_CHECKS", "run_deferral", "run_lifecycle"]

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
    main = ProbeConnection(
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
            not is_verified(created),
            f"a new connection says {created.verification_state}, expected UNVERIFIED",
        )
        read = await main.get()
        check.require(read.bandwidth_mbps == size, f"GetConnection says {read.bandwidth_mbps}")
        listed = await client.list_connections_all(env, target)
        listed_ids = {resource_id(c.name) for c in listed}
        check.require(main.id in listed_ids, "ListConnections does not list it")
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
            main.id not in {resource_id(c.name) for c in listed_by_other or []},
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
            resource_id(ix.name)
            for ix in session.facts.get("interconnects") or []
            if not is_active(ix)
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
        await run_features(session, main)
    except Blocked as blocked:
        session.skip(list(FEATURE_CHECKS), f"not reached: {blocked}")

    async with session.check("P19-delete-connection") as check:
        await client.delete_connection(env, target, main.id)
        await check.expect(main.get(), {404}, "GetConnection after DeleteConnection")
        listed = await client.list_connections_all(env, target)
        check.require(main.id not in {resource_id(c.name) for c in listed}, "it is still listed")
        code, features = await check.status(client.list_features_all(env, target, main.id))
        check.require(
            code == 404 or (code == 200 and not features),
            f"its features answered {code} with {len(features or [])} features",
        )


async def _migration(check: CheckScope, main: ProbeConnection) -> None:
    """P18: the same id placed on a second ACTIVE interconnect, then that placement removed."""
    session = main.session
    client = session.client
    others = [
        resource_id(ix.name)
        for ix in session.facts.get("interconnects") or []
        if resource_id(ix.name) != main.interconnect and is_active(ix)
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
