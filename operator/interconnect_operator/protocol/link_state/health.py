"""Health of one link's connection pair: which channels are negotiated, FINAL, verified (P12-P14).

Pure counting over the two connection views; ``decide`` and the status
builder both read it, so both agree on what "ready" and "degraded" mean.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..types import MIN_CHANNELS, AdminState, ConnectionView, Side


@dataclass(frozen=True)
class Health:
    channels: tuple[str, ...]
    negotiated: tuple[str, ...]
    final: tuple[str, ...]
    verified: dict[Side, bool]
    disabled: tuple[Side, ...]

    @property
    def all_final(self) -> bool:
        return bool(self.channels) and len(self.final) == len(self.channels)

    @property
    def ready(self) -> bool:
        return self.all_final and all(self.verified.values()) and not self.disabled

    @property
    def unverified(self) -> list[str]:
        return [s.value for s, ok in self.verified.items() if not ok]


def health(
    local: ConnectionView | None, remote: ConnectionView | None, channels: Sequence[str]
) -> Health:
    """Health of the pair; without known ``channels``, those holding a feature on either side."""
    if not channels:
        keys = set(local.features if local else ()) | set(remote.features if remote else ())
        channels = tuple(sorted(keys))
    lf = local.features if local else {}
    rf = remote.features if remote else {}
    negotiated = tuple(c for c in channels if c in lf and c in rf)
    final = tuple(c for c in negotiated if lf[c].final and rf[c].final)
    verified = {
        Side.NEGOTIATOR: bool(local and local.verified),
        Side.RESPONDER: bool(remote and remote.verified),
    }
    disabled = tuple(
        side
        for side, conn in ((Side.NEGOTIATOR, local), (Side.RESPONDER, remote))
        if conn is not None and conn.admin_state is AdminState.DISABLED
    )
    return Health(tuple(channels), negotiated, final, verified, disabled)


def degraded(h: Health, blocked_channels: Mapping[str, str], ever_ready: bool) -> bool:
    """P12: 3 of 4 carries traffic without full redundancy.

    During bring-up the 4th channel is merely late, so Degraded applies only
    when the missing channels cannot progress or the link was ready before.
    """
    n, k = len(h.channels), len(h.final)
    if not (MIN_CHANNELS <= k < n):
        return False
    missing = [c for c in h.channels if c not in h.final]
    return ever_ready or all(c in blocked_channels for c in missing)
