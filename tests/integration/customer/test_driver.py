"""The customer driver (reconcile/customer.py) against both fakes: the operator's side of issue 17.

Each test plays the controller: reconcile, carry the shared UUID and
``ever_ready`` into the next request, refresh the pool between rounds (the
pool timer). Assertions read both clouds back through their own APIs and the
simulators behind them, never from the reconciler.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import replace

import pytest
from pydantic import SecretStr

from interconnect_operator.api.auth import BearerToken
from interconnect_operator.api.customer_aws import AwsCredentials, AwsInterconnectClient
from interconnect_operator.api.customer_gcp import GoogleTransportsClient
from interconnect_operator.api.errors import NotFound
from interconnect_operator.api.retry import RetryPolicy
from interconnect_operator.protocol.customer_link import (
    AWS_READY,
    GOOGLE_READY,
    Attachment,
    Cloud,
    CustomerTarget,
    Step,
)
from interconnect_operator.protocol.link_state import Phase
from interconnect_operator.protocol.types import (
    DeletionPolicy,
    LinkSpec,
    Side,
    VerificationState,
)
from interconnect_operator.reconcile.customer import (
    CustomerDriver,
    CustomerLinkReconciler,
    CustomerLinkRequest,
    CustomerOutcome,
    transport_id,
)
from interconnect_operator.reconcile.customer_pool import AwsAccount, CustomerPool, GoogleProject
from interconnect_operator.reconcile.link import LinkRequest
from tests.integration.customer.conftest import ACCESS_KEY, SECRET_KEY
from tests.integration.customer.helpers import ENVIRONMENT, NETWORK, PROFILE, sim_connections
from tests.support.customer import (
    AWS_ACCOUNT,
    AWS_REGION,
    GATEWAY,
    GCP_LOCATION,
    GCP_PROJECT,
    GCP_TOKEN,
    CustomerStack,
)


def new_pool(stack: CustomerStack) -> CustomerPool:
    """A fresh operator's view of the pool: its own clients, nothing remembered."""
    return CustomerPool(
        aws_account=AwsAccount(AWS_REGION, ENVIRONMENT, AWS_ACCOUNT),
        google_project=GoogleProject(GCP_PROJECT, GCP_LOCATION, PROFILE),
        aws=AwsInterconnectClient(
            AWS_REGION,
            endpoint_url=stack.aws.url,
            credentials=AwsCredentials(ACCESS_KEY, SecretStr(SECRET_KEY)),
            max_attempts=2,
        ),
        google=GoogleTransportsClient(
            GCP_PROJECT,
            GCP_LOCATION,
            auth=BearerToken(GCP_TOKEN),
            endpoint=stack.gcp.url,
            retry=RetryPolicy(max_attempts=2, base_delay_s=0.05),
        ),
    )


@pytest.fixture
async def pools(stack: CustomerStack) -> AsyncIterator[Callable[[], CustomerPool]]:
    made: list[CustomerPool] = []

    def make() -> CustomerPool:
        made.append(new_pool(stack))
        return made[-1]

    yield make
    for pool in made:
        await pool.aclose()


def link(initiator: Cloud, bandwidth: int = 1000, **overrides: object) -> CustomerLinkRequest:
    request = CustomerLinkRequest(
        uid=str(uuid.uuid4()),
        namespace="team-a",
        name=f"link-{initiator.value}",
        bandwidth_mbps=bandwidth,
        generation=1,
        initiator=initiator,
        attachment=Attachment(gateway=GATEWAY, network=NETWORK, advertised_routes=("10.1.0.0/16",)),
    )
    return replace(request, **overrides)  # type: ignore[arg-type]


async def drive(
    pool: CustomerPool,
    request: CustomerLinkRequest,
    until: Callable[[CustomerOutcome], bool] = lambda o: o.plan.ready,
    rounds: int = 80,
    reconciler: CustomerLinkReconciler | None = None,
) -> tuple[CustomerOutcome, CustomerLinkRequest]:
    reconciler = reconciler or CustomerLinkReconciler(pool)
    outcome: CustomerOutcome | None = None
    for _ in range(rounds):
        outcome = await reconciler.reconcile(request)
        if outcome.shared_uuid and request.shared_uuid is None:
            request = replace(request, shared_uuid=outcome.shared_uuid)
        if outcome.plan.ready:
            request = replace(request, ever_ready=True)
        if until(outcome):
            return outcome, request
        await asyncio.sleep(0.25)
        await pool.refresh()
    assert outcome is not None
    raise AssertionError(f"not there after {rounds} rounds: {outcome.plan} {outcome.error}")


def condition(outcome: CustomerOutcome, type_: str) -> bool:
    return next(c for c in outcome.plan.conditions if c.type == type_).is_true


@pytest.mark.parametrize("initiator", [Cloud.GOOGLE, Cloud.AWS])
async def test_both_flows_reach_ready_and_delete(
    stack: CustomerStack, pools: Callable[[], CustomerPool], initiator: Cloud
) -> None:
    pool = pools()
    ready, request = await drive(pool, link(initiator))
    assert condition(ready, AWS_READY)
    assert condition(ready, GOOGLE_READY)
    assert ready.plan.phase == "Ready"
    assert request.shared_uuid is not None
    aws = await pool.aws.get_connection(ready.aws_connection or "")
    assert (aws.state, aws.bandwidth_mbps, aws.shared_id) == (
        "available",
        1000,
        request.shared_uuid,
    )
    transport = await pool.google.get_transport(transport_id(request.uid))
    assert (transport.state, transport.bandwidth_mbps) == ("ACTIVE", 1000)
    assert transport.advertised_routes == ("10.1.0.0/16",)
    held = sim_connections(stack, request.shared_uuid)
    assert all(len(c) == 1 for c in held.values()), held

    done, _ = await drive(pool, replace(request, deleting=True), until=lambda o: o.finalized)
    assert done.plan.step is Step.FINALIZE
    assert (await pool.aws.get_connection(aws.id)).state == "deleted"  # stays listed
    with pytest.raises(NotFound):
        await pool.google.get_transport(transport_id(request.uid))
    assert sim_connections(stack, request.shared_uuid) == {"aws": [], "gcp": []}


async def test_bandwidth_update_and_orphan_deletion(
    stack: CustomerStack, pools: Callable[[], CustomerPool]
) -> None:
    pool = pools()
    _, request = await drive(pool, link(Cloud.GOOGLE))
    resized = replace(request, bandwidth_mbps=5000, generation=2)
    outcome, request = await drive(
        pool,
        resized,
        until=lambda o: (
            o.plan.step is Step.DONE
            and any(c.bandwidth_mbps == 5000 for c in pool.connections if c.id == o.aws_connection)
        ),
    )
    transport = await pool.google.get_transport(transport_id(request.uid))
    assert transport.bandwidth_mbps == 5000
    assert request.shared_uuid is not None
    assert {
        c["bandwidthMbps"]
        for cs in sim_connections(stack, request.shared_uuid).values()
        for c in cs
    } == {5000}

    orphaned, _ = await drive(
        pool,
        replace(request, deleting=True, deletion_policy=DeletionPolicy.ORPHAN),
        until=lambda o: o.finalized,
    )
    assert orphaned.plan.step is Step.FINALIZE
    # Orphan: both clouds keep their side.
    assert (await pool.aws.get_connection(outcome.aws_connection or "")).state == "available"
    assert (await pool.google.get_transport(transport_id(request.uid))).state == "ACTIVE"
    await drive(pool, replace(request, deleting=True), until=lambda o: o.finalized)


@pytest.mark.parametrize("initiator", [Cloud.GOOGLE, Cloud.AWS])
async def test_crash_between_the_two_creates_adopts_without_duplicates(
    stack: CustomerStack, pools: Callable[[], CustomerPool], initiator: Cloud
) -> None:
    request = link(initiator, name=f"crash-{initiator.value}")
    first = pools()
    outcome = await CustomerLinkReconciler(first).reconcile(request)
    assert outcome.plan.step in (Step.ACCEPT_ON_AWS, Step.CREATE_GOOGLE_WITH_KEY, Step.WAIT)
    # The operator dies here: its status write (the shared UUID) is lost too.
    second = pools()
    ready, request = await drive(second, request)
    assert ready.plan.ready
    assert request.shared_uuid is not None
    await second.refresh()
    ours = [
        c
        for c in second.connections
        if c.description == "MulticloudLink team-a crash-" + initiator.value
    ]
    assert len(ours) == 1, ours
    assert [t for t in second.transports if t == transport_id(request.uid)] == [
        transport_id(request.uid)
    ]
    held = sim_connections(stack, request.shared_uuid)
    assert all(len(c) == 1 for c in held.values()), held
    await drive(second, replace(request, deleting=True), until=lambda o: o.finalized)


async def test_vendor_failures_and_throttling_show_in_the_plan(
    stack: CustomerStack, pools: Callable[[], CustomerPool]
) -> None:
    pool = pools()
    ready, request = await drive(pool, link(Cloud.AWS, name="faults"))
    reconciler = CustomerLinkReconciler(pool)

    stack.aws.hook("override", {"id": ready.aws_connection, "state": "failed"})
    await pool.refresh()
    failed = await reconciler.reconcile(request)
    assert failed.plan.phase == "Failed"
    assert condition(failed, "Stalled")
    assert not condition(failed, AWS_READY)
    stack.aws.hook("override", {"id": ready.aws_connection, "state": None})

    stack.gcp.hook("suspend", {"transport": transport_id(request.uid), "suspended": True})
    await pool.refresh()
    suspended = await reconciler.reconcile(request)
    assert suspended.plan.phase == "Failed"
    assert "suspended" in suspended.plan.message
    stack.gcp.hook("suspend", {"transport": transport_id(request.uid), "suspended": False})
    await pool.refresh()

    stack.aws.hook("throttle", {"count": 20})
    try:
        throttled = await reconciler.reconcile(replace(request, bandwidth_mbps=2000, generation=2))
        # The resize call itself is throttled past the client's retries.
        assert throttled.error is not None
        assert "Throttled" in throttled.error
        assert throttled.requeue_after is not None
    finally:
        stack.aws.hook("throttle", {"count": 0})
    await pool.refresh()
    back = await reconciler.reconcile(request)
    assert back.plan.ready
    await drive(pool, replace(request, deleting=True), until=lambda o: o.finalized)


async def test_the_driver_answers_like_the_symmetric_one(
    stack: CustomerStack, pools: Callable[[], CustomerPool]
) -> None:
    """Behind the seam: LinkRequest in, LinkResult out, a status the k8s layer writes as is."""
    pool = pools()
    driver = CustomerDriver(pool, ENVIRONMENT)
    target = CustomerTarget(
        uid=str(uuid.uuid4()), attachment=Attachment(gateway=GATEWAY, network=NETWORK)
    )
    request = LinkRequest(
        namespace="team-a", name="seam", spec=LinkSpec(bandwidth_mbps=1000), customer=target
    )
    first = await driver.reconcile(request)  # no initiator: the Responder (AWS) goes first
    assert first.persist_uuid is not None  # AWS issued the UUID: record it with the link
    assert first.status is not None
    assert first.status.phase in (Phase.PENDING, Phase.NEGOTIATING)
    request = replace(request, shared_uuid=first.persist_uuid)
    result = first
    for _ in range(80):
        await pool.refresh()
        result = await driver.reconcile(request)
        assert result.persist_uuid is None
        if result.status is not None and result.status.ready:
            break
        await asyncio.sleep(0.25)
    assert result.status is not None
    assert result.status.phase is Phase.READY
    assert result.shared_uuid == request.shared_uuid
    by_side = {p.side: p for p in result.status.providers}
    assert (by_side[Side.RESPONDER].connection_name or "").startswith("mcc-")
    assert by_side[Side.RESPONDER].verification is VerificationState.VERIFIED
    assert (by_side[Side.NEGOTIATOR].connection_name or "").endswith(target.uid)
    assert result.status.channels == ()
    for _ in range(80):
        result = await driver.reconcile(replace(request, deleting=True))
        if result.finalized:
            break
        await asyncio.sleep(0.25)
        await pool.refresh()
    assert result.finalized
    assert sim_connections(stack, request.shared_uuid or "") == {"aws": [], "gcp": []}


async def test_the_driver_refuses_links_it_cannot_serve(pools: Callable[[], CustomerPool]) -> None:
    driver = CustomerDriver(pools(), ENVIRONMENT)
    plain = LinkRequest(namespace="team-a", name="plain", spec=LinkSpec(bandwidth_mbps=1000))
    refused = await driver.reconcile(plain)
    assert refused.status is not None
    assert refused.status.phase is Phase.FAILED
    assert refused.status.condition("Stalled").reason == "NotACustomerLink"
    stranger = replace(
        plain,
        customer=CustomerTarget(uid="u", attachment=Attachment(GATEWAY), initiator="azure"),
    )
    unknown = await driver.reconcile(stranger)
    assert unknown.status is not None
    assert unknown.status.condition("Stalled").reason == "UnknownInitiator"
    assert (await driver.reconcile(replace(plain, deleting=True))).finalized


async def test_a_paused_link_calls_neither_cloud(
    stack: CustomerStack, pools: Callable[[], CustomerPool]
) -> None:
    driver = CustomerDriver(pools(), ENVIRONMENT)
    target = CustomerTarget(uid=str(uuid.uuid4()), attachment=Attachment(GATEWAY, NETWORK))
    request = LinkRequest(
        namespace="team-a",
        name="paused",
        spec=LinkSpec(bandwidth_mbps=1000, paused=True),
        customer=target,
    )
    before = stack.aws.hook("state")["requests"], stack.gcp.hook("state")["requests"]
    result = await driver.reconcile(request)
    assert result.status is not None
    assert result.status.phase is Phase.PAUSED
    assert result.status.condition("Ready").reason == "Paused"
    assert not result.status.condition("Reconciling").is_true
    after = stack.aws.hook("state")["requests"], stack.gcp.hook("state")["requests"]
    assert after == before


async def test_sizes_neither_cloud_sells_are_refused_before_any_call(
    stack: CustomerStack, pools: Callable[[], CustomerPool]
) -> None:
    pool = pools()
    await pool.refresh()
    assert pool.sizes_mbps is not None
    assert 1000 in pool.sizes_mbps
    driver = CustomerDriver(pool, ENVIRONMENT)
    target = CustomerTarget(uid=str(uuid.uuid4()), attachment=Attachment(GATEWAY, NETWORK))
    request = LinkRequest(
        namespace="team-a", name="odd", spec=LinkSpec(bandwidth_mbps=1500), customer=target
    )
    before = stack.aws.hook("state")["requests"], stack.gcp.hook("state")["requests"]
    result = await driver.reconcile(request)
    assert result.status is not None
    assert result.status.condition("Stalled").reason == "BandwidthNotOffered"
    assert (stack.aws.hook("state")["requests"], stack.gcp.hook("state")["requests"]) == before
