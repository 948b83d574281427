"""Spec operations on connections and their features (P5-P20, P22)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from interconnect_operator.api.models import (
    Connection,
    Feature,
    GenerateFeatureGuidanceResponse,
    ListConnectionsResponse,
    to_wire,
)
from interconnect_operator.simulator import views
from interconnect_operator.simulator.operations.paths import conn_path, ix_path
from interconnect_operator.simulator.runtime import (
    Simulator,
    WireJson,
    path_param,
    wire,
    wire_json,
)
from interconnect_operator.simulator.store import SimError
from interconnect_operator.simulator.store.records import FeatureRecord

# ----------------------------------------------------------------- connections


async def list_connections(sim: Simulator, request: Request, caller: str) -> Any:
    path = ix_path(request)
    sim.store.interconnect(caller, *path)
    records = sim.store.connections_by_ix.get(path, {})
    keys, token = sim.page(request, sorted(records))
    now = sim.now()
    return wire_json(
        ListConnectionsResponse(
            connections=[views.connection_view(caller, records[k], sim.store, now) for k in keys],
            next_page_token=token,
        )
    )


async def create_connection(sim: Simulator, request: Request, caller: str) -> Any:
    body = await sim.parse(request, Connection)
    connection_id = request.query_params.get("connectionId", "")
    key_text = body.activation_key.get_secret_value() if body.activation_key else None
    source = body.source_data
    if source is not None and source.kinds() != 1:
        raise SimError(400, "sourceData must set exactly one of encodedKey, sourceConnectionName")
    if source is not None and source.encoded_key is not None:
        # Upstream PR #50: with both fields present, sourceData is used.
        key_text = source.encoded_key.get_secret_value()
    now = sim.now()
    record = await sim.mutate(
        lambda: sim.store.create_connection(
            caller,
            *ix_path(request),
            connection_id,
            bandwidth_mbps=body.bandwidth_mbps,
            defer_provisioning=body.deferred,  # either spelling (spec defect)
            activation_key_text=key_text,
            now=now,
            connection_type=body.connection_type,
            source_connection_name=source.source_connection_name if source else None,
        )
    )
    return wire(views.connection_view(caller, record, sim.store, now))


async def get_connection(sim: Simulator, request: Request, caller: str) -> Any:
    record = sim.store.connection(caller, *conn_path(request))
    return wire(views.connection_view(caller, record, sim.store, sim.now()))


async def update_connection(sim: Simulator, request: Request, caller: str) -> Any:
    body = await sim.parse(request, Connection)
    mask_text = request.query_params.get("updateMask")
    if mask_text:
        mask = [part.strip() for part in mask_text.split(",") if part.strip()]
    else:
        # No mask: the fields present in the body are the update (AIP-134).
        # Identifier and output-only fields of a full resource are not updates.
        sent = await sim.json_body(request)
        ignored = {"name", "adminState", "verificationState", "activationKey"}
        mask = [key for key in sent if key not in ignored]
    if not mask:
        raise SimError(400, "P16: nothing to update")
    now = sim.now()
    record = await sim.mutate(
        lambda: sim.store.update_connection(
            caller, *conn_path(request), mask=mask, bandwidth_mbps=body.bandwidth_mbps, now=now
        )
    )
    return wire(views.connection_view(caller, record, sim.store, now))


async def delete_connection(sim: Simulator, request: Request, caller: str) -> Any:
    await sim.mutate(lambda: sim.store.delete_connection(caller, *conn_path(request)))
    return {}


async def generate_feature_guidance(sim: Simulator, request: Request, caller: str) -> Any:
    await sim.json_body(request)  # GenerateFeatureGuidanceRequest has no fields
    environment, interconnect, connection = conn_path(request)
    sim.store.connection(caller, environment, interconnect, connection)
    env, ix = sim.store.interconnect(caller, environment, interconnect)
    return wire(
        GenerateFeatureGuidanceResponse(feature_guidance=views.guidance_view(caller, env, ix))
    )


async def notify_connection_status(sim: Simulator, request: Request, caller: str) -> Any:
    await sim.json_body(request)  # NotifyConnectionStatusRequest has no fields
    now = sim.now()
    await sim.mutate(lambda: sim.store.notify_connection_status(caller, *conn_path(request), now))
    return {}


# ----------------------------------------------------------------- features


async def list_features(sim: Simulator, request: Request, caller: str) -> Any:
    path = conn_path(request)
    now = sim.now()
    if path[2] == "-":
        # AIP-159 wildcard: every feature of the interconnect in one list, so a
        # coordinator observes O(interconnects) instead of O(connections).
        environment, interconnect = path[0], path[1]
        sim.store.interconnect(caller, environment, interconnect)
        every = {
            f"{conn_id}/{feature_id}": feature
            for conn_id in sim.store.connections_by_ix.get((environment, interconnect), {})
            for feature_id, feature in sim.store.features.get(
                (environment, interconnect, conn_id), {}
            ).items()
        }
        page, token = sim.page(request, sorted(every))
        return _feature_page(sim, caller, [every[k] for k in page], token, now)
    sim.store.connection(caller, *path)
    records = sim.store.features.get(path, {})
    keys, token = sim.page(request, sorted(records))
    return _feature_page(sim, caller, [records[k] for k in keys], token, now)


def _feature_page(
    sim: Simulator, caller: str, records: list[FeatureRecord], token: str | None, now: float
) -> WireJson:
    """A ListFeatures answer from each feature's kept JSON (``simulator.feature_json``)."""
    body = sim.feature_json.page(caller, records, token, sim.store, now)
    sim.feature_json.prune(sim.store.features)
    return WireJson(body)


async def create_feature(sim: Simulator, request: Request, caller: str) -> Any:
    body = await sim.parse(request, Feature)
    feature_id = request.query_params.get("featureId", "")
    config = to_wire(body.feature_config) if body.feature_config is not None else None
    now = sim.now()
    record = await sim.mutate(
        lambda: sim.store.create_feature(
            caller,
            *conn_path(request),
            feature_id,
            channel_name=body.channel,
            config=config,
            now=now,
        )
    )
    return wire(views.feature_view(caller, record, sim.store, now))


async def get_feature(sim: Simulator, request: Request, caller: str) -> Any:
    record = sim.store.feature(caller, *conn_path(request), path_param(request, "feature"))
    return wire(views.feature_view(caller, record, sim.store, sim.now()))


async def delete_feature(sim: Simulator, request: Request, caller: str) -> Any:
    now = sim.now()
    feature = path_param(request, "feature")
    await sim.mutate(
        lambda: sim.store.delete_feature(caller, *conn_path(request), feature, now=now)
    )
    return {}
