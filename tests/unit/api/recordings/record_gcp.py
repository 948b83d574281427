"""Record the Google request/response pairs the unit tests replay (``gcp_transports.json``).

Run from the repository root: ``.venv/bin/python -m tests.unit.api.recordings.record_gcp``.
It starts both simulators and both fakes (tests/support/customer.py), drives
the operator's Google client through a Google-first bring-up, a resize, a
deletion, a missing transport and a throttled call, and writes every HTTP
exchange in order. Bodies are kept as sent and received; the bearer token is
not recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import tempfile
from pathlib import Path
from typing import Any

import httpx

from interconnect_operator.api.auth import BearerToken
from interconnect_operator.api.customer_aws import AwsCredentials, AwsInterconnectClient
from interconnect_operator.api.customer_gcp import (
    GoogleTransportsClient,
    TransportSpec,
    request_id,
)
from interconnect_operator.api.errors import NotFound
from interconnect_operator.api.retry import RetryPolicy
from tests.support.customer import (
    AWS_ACCOUNT,
    AWS_REGION,
    GATEWAY,
    GCP_LOCATION,
    GCP_PROJECT,
    GCP_TOKEN,
    start_customer_stack,
)

OUT = Path(__file__).with_name("gcp_transports.json")


class Recorder(httpx.AsyncBaseTransport):
    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.pairs: list[dict[str, Any]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        content = await response.aread()
        self.pairs.append(
            {
                "request": {
                    "method": request.method,
                    "path": request.url.path,
                    "query": dict(request.url.params),
                    "body": json.loads(request.content) if request.content else None,
                },
                "response": {
                    "status": response.status_code,
                    "headers": {
                        k: v for k, v in response.headers.items() if k.lower() == "retry-after"
                    },
                    "body": json.loads(content) if content else None,
                },
            }
        )
        return httpx.Response(response.status_code, headers=response.headers, content=content)


async def record(base: str, aws_url: str) -> list[dict[str, Any]]:
    recorder = Recorder(httpx.AsyncHTTPTransport())
    gcp = GoogleTransportsClient(
        GCP_PROJECT,
        GCP_LOCATION,
        auth=BearerToken(GCP_TOKEN),
        endpoint=base,
        transport=recorder,
        retry=RetryPolicy(max_attempts=3, base_delay_s=0.01),
    )
    aws = AwsInterconnectClient(
        AWS_REGION, endpoint_url=aws_url, credentials=AwsCredentials("AKIDREC", _secret())
    )
    profiles = await gcp.list_remote_transport_profiles()
    spec = TransportSpec(
        remote_profile=profiles[0].name,
        network=f"projects/{GCP_PROJECT}/global/networks/default",
        bandwidth_mbps=1000,
        remote_account_id=AWS_ACCOUNT,
    )
    op = await gcp.create_transport("recorded", spec, request=request_id("recorded", "create"))
    done = await gcp.wait(op, first_delay=0.2)
    transport = done.transport()
    assert transport is not None
    assert transport.generated_activation_key is not None
    await aws.accept_connection_proposal(
        activation_key=transport.generated_activation_key, gateway=GATEWAY, client_token="rec"
    )
    for _ in range(100):
        if (await gcp.get_transport("recorded")).state == "ACTIVE":
            break
        await asyncio.sleep(0.3)
    await gcp.wait(
        await gcp.set_bandwidth("recorded", 2000, request=request_id("recorded", "2000")),
        first_delay=0.5,
    )
    await gcp.list_transports()
    await gcp.wait(
        await gcp.delete_transport("recorded", request=request_id("recorded", "delete")),
        first_delay=0.5,
    )
    with contextlib.suppress(NotFound):
        await gcp.get_transport("recorded")
    async with httpx.AsyncClient() as hooks:
        await hooks.post(f"{base}/_fake/throttle", json={"count": 1})
    await gcp.list_remote_transport_profiles()  # 429 RESOURCE_EXHAUSTED, then 200
    await gcp.aclose()
    await aws.aclose()
    # Keep only the final poll of each operation and of the ACTIVE wait: fewer, meaningful pairs.
    pairs: list[dict[str, Any]] = []
    for pair in recorder.pairs:
        if pairs and _same_poll(pairs[-1], pair):
            pairs[-1] = pair
        else:
            pairs.append(pair)
    return pairs


def _same_poll(previous: dict[str, Any], pair: dict[str, Any]) -> bool:
    a, b = previous["request"], pair["request"]
    answered = previous["response"]["status"] == pair["response"]["status"] == 200
    return answered and a["method"] == b["method"] == "GET" and a["path"] == b["path"]


def _secret() -> Any:
    from pydantic import SecretStr

    return SecretStr("recording")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        stack = start_customer_stack(Path(tmp))
        try:
            pairs = asyncio.run(record(stack.gcp.url, stack.aws.url))
        finally:
            stack.stop()
    OUT.write_text(json.dumps(pairs, indent=1, sort_keys=True) + "\n")
    print(f"{len(pairs)} pairs -> {OUT}")


if __name__ == "__main__":
    main()
