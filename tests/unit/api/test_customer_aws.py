"""The AWS interconnect client with botocore's Stubber.

The Stubber checks every request the client builds against the service model
(ParamValidator) and the expected parameters, and answers with canned
responses or vendor errors; no network. What the Stubber does not check
(enums, patterns) is the fake's job: tests/unit/fakes/test_aws_model.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from botocore.stub import ANY, Stubber
from pydantic import SecretStr

from interconnect_operator.api.customer_aws import (
    AwsCredentials,
    AwsInterconnectClient,
    MissingOrDenied,
    QuotaExceeded,
    bandwidth_mbps,
    bandwidth_text,
    idempotency_token,
)
from interconnect_operator.api.errors import (
    Forbidden,
    InvalidRequest,
    InvalidResponse,
    NotFound,
    ServerError,
    Throttled,
)

GATEWAY = "5f0c6b8e-3a8f-4c1e-9d27-6b1d2e4f7a10"
SHARED = "0b7e1f0c-55d4-4c59-a7a4-3f0b0e0d9a11"


def connection(state: str = "requested", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": "mcc-a1b2c3d4",
        "arn": "arn:aws:interconnect:us-east-1:111122223333:connection/mcc-a1b2c3d4",
        "description": "team-a link",
        "bandwidth": "1Gbps",
        "attachPoint": {"directConnectGateway": GATEWAY},
        "environmentId": "aws-gcp-us-east",
        "provider": {"cloudServiceProvider": "gcp"},
        "location": "us-east4",
        "type": "multicloud",
        "state": state,
        "sharedId": SHARED,
        "ownerAccount": "111122223333",
        "activationKey": "S0VZLU1BVEVSSUFM",
    }
    body.update(overrides)
    return body


@pytest.fixture
async def aws() -> AsyncIterator[AwsInterconnectClient]:
    client = AwsInterconnectClient(
        "us-east-1",
        endpoint_url="http://interconnect.stub.invalid",
        credentials=AwsCredentials("AKIDSTUB", SecretStr("secret")),
    )
    yield client
    await client.aclose()


async def test_create_connection_sends_a_model_valid_request(aws: AwsInterconnectClient) -> None:
    token = idempotency_token("team-a/link-1", "create", "1")
    with Stubber(aws.botocore_client) as stub:
        stub.add_response(
            "create_connection",
            {"connection": connection()},
            {
                "environmentId": "aws-gcp-us-east",
                "bandwidth": "1Gbps",
                "attachPoint": {"directConnectGateway": GATEWAY},
                "remoteAccount": {"identifier": "demo-project"},
                "clientToken": token,
                "tags": {"interconnect.io/link": "team-a/link-1"},
            },
        )
        created = await aws.create_connection(
            environment_id="aws-gcp-us-east",
            bandwidth_mbps=1000,
            gateway=GATEWAY,
            remote_account="demo-project",
            client_token=token,
            tags={"interconnect.io/link": "team-a/link-1"},
        )
        stub.assert_no_pending_responses()
    assert (created.id, created.state, created.bandwidth_mbps) == (
        "mcc-a1b2c3d4",
        "requested",
        1000,
    )
    assert created.shared_id == SHARED
    assert created.activation_key is not None
    assert "S0VZLU1BVEVSSUFM" not in repr(created)


async def test_accept_and_describe_a_partner_key(aws: AwsInterconnectClient) -> None:
    key = SecretStr("UEFSVE5FUi1LRVk=")
    with Stubber(aws.botocore_client) as stub:
        stub.add_response(
            "describe_connection_proposal",
            {
                "bandwidth": "10Gbps",
                "environmentId": "aws-gcp-us-east",
                "provider": {"cloudServiceProvider": "gcp"},
                "location": "us-east4",
            },
            {"activationKey": key.get_secret_value()},
        )
        stub.add_response(
            "accept_connection_proposal",
            {"connection": connection("pending", bandwidth="10Gbps")},
            {
                "activationKey": key.get_secret_value(),
                "attachPoint": {"directConnectGateway": GATEWAY},
                "clientToken": "accept-1",
            },
        )
        proposal = await aws.describe_connection_proposal(key)
        accepted = await aws.accept_connection_proposal(
            activation_key=key, gateway=GATEWAY, client_token="accept-1"
        )
    assert (proposal.bandwidth_mbps, proposal.provider, proposal.location) == (
        10000,
        "gcp",
        "us-east4",
    )
    assert (accepted.state, accepted.bandwidth_mbps) == ("pending", 10000)


async def test_list_connections_reads_every_page(aws: AwsInterconnectClient) -> None:
    summary = {
        k: v
        for k, v in connection("available").items()
        if k not in ("ownerAccount", "activationKey")
    }
    second = dict(
        summary,
        id="mcc-e5f6g7h8",
        state="deleted",
        arn=summary["arn"].replace("a1b2c3d4", "e5f6g7h8"),
    )
    with Stubber(aws.botocore_client) as stub:
        stub.add_response("list_connections", {"connections": [summary], "nextToken": "p2"}, {})
        stub.add_response("list_connections", {"connections": [second]}, {"nextToken": "p2"})
        listed = await aws.list_connections()
    assert [(c.id, c.state) for c in listed] == [
        ("mcc-a1b2c3d4", "available"),
        ("mcc-e5f6g7h8", "deleted"),
    ]


async def test_update_and_delete(aws: AwsInterconnectClient) -> None:
    with Stubber(aws.botocore_client) as stub:
        stub.add_response(
            "update_connection",
            {"connection": connection("updating", bandwidth="500Mbps")},
            {"identifier": "mcc-a1b2c3d4", "bandwidth": "500Mbps", "clientToken": ANY},
        )
        stub.add_response(
            "delete_connection",
            {"connection": connection("deleting")},
            {"identifier": "mcc-a1b2c3d4", "clientToken": "del-1"},
        )
        updated = await aws.update_connection(
            "mcc-a1b2c3d4", bandwidth_mbps=500, client_token="upd-1"
        )
        deleting = await aws.delete_connection("mcc-a1b2c3d4", client_token="del-1")
    assert (updated.state, updated.bandwidth_mbps) == ("updating", 500)
    assert deleting.state == "deleting"


@pytest.mark.parametrize(
    ("code", "status", "error"),
    [
        ("AccessDeniedException", 403, MissingOrDenied),
        ("ResourceNotFoundException", 404, NotFound),
        ("InterconnectValidationException", 400, InvalidRequest),
        ("InterconnectClientException", 400, InvalidRequest),
        ("ServiceQuotaExceededException", 402, QuotaExceeded),
        ("ThrottlingException", 429, Throttled),
        ("InterconnectServerException", 500, ServerError),
    ],
)
async def test_vendor_errors_become_typed_errors(
    aws: AwsInterconnectClient, code: str, status: int, error: type[Exception]
) -> None:
    with Stubber(aws.botocore_client) as stub:
        stub.add_client_error("get_connection", code, "vendor says no", status)
        with pytest.raises(error) as caught:
            await aws.get_connection("mcc-a1b2c3d4")
    assert caught.value.status == status  # type: ignore[attr-defined]


async def test_403_on_a_listing_is_plain_forbidden(aws: AwsInterconnectClient) -> None:
    with Stubber(aws.botocore_client) as stub:
        stub.add_client_error("list_connections", "AccessDeniedException", "no", 403)
        with pytest.raises(Forbidden) as caught:
            await aws.list_connections()
    assert not isinstance(caught.value, MissingOrDenied)


async def test_malformed_connection_is_invalid_response(aws: AwsInterconnectClient) -> None:
    with Stubber(aws.botocore_client) as stub:
        stub.add_response("get_connection", {"connection": connection(bandwidth="1Tbps")})
        with pytest.raises(InvalidResponse):
            await aws.get_connection("mcc-a1b2c3d4")


def test_conversions_and_tokens() -> None:
    assert [bandwidth_text(m) for m in (50, 500, 1000, 100000)] == [
        "50Mbps",
        "500Mbps",
        "1Gbps",
        "100Gbps",
    ]
    assert [bandwidth_mbps(t) for t in ("50Mbps", "1Gbps", "100Gbps")] == [50, 1000, 100000]
    with pytest.raises(ValueError, match="not a bandwidth"):
        bandwidth_mbps("1 Gbps")
    assert idempotency_token("a", "b") == idempotency_token("a", "b")
    assert idempotency_token("a", "b") != idempotency_token("a", "c")


def test_credentials_from_a_secret() -> None:
    creds = AwsCredentials.from_secret(
        {"AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "shh", "AWS_SESSION_TOKEN": "tok"}
    )
    assert creds.access_key_id == "AKID"
    assert creds.secret_access_key.get_secret_value() == "shh"
    assert "shh" not in repr(creds)
    assert "tok" not in repr(creds)
    with pytest.raises(ValueError, match="AWS_SECRET_ACCESS_KEY"):
        AwsCredentials.from_secret({"AWS_ACCESS_KEY_ID": "AKID"})
