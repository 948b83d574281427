"""Rig for the customer-API tests: both simulators and both fakes as processes.

One stack per module (processes are slow to start on a small machine); every
test uses its own transport ids and connections, so tests do not see each
other's links except in list calls. At the end of the module the fakes must
not have served a single response that fails the vendor's artifact.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import boto3
import pytest
from pydantic import SecretStr

from interconnect_operator.api.auth import BearerToken
from interconnect_operator.api.customer_aws import AwsCredentials, AwsInterconnectClient
from interconnect_operator.api.customer_gcp import GoogleTransportsClient
from interconnect_operator.api.retry import RetryPolicy
from tests.support.customer import (
    AWS_REGION,
    GCP_LOCATION,
    GCP_PROJECT,
    GCP_TOKEN,
    CustomerStack,
    start_customer_stack,
)

ACCESS_KEY = "AKIDCUSTOMERTEST"
SECRET_KEY = "customer-test-secret"  # the AWS fake verifies signatures made with it


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CustomerStack]:
    log_dir: Path = tmp_path_factory.mktemp("customer-stack")
    running = start_customer_stack(log_dir, aws_secret_keys={ACCESS_KEY: SECRET_KEY})
    try:
        yield running
        # Every response either fake served passed the vendor's own artifact.
        assert running.aws.hook("state")["invalidResponses"] == 0, running.aws.log()[-3000:]
        assert running.gcp.hook("state")["invalidResponses"] == 0, running.gcp.log()[-3000:]
    finally:
        running.stop()


@pytest.fixture
async def aws(stack: CustomerStack) -> AsyncIterator[AwsInterconnectClient]:
    client = AwsInterconnectClient(
        AWS_REGION,
        endpoint_url=stack.aws.url,
        credentials=AwsCredentials(ACCESS_KEY, SecretStr(SECRET_KEY)),
    )
    yield client
    await client.aclose()


@pytest.fixture
async def gcp(stack: CustomerStack) -> AsyncIterator[GoogleTransportsClient]:
    client = GoogleTransportsClient(
        GCP_PROJECT,
        GCP_LOCATION,
        auth=BearerToken(GCP_TOKEN),
        endpoint=stack.gcp.url,
        retry=RetryPolicy(max_attempts=5, base_delay_s=0.05, max_delay_s=0.5),
    )
    yield client
    await client.aclose()


@pytest.fixture
def boto(stack: CustomerStack) -> object:
    """A plain boto3 client of the fake (what a user's script would use)."""
    return boto3.client(
        "interconnect",
        region_name=AWS_REGION,
        endpoint_url=stack.aws.url,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    )
