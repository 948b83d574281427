"""NotifyConnectionStatus rules (P14-P15): when to notify, when to re-notify, what it proves.

A notification tells a provider that the other side's features are all
FINAL; the provider evaluates it against its own feature set and marks the
connection VERIFIED. Notifications are refresh hints: one older than a
feature change (P15) is discarded by the provider, so it is sent again.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime, timedelta

from .types import MIN_CHANNELS, ConnectionView, Side

#: Notifications are refresh hints (P14); resend when the peer has not verified by then.
RENOTIFY_AFTER = timedelta(minutes=10)


def notify_targets(
    local: ConnectionView,
    remote: ConnectionView,
    negotiated: Sequence[str],
    notified_at: Mapping[Side, datetime],
    now: datetime,
    *,
    required: Sequence[str] | None = None,
) -> list[Side]:
    """P14: the sides to notify now, the responder first.

    A side is told once every negotiated feature of the other side is FINAL
    and it is not VERIFIED yet; a notification sent within RENOTIFY_AFTER is
    still awaited. ``required``: the channels that must all be negotiated
    first (every channel not administratively disabled): "all features of a
    connection are available" (P14); 3 of 4 is not verification (P12).
    """
    targets: list[Side] = []
    if len(negotiated) < MIN_CHANNELS:
        return targets
    if required is not None and any(c not in negotiated for c in required):
        return targets
    for target, target_conn, source_conn in (
        (Side.RESPONDER, remote, local),
        (Side.NEGOTIATOR, local, remote),
    ):
        if target_conn.verified:
            continue
        if not all(source_conn.features[c].final for c in negotiated):
            continue
        last = notified_at.get(target)
        if last is None or now - last >= RENOTIFY_AFTER:
            targets.append(target)
    return targets


def verified_by_notifications(
    notified: Collection[Side],
    final_per_side: Mapping[Side, Sequence[bool]],
) -> bool:
    """P14: both notifications acknowledged while both sides were FINAL imply VERIFIED.

    ``final_per_side`` holds, per side, whether each of the link's features
    there is FINAL; a side without features proves nothing.
    """
    if len(notified) < 2:
        return False
    return all(bool(final_per_side.get(side)) and all(final_per_side[side]) for side in Side)


def live_notifications(
    notified_at: Mapping[Side, datetime],
    notified_generation: Mapping[Side, int],
    generation: int,
    final_per_side: Mapping[Side, Sequence[bool]],
    unverified: Mapping[Side, bool],
) -> dict[Side, datetime]:
    """P15: the notifications still worth waiting on.

    When a provider read taken after a notification (``generation`` is the
    read counter, ``notified_generation`` its value at each notification)
    still shows that side UNVERIFIED although every feature on both sides is
    FINAL, a feature changed after it: drop it, so the decision sends a fresh
    one instead of waiting for RENOTIFY_AFTER. ``unverified`` is true for a
    side whose connection exists and is not VERIFIED.
    """
    notified = dict(notified_at)
    all_final = all(bool(final_per_side.get(side)) and all(final_per_side[side]) for side in Side)
    for side in list(notified):
        if notified_generation.get(side, generation) >= generation:
            continue  # no read since: the provider has not been asked again
        if all_final and unverified.get(side, False):
            del notified[side]
    return notified
