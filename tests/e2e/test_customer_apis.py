"""examples/customer/ on the real API server: links Ready through both customer-API fakes.

The operator process of the e2e stack serves a second pool, one that speaks
AWS Interconnect and Google transports (``api.type``), over ``fake-aws`` and
``fake-gcp`` in front of two simulators. The examples are rendered with
``kubectl kustomize``; only the endpoints and the Secret's namespace are
rewritten. Both links (Google first, AWS first) must become Ready, read
Current by kstatus, agree with botocore's own ``ConnectionAvailable`` waiter
and Google's transport state, and deletion must remove both sides.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from pydantic import SecretStr

from interconnect_operator.api.auth import BearerToken
from interconnect_operator.api.customer_gcp import GoogleTransportsClient
from interconnect_operator.api.errors import NotFound
from tests.e2e.conftest import REPO, Stack, release_links
from tests.support.customer import GCP_LOCATION, GCP_PROJECT, CustomerStack, start_customer_stack
from tests.support.kstatus import KStatus, compute
from tests.support.stack import is_ready, wait_for

pytestmark = pytest.mark.e2e

EXAMPLES = REPO / "examples" / "customer"
POOL = "aws-gcp-customer"
LINKS = {"google-first": 1000, "aws-first": 2000}


def _credentials() -> dict[str, str]:
    doc = yaml.safe_load((EXAMPLES / "credentials.yaml").read_text())
    data: dict[str, str] = doc["stringData"]
    return data


@pytest.fixture
def fakes(stack: Stack, e2e_log_dir: Path) -> Iterator[CustomerStack]:
    creds = _credentials()
    running = start_customer_stack(
        e2e_log_dir,
        provisioning_delay=0.5,
        aws_secret_keys={creds["accessKeyId"]: creds["secretAccessKey"]},
        gcp_token=creds["gcp-token"],
    )
    try:
        yield running
    finally:
        release_links(stack.kube, POOL)
        stack.kube.delete("cpool", POOL)
        running.stop()


def _rendered(stack: Stack, fakes: CustomerStack) -> list[dict[str, Any]]:
    out = stack.kube.run("kustomize", str(EXAMPLES))
    docs = [d for d in yaml.safe_load_all(out) if d]
    urls = {"aws": fakes.aws.url, "gcp": fakes.gcp.url}
    for doc in docs:
        if doc["kind"] == "Secret":
            doc["metadata"]["namespace"] = stack.operator_namespace
        if doc["kind"] == "CapacityPool":
            for provider in doc["spec"]["providers"]:
                provider["endpoint"] = urls[provider["name"]]
            doc["spec"]["refreshInterval"] = 5
    return docs


def _provider(link: dict[str, Any], name: str) -> dict[str, Any]:
    return next(p for p in link["status"]["providers"] if p["name"] == name)


async def test_customer_examples_become_ready_through_both_fakes(
    stack: Stack, fakes: CustomerStack
) -> None:
    stack.kube.apply_file(REPO / "examples" / "namespaces.yaml")
    docs = _rendered(stack, fakes)
    assert sorted(d["kind"] for d in docs) == [
        "CapacityPool",
        "MulticloudLink",
        "MulticloudLink",
        "Secret",
    ]
    stack.kube.apply(docs)

    def all_ready() -> list[Any] | None:
        items = [stack.kube.try_get("mcl", name, "team-a") for name in LINKS]
        return items if all(is_ready(i) for i in items) else None

    links = wait_for(all_ready, 180, "both customer links Ready")

    def pool_ready() -> dict[str, Any] | None:
        pool = stack.kube.try_get("cpool", POOL)
        return pool if is_ready(pool) else None

    pool = wait_for(pool_ready, 60, "the customer pool Ready")
    assert pool["status"]["supportedSizesMbps"][:2] == [1000, 2000]
    boto = boto3.client(
        "interconnect",
        region_name="us-east-1",
        endpoint_url=fakes.aws.url,
        aws_access_key_id=_credentials()["accessKeyId"],
        aws_secret_access_key=_credentials()["secretAccessKey"],
    )
    google = GoogleTransportsClient(
        GCP_PROJECT,
        GCP_LOCATION,
        auth=BearerToken(SecretStr(_credentials()["gcp-token"])),
        endpoint=fakes.gcp.url,
    )
    transports = []
    keys: list[str] = []
    for link in links:
        name = link["metadata"]["name"]
        assert compute(link, strict=True).status is KStatus.CURRENT, link["status"]
        aws_connection = _provider(link, "aws")["connection"]
        transport = _provider(link, "gcp")["connection"]
        assert aws_connection.startswith("mcc-")
        # botocore's own waiter agrees with the link's Ready.
        boto.get_waiter("connection_available").wait(
            identifier=aws_connection, WaiterConfig={"Delay": 1, "MaxAttempts": 5}
        )
        described = boto.get_connection(identifier=aws_connection)["connection"]
        keys.append(described["activationKey"])
        assert described["sharedId"] == link["status"]["sharedConnectionUuid"]
        assert described["bandwidth"] == f"{LINKS[name] // 1000}Gbps"
        observed = await google.get_transport(transport.rsplit("/", 1)[-1])
        assert (observed.state, observed.bandwidth_mbps) == ("ACTIVE", LINKS[name])
        # ipv6 on the link asks Google for an IPv4+IPv6 stack.
        wanted = "IPV4_IPV6" if link["spec"].get("ipv6") else "IPV4_ONLY"
        assert observed.stack_type == wanted
        transports.append(observed.id)
        # Both simulators hold the link under the shared UUID (the handoff was real).
        uuid = link["status"]["sharedConnectionUuid"]
        for sim in (fakes.aws_sim, fakes.gcp_sim):
            assert [c["connection"] for c in sim.state()["connections"]].count(uuid) == 1
        assert not any(key in str(link["status"]) for key in ("activationKey", "encodedKey"))

    pool_lines = [
        line for line in stack.operator.metrics().splitlines() if f'pool="{POOL}"' in line
    ]
    assert f'interconnect_pool_links{{phase="Ready",pool="{POOL}"}} 2.0' in pool_lines
    # Per side: each cloud reachable, each link verified on each side.
    for provider in ("aws", "gcp"):
        reachable = f'interconnect_provider_reachable{{pool="{POOL}",provider="{provider}"}} 1.0'
        assert reachable in pool_lines
        for name in LINKS:
            verified = (
                f'interconnect_link_verified{{name="{name}",namespace="team-a",'
                f'pool="{POOL}",provider="{provider}"}} 1.0'
            )
            assert verified in pool_lines

    # The keys the clouds issued never reach status, Events or the operator's log.
    events = str(stack.kube.events("team-a"))
    for key in keys:
        assert key not in str(links)
        assert key not in events
        assert key not in stack.operator.log()

    for name in LINKS:
        stack.kube.delete("mcl", name, "team-a")
    wait_for(
        lambda: all(stack.kube.try_get("mcl", n, "team-a") is None for n in LINKS) or None,
        120,
        "customer links released",
    )
    states = {c["id"]: c["state"] for c in boto.list_connections()["connections"]}
    for link in links:
        assert states[_provider(link, "aws")["connection"]] == "deleted"  # stays listed
    for transport_id in transports:
        with pytest.raises(NotFound):
            await google.get_transport(transport_id)
    assert all(not sim.state()["connections"] for sim in (fakes.aws_sim, fakes.gcp_sim))
    await google.aclose()


def _example(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((EXAMPLES / name).read_text())
    return doc


@pytest.mark.parametrize(
    ("kind", "change", "message"),
    [
        (
            "pool",
            lambda doc: doc["spec"]["providers"][1].pop("api"),
            "both providers speak the symmetric API, or one AwsInterconnect",
        ),
        (
            "pool",
            lambda doc: doc["spec"]["providers"][0]["api"].pop("aws"),
            "api.aws goes with type AwsInterconnect",
        ),
        (
            "link",
            lambda doc: doc["spec"].update(bgp={"asn": 64999}),
            "a customer link gets its key from the clouds",
        ),
        (
            "link",
            lambda doc: doc["spec"].update(destinationAccountId="123456789012"),
            "a customer link gets its key from the clouds",
        ),
        (
            "link",
            lambda doc: doc["spec"]["customer"]["google"].update(hub="projects/p/hubs/h"),
            "set exactly one of network and hub",
        ),
    ],
)
def test_admission_refuses_what_a_customer_pool_cannot_honour(
    stack: Stack, kind: str, change: Any, message: str
) -> None:
    stack.kube.apply_file(REPO / "examples" / "namespaces.yaml")
    doc = _example("capacitypool.yaml" if kind == "pool" else "link-google-first.yaml")
    doc["metadata"]["name"] = f"refused-{kind}"
    change(doc)
    with pytest.raises(RuntimeError, match=message):
        stack.kube.apply([doc])
