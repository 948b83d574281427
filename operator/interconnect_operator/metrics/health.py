"""What the handlers hand to the exporter: plain frozen health records.

They know nothing of Kubernetes or of the wire models, so every layer can
build them and tests can write them by hand.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class LinkHealth:
    """Observed health of one MulticloudLink.

    `verified` maps provider id to whether that provider reports the
    connection VERIFIED (P14); `features` maps (provider, feature state) to a
    count; `channels_up` maps channel id to whether its feature is live.
    `time_to_ready_seconds` is from creation to the first Ready, if reached.
    """

    namespace: str
    name: str
    pool: str
    environment: str
    interconnect: str
    shared_uuid: str
    phase: str
    ready: bool
    degraded: bool
    bandwidth_mbps: int
    verified: Mapping[str, bool] = field(default_factory=dict)
    features: Mapping[tuple[str, str], int] = field(default_factory=dict)
    channels_up: Mapping[str, bool] = field(default_factory=dict)
    time_to_ready_seconds: float | None = None


@dataclass(frozen=True)
class ChannelHealth:
    """One channel of an interconnect, as the pool timer sees it (P24-P31)."""

    id: str
    maintenance_active: bool = False
    #: Unix time of the next scheduled maintenance start, if any.
    next_maintenance_start: float | None = None
    #: Age of the channel's active MACsec key, if the channel has one.
    macsec_key_age_seconds: float | None = None
    #: True when this channel's maintenance overlaps another channel's (P25).
    maintenance_overlap: bool = False


@dataclass(frozen=True)
class InterconnectHealth:
    """Capacity and channels of one interconnect of a pool."""

    id: str
    max_mbps: int
    allocated_mbps: int
    available_mbps: int
    channels_by_admin_state: Mapping[str, int] = field(default_factory=dict)
    channels: Sequence[ChannelHealth] = ()
    channels_sharing_device: Mapping[str, int] = field(default_factory=dict)
    """Provider -> channels that share their device with another channel."""


@dataclass(frozen=True)
class PoolHealth:
    """Observed health of one CapacityPool."""

    pool: str
    providers_reachable: Mapping[str, bool] = field(default_factory=dict)
    interconnects: Sequence[InterconnectHealth] = ()
