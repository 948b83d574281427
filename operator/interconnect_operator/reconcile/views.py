"""Per-link reads of a pool snapshot, and provider answers turned into protocol views.

The link reconciler asks these questions of the bulk snapshot (where a
link's connections are, whether its features are FINAL, which key it was
created with) instead of calling the providers, and converts a
GenerateFeatureGuidance answer into the ``protocol.types`` views that
allocation reads.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import replace

from interconnect_operator.api import models
from interconnect_operator.protocol.types import (
    AdminState,
    GuidanceView,
    IntRange,
    ProvisioningState,
    Secret,
    Side,
    SubnetGuidance,
    VerificationState,
)
from interconnect_operator.reconcile.snapshot import PoolSnapshot


def held_anywhere(snapshot: PoolSnapshot, uuid: str) -> bool:
    """Whether either side holds a connection of ``uuid``."""
    return any(uuid in by_id for side in Side for by_id in snapshot.side(side).connections.values())


def where_held(snapshot: PoolSnapshot | None, uuid: str) -> str | None:
    """The interconnect holding ``uuid``'s connection, the negotiator's side first (P5)."""
    if snapshot is None:
        return None
    for side in Side:
        held = sorted(ix for ix, by_id in snapshot.side(side).connections.items() if uuid in by_id)
        if held:
            return held[0]
    return None


def creation_key(snapshot: PoolSnapshot, uuid: str) -> Secret | None:
    """The activation key a connection of ``uuid`` was created with (after a restart).

    The negotiator's own connection carries the key it was created with,
    and it was created only after the responder confirmed it (P3, P5).
    """
    for side in Side:
        for by_id in snapshot.side(side).connections.values():
            connection = by_id.get(uuid)
            if connection is not None and connection.activation_key is not None:
                value = connection.activation_key.get_secret_value()
                if value:
                    return Secret(value)
    return None


def finality(snapshot: PoolSnapshot, interconnect: str, uuid: str) -> dict[Side, list[bool]]:
    """Per side, whether each of the link's features on ``interconnect`` is FINAL (P13)."""
    return {
        side: [
            (f.provisioning_state or "") == ProvisioningState.FINAL.value
            for f in snapshot.side(side).features.get(interconnect, {}).get(uuid, {}).values()
        ]
        for side in Side
    }


def unverified(snapshot: PoolSnapshot, interconnect: str, uuid: str) -> dict[Side, bool]:
    """Per side, whether the link's connection there exists and is not VERIFIED (P14)."""
    out: dict[Side, bool] = {}
    for side in Side:
        connection = snapshot.side(side).connections.get(interconnect, {}).get(uuid)
        out[side] = (
            connection is not None
            and connection.verification_state != VerificationState.VERIFIED.value
        )
    return out


def mark_verified(snapshot: PoolSnapshot, interconnect: str, uuid: str) -> None:
    """Record VERIFIED on both sides' connections (until the next refresh says otherwise).

    The record is replaced in this snapshot's dict, never changed in place:
    records are shared with the reader's page cache (reconcile.reader), and
    an edit in place would show in the next refresh as if the provider said it.
    """
    for side in Side:
        view = snapshot.side(side)
        connection = view.connections.get(interconnect, {}).get(uuid)
        if connection is not None:
            view.file_connection(
                interconnect,
                uuid,
                replace(connection, verification_state=VerificationState.VERIFIED.value),
            )
    snapshot.invalidate(interconnect, usage=False, capacity=False, uuid=uuid)


def ready_inputs(snapshot: PoolSnapshot, uuid: str) -> tuple[object, ...]:
    """Everything of the snapshot a Ready link's decision and status read, as one value.

    Per side, each interconnect holding the link's connection: the connection
    record, its features by channel, and the interconnect's channels (admin
    state, device: disabled channels and the resiliency audit); the
    environment's deferral settings (P22-P23). Records are immutable and
    shared while a provider's pages are unchanged, so comparing two of these
    is cheap, and equal values mean the decision would read the same data.
    Guidance is not part of it: a Ready link keeps none (its channels come
    from the snapshot).
    """
    sides: list[tuple[object, ...]] = []
    created_deferred = False
    for view in (snapshot.negotiator, snapshot.responder):
        held = []
        for ix_id in sorted(view.connections):
            record = view.connections[ix_id].get(uuid)
            if record is None:
                continue
            # ``deferral``'s reading of the same records, without a second scan:
            # this runs for every Ready link at every confirmation.
            created_deferred = created_deferred or record.deferred
            features = view.features.get(ix_id, {}).get(uuid, {})
            held.append(
                (
                    ix_id,
                    record,
                    # By channel id (the keys are unique: the values are never compared).
                    tuple(sorted(features.items())),
                    tuple(view.channels.get(ix_id, ())),
                )
            )
        sides.append((view.provider, tuple(held)))
    deferred, timeout = _deferral(snapshot, created_deferred=created_deferred)
    return (*sides, deferred, timeout.total_seconds() if timeout is not None else None)


def deferral(snapshot: PoolSnapshot | None, uuid: str) -> tuple[bool, dt.timedelta | None]:
    """P22: whether this link is deferred to the peer, and the P23 timeout.

    Deferred when the environment demands it, or when the link's connection
    was created deferred (so a restart keeps the role it had). The flag is
    sent to the peer only (P22), but read on either side and in either
    spelling (``deferProvisioning``, ``deferConnection``).
    """
    if snapshot is None:
        return False, None
    created_deferred = any(
        by_id[uuid].deferred
        for view in (snapshot.negotiator, snapshot.responder)
        for by_id in view.connections.values()
        if uuid in by_id
    )
    return _deferral(snapshot, created_deferred=created_deferred)


def _deferral(
    snapshot: PoolSnapshot, *, created_deferred: bool
) -> tuple[bool, dt.timedelta | None]:
    """``deferral`` given whether the link's connection was created deferred."""
    env = snapshot.negotiator.environment or snapshot.responder.environment
    demanded = bool(env is not None and env.defer_connection_provisioning)
    hours = env.deferral_timeout_hours if env is not None else None
    timeout = dt.timedelta(hours=hours) if hours else None
    return demanded or created_deferred, timeout


def offered_sizes(snapshot: PoolSnapshot) -> tuple[int, ...]:
    """The connection sizes the environment sells (P1), as the responder reports them."""
    env = snapshot.responder.environment or snapshot.negotiator.environment
    return tuple(env.supported_connection_size_mbps or ()) if env is not None else ()


def guidance_views(answer: models.GenerateFeatureGuidanceResponse) -> dict[str, GuidanceView]:
    """Convert a GenerateFeatureGuidance answer into protocol views keyed by channel id."""
    result: dict[str, GuidanceView] = {}
    for entry in answer.feature_guidance or []:
        if entry.channel is None:
            continue
        channel = entry.channel.rsplit("/", 1)[-1]
        l3 = entry.l3_base_guidance
        if l3 is None:
            result[channel] = GuidanceView(
                channel=channel, admin_state=AdminState(entry.channel_admin_state or "UNKNOWN")
            )
            continue
        result[channel] = GuidanceView(
            channel=channel,
            admin_state=AdminState(entry.channel_admin_state or "ADMIN_STATE_ENABLED"),
            vlan_ranges=_ranges(l3.vlan_ranges),
            ipv4_subnets=_subnets(l3.ipv4_subnet_guidance),
            ipv6_subnets=_subnets(l3.ipv6_subnet_guidance),
            ipv4_prefix_lengths=tuple(l3.ipv4_allowed_subnet_prefix_lengths or ()),
            ipv6_prefix_lengths=tuple(l3.ipv6_allowed_subnet_prefix_lengths or ()),
            mtu_ranges=_ranges(l3.mtu_ranges),
            asn_ranges=_ranges(l3.asn_ranges),
            max_received_bgp_prefixes=l3.max_received_bgp_route_prefixes,
        )
    return result


def _ranges(
    ranges: list[models.VLANRange] | list[models.MTURange] | list[models.ASNRange] | None,
) -> tuple[IntRange, ...]:
    out = []
    for r in ranges or []:
        if r.start is None or r.stop is None or r.start > r.stop:
            continue
        out.append(IntRange(r.start, r.stop))
    return tuple(out)


def _subnets(guidance: list[models.SubnetGuidance] | None) -> tuple[SubnetGuidance, ...]:
    out = []
    for g in guidance or []:
        if not g.include_subnet:
            continue
        try:
            out.append(
                SubnetGuidance(
                    include=ipaddress.ip_network(g.include_subnet, strict=False),
                    excludes=tuple(
                        ipaddress.ip_network(x, strict=False) for x in g.exclude_subnets or ()
                    ),
                    preferred=ipaddress.ip_network(g.preferred_subnet, strict=False)
                    if g.preferred_subnet
                    else None,
                )
            )
        except ValueError:
            continue
    return tuple(out)
