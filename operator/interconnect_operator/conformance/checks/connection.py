"""The connection a conformance run creates and probes, and the helpers every check uses.

`ProbeConnection` names the connection under test, builds feature bodies
for its channels and remembers every object it creates in the session's
ledger first, so a run that stops half-way still cleans up.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from interconnect_operator.api.models import Connection, Feature
from interconnect_operator.conformance.checks.proposals import (
    Choice,
    feature_of,
)
from interconnect_operator.conformance.session import Created, Session

__all__ = ["ProbeConnection", "is_final", "is_verified", "resource_id", "wait_until"]


def resource_id(name: str | None) -> str:
    """The last segment of a resource name (the id)."""
    return (name or "").rsplit("/", 1)[-1]


def is_verified(connection: Connection) -> bool:
    """The connection reports VERIFIED (not UNVERIFIED)."""
    state = (connection.verification_state or "").upper()
    return state.endswith("VERIFIED") and not state.endswith("UNVERIFIED")


def is_final(feature: Feature) -> bool:
    """The feature is provisioned to FINAL."""
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


class ProbeConnection:
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
