"""A CapacityPool's ``.status`` body: from a refresh report (capacity,
interconnects, channels, conditions) or from an error, and the Deleting
condition of a pool whose links remain. Pure, like ``k8s.status`` (the link
bodies and the shared comparison), which it builds on."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from interconnect_operator.k8s.status import format_time, merged_conditions
from interconnect_operator.protocol.conditions import (
    Condition,
    ConditionStatus,
)
from interconnect_operator.protocol.resiliency import resiliency
from interconnect_operator.protocol.types import InterconnectState
from interconnect_operator.reconcile.channels import ChannelHealth
from interconnect_operator.reconcile.pool import PoolReport


def pool_status_body(
    report: PoolReport,
    *,
    old_status: Mapping[str, Any] | None,
    generation: int,
    link_count: int,
    now: dt.datetime,
    channels: Mapping[tuple[str, str], ChannelHealth] | None = None,
    remaining_links: Sequence[str] | None = None,
) -> dict[str, Any]:
    """The ``.status`` of a CapacityPool after a refresh.

    ``remaining_links``: for a pool being deleted, the links that still use it
    (its deletion waits for them: the ``Deleting`` condition names them).
    """
    gen = generation
    reachable = bool(report.reachable) and all(report.reachable.values())
    conds = pool_conditions(report, gen)
    if remaining_links is not None:
        conds.append(deletion_condition(remaining_links, gen))
    body: dict[str, Any] = {
        "observedGeneration": gen,
        "conditions": merged_conditions(old_status, conds, now),
        "interconnects": [
            {
                "id": ix.id,
                "state": ix.state,
                "maxMbps": ix.max_mbps,
                "allocatedMbps": ix.allocated_mbps,
                "availableMbps": ix.available_mbps,
                "channels": [
                    _pool_channel(ix.id, c, a, m, (channels or {}).get((ix.id, c)))
                    for c, a, m in ix.channels
                ],
            }
            for ix in report.interconnects
        ],
        "supportedSizesMbps": list(report.supported_sizes_mbps),
        "availableMbps": report.available_mbps,
        "linkCount": link_count,
        "disagreements": [
            {
                "kind": kind,
                "id": ident,
                **({"interconnect": ix} if ix else {}),
                "missingOn": missing,
            }
            for kind, ident, ix, missing in report.disagreements
        ],
    }
    if not reachable and old_status:
        # Keep the last known capacity rather than showing an empty pool.
        for key in ("interconnects", "supportedSizesMbps", "availableMbps"):
            if key in old_status:
                body[key] = old_status[key]
    return body


#: How many remaining links a pool's Deleting condition names (the count is always given).
NAMED_LINKS = 10


def deletion_condition(remaining: Sequence[str], gen: int) -> Condition:
    """A pool being deleted: True while links still use it (they keep it, with its finalizer)."""
    if not remaining:
        return Condition(
            "Deleting", ConditionStatus.TRUE, "NoLinksLeft", "no link uses the pool", gen
        )
    shown = ", ".join(sorted(remaining)[:NAMED_LINKS])
    more = len(remaining) - NAMED_LINKS
    tail = f" and {more} more" if more > 0 else ""
    message = (
        f"deletion waits for {len(remaining)} link(s) that use the pool: {shown}{tail}; "
        "it completes once they are deleted"
    )
    return Condition("Deleting", ConditionStatus.TRUE, "LinksRemain", message, gen)


def _stalled(stalled: bool, reason: str, message: str, gen: int) -> Condition:
    if stalled:
        return Condition("Stalled", ConditionStatus.TRUE, reason, message, gen)
    return Condition("Stalled", ConditionStatus.FALSE, "NotStalled", "", gen)


#: What an SSL library says when the peer and we share no protocol version.
_TLS_VERSION_REFUSED = (
    "TLSV1_ALERT_PROTOCOL_VERSION",
    "UNSUPPORTED_PROTOCOL",
    "WRONG_VERSION_NUMBER",
    "NO_PROTOCOLS_AVAILABLE",
)


def pool_tls(report: PoolReport, gen: int) -> Condition:
    """TlsCompliant: TLS 1.3 or newer toward both providers (upstream governance refresh).

    False when a provider refused the handshake at our floor
    (``TlsVersionRefused``: it offers only older versions), or when the floor
    toward a provider was lowered to 1.2 (``TlsFloorLowered``).
    """
    refused = sorted(
        provider
        for provider, error in report.errors.items()
        if any(marker in error.upper() for marker in _TLS_VERSION_REFUSED)
    )
    floors = dict(report.tls_floors)
    if refused:
        detail = ", ".join(f"{p} (floor TLS {floors.get(p, '1.3')})" for p in refused)
        return Condition(
            "TlsCompliant",
            ConditionStatus.FALSE,
            "TlsVersionRefused",
            f"no common TLS version with {detail}: the provider offers only older versions",
            gen,
        )
    lowered = sorted(p for p, version in floors.items() if version != "1.3")
    if lowered:
        return Condition(
            "TlsCompliant",
            ConditionStatus.FALSE,
            "TlsFloorLowered",
            "TLS 1.2 accepted toward " + ", ".join(lowered) + " (tls.minVersion); the "
            "governance between providers asks for TLS 1.3 or newer",
            gen,
        )
    return Condition(
        "TlsCompliant",
        ConditionStatus.TRUE,
        "Tls13",
        "TLS 1.3 or newer toward both providers",
        gen,
    )


def pool_resilient(report: PoolReport, gen: int) -> Condition:
    """Resilient: every interconnect's channels on distinct devices at both providers."""
    verdicts = [(ix.id, resiliency(ix.device_spread)) for ix in report.interconnects]
    shared = [(ix, v) for ix, v in verdicts if v.resilient is False]
    unknown = [ix for ix, v in verdicts if v.resilient is None]
    if shared:
        status, reason = ConditionStatus.FALSE, shared[0][1].reason
        message = "; ".join(f"{ix}: {v.message}" for ix, v in shared)
    elif unknown or not verdicts:
        status, reason = ConditionStatus.UNKNOWN, "DeviceUnknown"
        message = "no device ids for: " + (", ".join(unknown) or "any interconnect")
    else:
        status, reason = ConditionStatus.TRUE, "DistinctDevices"
        message = f"{len(verdicts)} interconnects, each on distinct devices at both providers"
    return Condition("Resilient", status, reason, message[:1024], gen)


def pool_conditions(report: PoolReport, gen: int) -> list[Condition]:
    """Ready, ProvidersReachable, InSync and (False) Stalled of a pool from one refresh."""
    unreachable = sorted(p for p, ok in report.reachable.items() if not ok)
    reachable = bool(report.reachable) and not unreachable
    conds = [
        Condition(
            "ProvidersReachable",
            ConditionStatus.TRUE if reachable else ConditionStatus.FALSE,
            "Reachable" if reachable else "ProviderUnreachable",
            "both providers answered"
            if reachable
            else "; ".join(f"{p}: {report.errors.get(p, 'no answer')}" for p in unreachable)[:1024],
            gen,
        ),
        Condition(
            "InSync",
            ConditionStatus.TRUE if not report.disagreements else ConditionStatus.FALSE,
            "InSync" if not report.disagreements else "ViewsDisagree",
            "both providers list the same interconnects and channels"
            if not report.disagreements
            else f"{len(report.disagreements)} objects listed by one side only",
            gen,
        ),
        # A pool that refreshes is never stalled (clears a Stalled of an earlier spec).
        _stalled(False, "", "", gen),
    ]
    if report.customer:
        conds.insert(0, _customer_pool_ready(report, reachable, unreachable, gen))
        return conds
    conds.append(pool_resilient(report, gen))
    conds.append(pool_tls(report, gen))
    ready = reachable and any(
        ix.state == InterconnectState.ACTIVE.value for ix in report.interconnects
    )
    conds.insert(
        0,
        Condition(
            "Ready",
            ConditionStatus.TRUE if ready else ConditionStatus.FALSE,
            "Ready"
            if ready
            else ("ProviderUnreachable" if not reachable else "NoActiveInterconnect"),
            f"{report.available_mbps} Mbps available"
            if ready
            else (
                "providers unreachable: " + ", ".join(unreachable)
                if not reachable
                else "no interconnect is ACTIVE on both sides"
            ),
            gen,
        ),
    )
    return conds


def _customer_pool_ready(
    report: PoolReport, reachable: bool, unreachable: Sequence[str], gen: int
) -> Condition:
    """A pool on the clouds' customer APIs: Ready when both answer and share a bandwidth
    (their capacity is the clouds' own and not visible)."""
    sizes = ", ".join(str(s) for s in report.supported_sizes_mbps)
    if not reachable:
        reason, message = "ProviderUnreachable", "providers unreachable: " + ", ".join(unreachable)
    elif not sizes:
        reason, message = "NoCommonBandwidth", "the two clouds offer no bandwidth in common"
    else:
        reason, message = "Ready", f"both clouds answered; bandwidths offered by both: {sizes} Mbps"
    ready = reason == "Ready"
    status = ConditionStatus.TRUE if ready else ConditionStatus.FALSE
    return Condition("Ready", status, reason, message, gen)


def _pool_channel(
    interconnect: str,
    channel: str,
    admin_state: str | None,
    manager: str | None,
    health: ChannelHealth | None,
) -> dict[str, Any]:
    out: dict[str, Any] = {"id": channel}
    if admin_state:
        out["adminState"] = admin_state
    if health is not None and health.macsec_manager:
        manager = health.macsec_manager
    if manager:
        out["macsecManager"] = manager
    if health is not None and health.windows:
        out["maintenance"] = [
            {
                "provider": "either",
                "maintenanceId": mid,
                "startTime": format_time(start),
                "endTime": format_time(end),
            }
            for mid, start, end in health.windows
        ]
    return out


def pool_status_error(
    *,
    old_status: Mapping[str, Any] | None,
    generation: int,
    reason: str,
    message: str,
    now: dt.datetime,
    reachable: ConditionStatus = ConditionStatus.UNKNOWN,
    stalled: bool = False,
) -> dict[str, Any]:
    """A pool that cannot be set up (bad credentials, missing secret), or whose loop
    failed (``reachable`` False: the providers could not be worked with).

    ``stalled``: the operator will not try again until the pool's spec changes
    (Stalled True: kstatus reads Failed); otherwise it keeps retrying.
    """
    conds = [
        Condition("Ready", ConditionStatus.FALSE, reason, message, generation),
        Condition("ProvidersReachable", reachable, reason, message, generation),
        _stalled(stalled, reason, message, generation),
    ]
    old = dict(old_status or {})
    old.update(
        {
            "observedGeneration": generation,
            "conditions": merged_conditions(old_status, conds, now),
        }
    )
    return old
