"""MACsec manager rules a caller can check from outside (P27, P30).

The kit never creates a key on a channel it manages: a key becomes active
once the routers use it, an active key cannot be deleted (P28), so such a
check would leave a key behind. What it does check: a key creation the
provider must decline (the caller is not the channel's manager), and, when
allowed, a rotation request from the non-manager.
"""

from __future__ import annotations

import secrets

from pydantic import SecretStr

from interconnect_operator.api.models import Channel, MacSecKey
from interconnect_operator.conformance.checks.discovery import target_of
from interconnect_operator.conformance.session import Created, Session

__all__ = ["provider_managed", "run_macsec", "run_rotation_request"]


def _id(name: str | None) -> str:
    return (name or "").rsplit("/", 1)[-1]


def provider_managed(session: Session) -> list[Channel]:
    """Channels of the target interconnect whose MACsec manager is not the caller."""
    _, channels = target_of(session)
    return [c for c in channels if _id(c.macsec_manager_provider) != session.config.caller]


async def run_macsec(session: Session) -> None:
    """P27: the non-manager's CreateMacSecKey is declined."""
    env = session.config.environment
    target, _ = target_of(session)
    async with session.check("P27-non-manager-create") as check:
        channels = provider_managed(session)
        if not channels:
            check.skip("the caller manages MACsec on every channel of the interconnect")
        channel = _id(channels[0].name)
        key_id = session.new_id("macsec")
        session.remember(Created("macSecKey", target, channel=channel, key=key_id))
        # Random material: never a real key, and redacted from the evidence.
        key = MacSecKey(cak=SecretStr(secrets.token_hex(32)), ckn=SecretStr(secrets.token_hex(32)))
        await check.expect(
            session.client.create_mac_sec_key(env, target, channel, key_id, key),
            {400, 403},
            f"CreateMacSecKey on {channel} (managed by the provider)",
        )


async def run_rotation_request(session: Session) -> None:
    """P30: the non-manager may ask for a rotation."""
    env = session.config.environment
    target, _ = target_of(session)
    async with session.check("P30-rotation-request") as check:
        channels = provider_managed(session)
        if not channels:
            check.skip("the caller manages MACsec on every channel of the interconnect")
        channel = _id(channels[0].name)
        await check.expect(
            session.client.request_mac_sec_key_rotation(
                env, target, channel, reason=f"conformance run {session.run_id}"
            ),
            {200},
            f"RequestMacSecKeyRotation on {channel}",
        )
