"""Read-only checks: what the provider serves, how it pages, names and refuses.

Also the activation key checks that change nothing (P3): ConfirmActivationKey
only answers whether a key is valid. The facts found here (environment,
target interconnect, channels, the provider's own id) feed the later
scenarios through ``session.facts``.
"""

from __future__ import annotations

import base64
import json
import uuid
from datetime import datetime

from interconnect_operator.api import activation_key
from interconnect_operator.api.errors import ApiError
from interconnect_operator.api.models import ActivationKey, Channel, Environment, Interconnect
from interconnect_operator.conformance.session import Blocked, Session

__all__ = ["is_active", "run_discovery", "run_keys", "target_of"]


def _id(name: str | None) -> str:
    return (name or "").rsplit("/", 1)[-1]


def is_active(interconnect: Interconnect) -> bool:
    """The interconnect's state is ACTIVE (the spec's enum, or the bare word)."""
    return (interconnect.state or "").upper() in ("INTERCONNECT_STATE_ACTIVE", "ACTIVE")


def target_of(session: Session) -> tuple[str, list[Channel]]:
    """The interconnect the write checks use and its channels (set by discovery)."""
    target = session.facts.get("interconnect")
    channels = session.facts.get("channels")
    if not isinstance(target, str) or not isinstance(channels, list):
        raise Blocked("discovery found no usable interconnect")
    return target, channels


# Long on purpose: one scripted discovery run, read top to bottom.
async def run_discovery(session: Session) -> None:
    """Environment, interconnects, channels and every read-only rule check."""
    config = session.config
    client = session.client
    env_id = config.environment
    async with session.check("OBJ-environment") as check:
        environment: Environment = await client.get_environment(env_id)
        sizes = sorted(environment.supported_connection_size_mbps or [])
        sites = {_id(site.provider_id) for site in environment.provider_sites or []}
        check.require(bool(sizes), "supportedConnectionSizeMbps is empty")
        check.require(config.caller in sites, f"no site of the caller {config.caller!r}: {sites}")
        others = sites - {config.caller}
        check.require(len(others) == 1, f"expected one other provider site, found {others}")
        listed = {_id(e.name) for e in await client.list_environments_all()}
        check.require(env_id in listed, f"ListEnvironments does not list {env_id}")
        provider = await client.get_provider()
        check.require(
            _id(provider.name) == config.caller, f"GetProvider answered {provider.name!r}"
        )
        providers = {_id(p.name) for p in await client.list_providers_all()}
        check.note(f"sizes {sizes}; sites {sorted(sites)}; providers {sorted(providers)}")
        session.facts["sizes"] = sizes
        session.facts["peer"] = next(iter(sorted(others)), "")
        session.facts["defer_required"] = bool(environment.defer_connection_provisioning)

    interconnects = await client.list_interconnects_all(env_id)
    session.facts["interconnects"] = interconnects
    target = config.interconnect or next(
        (_id(ix.name) for ix in interconnects if is_active(ix)), None
    )
    if target is None:
        raise Blocked("no ACTIVE interconnect in the environment (pass --interconnect)")
    session.facts["interconnect"] = target
    try:
        await client.get_interconnect(env_id, target)
    except ApiError as error:
        raise Blocked(f"GetInterconnect {target}: {error}") from None
    session.facts["max_mbps"] = next(
        (ix.max_bandwidth_mbps for ix in interconnects if _id(ix.name) == target), None
    )

    async with session.check("OBJ-channels") as check:
        channels = await client.list_channels_all(env_id, target)
        providers = {config.caller, session.facts.get("peer", "")}
        check.require(bool(channels), f"interconnect {target} lists no channels")
        for channel in channels:
            label = _id(channel.name)
            for field_name in ("macsec_manager_provider", "cross_connect_manager_provider"):
                value = _id(getattr(channel, field_name))
                check.require(
                    value in providers,
                    f"channel {label}: {field_name} is {value!r}, not one of {sorted(providers)}",
                )
            check.require(bool(channel.admin_state), f"channel {label} has no adminState")
            single = await client.get_channel(env_id, target, label)
            check.require(
                single.macsec_manager_provider == channel.macsec_manager_provider,
                f"GetChannel {label} and ListChannels disagree on the MACsec manager",
            )
        check.note(f"{len(channels)} channels on {target}")
        session.facts["channels"] = channels

    await _pagination(session, target)
    await _not_found(session, target)
    await _identity(session, target)
    await _capacity(session, interconnects)
    await _macsec(session, interconnects)
    await _maintenance(session, target, session.facts["channels"])


async def _pagination(session: Session, target: str) -> None:
    env_id = session.config.environment
    base = f"/providers/{session.config.caller}/environments/{env_id}/interconnects/{target}"
    async with session.check("PAGE-next-token") as check:
        full = [_id(c.name) for c in await session.client.list_channels_all(env_id, target)]
        if len(full) < 2:
            check.skip(f"interconnect {target} has {len(full)} channel(s); paging needs two")
        seen: list[str] = []
        token: str | None = None
        for _ in range(len(full) + 2):
            params = {"pageSize": "1"} | ({"pageToken": token} if token else {})
            response = await session.raw.get(f"{base}/channels", params=params)
            if not check.require(
                response.status_code == 200, f"page answered {response.status_code}"
            ):
                break
            page = response.json()
            seen += [_id(c.get("name")) for c in page.get("channels") or []]
            token = page.get("nextPageToken") or None
            if token is None:
                break
            if len(seen) == 1:
                check.note("pageSize=1 answered one channel and a nextPageToken")
        check.require(
            sorted(seen) == sorted(full),
            f"paging yielded {seen}, one unpaged list yields {full}",
        )
        check.require(len(seen) == len(set(seen)), f"paging repeated channels: {seen}")
    async with session.check("PAGE-bad-token") as check:
        forged = base64.urlsafe_b64encode(b'{"forged": true}').decode()
        response = await session.raw.get(f"{base}/channels", params={"pageToken": forged})
        check.require(
            response.status_code == 400,
            f"a forged pageToken answered {response.status_code}, expected 400",
        )


async def _not_found(session: Session, target: str) -> None:
    env_id = session.config.environment
    async with session.check("P32-not-found") as check:
        missing = session.new_id("missing")
        await check.expect(
            session.client.get_interconnect(env_id, missing), {404}, "GetInterconnect (unknown)"
        )
        await check.expect(
            session.client.get_connection(env_id, target, missing),
            {404},
            "GetConnection (unknown)",
        )


async def _identity(session: Session, target: str) -> None:
    config = session.config
    path = f"/providers/{config.caller}/environments/{config.environment}/interconnects/{target}"
    no_credentials = config.auth.kind == "None"
    async with session.check("P34-unauthenticated") as check:
        if no_credentials:
            check.skip("the run has no credentials (--auth None): nothing to leave out")
        response = await session.anonymous.get(path)
        check.require(
            response.status_code in (401, 403),
            f"a read without credentials answered {response.status_code}, expected 401 or 403",
        )
    async with session.check("P34-foreign-prefix") as check:
        if no_credentials:
            check.skip("the run has no credentials (--auth None): no identity to bind")
        foreign = session.facts.get("peer") or "icokit-nobody"
        response = await session.raw.get(f"/providers/{foreign}/environments")
        check.require(
            response.status_code in (401, 403, 404),
            f"a read under the prefix {foreign!r} answered {response.status_code}, "
            "expected 401, 403 or 404",
        )


async def _capacity(session: Session, interconnects: list[Interconnect]) -> None:
    env_id = session.config.environment
    async with session.check("P7-capacity-read") as check:
        for interconnect in interconnects:
            ix_id = _id(interconnect.name)
            listed = await session.client.list_connections_all(env_id, ix_id)
            used = sum(c.bandwidth_mbps or 0 for c in listed)
            maximum = interconnect.max_bandwidth_mbps
            if maximum is not None:
                check.require(used <= maximum, f"{ix_id} lists {used} Mbps over {maximum} Mbps")
            check.note(f"{ix_id}: {used}/{maximum} Mbps in {len(listed)} connections")


async def _macsec(session: Session, interconnects: list[Interconnect]) -> None:
    env_id = session.config.environment
    async with session.check("P26-macsec-read") as check:
        for interconnect in interconnects:
            ix_id = _id(interconnect.name)
            channels = await session.client.list_channels_all(env_id, ix_id)
            total = 0
            for channel in channels:
                ch_id = _id(channel.name)
                keys = await session.client.list_mac_sec_keys_all(env_id, ix_id, ch_id)
                total += len(keys)
                check.require(len(keys) <= 2, f"{ix_id}/{ch_id} holds {len(keys)} keys (max 2)")
                active = sum(1 for key in keys if key.active)
                check.require(active <= 1, f"{ix_id}/{ch_id} has {active} active keys (max 1)")
            check.require(
                total <= len(channels) + 1,
                f"{ix_id} holds {total} keys over {len(channels)} channels (max N+1)",
            )
            check.note(f"{ix_id}: {total} keys")


async def _maintenance(session: Session, target: str, channels: list[Channel]) -> None:
    env_id = session.config.environment
    async with session.check("P25-maintenance-read") as check:
        windows: list[tuple[str, datetime, datetime]] = []
        for channel in channels:
            ch_id = _id(channel.name)
            for event in await session.client.get_maintenance_events(env_id, target, ch_id):
                if event.start_time is not None and event.end_time is not None:
                    windows.append((ch_id, event.start_time, event.end_time))
        for index, (ch_a, start_a, end_a) in enumerate(windows):
            for ch_b, start_b, end_b in windows[index + 1 :]:
                check.require(
                    ch_a == ch_b or end_a <= start_b or end_b <= start_a,
                    f"{ch_a} {start_a}..{end_a} overlaps {ch_b} {start_b}..{end_b}",
                )
        check.note(f"{len(windows)} maintenance windows on {target}")


def _encode(key: ActivationKey) -> str:
    payload = json.dumps(key.model_dump(by_alias=True), separators=(",", ":"))
    return base64.b64encode(payload.encode()).decode()


async def run_keys(session: Session) -> None:
    """P3 checks that change nothing: malformed, unknown, valid, mismatched keys."""
    config = session.config
    env_id = config.environment
    client = session.client

    async with session.check("P3-malformed-key") as check:
        code, answer = await check.status(client.confirm_activation_key(env_id, "not-a-key%%"))
        valid = bool(answer and answer.key_valid)
        check.require(
            code == 400 or (code == 200 and not valid),
            f"a malformed key answered {code} keyValid={valid}",
        )

    async with session.check("P3-unknown-key") as check:
        peer = session.facts.get("peer") or config.caller
        unknown = ActivationKey(
            version=activation_key.CURRENT_VERSION,
            destination_environment_uri=f"providers/{peer}/environments/{env_id}",
            shared_connection_uuid=str(uuid.uuid4()),
            connection_size_mbps=(session.facts.get("sizes") or [1000])[0],
            destination_account_id="000000000000",
        )
        code, answer = await check.status(client.confirm_activation_key(env_id, _encode(unknown)))
        valid = bool(answer and answer.key_valid)
        check.require(
            code in (400, 404) or (code == 200 and not valid),
            f"a key naming no connection answered {code} keyValid={valid}",
        )

    issued = config.activation_key
    if issued is None:
        session.skip(
            ["P3-valid-key", "P3-key-mismatch", "P3-used-key"],
            "needs an activation key the provider issued: pass --activation-key-file",
        )
        return
    try:
        decoded = activation_key.decode(issued.get_secret_value())
    except activation_key.InvalidActivationKey as error:
        session.skip(
            ["P3-valid-key", "P3-key-mismatch", "P3-used-key"],
            f"the activation key given is not well formed ({error})",
        )
        return
    session.facts["key"] = decoded
    async with session.check("P3-valid-key") as check:
        answer = await client.confirm_activation_key(env_id, issued)
        check.require(bool(answer.key_valid), "the issued key answered keyValid false")
    async with session.check("P3-key-mismatch") as check:
        sizes = [s for s in session.facts.get("sizes") or [] if s != decoded.connection_size_mbps]
        other = sizes[0] if sizes else decoded.connection_size_mbps * 2
        altered = decoded.model_copy(update={"connection_size_mbps": other})
        code, answer = await check.status(client.confirm_activation_key(env_id, _encode(altered)))
        valid = bool(answer and answer.key_valid)
        check.require(
            code == 400 or (code == 200 and not valid),
            f"the key with size {other} Mbps answered {code} keyValid={valid}",
        )
