"""P21 cleanup against two simulators, on an injected clock.

A link's connections are made by the operator's own reconciler; then the
link vanishes without the operator's release (deleted out of band while the
operator was down: its ownership record stays behind, naming a uid no link
has). Seven days on, what was never finalised, or exists on one side only,
is deleted at the providers, with a Warning Event on the pool and the record
removed. Nothing is touched without a record naming a vanished link, nothing
finalised, nothing younger than seven days.
"""

from __future__ import annotations

from typing import Any

from interconnect_operator.k8s.cleanup import LeftoverCleanup
from interconnect_operator.k8s.index import LinkIndex
from interconnect_operator.k8s.kube import KubeError
from interconnect_operator.k8s.ownership import record_name
from interconnect_operator.protocol.link_state import Phase
from interconnect_operator.protocol.types import Side
from interconnect_operator.reconcile.link import LinkResult
from tests.integration.reconcile.conftest import (
    ENV,
    NEGOTIATOR,
    RESPONDER,
    Operator,
    Rig,
    calls_by_operation,
    link_objects,
    link_request,
)
from tests.unit.k8s.fake_kube import FakeKube

DAY = 86400.0
NAMESPACE = "interconnect-system"
POOL = {"apiVersion": "interconnect.io/v1alpha1", "kind": "CapacityPool",
        "metadata": {"name": "pool", "uid": "uid-pool"}}  # fmt: skip


def provisioning(result: LinkResult) -> bool:
    return result.status is not None and result.status.phase is Phase.PROVISIONING


async def made_by_the_operator(rig: Rig, *, ready: bool) -> tuple[Operator, str]:
    """A link the operator brought to PROVISIONING (or Ready); its UUID."""
    issued = await rig.aws.issue_key()
    op = rig.operator()
    request = link_request(key=issued["encodedKey"], persisted=True)
    await rig.drive(op, request, until=None if ready else provisioning)
    uuid = request.shared_uuid
    assert uuid is not None
    return op, uuid


def record(kube: FakeKube, uuid: str, uid: str, created: str) -> None:
    """The ownership record the operator wrote when the link claimed ``uuid``."""
    kube.configmaps[(NAMESPACE, record_name(uuid))] = {
        "metadata": {"name": record_name(uuid), "namespace": NAMESPACE,
                     "creationTimestamp": created},
        "data": {"uid": uid},
    }  # fmt: skip


def stamp(rig: Rig) -> str:
    return rig.clock.datetime().strftime("%Y-%m-%dT%H:%M:%SZ")


async def held(rig: Rig, uuid: str) -> tuple[int, int]:
    neg, res = await rig.states()
    return len(link_objects(neg, uuid)[0]), len(link_objects(res, uuid)[0])


def cleanup(rig: Rig, kube: FakeKube, index: LinkIndex) -> LeftoverCleanup:
    return LeftoverCleanup(kube, index, NAMESPACE, clock=rig.clock.datetime)


async def test_p21_an_unfinished_connection_of_a_vanished_link_goes_after_seven_days(
    make_rig: Any,
) -> None:
    rig = make_rig(responder_provisioning_delay=30 * DAY)
    op, uuid = await made_by_the_operator(rig, ready=False)
    assert await held(rig, uuid) == (1, 1)
    kube, index = FakeKube(), LinkIndex()  # the link is gone: no body in the index
    record(kube, uuid, "uid-vanished", stamp(rig))
    sweeper = cleanup(rig, kube, index)

    # The first round after start only takes note: no record is read.
    kube.failures["get_configmap"] = [KubeError(500, "unavailable")]
    await op.runtime.refresh()
    await sweeper.run("pool", op.runtime, POOL)
    assert len(kube.failures["get_configmap"]) == 1
    rig.clock.advance(6 * DAY)
    await op.runtime.refresh()
    await sweeper.run("pool", op.runtime, POOL)  # the record read fails: nothing decided
    assert kube.failures["get_configmap"] == []
    rig.clock.advance(60 * 60)
    await op.runtime.refresh()
    await sweeper.run("pool", op.runtime, POOL)
    assert await held(rig, uuid) == (1, 1)  # six days: kept
    assert kube.events == []

    rig.clock.advance(1 * DAY)
    await op.runtime.refresh()
    await sweeper.run("pool", op.runtime, POOL)
    assert await held(rig, uuid) == (0, 0)
    (event,) = kube.events
    assert (event.kind, event.name, event.type, event.reason) == (
        "CapacityPool", "pool", "Warning", "LeftoverDeleted"
    )  # fmt: skip
    assert uuid in event.message
    assert "never finalised" in event.message
    assert (NAMESPACE, record_name(uuid)) not in kube.configmaps
    calls = calls_by_operation(await rig.gcp.stats(), await rig.aws.stats())
    assert calls["DeleteConnection"] == 2


async def test_p21_a_one_sided_leftover_goes_from_the_side_that_holds_it(make_rig: Any) -> None:
    rig = make_rig(responder_provisioning_delay=30 * DAY)
    op, uuid = await made_by_the_operator(rig, ready=False)
    neg, _ = await rig.states()
    interconnect = link_objects(neg, uuid)[0][0]["interconnect"]
    await op.runtime.client(Side.RESPONDER).delete_connection(ENV, interconnect, uuid)
    assert await held(rig, uuid) == (1, 0)
    kube, index = FakeKube(), LinkIndex()
    record(kube, uuid, "uid-vanished", stamp(rig))
    sweeper = cleanup(rig, kube, index)
    await op.runtime.refresh()
    await sweeper.run("pool", op.runtime, POOL)
    rig.clock.advance(8 * DAY)
    await op.runtime.refresh()
    await sweeper.run("pool", op.runtime, POOL)
    assert await held(rig, uuid) == (0, 0)
    (event,) = kube.events
    assert f"at {NEGOTIATOR} (one side)" in event.message
    assert RESPONDER not in event.message.split(" at ")[1]


async def test_p21_never_touches_what_is_not_a_vanished_links_unfinished_leftover(
    make_rig: Any,
) -> None:
    rig = make_rig(responder_provisioning_delay=30 * DAY)
    op, unrecorded = await made_by_the_operator(rig, ready=False)
    _, live_owner = await made_by_the_operator(rig, ready=False)
    kube, index = FakeKube(), LinkIndex()
    # A live link whose record names it, showing another UUID (e.g. after a
    # wiped annotation): its connections are its reconciler's business.
    index.observe(
        {
            "metadata": {"namespace": "team-a", "name": "live", "uid": "uid-live",
                         "resourceVersion": "1"},
            "spec": {"poolRef": {"name": "pool"}},
        }
    )  # fmt: skip
    record(kube, live_owner, "uid-live", stamp(rig))
    # ``unrecorded``: no record at all (another party's, as far as we can tell).
    sweeper = cleanup(rig, kube, index)
    await op.runtime.refresh()
    await sweeper.run("pool", op.runtime, POOL)
    rig.clock.advance(30 * DAY)
    await op.runtime.refresh()
    await sweeper.run("pool", op.runtime, POOL)
    assert await held(rig, unrecorded) == (1, 1)
    assert await held(rig, live_owner) == (1, 1)
    assert kube.events == []
    calls = calls_by_operation(await rig.gcp.stats(), await rig.aws.stats())
    assert calls["DeleteConnection"] == 0


async def test_p21_a_finalised_connection_of_a_vanished_link_is_not_p21s(make_rig: Any) -> None:
    rig = make_rig()
    op, uuid = await made_by_the_operator(rig, ready=True)
    kube, index = FakeKube(), LinkIndex()
    record(kube, uuid, "uid-vanished", stamp(rig))
    sweeper = cleanup(rig, kube, index)
    await op.runtime.refresh()
    await sweeper.run("pool", op.runtime, POOL)
    rig.clock.advance(30 * DAY)
    await op.runtime.refresh()
    await sweeper.run("pool", op.runtime, POOL)
    assert await held(rig, uuid) == (1, 1)
    assert kube.events == []


async def test_p21_off_when_the_operator_does_not_see_every_namespace(make_rig: Any) -> None:
    """With --namespace, a link outside the operator's view looks vanished: no cleanup."""
    rig = make_rig(responder_provisioning_delay=30 * DAY)
    op, uuid = await made_by_the_operator(rig, ready=False)
    kube, index = FakeKube(), LinkIndex()
    record(kube, uuid, "uid-elsewhere", stamp(rig))
    sweeper = LeftoverCleanup(kube, index, NAMESPACE, clock=rig.clock.datetime, enabled=False)
    await op.runtime.refresh()
    await sweeper.run("pool", op.runtime, POOL)
    rig.clock.advance(30 * DAY)
    await op.runtime.refresh()
    await sweeper.run("pool", op.runtime, POOL)
    assert await held(rig, uuid) == (1, 1)
    assert kube.events == []
