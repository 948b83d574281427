"""Resiliency audit: are a link's channels on distinct devices at each provider?

The spec's channels carry an ``obfuscatedDeviceId`` per provider: equal ids
mean one device hosts both channels, so one device failure takes both down
(the redundancy of P12 is then smaller than the channel count says). Pure
verdicts over the device ids each side lists; the reconcile layer supplies
them, the status and the pool metrics show the verdict.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .types import Side


@dataclass(frozen=True)
class DeviceSpread:
    """How one side spreads a set of channels over its devices."""

    side: Side
    channels: int
    devices: int
    shared: tuple[tuple[str, ...], ...] = ()
    """Groups of two or more channels on one device, sorted."""
    unknown: tuple[str, ...] = ()
    """Channels whose device id the side does not give."""

    @property
    def sharing(self) -> int:
        """Channels that share their device with another channel."""
        return sum(len(group) for group in self.shared)


def device_spread(
    side: Side, channels: Sequence[str], devices: Mapping[str, str | None]
) -> DeviceSpread:
    """The spread of ``channels`` over the devices ``devices`` names (channel -> device id)."""
    by_device: dict[str, list[str]] = {}
    unknown: list[str] = []
    for channel in sorted(channels):
        device = devices.get(channel)
        if device:
            by_device.setdefault(device, []).append(channel)
        else:
            unknown.append(channel)
    shared = tuple(sorted(tuple(group) for group in by_device.values() if len(group) > 1))
    return DeviceSpread(side, len(channels), len(by_device), shared, tuple(unknown))


@dataclass(frozen=True)
class Resiliency:
    """The verdict: ``resilient`` None when it cannot be told."""

    resilient: bool | None
    reason: str
    message: str
    sharing: int = 0
    """Channels sharing a device with another one, over both sides."""


def resiliency(spreads: Sequence[DeviceSpread]) -> Resiliency:
    """Resilient when every side puts the channels on as many devices as channels.

    ``SharedDevice`` (False) when a side hosts two channels on one device;
    ``SingleChannel`` (False) below two channels; ``DeviceUnknown`` (None) when
    a side gives no device id for some channel and nothing is shared.
    """
    if not spreads or any(s.channels == 0 for s in spreads):
        return Resiliency(None, "NoChannels", "no channel to audit yet")
    sharing = sum(s.sharing for s in spreads)
    shared = [s for s in spreads if s.shared]
    if shared:
        detail = "; ".join(
            f"{s.side.value}: "
            + ", ".join("+".join(group) for group in s.shared)
            + f" on one device ({s.devices} devices for {s.channels} channels)"
            for s in shared
        )
        return Resiliency(False, "SharedDevice", f"channels share a device: {detail}", sharing)
    if min(s.channels for s in spreads) < 2:
        return Resiliency(False, "SingleChannel", "one channel: no device redundancy")
    unknown = [s for s in spreads if s.unknown]
    if unknown:
        detail = "; ".join(f"{s.side.value}: {', '.join(s.unknown)}" for s in unknown)
        return Resiliency(None, "DeviceUnknown", f"no obfuscatedDeviceId for {detail}")
    counts = ", ".join(f"{s.side.value} {s.devices}" for s in spreads)
    channels = max(s.channels for s in spreads)
    return Resiliency(
        True, "DistinctDevices", f"{channels} channels on distinct devices ({counts})"
    )
