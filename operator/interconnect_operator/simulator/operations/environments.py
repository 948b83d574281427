"""Spec operations on providers, environments, key checks, interconnects, channels (P3, P7)."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from starlette.requests import Request

from interconnect_operator.api import activation_key
from interconnect_operator.api.models import (
    ConfirmActivationKeyRequest,
    ConfirmActivationKeyResponse,
    ListChannelsResponse,
    ListEnvironmentsResponse,
    ListInterconnectsResponse,
    ListProvidersResponse,
    Provider,
)
from interconnect_operator.api.names import provider_name
from interconnect_operator.simulator import views
from interconnect_operator.simulator.inventory import display_name
from interconnect_operator.simulator.operations.paths import channel_path
from interconnect_operator.simulator.runtime import (
    Simulator,
    path_param,
    wire,
)
from interconnect_operator.simulator.store import SimError

# ----------------------------------------------------------------- providers


async def list_providers(sim: Simulator, request: Request, caller: str) -> Any:
    # Spec defect kept on purpose: ListProvidersResponse names the list
    # "environments"; the client model accepts either spelling.
    ids = [sim.provider_id, *sim.inventory.peers()]
    providers = [Provider(name=provider_name(p), display_name=display_name(p)) for p in ids]
    providers[0].display_name = sim.inventory.display_name
    return wire(ListProvidersResponse(environments=providers))


async def get_provider(sim: Simulator, request: Request, caller: str) -> Any:
    if caller == sim.provider_id:
        return wire(Provider(name=provider_name(caller), display_name=sim.inventory.display_name))
    if caller not in sim.inventory.peers():
        raise SimError(404, f"provider {caller!r} not found")
    return wire(Provider(name=provider_name(caller), display_name=display_name(caller)))


# ----------------------------------------------------------------- environments


async def list_environments(sim: Simulator, request: Request, caller: str) -> Any:
    envs = {env.id: env for env in sim.inventory.environments_of(caller)}
    keys, token = sim.page(request, sorted(envs))
    return wire(
        ListEnvironmentsResponse(
            environments=[views.environment_view(caller, envs[k]) for k in keys],
            next_page_token=token,
        )
    )


async def get_environment(sim: Simulator, request: Request, caller: str) -> Any:
    env = sim.store.environment(caller, path_param(request, "environment"))
    return wire(views.environment_view(caller, env))


async def confirm_activation_key(sim: Simulator, request: Request, caller: str) -> Any:
    environment = path_param(request, "environment")
    sim.store.environment(caller, environment)  # 404 for an unknown environment
    # P3: a bad key is "keyValid: false", never an error.
    key = None
    try:
        body = ConfirmActivationKeyRequest.model_validate(await sim.json_body(request))
    except ValidationError:
        body = None  # e.g. a malformed deprecated "key" object
    if body is not None and body.encoded_key is not None:
        try:
            key = activation_key.decode(body.encoded_key.get_secret_value())
        except activation_key.InvalidActivationKey:
            key = None
    elif body is not None and body.key is not None:
        try:
            key = activation_key.validate(body.key)
        except activation_key.InvalidActivationKey:
            key = None
    valid = sim.store.confirm_activation_key(caller, environment, key)
    return wire(ConfirmActivationKeyResponse(key_valid=valid))


# ----------------------------------------------------------------- interconnects & channels


async def list_interconnects(sim: Simulator, request: Request, caller: str) -> Any:
    env = sim.store.environment(caller, path_param(request, "environment"))
    by_id = {ix.id: ix for ix in env.interconnects}
    keys, token = sim.page(request, sorted(by_id))
    return wire(
        ListInterconnectsResponse(
            interconnects=[views.interconnect_view(caller, env, by_id[k], sim.store) for k in keys],
            next_page_token=token,
        )
    )


async def get_interconnect(sim: Simulator, request: Request, caller: str) -> Any:
    env, ix = sim.store.interconnect(
        caller, path_param(request, "environment"), path_param(request, "interconnect")
    )
    return wire(views.interconnect_view(caller, env, ix, sim.store))


async def list_channels(sim: Simulator, request: Request, caller: str) -> Any:
    env, ix = sim.store.interconnect(
        caller, path_param(request, "environment"), path_param(request, "interconnect")
    )
    by_id = {ch.id: ch for ch in ix.channels}
    keys, token = sim.page(request, sorted(by_id))
    return wire(
        ListChannelsResponse(
            channels=[views.channel_view(caller, env, ix, by_id[k]) for k in keys],
            next_page_token=token,
        )
    )


async def get_channel(sim: Simulator, request: Request, caller: str) -> Any:
    env, ix, ch = sim.store.channel(caller, *channel_path(request))
    return wire(views.channel_view(caller, env, ix, ch))
