"""Endpoints outside the spec: the customer's key endpoint (P1) and the admin API.

Formats in ``docs/simulator.md``. Unauthenticated: the simulator is a test tool;
bind it to loopback.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from starlette.requests import Request

from interconnect_operator.simulator.faults import FaultConfig
from interconnect_operator.simulator.runtime import (
    Simulator,
)
from interconnect_operator.simulator.state_dump import get_state, iso
from interconnect_operator.simulator.store import FeatureFailureRecord, SimError

log = logging.getLogger(__name__)


async def customer_activation_key(sim: Simulator, request: Request) -> Any:
    """P1: the customer asks this provider for a key for the peer."""
    data = await sim.json_body(request)
    environment = data.get("environment")
    bandwidth = data.get("bandwidthMbps")
    account = data.get("destinationAccountId")
    if not isinstance(environment, str) or not isinstance(account, str):
        raise SimError(400, "environment and destinationAccountId are required strings")
    if not isinstance(bandwidth, int) or isinstance(bandwidth, bool):
        raise SimError(400, "bandwidthMbps must be an integer")
    connection_type = data.get("connectionType")
    if connection_type is not None and not isinstance(connection_type, str):
        raise SimError(400, "connectionType must be a string")
    now = sim.now()
    record = await sim.mutate(
        lambda: sim.store.issue_activation_key(
            environment, bandwidth, account, now, connection_type=connection_type
        )
    )
    return {
        "encodedKey": record.encoded_key,
        "sharedConnectionUuid": record.uuid,
        "environment": record.environment,
        "bandwidthMbps": record.bandwidth_mbps,
    }


async def healthz(sim: Simulator, request: Request) -> Any:
    return {"status": "ok", "provider": sim.provider_id}


async def get_faults(sim: Simulator, request: Request) -> Any:
    return sim.faults.config.to_dict()


async def set_faults(sim: Simulator, request: Request) -> Any:
    try:
        config = FaultConfig.from_dict(await sim.json_body(request))
    except ValueError as error:
        raise SimError(400, str(error)) from None
    sim.faults.configure(config)
    log.info("fault config replaced: %s", sorted(config.operations))
    return config.to_dict()


async def get_stats(sim: Simulator, request: Request) -> Any:
    return sim.stats.to_dict()


async def reset_stats(sim: Simulator, request: Request) -> Any:
    sim.stats.reset()
    return sim.stats.to_dict()


async def lose_feature(sim: Simulator, request: Request) -> Any:
    data = await sim.json_body(request)
    name = data.get("name")
    mode = data.get("mode", "delete")
    if not isinstance(name, str) or not isinstance(mode, str):
        raise SimError(400, "name (a feature resource name) is required")
    now = sim.now()
    failure = _failure(data, now) if mode == "failed" else None
    record = await sim.mutate(lambda: sim.store.lose_feature(name, mode, now, failure))
    return {"lost": name, "mode": mode, "channel": record.channel}


def _failure(data: dict[str, Any], now: float) -> FeatureFailureRecord:
    """The failureInfo of ``mode: failed`` (feature-recovery draft)."""
    code = data.get("code", "PROVISIONING_ERROR")
    message = data.get("message", "provisioning failed")
    retryable = data.get("retryable", False)
    if not isinstance(code, str) or not isinstance(message, str):
        raise SimError(400, "code and message must be strings")
    if not isinstance(retryable, bool):
        raise SimError(400, "retryable must be a boolean")
    return FeatureFailureRecord(code, message, retryable, now)


def _time(value: Any, label: str) -> float:
    if not isinstance(value, str):
        raise SimError(400, f"{label} must be an RFC 3339 timestamp")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise SimError(400, f"{label} must be an RFC 3339 timestamp") from None
    if parsed.tzinfo is None:
        raise SimError(400, f"{label} needs a time zone")
    return parsed.timestamp()


async def schedule_maintenance(sim: Simulator, request: Request) -> Any:
    data = await sim.json_body(request)
    fields = [data.get(k) for k in ("environment", "interconnect", "channel")]
    if not all(isinstance(f, str) and f for f in fields):
        raise SimError(400, "environment, interconnect and channel are required")
    environment, interconnect, channel = (str(f) for f in fields)
    start = _time(data.get("startTime"), "startTime")
    end = _time(data.get("endTime"), "endTime")
    maintenance_id = data.get("maintenanceId")
    if maintenance_id is not None and not isinstance(maintenance_id, str):
        raise SimError(400, "maintenanceId must be a string")
    emergency = bool(data.get("emergency", False))
    now = sim.now()
    record = await sim.mutate(
        lambda: sim.store.schedule_maintenance(
            environment,
            interconnect,
            channel,
            maintenance_id=maintenance_id,
            start=start,
            end=end,
            emergency=emergency,
            now=now,
        )
    )
    return {
        "environment": environment,
        "interconnect": interconnect,
        "channel": channel,
        "maintenanceId": record.id,
        "startTime": iso(record.start_time),
        "endTime": iso(record.end_time),
        "emergency": record.emergency,
    }


async def cancel_maintenance(sim: Simulator, request: Request) -> Any:
    maintenance_id = request.path_params["maintenance_id"]
    record = await sim.mutate(lambda: sim.store.cancel_maintenance(maintenance_id))
    return {"cancelled": record.id}


async def set_interconnect_state(sim: Simulator, request: Request) -> Any:
    data = await sim.json_body(request)
    environment, interconnect, state = (
        data.get("environment"),
        data.get("interconnect"),
        data.get("state"),
    )
    if not all(isinstance(v, str) for v in (environment, interconnect, state)):
        raise SimError(400, "environment, interconnect and state are required")
    state_text = str(state)
    if not state_text.startswith("INTERCONNECT_STATE_"):
        state_text = f"INTERCONNECT_STATE_{state_text.upper()}"
    await sim.mutate(
        lambda: sim.store.set_interconnect_state(str(environment), str(interconnect), state_text)
    )
    return {"environment": environment, "interconnect": interconnect, "state": state_text}


async def respond_to_issue(sim: Simulator, request: Request) -> Any:
    data = await sim.json_body(request)
    caller, issue_id = data.get("caller"), data.get("id")
    state, comment = data.get("state"), data.get("comment")
    if not isinstance(caller, str) or not isinstance(issue_id, str):
        raise SimError(400, "caller and id are required strings")
    if state is not None and not isinstance(state, str):
        raise SimError(400, "state must be a string")
    if comment is not None and not isinstance(comment, str):
        raise SimError(400, "comment must be a string")
    if state is not None and not state.startswith("STATE_"):
        state = f"STATE_{state.upper()}"
    now = sim.now()
    record = await sim.mutate(
        lambda: sim.store.respond_to_issue(caller, issue_id, state, comment, now)
    )
    return {"id": record.id, "state": record.state, "comments": len(record.comments)}


ADMIN_ROUTES: list[tuple[str, str, Callable[[Simulator, Request], Awaitable[Any]]]] = [
    ("GET", "/healthz", healthz),
    ("POST", "/customer/v1/activationKeys", customer_activation_key),
    ("GET", "/admin/faults", get_faults),
    ("POST", "/admin/faults", set_faults),
    ("GET", "/admin/stats", get_stats),
    ("POST", "/admin/stats/reset", reset_stats),
    ("GET", "/admin/state", get_state),
    ("POST", "/admin/lose-feature", lose_feature),
    ("POST", "/admin/maintenance", schedule_maintenance),
    ("DELETE", "/admin/maintenance/{maintenance_id}", cancel_maintenance),
    ("POST", "/admin/interconnect-state", set_interconnect_state),
    ("POST", "/admin/issue-response", respond_to_issue),
]
