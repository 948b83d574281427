"""MACsec key rotation rules (P26-P31), as pure decisions.

Keys belong to channels and channels to interconnects, so the rules are
evaluated per interconnect: at most one channel rotating at a time and a
two-hour bake time after a rotation before the next one (P29), at most 2
keys per channel and N+1 per interconnect of N channels (P26), only the
channel's MACsec manager acts (P27), fail closed (P31).

A channel is "rotating" while it holds two keys: the new key was installed
(P28) and the old one is not yet deleted. The bake time is interconnect wide
(the stricter reading of P29): the next rotation on any channel waits two
hours after the last key was created on any channel. The first key of a
channel (it holds none) is exempt from both rules (P29: "the first keys on
a new channel may be set in parallel").
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

from .types import Secret

BAKE_TIME: Final = timedelta(hours=2)
MAX_KEYS_PER_CHANNEL: Final = 2


@dataclass(frozen=True)
class MacsecKeyMaterial:
    """A freshly generated CAK/CKN pair; never shown by repr (P31)."""

    cak: Secret = field(repr=False)
    ckn: Secret = field(repr=False)


def generate_key() -> MacsecKeyMaterial:
    """A CAK and a CKN of 64 hex digits (256 bits) each, from the OS CSPRNG."""
    return MacsecKeyMaterial(cak=Secret(secrets.token_hex(32)), ckn=Secret(secrets.token_hex(32)))


@dataclass(frozen=True)
class MacsecKeyView:
    """A key as listed on a channel; the key material itself is never needed here."""

    name: str
    start_time: datetime | None
    active: bool = False
    failed: bool = False


@dataclass(frozen=True)
class ChannelMacsecView:
    channel: str
    managed_by_us: bool
    keys: tuple[MacsecKeyView, ...] = ()
    rotation_requested: bool = False

    @property
    def rotating(self) -> bool:
        return len(self.keys) >= MAX_KEYS_PER_CHANNEL

    @property
    def last_key_time(self) -> datetime | None:
        times = [k.start_time for k in self.keys if k.start_time is not None]
        return max(times, default=None)

    @property
    def active_key(self) -> MacsecKeyView | None:
        return next((k for k in self.keys if k.active), None)


@dataclass(frozen=True)
class InterconnectMacsecView:
    interconnect: str
    channels: tuple[ChannelMacsecView, ...]

    @property
    def key_count(self) -> int:
        return sum(len(c.keys) for c in self.channels)

    @property
    def key_limit(self) -> int:
        return len(self.channels) + 1

    def channel(self, name: str) -> ChannelMacsecView:
        for c in self.channels:
            if c.channel == name:
                return c
        raise KeyError(name)


@dataclass(frozen=True)
class RotationVerdict:
    allowed: bool
    reason: str
    message: str
    not_before: datetime | None = None


def bake_ends(view: InterconnectMacsecView) -> datetime | None:
    """When the P29 bake time after the last rotation ends (None: no key yet)."""
    times = [t for c in view.channels if (t := c.last_key_time) is not None]
    return max(times) + BAKE_TIME if times else None


def may_rotate(view: InterconnectMacsecView, channel: str, now: datetime) -> RotationVerdict:
    """Whether a new key may be created on ``channel`` now (P26, P27, P29)."""
    ch = view.channel(channel)
    if not ch.managed_by_us:
        return RotationVerdict(False, "NotManager", f"P27: {channel} is managed by the peer")
    if len(ch.keys) >= MAX_KEYS_PER_CHANNEL:
        return RotationVerdict(
            False, "ChannelKeyLimit", f"P26: {channel} already holds {len(ch.keys)} keys"
        )
    if view.key_count >= view.key_limit:
        return RotationVerdict(
            False,
            "InterconnectKeyLimit",
            f"P26: {view.interconnect} holds {view.key_count} keys (limit {view.key_limit})",
        )
    if not ch.keys:
        return RotationVerdict(True, "FirstKey", f"P29: first key on {channel}")
    busy = [c.channel for c in view.channels if c.channel != channel and c.rotating]
    if busy:
        return RotationVerdict(
            False, "OtherChannelRotating", f"P29: {', '.join(busy)} rotating on {view.interconnect}"
        )
    ends = bake_ends(view)
    if ends is not None and now < ends:
        return RotationVerdict(
            False, "BakeTime", f"P29: bake time runs until {ends.isoformat()}", not_before=ends
        )
    return RotationVerdict(True, "RotationAllowed", f"P29: {channel} may rotate")


def rotation_due(channel: ChannelMacsecView, now: datetime, interval: timedelta | None) -> bool:
    """A rotation is wanted: no key yet, requested by the peer (P30), the newest
    key failed (P31), or the newest key is older than the rotation interval."""
    if not channel.keys:
        return True
    if channel.rotation_requested:
        return True
    newest = _newest(channel.keys)
    if newest.failed:
        return True
    if interval is None or newest.start_time is None:
        return False
    return now - newest.start_time >= interval


def _newest(keys: Sequence[MacsecKeyView]) -> MacsecKeyView:
    """The most recent key (no start time sorts first; name breaks ties)."""
    return max(keys, key=lambda k: (_sort_time(k.start_time), k.name))


@dataclass(frozen=True)
class CreateKey:
    channel: str
    kind: str = field(default="CreateKey", init=False)


@dataclass(frozen=True)
class DeleteKey:
    """Delete ``key``. ``then_rotate``: P31, the caller records a rotation
    request on the channel so that a fresh key replaces the failed one."""

    channel: str
    key: str
    reason: str
    then_rotate: bool = False
    kind: str = field(default="DeleteKey", init=False)


@dataclass(frozen=True)
class NoAction:
    channel: str | None
    reason: str
    message: str
    not_before: datetime | None = None
    kind: str = field(default="NoAction", init=False)


MacsecAction = CreateKey | DeleteKey | NoAction


def cleanup_action(channel: ChannelMacsecView) -> MacsecAction | None:
    """Finish or repair a rotation on ``channel`` (P28, P31), or None.

    - two keys, the newest active: delete the old one (P28 completes);
    - the newest failed: delete it (never the active key) so that a fresh
      key can be created: skipped forward, not rolled back (P31).
    """
    if not channel.managed_by_us or not channel.keys:
        return None
    newest = _newest(channel.keys)
    if newest.failed and not newest.active:
        return DeleteKey(
            channel.channel, newest.name, "P31: failed key skipped forward", then_rotate=True
        )
    if len(channel.keys) >= MAX_KEYS_PER_CHANNEL and newest.active:
        for k in channel.keys:
            if k is not newest and not k.active:
                return DeleteKey(channel.channel, k.name, "P28: rotation complete")
    return None


def fail_closed(channel: ChannelMacsecView) -> bool:
    """P31: the channel had keys but none is active: it must not carry traffic."""
    return bool(channel.keys) and channel.active_key is None


def next_action(
    view: InterconnectMacsecView,
    now: datetime,
    interval: timedelta | None,
    enabled: bool = True,
) -> MacsecAction:
    """The one MACsec action to take on this interconnect now.

    Cleanups first (they end a rotation and unblock P29), then a new key on
    the channel most overdue (oldest newest key), subject to :func:`may_rotate`.
    """
    for ch in view.channels:
        action = cleanup_action(ch)
        if action is not None:
            return action
    if not enabled:
        return NoAction(None, "RotationDisabled", "MACsec rotation is off for this pool")
    due = [c for c in view.channels if c.managed_by_us and rotation_due(c, now, interval)]
    due.sort(key=lambda c: (c.keys != (), _sort_time(c.last_key_time), c.channel))
    blocked: NoAction | None = None
    for ch in due:
        verdict = may_rotate(view, ch.channel, now)
        if verdict.allowed:
            return CreateKey(ch.channel)
        if blocked is None:
            blocked = NoAction(ch.channel, verdict.reason, verdict.message, verdict.not_before)
    return blocked or NoAction(None, "NothingDue", "no rotation due")


def _sort_time(t: datetime | None) -> float:
    return t.timestamp() if t is not None else float("-inf")


def keys_in_status(keys: Iterable[MacsecKeyView]) -> list[dict[str, object]]:
    """What may be shown in Kubernetes status about keys: names and times, never material."""
    return [
        {
            "name": k.name,
            "startTime": k.start_time.isoformat() if k.start_time else None,
            "active": k.active,
        }
        for k in keys
    ]
