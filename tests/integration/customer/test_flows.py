"""Both customer flows through the fakes, with the operator's clients and the vendors' own.

Google first: transports.create (bandwidth, remote account) -> PENDING_KEY with
the generated key -> AWS DescribeConnectionProposal -> AcceptConnectionProposal.
AWS first: CreateConnection (remote account) -> the key -> transports.create
with providedActivationKey. Ready = AWS ``available`` and Google ``ACTIVE``;
botocore's own ``ConnectionAvailable`` waiter is the judge on the AWS side,
and both simulators must hold one VERIFIED connection under the shared UUID.
"""

from __future__ import annotations

import asyncio
from typing import Any

import botocore.exceptions
import pytest
from pydantic import SecretStr

from interconnect_operator.api import activation_key
from interconnect_operator.api.customer_aws import AwsInterconnectClient, idempotency_token
from interconnect_operator.api.customer_gcp import (
    GoogleTransportsClient,
    OperationFailed,
    TransportSpec,
    request_id,
)
from interconnect_operator.api.errors import InvalidRequest, NotFound
from tests.integration.customer.helpers import (
    ENVIRONMENT,
    NETWORK,
    PROFILE,
    google_first,
    sim_connections,
    until,
    wait_available,
)
from tests.support.customer import AWS_ACCOUNT, GATEWAY, GCP_PROJECT, CustomerStack


async def test_google_first_flow_hands_the_key_to_aws(
    stack: CustomerStack, aws: AwsInterconnectClient, gcp: GoogleTransportsClient, boto: Any
) -> None:
    spec = TransportSpec(
        remote_profile=gcp.profile_name(PROFILE),
        network=NETWORK,
        bandwidth_mbps=1000,
        remote_account_id=AWS_ACCOUNT,
        stack_type="IPV4_ONLY",
    )
    op = await gcp.create_transport("gfirst", spec, request=request_id("gfirst", "create"))
    transport = (await gcp.wait(op, timeout=30, first_delay=0.1)).transport()
    assert transport is not None
    assert transport.state == "PENDING_KEY"
    assert transport.generated_activation_key is not None
    assert "generated_activation_key" not in repr(transport)  # kept out of reprs

    # The generated key IS the spec's ActivationKey, destined to the AWS account.
    key = activation_key.decode(transport.generated_activation_key.get_secret_value())
    assert key.destination_account_id == AWS_ACCOUNT
    assert key.destination_environment_uri == f"providers/aws/environments/{ENVIRONMENT}"
    assert key.connection_size_mbps == 1000

    proposal = await aws.describe_connection_proposal(transport.generated_activation_key)
    assert (proposal.bandwidth_mbps, proposal.environment_id) == (1000, ENVIRONMENT)
    assert (proposal.provider, proposal.location) == ("gcp", "us-east4")

    token = idempotency_token("gfirst", "accept")
    connection = await aws.accept_connection_proposal(
        activation_key=transport.generated_activation_key, gateway=GATEWAY, client_token=token
    )
    assert connection.shared_id == key.shared_connection_uuid
    assert connection.state in ("pending", "available")
    # A retry with the same clientToken is the same connection, not a second one.
    again = await aws.accept_connection_proposal(
        activation_key=transport.generated_activation_key, gateway=GATEWAY, client_token=token
    )
    assert again.id == connection.id

    await asyncio.to_thread(wait_available, boto, connection.id)
    ready = await until(
        lambda: gcp.get_transport("gfirst"), lambda t: t.state == "ACTIVE", "google ACTIVE"
    )
    assert ready.bandwidth_mbps == 1000
    held = sim_connections(stack, key.shared_connection_uuid)
    for provider, connections in held.items():
        assert len(connections) == 1, (provider, connections)
        assert connections[0]["verificationState"] == "VERIFICATION_STATE_VERIFIED"

    # The key was used: a second acceptance under another token is refused (P3).
    with pytest.raises(InvalidRequest):
        await aws.accept_connection_proposal(
            activation_key=transport.generated_activation_key,
            gateway=GATEWAY,
            client_token=idempotency_token("gfirst", "other"),
        )
    listed = [c for c in await aws.list_connections() if c.shared_id == key.shared_connection_uuid]
    assert len(listed) == 1


async def test_aws_first_flow_hands_the_key_to_google(
    stack: CustomerStack, aws: AwsInterconnectClient, gcp: GoogleTransportsClient, boto: Any
) -> None:
    connection = await aws.create_connection(
        environment_id=ENVIRONMENT,
        bandwidth_mbps=2000,
        gateway=GATEWAY,
        remote_account=GCP_PROJECT,
        client_token=idempotency_token("afirst", "create"),
        description="aws first",
    )
    assert connection.state == "requested"
    assert connection.activation_key is not None
    key = activation_key.decode(connection.activation_key.get_secret_value())
    assert key.destination_account_id == GCP_PROJECT
    assert key.destination_environment_uri == f"providers/gcp/environments/{ENVIRONMENT}"

    spec = TransportSpec(
        remote_profile=gcp.profile_name(PROFILE),
        network=NETWORK,
        provided_activation_key=connection.activation_key,
        advertised_routes=("10.20.0.0/16",),
    )
    request = request_id("afirst", "create")
    op = await gcp.create_transport("afirst", spec, request=request)
    # The same requestId is the same operation (Google deduplicates retries).
    assert (await gcp.create_transport("afirst", spec, request=request)).name == op.name
    await gcp.wait(op, timeout=60, first_delay=0.1)
    await asyncio.to_thread(wait_available, boto, connection.id)
    transport = await until(
        lambda: gcp.get_transport("afirst"), lambda t: t.state == "ACTIVE", "google ACTIVE"
    )
    assert transport.bandwidth_mbps == 2000
    assert transport.advertised_routes == ("10.20.0.0/16",)
    held = sim_connections(stack, connection.shared_id)
    assert all(len(c) == 1 for c in held.values()), held


async def test_bandwidth_update_from_either_side(
    stack: CustomerStack, aws: AwsInterconnectClient, gcp: GoogleTransportsClient
) -> None:
    _transport, connection = await google_first(aws, gcp, "resize")
    op = await gcp.set_bandwidth("resize", 5000, request=request_id("resize", "5000"))
    patched = (await gcp.wait(op, timeout=60, first_delay=0.1)).transport()
    assert patched is not None
    assert patched.bandwidth_mbps == 5000
    await until(
        lambda: aws.get_connection(connection.id),
        lambda c: (c.bandwidth_mbps, c.state) == (5000, "available"),
        "aws sees 5 Gbps",
    )
    updated = await aws.update_connection(
        connection.id, bandwidth_mbps=10000, client_token=idempotency_token("resize", "10000")
    )
    assert updated.state in ("updating", "available")
    await until(
        lambda: aws.get_connection(connection.id),
        lambda c: (c.bandwidth_mbps, c.state) == (10000, "available"),
        "aws at 10 Gbps",
    )
    await until(
        lambda: gcp.get_transport("resize"), lambda t: t.bandwidth_mbps == 10000, "google 10G"
    )
    held = sim_connections(stack, connection.shared_id)
    assert {c["bandwidthMbps"] for cs in held.values() for c in cs} == {10000}


async def test_delete_on_aws_deprovisions_google(
    stack: CustomerStack, aws: AwsInterconnectClient, gcp: GoogleTransportsClient
) -> None:
    _, connection = await google_first(aws, gcp, "delaws")
    deleting = await aws.delete_connection(connection.id, client_token="delaws")
    assert deleting.state in ("deleting", "deleted")
    await until(lambda: aws.get_connection(connection.id), lambda c: c.state == "deleted", "gone")
    # Deleted connections stay listed.
    listed = {c.id: c.state for c in await aws.list_connections(state="deleted")}
    assert listed.get(connection.id) == "deleted"
    await until(lambda: gcp.get_transport("delaws"), lambda t: t.state == "DEPROVISIONED", "google")
    assert sim_connections(stack, connection.shared_id) == {"aws": [], "gcp": []}
    await gcp.wait(await gcp.delete_transport("delaws", request=request_id("delaws", "d")))
    with pytest.raises(NotFound):
        await gcp.get_transport("delaws")


async def test_delete_on_google_takes_aws_down(
    stack: CustomerStack, aws: AwsInterconnectClient, gcp: GoogleTransportsClient, boto: Any
) -> None:
    _, connection = await google_first(aws, gcp, "delgcp")
    op = await gcp.delete_transport("delgcp", request=request_id("delgcp", "delete"))
    done = await gcp.wait(op, timeout=60, first_delay=0.1)
    assert done.error_code is None
    with pytest.raises(NotFound):
        await gcp.get_transport("delgcp")
    await until(lambda: aws.get_connection(connection.id), lambda c: c.state == "down", "down")
    # botocore's waiter treats ``down`` as a failure, as the vendor's model says.
    with pytest.raises(botocore.exceptions.WaiterError):
        await asyncio.to_thread(wait_available, boto, connection.id, 2)
    final = await aws.delete_connection(connection.id, client_token="delgcp")
    assert final.state == "deleted"
    assert sim_connections(stack, connection.shared_id) == {"aws": [], "gcp": []}


async def test_only_the_other_fakes_keys_are_accepted(
    stack: CustomerStack, aws: AwsInterconnectClient, gcp: GoogleTransportsClient
) -> None:
    before = len(await aws.list_connections())
    forged = activation_key.encode(
        activation_key.ActivationKey(
            version=1,
            destination_environment_uri=f"providers/aws/environments/{ENVIRONMENT}",
            shared_connection_uuid="0b7e1f0c-55d4-4c59-a7a4-3f0b0e0d9a11",
            connection_size_mbps=1000,
            destination_account_id=AWS_ACCOUNT,
        )
    )
    with pytest.raises(InvalidRequest, match="does not confirm"):
        await aws.describe_connection_proposal(SecretStr(forged))
    with pytest.raises(InvalidRequest):
        await aws.accept_connection_proposal(
            activation_key=SecretStr(forged), gateway=GATEWAY, client_token="forged"
        )
    # A real Google key, but issued for another AWS account.
    spec = TransportSpec(
        remote_profile=gcp.profile_name(PROFILE),
        network=NETWORK,
        bandwidth_mbps=1000,
        remote_account_id="999999999999",
    )
    op = await gcp.create_transport("otheracct", spec, request=request_id("otheracct"))
    other = (await gcp.wait(op, first_delay=0.1)).transport()
    assert other is not None
    assert other.generated_activation_key is not None
    with pytest.raises(InvalidRequest, match="another account"):
        await aws.describe_connection_proposal(other.generated_activation_key)
    # An AWS key brought back to AWS names the wrong provider.
    own = await aws.create_connection(
        environment_id=ENVIRONMENT,
        bandwidth_mbps=1000,
        gateway=GATEWAY,
        remote_account=GCP_PROJECT,
        client_token=idempotency_token("ownkey"),
    )
    assert own.activation_key is not None
    with pytest.raises(InvalidRequest, match="another provider"):
        await aws.describe_connection_proposal(own.activation_key)
    # And Google refuses a forged key too.
    forged_spec = TransportSpec(
        remote_profile=gcp.profile_name(PROFILE),
        network=NETWORK,
        provided_activation_key=SecretStr(forged),
    )
    with pytest.raises(InvalidRequest):
        await gcp.create_transport("forged", forged_spec, request=request_id("forged"))
    # Only the AWS-first connection above was added; nothing came of the refused keys.
    assert len(await aws.list_connections()) == before + 1


async def test_a_withdrawn_key_does_not_leave_a_link_behind(
    stack: CustomerStack, aws: AwsInterconnectClient, gcp: GoogleTransportsClient
) -> None:
    """AWS's customer deletes a requested connection; Google's customer uses its key anyway."""
    connection = await aws.create_connection(
        environment_id=ENVIRONMENT,
        bandwidth_mbps=1000,
        gateway=GATEWAY,
        remote_account=GCP_PROJECT,
        client_token=idempotency_token("withdrawn", "create"),
    )
    assert connection.activation_key is not None
    await until(
        lambda: aws.delete_connection(connection.id, client_token="withdrawn"),
        lambda c: c.state == "deleted",
        "deleted",
    )
    spec = TransportSpec(
        remote_profile=gcp.profile_name(PROFILE),
        network=NETWORK,
        provided_activation_key=connection.activation_key,
    )
    try:
        op = await gcp.create_transport("withdrawn", spec, request=request_id("withdrawn"))
        await gcp.wait(op, timeout=60, first_delay=0.1)
    except (InvalidRequest, OperationFailed):
        pass  # refused at once, or the bring-up failed: both leave nothing
    await until(
        lambda: asyncio.to_thread(sim_connections, stack, connection.shared_id),
        lambda held: held == {"aws": [], "gcp": []},
        "no connection on either simulator",
    )
    states = await until(
        gcp.list_transports,
        lambda ts: all(t.state in ("DEPROVISIONED",) for t in ts if t.id == "withdrawn"),
        "no live transport for the withdrawn key",
    )
    assert all(t.state != "ACTIVE" for t in states if t.id == "withdrawn")
    assert (await aws.get_connection(connection.id)).state == "deleted"
