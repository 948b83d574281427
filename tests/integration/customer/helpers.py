"""Helpers of the customer-API integration tests: polling, simulator reads, a Ready link."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from interconnect_operator.api.customer_aws import (
    AwsConnection,
    AwsInterconnectClient,
    idempotency_token,
)
from interconnect_operator.api.customer_gcp import (
    GoogleTransportsClient,
    Transport,
    TransportSpec,
    request_id,
)
from tests.support.customer import AWS_ACCOUNT, GATEWAY, GCP_PROJECT, CustomerStack

PROFILE = "aws-us-east-1"
ENVIRONMENT = "aws-gcp-us-east"
NETWORK = f"projects/{GCP_PROJECT}/global/networks/default"

T = TypeVar("T")


async def until(
    read: Callable[[], Awaitable[T]], ok: Callable[[T], bool], what: str, timeout: float = 60
) -> T:
    """Poll ``read`` with backoff until ``ok`` (bounded)."""
    deadline = time.monotonic() + timeout
    delay = 0.1
    value = await read()
    while not ok(value):
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: still {value!r} after {timeout} s")
        await asyncio.sleep(delay)
        delay = min(delay * 2, 1.0)
        value = await read()
    return value


def sim_connections(stack: CustomerStack, uuid: str) -> dict[str, list[dict[str, Any]]]:
    """Connections each simulator holds under ``uuid``."""
    return {
        sim.provider_id: [c for c in sim.state()["connections"] if c["connection"] == uuid]
        for sim in (stack.aws_sim, stack.gcp_sim)
    }


def wait_available(boto: Any, connection_id: str, attempts: int = 60) -> None:
    """botocore's own ConnectionAvailable waiter (blocking: run it in a thread)."""
    boto.get_waiter("connection_available").wait(
        identifier=connection_id, WaiterConfig={"Delay": 1, "MaxAttempts": attempts}
    )


async def google_first(
    aws: AwsInterconnectClient, gcp: GoogleTransportsClient, transport_id: str, mbps: int = 1000
) -> tuple[Transport, AwsConnection]:
    """Google generates the key, AWS accepts it; returns (transport, connection) once Ready."""
    spec = TransportSpec(
        remote_profile=gcp.profile_name(PROFILE),
        network=NETWORK,
        bandwidth_mbps=mbps,
        remote_account_id=AWS_ACCOUNT,
    )
    op = await gcp.create_transport(transport_id, spec, request=request_id(transport_id, "c"))
    created = (await gcp.wait(op, timeout=30, first_delay=0.1)).transport()
    assert created is not None
    assert created.state == "PENDING_KEY"
    key = created.generated_activation_key
    assert key is not None
    connection = await aws.accept_connection_proposal(
        activation_key=key, gateway=GATEWAY, client_token=idempotency_token(transport_id, "a")
    )
    await until(lambda: aws.get_connection(connection.id), lambda c: c.state == "available", "aws")
    transport = await until(
        lambda: gcp.get_transport(transport_id), lambda t: t.state == "ACTIVE", "google"
    )
    return transport, await aws.get_connection(connection.id)
