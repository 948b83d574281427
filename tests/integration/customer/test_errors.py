"""Errors as the vendors give them, throttling, vendor failure states, artifact checks.

AWS: 403 AccessDenied for a connection that does not exist, 402 past the
quota, 429 ThrottlingException (botocore's standard retry mode absorbs a
short burst); Google: its error JSON, 401 without the right token, 429
RESOURCE_EXHAUSTED retried by the client. Requests that violate the vendor's
artifact (an enum botocore does not check, unknown or output-only fields) are
refused by the fakes; the discovery-based Google client works unchanged.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import botocore.exceptions
import httpx
import pytest
from pydantic import SecretStr

from interconnect_operator.api.auth import BearerToken
from interconnect_operator.api.customer_aws import (
    AwsCredentials,
    AwsInterconnectClient,
    MissingOrDenied,
    QuotaExceeded,
    idempotency_token,
)
from interconnect_operator.api.customer_gcp import GoogleTransportsClient
from interconnect_operator.api.errors import Forbidden, NotFound, Throttled, Unauthorized
from interconnect_operator.api.retry import RetryPolicy
from tests.integration.customer.conftest import ACCESS_KEY, SECRET_KEY
from tests.integration.customer.helpers import ENVIRONMENT, google_first, until
from tests.support.customer import (
    AWS_REGION,
    GATEWAY,
    GCP_LOCATION,
    GCP_PROJECT,
    GCP_TOKEN,
    CustomerStack,
    start_fake,
)


async def test_missing_connection_is_403_like_the_vendor(aws: AwsInterconnectClient) -> None:
    with pytest.raises(MissingOrDenied) as caught:
        await aws.get_connection("mcc-00000000")
    assert caught.value.status == 403
    with pytest.raises(MissingOrDenied):
        await aws.delete_connection("mcc-00000000", client_token="x")


async def test_unknown_environment_is_404(aws: AwsInterconnectClient) -> None:
    with pytest.raises(NotFound):
        await aws.get_environment("no-such-environment")


async def test_signature_scope_and_access_key_are_checked(stack: CustomerStack) -> None:
    wrong_secret = AwsInterconnectClient(
        AWS_REGION,
        endpoint_url=stack.aws.url,
        credentials=AwsCredentials(ACCESS_KEY, SecretStr("not-the-secret")),
    )
    wrong_region = AwsInterconnectClient(
        "eu-west-2",
        endpoint_url=stack.aws.url,
        credentials=AwsCredentials(ACCESS_KEY, SecretStr(SECRET_KEY)),
    )
    unknown_key = AwsInterconnectClient(
        AWS_REGION,
        endpoint_url=stack.aws.url,
        credentials=AwsCredentials("AKIDOTHER", SecretStr("s")),
    )
    try:
        with pytest.raises(Forbidden, match="signature"):
            await wrong_secret.list_environments()
        with pytest.raises(Forbidden, match="region"):
            await wrong_region.list_environments()
        with pytest.raises(Forbidden, match="security token"):
            await unknown_key.list_environments()
    finally:
        for client in (wrong_secret, wrong_region, unknown_key):
            await client.aclose()


async def test_quota_is_402(stack: CustomerStack, tmp_path: Path) -> None:
    full = start_fake(
        "aws",
        log_dir=tmp_path,
        own=stack.aws_sim,
        peer=stack.gcp_sim,
        own_token=stack.aws_sim.tokens["gcp"],
        peer_token=stack.gcp_sim.tokens["aws"],
        extra_args=["--gateway", GATEWAY, "--quota", "0"],
    )
    client = AwsInterconnectClient(
        AWS_REGION,
        endpoint_url=full.url,
        credentials=AwsCredentials(ACCESS_KEY, SecretStr(SECRET_KEY)),
    )
    try:
        with pytest.raises(QuotaExceeded) as caught:
            await client.create_connection(
                environment_id=ENVIRONMENT,
                bandwidth_mbps=1000,
                gateway=GATEWAY,
                remote_account=GCP_PROJECT,
                client_token=idempotency_token("quota"),
            )
        assert caught.value.status == 402
    finally:
        await client.aclose()
        full.stop()


async def test_aws_throttling_is_retried_by_botocore(
    stack: CustomerStack, aws: AwsInterconnectClient
) -> None:
    before = stack.aws.hook("state")["byOperation"].get("ListEnvironments", 0)
    stack.aws.hook("throttle", {"count": 2})
    environments = await aws.list_environments()
    assert [e.id for e in environments] == [ENVIRONMENT]
    # Two throttled answers and the successful one all reached the fake.
    after = stack.aws.hook("state")["byOperation"]["ListEnvironments"]
    assert after - before == 3
    impatient = AwsInterconnectClient(
        AWS_REGION,
        endpoint_url=stack.aws.url,
        credentials=AwsCredentials(ACCESS_KEY, SecretStr(SECRET_KEY)),
        max_attempts=2,
    )
    stack.aws.hook("throttle", {"count": 20})
    try:
        with pytest.raises(Throttled):
            await impatient.list_environments()
    finally:
        stack.aws.hook("throttle", {"count": 0})
        await impatient.aclose()


async def test_google_throttling_is_retried(
    stack: CustomerStack, gcp: GoogleTransportsClient
) -> None:
    stack.gcp.hook("throttle", {"count": 2})
    profiles = await gcp.list_remote_transport_profiles()
    assert [p.id for p in profiles] == ["aws-us-east-1"]
    assert stack.gcp.hook("state")["requests"] >= 3
    impatient = GoogleTransportsClient(
        GCP_PROJECT,
        GCP_LOCATION,
        auth=BearerToken(GCP_TOKEN),
        endpoint=stack.gcp.url,
        retry=RetryPolicy(max_attempts=2),
    )
    stack.gcp.hook("throttle", {"count": 20})
    try:
        with pytest.raises(Throttled) as caught:
            await impatient.list_transports()
        assert "RESOURCE_EXHAUSTED" in str(caught.value)
        assert caught.value.retry_after == 1.0  # RetryInfo / Retry-After understood
    finally:
        stack.gcp.hook("throttle", {"count": 0})
        await impatient.aclose()


async def test_google_needs_the_right_token(stack: CustomerStack) -> None:
    client = GoogleTransportsClient(
        GCP_PROJECT,
        GCP_LOCATION,
        auth=BearerToken("wrong"),
        endpoint=stack.gcp.url,
        retry=RetryPolicy(max_attempts=1),
    )
    try:
        with pytest.raises(Unauthorized, match="UNAUTHENTICATED"):
            await client.list_transports()
    finally:
        await client.aclose()


async def test_vendor_failure_states(
    stack: CustomerStack, aws: AwsInterconnectClient, gcp: GoogleTransportsClient, boto: Any
) -> None:
    _, connection = await google_first(aws, gcp, "states")
    stack.aws.hook("override", {"id": connection.id, "state": "failed"})
    assert (await aws.get_connection(connection.id)).state == "failed"
    stack.aws.hook("override", {"id": connection.id, "state": "down"})
    with pytest.raises(botocore.exceptions.WaiterError):
        await asyncio.to_thread(
            boto.get_waiter("connection_available").wait,
            identifier=connection.id,
            WaiterConfig={"Delay": 1, "MaxAttempts": 2},
        )
    stack.aws.hook("override", {"id": connection.id, "state": None})
    assert (await aws.get_connection(connection.id)).state == "available"

    stack.gcp.hook("suspend", {"transport": "states", "suspended": True})
    assert (await gcp.get_transport("states")).state == "SUSPENDED"
    stack.gcp.hook("suspend", {"transport": "states", "suspended": False})
    await until(lambda: gcp.get_transport("states"), lambda t: t.state == "ACTIVE", "active")


async def test_fakes_refuse_what_the_artifacts_refuse(stack: CustomerStack, boto: Any) -> None:
    # botocore's ParamValidator (and so the Stubber) does not check enums; the fake does.
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        boto.list_connections(state="sideways")
    assert caught.value.response["Error"]["Code"] == "InterconnectValidationException"
    assert "state" in caught.value.response["Error"]["Message"]
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        boto.get_connection(identifier="conn-1")  # not (mcc|lmcc)-[a-z0-9]{8}
    assert "pattern" in caught.value.response["Error"]["Message"]

    parent = f"/v1/projects/{GCP_PROJECT}/locations/{GCP_LOCATION}"
    async with httpx.AsyncClient(
        base_url=stack.gcp.url, headers={"Authorization": f"Bearer {GCP_TOKEN}"}
    ) as http:
        response = await http.post(
            f"{parent}/transports",
            params={"transportId": "bad", "colour": "blue"},
            json={"remoteProfile": "x", "state": "ACTIVE", "bandwidth": "BPS_3G", "extra": 1},
        )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["status"] == "INVALID_ARGUMENT"
    fields = {v["field"] for v in error["details"][0]["fieldViolations"]}
    assert fields == {"colour", "state", "bandwidth", "extra"}


def test_discovery_based_client_works_unchanged(stack: CustomerStack) -> None:
    """google-api-python-client, built from its shipped document, against the fake."""
    import google.oauth2.credentials
    import google_auth_httplib2
    import httplib2
    from googleapiclient.discovery import build

    credentials = google.oauth2.credentials.Credentials(token=GCP_TOKEN)
    service = build(
        "networkconnectivity",
        "v1",
        http=google_auth_httplib2.AuthorizedHttp(credentials, http=httplib2.Http()),
        static_discovery=True,
        client_options={"api_endpoint": stack.gcp.url},
    )
    parent = f"projects/{GCP_PROJECT}/locations/{GCP_LOCATION}"
    locations = service.projects().locations()
    profiles = locations.remoteTransportProfiles().list(parent=parent).execute()
    assert [p["providerSite"] for p in profiles["remoteTransportProfiles"]] == ["us-east-1"]
    listed = locations.transports().list(parent=parent).execute()
    assert all(t["name"].startswith(parent) for t in listed.get("transports", []))
