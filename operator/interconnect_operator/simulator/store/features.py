"""Features of the simulated provider: guidance checks and reservations (P8-P15, P20)."""

from __future__ import annotations

import ipaddress
from typing import Any

from interconnect_operator.api.models import (
    AdminState,
    FeatureType,
)
from interconnect_operator.api.names import (
    InvalidResourceName,
    parse_name,
)
from interconnect_operator.simulator.inventory import (
    ChannelSpec,
    EnvironmentSpec,
    GuidanceSpec,
    InterconnectSpec,
)
from interconnect_operator.simulator.store.base import StoreBase
from interconnect_operator.simulator.store.records import (
    MAX_ASN,
    MIN_VLAN,
    RESERVED_ASNS,
    FeatureFailureRecord,
    FeatureRecord,
    ParsedL3,
    SimError,
    provider_id,
)


class FeatureRules(StoreBase):
    """Create, validate, delete and lose features; serialise reservations per channel."""

    # ----------------------------------------------------------- features (P8-P15, P20)

    def feature(
        self, caller: str, environment: str, interconnect: str, connection: str, feature: str
    ) -> FeatureRecord:
        """A feature, else 404."""
        self.connection(caller, environment, interconnect, connection)
        record = self.features.get((environment, interconnect, connection), {}).get(feature)
        if record is None:
            raise SimError(404, f"feature {feature!r} not found")
        return record

    def create_feature(
        self,
        caller: str,
        environment: str,
        interconnect: str,
        connection: str,
        feature_id: str,
        *,
        channel_name: str | None,
        config: dict[str, Any] | None,
        now: float,
    ) -> FeatureRecord:
        """P9-P11: accept a feature in full or refuse it in full.

        400 when it does not follow this provider's guidance, 409 when a
        VLAN or subnet is taken on the channel, or the (connection, channel)
        already has an L3 base feature.
        """
        record = self.connection(caller, environment, interconnect, connection)
        env, ix = self.interconnect(caller, environment, interconnect)
        if not feature_id or "/" in feature_id:
            raise SimError(400, "featureId is required")
        channel = self._feature_channel(caller, env, ix, channel_name)
        if not config:
            raise SimError(400, "featureConfig is required")
        feature_type = config.get("featureType") or FeatureType.L3_BASE
        if feature_type not in env.features or feature_type != FeatureType.L3_BASE:
            raise SimError(400, f"feature type {feature_type!r} is not supported")
        l3 = config.get("l3BaseConfig")
        if not isinstance(l3, dict):
            raise SimError(400, "l3BaseConfig is required")
        parsed = self._validate_l3(caller, env.guidance, l3)
        conn_key = (environment, interconnect, connection)
        existing = self.features.get(conn_key, {})
        if feature_id in existing:
            raise SimError(409, f"feature {feature_id!r} already exists")
        if (*conn_key, channel.id) in self.l3_by_channel:
            raise SimError(409, "P11: this connection already has an L3 base feature there")
        self._check_free_on_channel(environment, interconnect, channel.id, parsed)
        feature = FeatureRecord(
            environment=environment,
            interconnect=interconnect,
            connection=connection,
            id=feature_id,
            channel=channel.id,
            feature_type=str(feature_type),
            provisioned_at=now,
            vlan=parsed.vlan,
            ipv4_net=parsed.ipv4_net,
            ipv4_len=parsed.ipv4_len,
            ipv6_net=parsed.ipv6_net,
            ipv6_len=parsed.ipv6_len,
            config=config,
        )
        self._index_feature(feature)
        record.features_changed_seq = self._next_seq()
        self._put("feature", self._conn_id(feature), feature)
        self._put("connection", self._conn_id(record), record)
        return feature

    def _check_free_on_channel(
        self, environment: str, interconnect: str, channel_id: str, parsed: ParsedL3
    ) -> None:
        """P10: 409 when the VLAN or a subnet is already used on the channel."""
        index = self.channel_index.get((environment, interconnect, channel_id))
        if index is not None:
            if parsed.vlan in index.vlans:
                raise SimError(409, f"P10: VLAN {parsed.vlan} is in use on {channel_id}")
            if index.ipv4.overlap(parsed.ipv4_net, parsed.ipv4_len) is not None:
                raise SimError(409, f"P10: the IPv4 subnet overlaps one in use on {channel_id}")
            if (
                parsed.ipv6_net is not None
                and parsed.ipv6_len is not None
                and index.ipv6.overlap(parsed.ipv6_net, parsed.ipv6_len) is not None
            ):
                raise SimError(409, f"P10: the IPv6 subnet overlaps one in use on {channel_id}")

    def _feature_channel(
        self, caller: str, env: EnvironmentSpec, ix: InterconnectSpec, name: str | None
    ) -> ChannelSpec:
        if not name:
            raise SimError(400, "channel is required")
        try:
            parsed = parse_name(name)
        except InvalidResourceName:
            raise SimError(400, "channel is not a channel resource name") from None
        if (
            parsed.kind != "channel"
            or parsed.provider != caller
            or parsed.environment != env.id
            or parsed.interconnect != ix.id
            or parsed.channel is None
        ):
            raise SimError(400, "channel must be a channel of this connection's interconnect")
        channel = ix.channel(parsed.channel)
        if channel is None:
            raise SimError(400, f"channel {parsed.channel!r} does not exist")
        if channel.admin_state != AdminState.ENABLED:
            raise SimError(400, f"channel {channel.id!r} is administratively disabled")
        return channel

    def _validate_l3(self, caller: str, guidance: GuidanceSpec, l3: dict[str, Any]) -> ParsedL3:
        """P9/P10 400 checks: the feature must follow this provider's guidance."""
        vlan = l3.get("vlanId")
        if not isinstance(vlan, int) or isinstance(vlan, bool):
            raise SimError(400, "vlanId is required")
        if vlan < MIN_VLAN:
            raise SimError(400, f"P9: VLAN {vlan} is reserved (1024 and lower)")
        if guidance.vlan_ranges and not any(a <= vlan <= b for a, b in guidance.vlan_ranges):
            raise SimError(400, f"P9: VLAN {vlan} is outside the guidance ranges")
        mtu = l3.get("mtuBytes")
        if not isinstance(mtu, int) or isinstance(mtu, bool):
            raise SimError(400, "mtuBytes is required")
        if guidance.mtu_ranges and not any(a <= mtu <= b for a, b in guidance.mtu_ranges):
            raise SimError(400, f"P9: MTU {mtu} is outside the guidance ranges")
        ipv4 = self._subnet(
            l3.get("ipv4Subnet"),
            l3.get("ipv4SubnetPrefixLength"),
            4,
            guidance.ipv4,
            guidance.ipv4_prefix_lengths,
            required=True,
        )
        assert ipv4 is not None
        ipv6 = self._subnet(
            l3.get("ipv6Subnet"),
            l3.get("ipv6SubnetPrefixLength"),
            6,
            guidance.ipv6,
            guidance.ipv6_prefix_lengths,
            required=False,
        )
        self._validate_bgp(caller, guidance, l3.get("providerBgpConfigs"), ipv4, ipv6)
        return ParsedL3(
            vlan=vlan,
            ipv4_net=int(ipv4.network_address),
            ipv4_len=ipv4.prefixlen,
            ipv6_net=int(ipv6.network_address) if ipv6 is not None else None,
            ipv6_len=ipv6.prefixlen if ipv6 is not None else None,
        )

    @staticmethod
    # Long on purpose: one branch per subnet rule of the spec.
    def _subnet(  # noqa: PLR0912
        text: Any,
        length: Any,
        version: int,
        guidance: tuple[Any, ...],
        allowed_lengths: tuple[int, ...],
        *,
        required: bool,
    ) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
        label = f"ipv{version}Subnet"
        if text is None or text == "":
            if required:
                raise SimError(400, f"{label} is required")
            return None
        if not isinstance(text, str):
            raise SimError(400, f"{label} must be a string")
        if length is not None and (not isinstance(length, int) or isinstance(length, bool)):
            raise SimError(400, f"{label}PrefixLength must be an integer")
        spelled = text if "/" in text else f"{text}/{length}" if length is not None else None
        if spelled is None:
            raise SimError(400, f"{label}PrefixLength is required")
        try:
            network = ipaddress.ip_network(spelled, strict=True)
        except ValueError:
            raise SimError(400, f"P9: {label} is not a network address with its mask") from None
        if network.version != version:
            raise SimError(400, f"{label} is not an IPv{version} subnet")
        if length is not None and network.prefixlen != length:
            raise SimError(400, f"{label} and its prefix length disagree")
        if allowed_lengths and network.prefixlen not in allowed_lengths:
            raise SimError(400, f"P9: /{network.prefixlen} is not an allowed prefix length")
        if guidance:
            inside = [
                g for g in guidance if g.include.version == version and network.subnet_of(g.include)
            ]
            if not inside:
                raise SimError(400, f"P9: {label} is outside every include subnet")
            for entry in inside:
                for excluded in entry.exclude:
                    if excluded.version == version and network.overlaps(excluded):
                        raise SimError(400, f"P9: {label} overlaps an excluded subnet")
        return network

    # Long on purpose: one branch per BGP rule of the spec.
    def _validate_bgp(  # noqa: PLR0912
        self,
        caller: str,
        guidance: GuidanceSpec,
        configs: Any,
        ipv4: ipaddress.IPv4Network | ipaddress.IPv6Network,
        ipv6: ipaddress.IPv4Network | ipaddress.IPv6Network | None,
    ) -> None:
        if not isinstance(configs, list) or not configs:
            raise SimError(400, "providerBgpConfigs is required")
        by_provider: dict[str, dict[str, Any]] = {}
        for item in configs:
            if not isinstance(item, dict):
                raise SimError(400, "providerBgpConfigs entries must be objects")
            provider = provider_id(item.get("provider"))
            if provider in by_provider:
                raise SimError(400, "providerBgpConfigs needs one entry per provider")
            by_provider[provider] = item
        me = self.inventory.provider_id
        for provider in (me, caller):
            if provider not in by_provider:
                raise SimError(400, f"providerBgpConfigs has no entry for {provider}")
        hosts: set[str] = set()
        for provider in (me, caller):
            item = by_provider[provider]
            asn = item.get("asn")
            if not isinstance(asn, int) or isinstance(asn, bool):
                raise SimError(400, f"the ASN of {provider} is required")
            if provider == me:
                if guidance.asn_ranges and not any(a <= asn <= b for a, b in guidance.asn_ranges):
                    raise SimError(400, f"P9: ASN {asn} is outside {me}'s guidance")
            elif not 1 <= asn <= MAX_ASN or asn in RESERVED_ASNS:
                raise SimError(400, f"P9: ASN {asn} of {provider} is not usable")
            host = self._host(item.get("hostIpv4"), ipv4, f"hostIpv4 of {provider}", True)
            hosts.add(str(host))
            if ipv6 is not None:
                self._host(item.get("hostIpv6"), ipv6, f"hostIpv6 of {provider}", False)
        if len(hosts) != 2:
            raise SimError(400, "both providers use the same hostIpv4")

    @staticmethod
    def _host(
        text: Any,
        network: ipaddress.IPv4Network | ipaddress.IPv6Network,
        label: str,
        required: bool,
    ) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
        if text is None or text == "":
            if required:
                raise SimError(400, f"{label} is required")
            return None
        # feature.yaml: "IPv4 address hosting BGP session" - an address, so a
        # strict provider refuses prefix notation ("169.254.0.1/30").
        try:
            address = ipaddress.ip_address(str(text))
        except ValueError:
            raise SimError(400, f"{label} is not an IP address (no prefix length)") from None
        if address not in network:
            raise SimError(400, f"{label} is outside the feature's subnet")
        if (
            network.version == 4
            and network.prefixlen <= 30
            and address
            in (
                network.network_address,
                network.broadcast_address,
            )
        ):
            raise SimError(400, f"{label} is the subnet's network or broadcast address")
        return address

    def delete_feature(
        self,
        caller: str,
        environment: str,
        interconnect: str,
        connection: str,
        feature: str,
        *,
        now: float,
    ) -> None:
        """P20: delete one feature; its VLAN and subnets are free again."""
        record = self.feature(caller, environment, interconnect, connection, feature)
        self._drop_feature(record, now)

    def _drop_feature(self, record: FeatureRecord, now: float) -> None:
        conn_key = (record.environment, record.interconnect, record.connection)
        self._unindex_feature(record)
        del self.features[conn_key][record.id]
        self._delete("feature", self._conn_id(record))
        conn = self.connections.get(conn_key)
        if conn is not None:
            conn.features_changed_seq = self._next_seq()
            self._put("connection", self._conn_id(conn), conn)

    def lose_feature(
        self, name: str, mode: str, now: float, failure: FeatureFailureRecord | None = None
    ) -> FeatureRecord:
        """Admin: the provider loses a feature (``delete``), must finalise it
        again (``pending``, P15) or gives up on it (``failed``, feature-recovery
        draft: PROVISIONING_STATE_FAILED with ``failure`` as its failureInfo)."""
        try:
            parsed = parse_name(name)
        except InvalidResourceName:
            raise SimError(400, "name is not a feature resource name") from None
        if (
            parsed.kind != "feature"
            or parsed.environment is None
            or parsed.interconnect is None
            or parsed.connection is None
            or parsed.feature is None
        ):
            raise SimError(400, "name is not a feature resource name")
        record = self.features.get(
            (parsed.environment, parsed.interconnect, parsed.connection), {}
        ).get(parsed.feature)
        if record is None:
            raise SimError(404, "feature not found")
        if mode == "delete":
            self._drop_feature(record, now)
        elif mode in ("pending", "failed"):
            if mode == "failed" and failure is None:
                raise SimError(400, "mode 'failed' needs a failure")
            record.provisioned_at = now
            record.failure = failure if mode == "failed" else None
            self._put("feature", self._conn_id(record), record)
            conn = self.connections[(record.environment, record.interconnect, record.connection)]
            conn.features_changed_seq = self._next_seq()
            self._put("connection", self._conn_id(conn), conn)
        else:
            raise SimError(400, "mode must be 'delete', 'pending' or 'failed'")
        return record
