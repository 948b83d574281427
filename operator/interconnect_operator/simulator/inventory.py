"""Static inventory of a simulated provider: environments, interconnects, channels.

Static objects (provider, environment, interconnect, channel) are set up out
of band in the real world; the API only reads them (docs/protocol.md, vocabulary).
The simulator takes them from this inventory: a built-in default, or a YAML
file given with ``--inventory``.

Both simulators of a pair must agree on environment, interconnect and channel
ids and on which provider manages each channel's MACsec keys and cross
connect. The default inventory derives all of these from the sorted pair of
provider ids, so ``simulate --provider-id aws`` and ``simulate --provider-id
gcp`` describe the same capacity from both ends.

Default inventory (no file): environment ``aws-gcp-us-east`` shared with the
peer (``gcp`` for any provider other than ``gcp``, else ``aws``), sizes 1000
to 100000 Mbps, ``FEATURE_TYPE_L3_BASE``, public; interconnects ``ix1`` and
``ix2``, ACTIVE, 100000 Mbps, channels ``ch1``..``ch4`` with the MACsec
manager alternating between the two providers; guidance: VLAN 1025-4094,
IPv4 169.254.0.0/16 minus a few /28s with prefix lengths 29 and 30, IPv6
fd00::/8 with prefix length 126, MTU 1500-8896, and the provider's ASN
(aws 64512, gcp 16550, others a private ASN derived from the id).

YAML format (every key optional unless marked; camelCase like the API)::

    displayName: Amazon Web Services   # of the serving provider
    asn: 64512                         # the serving provider's BGP ASN
    environments:
      - id: aws-gcp-us-east            # required
        peer: gcp                      # the calling provider (default: see above)
        sites:                         # provider id -> site code / display name
          aws: {site: us-east-1, displayName: US East (N. Virginia)}
          gcp: {site: us-east4, displayName: Ashburn}
        apiUri: https://aws.example/interconnect/
        supportedConnectionSizeMbps: [1000, 2000, 5000, 10000]
        supportedFeatures: [FEATURE_TYPE_L3_BASE]
        visibility: public             # or private
        deferralTimeoutHours: 24
        deferConnectionProvisioning: false  # the environment demands deferral (P22)
        acceptDeferral: true           # false: CreateConnection with deferral -> 400
        guidance:
          asnRanges: [[64512, 64512]]
          vlanRanges: [[1025, 4094]]
          mtuRanges: [[1500, 8896]]
          ipv4: {include: 169.254.0.0/16, exclude: [169.254.0.0/28],
                 preferred: null, prefixLengths: [29, 30]}
          ipv6: {include: "fd00::/8", exclude: [], prefixLengths: [126]}
          maxReceivedBgpRoutePrefixes: 100
        # either generated interconnects ...
        interconnectCount: 2           # ix1..ixN
        maxBandwidthMbps: 100000
        channelsPerInterconnect: 4
        interconnectState: ACTIVE      # PENDING, ACTIVE or CLOSED
        # ... or an explicit list (wins over the generated ones)
        interconnects:
          - id: ix1
            state: ACTIVE
            maxBandwidthMbps: 100000
            extraConnectionSizeMbps: []
            channels: 4                # a count, or a list of:
            # - {id: ch1, macsecManagerProvider: aws,
            #    crossConnectManagerProvider: gcp, adminState: ENABLED,
            #    device: r1}           # same label = same device (obfuscatedDeviceId)
"""

from __future__ import annotations

import hashlib
import ipaddress
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from interconnect_operator.api.models import (
    AdminState,
    EnvironmentVisibility,
    FeatureType,
    InterconnectState,
)

__all__ = [
    "DEFAULT_ENVIRONMENT",
    "DEFAULT_SIZES_MBPS",
    "ChannelSpec",
    "EnvironmentSpec",
    "GuidanceSpec",
    "InterconnectSpec",
    "Inventory",
    "InventoryError",
    "SubnetSpec",
    "default_asn",
    "default_inventory",
    "default_peer",
    "display_name",
    "load_inventory",
]

DEFAULT_ENVIRONMENT = "aws-gcp-us-east"
DEFAULT_SIZES_MBPS = (1000, 2000, 5000, 10000, 20000, 50000, 100000)

_KNOWN_ASNS = {"aws": 64512, "gcp": 16550}
_KNOWN_DISPLAY_NAMES = {
    "aws": "Amazon Web Services",
    "gcp": "Google Cloud Platform",
    "azure": "Microsoft Azure",
    "oci": "Oracle Cloud Infrastructure",
}
_DEFAULT_SITES = {"aws": ("us-east-1", "US East (N. Virginia)"), "gcp": ("us-east4", "Ashburn")}

# A few /28s carved out of the link-local range, as real providers do for
# their own use (metadata services and the like); features must avoid them.
_DEFAULT_IPV4_EXCLUDES = ("169.254.0.0/28", "169.254.169.240/28", "169.254.255.240/28")


class InventoryError(ValueError):
    """The inventory file is malformed."""


def default_asn(provider_id: str) -> int:
    """The provider's ASN: well-known ones, else a private ASN from the id.

    Derived with crc32 so it is stable across processes (``hash()`` is salted).
    64513-65534 avoids 64512, which is aws's in the default inventory.
    """
    if provider_id in _KNOWN_ASNS:
        return _KNOWN_ASNS[provider_id]
    return 64513 + zlib.crc32(provider_id.encode()) % 1022


def default_peer(provider_id: str) -> str:
    """The peer of the default inventory: gcp for everyone but gcp itself."""
    return "aws" if provider_id == "gcp" else "gcp"


def display_name(provider_id: str) -> str:
    """A human name for a provider id (the id itself when unknown)."""
    return _KNOWN_DISPLAY_NAMES.get(provider_id, provider_id)


@dataclass(frozen=True, slots=True)
class SubnetSpec:
    """One include subnet with its excludes and an optional preference."""

    include: ipaddress.IPv4Network | ipaddress.IPv6Network
    exclude: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    preferred: ipaddress.IPv4Network | ipaddress.IPv6Network | None = None


@dataclass(frozen=True, slots=True)
class GuidanceSpec:
    """The serving provider's L3 base guidance (P8), the same on every channel."""

    asn_ranges: tuple[tuple[int, int], ...]
    vlan_ranges: tuple[tuple[int, int], ...] = ((1025, 4094),)
    mtu_ranges: tuple[tuple[int, int], ...] = ((1500, 8896),)
    ipv4: tuple[SubnetSpec, ...] = ()
    ipv4_prefix_lengths: tuple[int, ...] = (29, 30)
    ipv6: tuple[SubnetSpec, ...] = ()
    ipv6_prefix_lengths: tuple[int, ...] = (126,)
    max_received_bgp_route_prefixes: int = 100


@dataclass(frozen=True, slots=True)
class ChannelSpec:
    """A channel (LAG) of an interconnect."""

    id: str
    macsec_manager: str
    cross_connect_manager: str
    admin_state: str = AdminState.ENABLED
    aggregate_size_gbps: int = 100
    member_size_gbps: int = 100
    demarc: str = ""
    obfuscated_device_id: str = ""


@dataclass(frozen=True, slots=True)
class InterconnectSpec:
    """An interconnect: capacity and its channels."""

    id: str
    state: str
    max_bandwidth_mbps: int
    channels: tuple[ChannelSpec, ...]
    extra_sizes_mbps: tuple[int, ...] = ()

    def channel(self, channel_id: str) -> ChannelSpec | None:
        """The channel with that id, if any (channels are few: a scan is fine)."""
        for channel in self.channels:
            if channel.id == channel_id:
                return channel
        return None


@dataclass(frozen=True, slots=True)
class EnvironmentSpec:
    """An environment shared with one peer provider."""

    id: str
    peer: str
    sites: tuple[tuple[str, str, str], ...]  # (provider id, site, display name)
    sizes_mbps: tuple[int, ...]
    features: tuple[str, ...]
    visibility: str
    deferral_timeout_hours: int
    defer_connection_provisioning: bool
    accept_deferral: bool
    api_uri: str
    guidance: GuidanceSpec
    interconnects: tuple[InterconnectSpec, ...]
    _by_id: dict[str, InterconnectSpec] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        # Benchmarks may configure many interconnects: look them up in O(1).
        self._by_id.update({ix.id: ix for ix in self.interconnects})

    def interconnect(self, interconnect_id: str) -> InterconnectSpec | None:
        """The interconnect with that id, if any."""
        return self._by_id.get(interconnect_id)


@dataclass(frozen=True, slots=True)
class Inventory:
    """Everything static the simulated provider serves."""

    provider_id: str
    display_name: str
    asn: int
    environments: tuple[EnvironmentSpec, ...]
    _by_id: dict[str, EnvironmentSpec] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._by_id.update({env.id: env for env in self.environments})

    def environment(self, caller: str, environment_id: str) -> EnvironmentSpec | None:
        """The environment as ``caller`` may see it: only the peer it is shared with."""
        env = self._by_id.get(environment_id)
        if env is None or env.peer != caller:
            return None
        return env

    def by_id(self, environment_id: str) -> EnvironmentSpec | None:
        """The environment with that id, whoever it is shared with (admin use)."""
        return self._by_id.get(environment_id)

    def environments_of(self, caller: str) -> list[EnvironmentSpec]:
        """Environments shared with ``caller``."""
        return [env for env in self.environments if env.peer == caller]

    def peers(self) -> list[str]:
        """Every provider id this provider shares an environment with."""
        return sorted({env.peer for env in self.environments})


def _device_id(*parts: str) -> str:
    # Obfuscated but stable: the peer compares these for channel diversity.
    return "dev-" + hashlib.sha256("/".join(parts).encode()).hexdigest()[:12]


def _channels(
    provider_id: str, peer: str, env_id: str, ix_id: str, count: int
) -> tuple[ChannelSpec, ...]:
    # Sorting the pair makes both simulators alternate the same way.
    first, second = sorted((provider_id, peer))
    channels = []
    for index in range(1, count + 1):
        manager = first if index % 2 else second
        other = second if index % 2 else first
        channel_id = f"ch{index}"
        channels.append(
            ChannelSpec(
                id=channel_id,
                macsec_manager=manager,
                cross_connect_manager=other,
                demarc=f"{env_id}-{ix_id}-{channel_id}-demarc",
                obfuscated_device_id=_device_id(provider_id, env_id, ix_id, channel_id),
            )
        )
    return tuple(channels)


def _default_guidance(asn: int) -> GuidanceSpec:
    return GuidanceSpec(
        asn_ranges=((asn, asn),),
        ipv4=(
            SubnetSpec(
                include=ipaddress.ip_network("169.254.0.0/16"),
                exclude=tuple(ipaddress.ip_network(net) for net in _DEFAULT_IPV4_EXCLUDES),
            ),
        ),
        ipv6=(SubnetSpec(include=ipaddress.ip_network("fd00::/8")),),
    )


def default_inventory(provider_id: str, peer: str | None = None) -> Inventory:
    """The built-in inventory (see the module docstring)."""
    return _build(provider_id, {"environments": [{"id": DEFAULT_ENVIRONMENT, "peer": peer}]})


def load_inventory(path: str | Path, provider_id: str) -> Inventory:
    """Read a YAML inventory file (format in the module docstring)."""
    try:
        document = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise InventoryError(f"cannot read inventory {path}: {error}") from error
    if document is None:
        document = {}
    if not isinstance(document, dict):
        raise InventoryError("inventory must be a mapping")
    return _build(provider_id, document)


def _int_pairs(value: Any, what: str) -> tuple[tuple[int, int], ...]:
    if not isinstance(value, list):
        raise InventoryError(f"{what} must be a list of [start, stop]")
    pairs = []
    for item in value:
        if isinstance(item, dict):
            start, stop = item.get("start"), item.get("stop")
        elif isinstance(item, list) and len(item) == 2:
            start, stop = item
        else:
            raise InventoryError(f"{what}: bad range {item!r}")
        if not isinstance(start, int) or not isinstance(stop, int) or start > stop:
            raise InventoryError(f"{what}: bad range {item!r}")
        pairs.append((start, stop))
    return tuple(pairs)


def _subnets(value: Any, what: str) -> tuple[SubnetSpec, ...]:
    items = value if isinstance(value, list) else [value]
    result = []
    for item in items:
        if not isinstance(item, dict) or "include" not in item:
            raise InventoryError(f"{what}: each entry needs 'include'")
        try:
            preferred = item.get("preferred")
            result.append(
                SubnetSpec(
                    include=ipaddress.ip_network(item["include"]),
                    exclude=tuple(ipaddress.ip_network(n) for n in item.get("exclude") or []),
                    preferred=ipaddress.ip_network(preferred) if preferred else None,
                )
            )
        except ValueError as error:
            raise InventoryError(f"{what}: {error}") from error
    return tuple(result)


def _guidance(document: Any, asn: int) -> GuidanceSpec:
    base = _default_guidance(asn)
    if document is None:
        return base
    if not isinstance(document, dict):
        raise InventoryError("guidance must be a mapping")
    ipv4 = document.get("ipv4")
    ipv6 = document.get("ipv6")

    def lengths(section: Any, default: tuple[int, ...]) -> tuple[int, ...]:
        if not isinstance(section, dict) or "prefixLengths" not in section:
            return default
        return tuple(int(x) for x in section["prefixLengths"])

    return GuidanceSpec(
        asn_ranges=_int_pairs(document["asnRanges"], "asnRanges")
        if "asnRanges" in document
        else base.asn_ranges,
        vlan_ranges=_int_pairs(document["vlanRanges"], "vlanRanges")
        if "vlanRanges" in document
        else base.vlan_ranges,
        mtu_ranges=_int_pairs(document["mtuRanges"], "mtuRanges")
        if "mtuRanges" in document
        else base.mtu_ranges,
        ipv4=_subnets(ipv4, "ipv4") if ipv4 is not None else base.ipv4,
        ipv4_prefix_lengths=lengths(ipv4, base.ipv4_prefix_lengths),
        ipv6=_subnets(ipv6, "ipv6") if ipv6 else (),
        ipv6_prefix_lengths=lengths(ipv6, base.ipv6_prefix_lengths),
        max_received_bgp_route_prefixes=int(
            document.get("maxReceivedBgpRoutePrefixes", base.max_received_bgp_route_prefixes)
        ),
    )


def _enum(value: Any, prefix: str, known: type[Any], what: str) -> str:
    text = str(value).upper()
    if not text.startswith(prefix):
        text = prefix + text
    if text not in {member.value for member in known}:
        raise InventoryError(f"unknown {what} {value!r}")
    return text


def _explicit_channels(
    provider_id: str, peer: str, env_id: str, ix_id: str, value: Any
) -> tuple[ChannelSpec, ...]:
    if isinstance(value, int):
        return _channels(provider_id, peer, env_id, ix_id, value)
    if not isinstance(value, list) or not value:
        raise InventoryError(f"interconnect {ix_id}: channels must be a count or a list")
    defaults = _channels(provider_id, peer, env_id, ix_id, len(value))
    channels = []
    for default, item in zip(defaults, value, strict=True):
        if not isinstance(item, dict) or "id" not in item:
            raise InventoryError(f"interconnect {ix_id}: each channel needs an id")
        channel_id = str(item["id"])
        channels.append(
            ChannelSpec(
                id=channel_id,
                macsec_manager=str(item.get("macsecManagerProvider", default.macsec_manager)),
                cross_connect_manager=str(
                    item.get("crossConnectManagerProvider", default.cross_connect_manager)
                ),
                admin_state=_enum(
                    item.get("adminState", "ENABLED"), "ADMIN_STATE_", AdminState, "adminState"
                ),
                aggregate_size_gbps=int(item.get("aggregateChannelSizeGbps", 100)),
                member_size_gbps=int(item.get("channelMemberSizeGbps", 100)),
                demarc=str(item.get("demarc", f"{env_id}-{ix_id}-{channel_id}-demarc")),
                # A "device" label: channels naming the same one share a device
                # (resiliency audit); default one device per channel.
                obfuscated_device_id=_device_id(
                    provider_id, env_id, ix_id, str(item.get("device", channel_id))
                ),
            )
        )
    return tuple(channels)


# Long on purpose: the seeded inventory of one environment, as data.
def _environment(provider_id: str, asn: int, document: Any) -> EnvironmentSpec:
    # Long on purpose: one flat read of every environment field, in document order.
    if not isinstance(document, dict) or not document.get("id"):
        raise InventoryError("each environment needs an id")
    env_id = str(document["id"])
    peer = str(document.get("peer") or default_peer(provider_id))
    if peer == provider_id:
        raise InventoryError(f"environment {env_id}: peer must differ from the provider")
    sites_doc = document.get("sites") or {}
    sites = []
    for pid in (provider_id, peer):
        site, name = _DEFAULT_SITES.get(pid, (f"{pid}-site-1", f"{pid} site 1"))
        entry = sites_doc.get(pid) or {}
        sites.append((pid, str(entry.get("site", site)), str(entry.get("displayName", name))))
    sizes = tuple(int(x) for x in document.get("supportedConnectionSizeMbps", DEFAULT_SIZES_MBPS))
    count = int(document.get("interconnectCount", 2))
    max_bw = int(document.get("maxBandwidthMbps", 100000))
    channel_count = int(document.get("channelsPerInterconnect", 4))
    state = _enum(
        document.get("interconnectState", "ACTIVE"),
        "INTERCONNECT_STATE_",
        InterconnectState,
        "interconnect state",
    )
    interconnects: list[InterconnectSpec]
    if "interconnects" in document:
        interconnects = []
        for item in document["interconnects"] or []:
            if not isinstance(item, dict) or not item.get("id"):
                raise InventoryError(f"environment {env_id}: each interconnect needs an id")
            ix_id = str(item["id"])
            interconnects.append(
                InterconnectSpec(
                    id=ix_id,
                    state=_enum(
                        item.get("state", state),
                        "INTERCONNECT_STATE_",
                        InterconnectState,
                        "interconnect state",
                    ),
                    max_bandwidth_mbps=int(item.get("maxBandwidthMbps", max_bw)),
                    channels=_explicit_channels(
                        provider_id, peer, env_id, ix_id, item.get("channels", channel_count)
                    ),
                    extra_sizes_mbps=tuple(
                        int(x) for x in item.get("extraConnectionSizeMbps") or []
                    ),
                )
            )
    else:
        interconnects = [
            InterconnectSpec(
                id=f"ix{n}",
                state=state,
                max_bandwidth_mbps=max_bw,
                channels=_channels(provider_id, peer, env_id, f"ix{n}", channel_count),
            )
            for n in range(1, count + 1)
        ]
    ids = [ix.id for ix in interconnects]
    if len(set(ids)) != len(ids):
        raise InventoryError(f"environment {env_id}: duplicate interconnect ids")
    visibility = _enum(
        document.get("visibility", "PUBLIC"),
        "ENVIRONMENT_VISIBILITY_",
        EnvironmentVisibility,
        "visibility",
    )
    return EnvironmentSpec(
        id=env_id,
        peer=peer,
        sites=tuple(sites),
        sizes_mbps=sizes,
        features=tuple(str(x) for x in document.get("supportedFeatures", [FeatureType.L3_BASE])),
        visibility=visibility,
        deferral_timeout_hours=int(document.get("deferralTimeoutHours", 24)),
        defer_connection_provisioning=bool(document.get("deferConnectionProvisioning", False)),
        accept_deferral=bool(document.get("acceptDeferral", True)),
        api_uri=str(document.get("apiUri", f"https://{provider_id}.simulator.invalid/")),
        guidance=_guidance(document.get("guidance"), asn),
        interconnects=tuple(interconnects),
    )


def _build(provider_id: str, document: dict[str, Any]) -> Inventory:
    asn = int(document.get("asn", default_asn(provider_id)))
    envs_doc = document.get("environments")
    if envs_doc is None:
        envs_doc = [{"id": DEFAULT_ENVIRONMENT}]
    if not isinstance(envs_doc, list):
        raise InventoryError("environments must be a list")
    environments = tuple(_environment(provider_id, asn, item) for item in envs_doc)
    ids = [env.id for env in environments]
    if len(set(ids)) != len(ids):
        raise InventoryError("duplicate environment ids")
    return Inventory(
        provider_id=provider_id,
        display_name=str(document.get("displayName", display_name(provider_id))),
        asn=asn,
        environments=environments,
    )
