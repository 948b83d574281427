"""Spec operations on a channel's maintenance and MACsec keys (P24-P30)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from interconnect_operator.api.models import (
    GetMaintenanceEventsResponse,
    ListMacSecKeysResponse,
    MacSecKey,
    MacSecKeyRotationRequest,
    NotifyMaintenanceRequest,
    to_wire,
)
from interconnect_operator.simulator import views
from interconnect_operator.simulator.operations.paths import channel_path
from interconnect_operator.simulator.runtime import (
    Simulator,
    path_param,
    wire,
)


async def notify_maintenance(sim: Simulator, request: Request, caller: str) -> Any:
    body = await sim.parse(request, NotifyMaintenanceRequest)
    events = [to_wire(event) for event in body.events or []]
    now = sim.now()
    await sim.mutate(
        lambda: sim.store.notify_maintenance(caller, *channel_path(request), events=events, now=now)
    )
    return {}


async def get_maintenance_events(sim: Simulator, request: Request, caller: str) -> Any:
    events = sim.store.maintenance_events(caller, *channel_path(request), sim.now())
    return wire(GetMaintenanceEventsResponse(events=[views.maintenance_view(e) for e in events]))


async def request_rotation(sim: Simulator, request: Request, caller: str) -> Any:
    body = await sim.parse(request, MacSecKeyRotationRequest)
    now = sim.now()
    await sim.mutate(
        lambda: sim.store.request_rotation(
            caller, *channel_path(request), reason=body.reason or "", now=now
        )
    )
    return {}


# ----------------------------------------------------------------- MACsec keys


async def create_macsec_key(sim: Simulator, request: Request, caller: str) -> Any:
    body = await sim.parse(request, MacSecKey)
    key_id = request.query_params.get("macSecKeyId", "")
    now = sim.now()
    cak = body.cak.get_secret_value() if body.cak else None
    ckn = body.ckn.get_secret_value() if body.ckn else None
    path = channel_path(request)
    record = await sim.mutate(
        lambda: sim.store.create_macsec_key(caller, *path, key_id, cak=cak, ckn=ckn, now=now)
    )
    active = sim.store.active_macsec_key(path, now) == record.id
    return wire(views.macsec_view(caller, record, active))


async def list_macsec_keys(sim: Simulator, request: Request, caller: str) -> Any:
    path = channel_path(request)
    sim.store.channel(caller, *path)
    now = sim.now()
    active = sim.store.active_macsec_key(path, now)
    records = sorted(sim.store.macsec.get(path, {}).values(), key=lambda r: r.id)
    return wire(
        ListMacSecKeysResponse(
            mac_sec_keys=[views.macsec_view(caller, r, r.id == active) for r in records]
        )
    )


async def get_macsec_key(sim: Simulator, request: Request, caller: str) -> Any:
    path = channel_path(request)
    record = sim.store.macsec_key(caller, *path, path_param(request, "macSecKey"))
    active = sim.store.active_macsec_key(path, sim.now()) == record.id
    return wire(views.macsec_view(caller, record, active))


async def delete_macsec_key(sim: Simulator, request: Request, caller: str) -> Any:
    now = sim.now()
    key_id = path_param(request, "macSecKey")
    await sim.mutate(
        lambda: sim.store.delete_macsec_key(caller, *channel_path(request), key_id, now=now)
    )
    return {}
