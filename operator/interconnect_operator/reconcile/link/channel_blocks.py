"""P12 channel blocks: a channel no feature fits on waits until its provider data changes.

A block holds why the channel waits and the basis it was decided on: both
sides' admin state of the channel, what is in use on it, and the guidance
last read for it. Allocation sets one (``FeatureSteps``); the decision's
facts lift it once that basis changed (``LinkDecider``).
"""

from __future__ import annotations

from interconnect_operator.protocol.types import Side
from interconnect_operator.reconcile.pool import PoolRuntime

from .types import LinkMemory

__all__ = ["block", "channel_basis", "guidance_basis"]


def guidance_basis(memory: LinkMemory, interconnect: str, channel: str) -> str:
    """Both sides' guidance for the channel as last read (P8)."""
    seen = memory.guidance_seen.get(interconnect)
    return repr([g.get(channel) for g in seen]) if seen is not None else "none"


def channel_basis(
    pool: PoolRuntime, memory: LinkMemory, interconnect: str, channel: str
) -> tuple[str, str]:
    """The provider data a channel's block depends on (P12): both sides' admin state
    of the channel and what is in use on it; and the guidance last read for it."""
    snapshot = pool.snapshot
    admin: list[str] = []
    usage = ""
    if snapshot is not None:
        for side in Side:
            admin.extend(
                f"{side.value}:{c.admin_state}"
                for c in snapshot.side(side).channels.get(interconnect, [])
                if c.id == channel
            )
        usage = repr(snapshot.channel_usage(interconnect, channel))
    return f"{admin}|{usage}", guidance_basis(memory, interconnect, channel)


def block(
    pool: PoolRuntime, memory: LinkMemory, interconnect: str, channel: str, reason: str
) -> None:
    """Block a channel (P12) until the provider data it was blocked on changes."""
    memory.blocked_channels[channel] = reason
    memory.blocked_basis[channel] = channel_basis(pool, memory, interconnect, channel)
