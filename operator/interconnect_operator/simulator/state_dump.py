"""``GET /admin/state``: everything dynamic, secrets replaced by fingerprints."""

from __future__ import annotations

import hashlib
from typing import Any, Protocol

from starlette.requests import Request

from interconnect_operator.simulator import views
from interconnect_operator.simulator.runtime import (
    Simulator,
)


def iso(value: float | None) -> str | None:
    return views.timestamp(value).isoformat().replace("+00:00", "Z") if value is not None else None


def _fingerprint(secret: str) -> str:
    # Lets tests compare keys across both sides without the dump holding them.
    return hashlib.sha256(secret.encode()).hexdigest()[:16]


def _interconnects(sim: Simulator, now: float) -> list[dict[str, Any]]:
    store = sim.store
    interconnects = []
    for env in sim.inventory.environments:
        for ix in env.interconnects:
            interconnects.append(
                {
                    "environment": env.id,
                    "interconnect": ix.id,
                    "state": store.interconnect_state_of(env, ix),
                    "maxBandwidthMbps": ix.max_bandwidth_mbps,
                    "allocatedMbps": store.allocated[(env.id, ix.id)],
                    "connections": len(store.connections_by_ix.get((env.id, ix.id), {})),
                    "macSecKeys": store.macsec_count[(env.id, ix.id)],
                    "lastRotationCompletedAt": iso(store.last_rotation_done.get((env.id, ix.id))),
                }
            )
    return interconnects


def _connections(sim: Simulator, now: float) -> list[dict[str, Any]]:
    store = sim.store
    connections = [
        {
            "environment": c.environment,
            "interconnect": c.interconnect,
            "connection": c.id,
            "bandwidthMbps": c.bandwidth_mbps,
            "verificationState": "VERIFICATION_STATE_VERIFIED"
            if store.connection_verified(c, now)
            else "VERIFICATION_STATE_UNVERIFIED",
            "deferProvisioning": c.defer_provisioning,
            "connectionType": c.connection_type,
            "migratedFrom": c.migrated_from,
            "createdAt": iso(c.created_at),
            "notifiedAt": iso(c.notified_at),
            "features": len(store.features.get((c.environment, c.interconnect, c.id), {})),
        }
        for c in store.connections.values()
    ]
    return connections


def _features(sim: Simulator, now: float) -> list[dict[str, Any]]:
    store = sim.store
    features = []
    for feats in store.features.values():
        for f in feats.values():
            l3 = f.config.get("l3BaseConfig", {})
            features.append(
                {
                    "environment": f.environment,
                    "interconnect": f.interconnect,
                    "connection": f.connection,
                    "feature": f.id,
                    "channel": f.channel,
                    "vlanId": f.vlan,
                    "ipv4Subnet": f"{l3.get('ipv4Subnet', '').split('/')[0]}/{f.ipv4_len}",
                    "ipv6Subnet": (
                        f"{l3.get('ipv6Subnet', '').split('/')[0]}/{f.ipv6_len}"
                        if f.ipv6_len is not None
                        else None
                    ),
                    "mtuBytes": l3.get("mtuBytes"),
                    "provisioningState": str(views.feature_state(f, store, now)),
                }
            )
    return features


def _keys(sim: Simulator, now: float) -> list[dict[str, Any]]:
    store = sim.store
    keys = [
        {
            "sharedConnectionUuid": k.uuid,
            "environment": k.environment,
            "bandwidthMbps": k.bandwidth_mbps,
            "state": k.state,
            "issuedAt": iso(k.issued_at),
        }
        for k in store.keys.values()
    ]
    return keys


class _ChannelScoped(Protocol):
    environment: str
    interconnect: str
    channel: str


def _at_channel(record: _ChannelScoped) -> dict[str, Any]:
    """The channel a record belongs to, as the dump names it."""
    return {
        "environment": record.environment,
        "interconnect": record.interconnect,
        "channel": record.channel,
    }


def _macsec(sim: Simulator, now: float) -> list[dict[str, Any]]:
    store = sim.store
    macsec: list[dict[str, Any]] = []
    for ch_key, records in store.macsec.items():
        active = store.active_macsec_key(ch_key, now)
        macsec.extend(
            {
                **_at_channel(r),
                "macSecKey": r.id,
                "startTime": iso(r.start_time),
                "active": r.id == active,
                "cakSha256": _fingerprint(r.cak),
                "cknSha256": _fingerprint(r.ckn),
            }
            for r in records.values()
        )
    return macsec


def _maintenance(sim: Simulator, now: float) -> list[dict[str, Any]]:
    store = sim.store
    maintenance = [
        {
            **_at_channel(m),
            "maintenanceId": m.id,
            "startTime": iso(m.start_time),
            "endTime": iso(m.end_time),
            "emergency": m.emergency,
        }
        for events in store.maintenance.values()
        for m in events.values()
    ]
    return maintenance


def _peer_maintenance(sim: Simulator, now: float) -> list[dict[str, Any]]:
    store = sim.store
    peer_maintenance = [
        {
            **_at_channel(p),
            "receivedAt": iso(p.received_at),
            "events": p.events,
        }
        for p in store.peer_maintenance.values()
    ]
    return peer_maintenance


def _rotation_requests(sim: Simulator, now: float) -> list[dict[str, Any]]:
    store = sim.store
    rotation_requests = [
        {
            **_at_channel(r),
            "requestedAt": iso(r.requested_at),
            "reason": r.reason,
        }
        for requests in store.rotation_requests.values()
        for r in requests
    ]
    return rotation_requests


def _issues(sim: Simulator, now: float) -> list[dict[str, Any]]:
    store = sim.store
    issues = [
        {
            "caller": i.caller,
            "issue": i.id,
            "state": i.state,
            "title": i.data.get("title"),
            "comments": len(i.comments),
        }
        for by_caller in store.issues.values()
        for i in by_caller.values()
    ]
    return issues


async def get_state(sim: Simulator, request: Request) -> Any:
    """Everything dynamic, secrets replaced by fingerprints (for invariant checks)."""
    now = sim.now()
    return {
        "provider": sim.provider_id,
        "now": iso(now),
        "interconnects": _interconnects(sim, now),
        "connections": _connections(sim, now),
        "features": _features(sim, now),
        "activationKeys": _keys(sim, now),
        "macSecKeys": _macsec(sim, now),
        "maintenance": _maintenance(sim, now),
        "peerMaintenance": _peer_maintenance(sim, now),
        "rotationRequests": _rotation_requests(sim, now),
        "issues": _issues(sim, now),
    }
