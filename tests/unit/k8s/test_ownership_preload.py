"""A (re)started operator lists the shared-UUID records once instead of reading one per link."""

from __future__ import annotations

from interconnect_operator.k8s.ownership import Ownership, UuidOwnership, record_name
from interconnect_operator.k8s.settings import UUID_ANNOTATION
from tests.unit.k8s.fake_kube import FakeKube

NS = "interconnect-system"
UUID_A = "7b576c28-8fb4-4152-99d4-c7bde9fe598e"
UUID_B = "0c3a4e1f-1111-4222-8333-944455556666"


def _link(uid: str, uuid: str) -> dict[str, object]:
    return {"metadata": {"uid": uid, "annotations": {UUID_ANNOTATION: uuid}}}


async def _claimed(kube: FakeKube) -> None:
    writer = UuidOwnership(kube, NS)
    assert await writer.claim(UUID_A, "uid-a")
    assert await writer.claim(UUID_B, "uid-b")


async def test_preloaded_records_answer_without_a_read_per_link() -> None:
    kube = FakeKube()
    await _claimed(kube)
    # Not a record: another ConfigMap of the namespace, and one in another namespace.
    kube.configmaps[(NS, "settings")] = {"metadata": {"name": "settings"}, "data": {"uid": "x"}}
    kube.configmaps[("elsewhere", record_name(UUID_A))] = {
        "metadata": {"name": record_name(UUID_A), "labels": {"interconnect.io/record": "x"}},
        "data": {"uid": "uid-evil"},
    }
    restarted = UuidOwnership(kube, NS)
    assert await restarted.preload() == 2
    kube.fail("get_configmap", 500, times=2)  # any per-link read would now fail the check
    assert await restarted.check(_link("uid-a", UUID_A)) is Ownership.OWNED
    assert await restarted.check(_link("uid-b", UUID_B)) is Ownership.OWNED


async def test_a_refusal_is_still_decided_on_a_fresh_read() -> None:
    kube = FakeKube()
    await _claimed(kube)
    restarted = UuidOwnership(kube, NS)
    await restarted.preload()
    # The record was released and claimed again by another link after the list.
    del kube.configmaps[(NS, record_name(UUID_A))]
    assert await UuidOwnership(kube, NS).claim(UUID_A, "uid-new")
    assert await restarted.check(_link("uid-new", UUID_A)) is Ownership.OWNED
    assert await restarted.check(_link("uid-a", UUID_A)) is Ownership.NOT_OWNED


async def test_a_list_the_rbac_refuses_leaves_the_reads_in_place() -> None:
    kube = FakeKube()
    await _claimed(kube)
    kube.fail("list_configmaps", 403)
    restarted = UuidOwnership(kube, NS)
    assert await restarted.preload() == 0
    assert await restarted.check(_link("uid-a", UUID_A)) is Ownership.OWNED
