"""Finalizer and shared-UUID write-ahead (k8s.meta) against the fake client."""

from __future__ import annotations

from typing import Any

import pytest

from interconnect_operator.k8s.index import LinkIndex
from interconnect_operator.k8s.kube import LINKS, KubeError
from interconnect_operator.k8s.meta import LinkMetadata
from interconnect_operator.k8s.settings import FINALIZER, UUID_ANNOTATION
from tests.unit.k8s.fake_kube import FakeKube

KEY = ("team-a", "link")


def _link(kube: FakeKube, **meta: Any) -> dict[str, Any]:
    return kube.add_object(LINKS, {"metadata": {"namespace": "team-a", "name": "link", **meta}})


def _stored(kube: FakeKube) -> dict[str, Any]:
    return kube.objects[(LINKS, "team-a", "link")]["metadata"]


async def test_add_finalizer_updates_the_body_copy(kube: FakeKube) -> None:
    body = _link(kube, finalizers=["other.io/keep"])
    await LinkMetadata(kube, LinkIndex()).add_finalizer(KEY, body)
    assert _stored(kube)["finalizers"] == ["other.io/keep", FINALIZER]
    assert body["metadata"]["finalizers"] == ["other.io/keep", FINALIZER]
    assert body["metadata"]["resourceVersion"] == _stored(kube)["resourceVersion"]


async def test_a_conflict_rereads_once_and_keeps_other_finalizers(kube: FakeKube) -> None:
    body = _link(kube)
    # Another controller added its finalizer after our copy was taken.
    _stored(kube)["finalizers"] = ["other.io/keep"]
    kube.bump(LINKS, "team-a", "link")
    await LinkMetadata(kube, LinkIndex()).add_finalizer(KEY, body)
    assert _stored(kube)["finalizers"] == ["other.io/keep", FINALIZER]
    assert kube.reads == [f"{LINKS}/link"]


async def test_a_second_conflict_is_raised(kube: FakeKube) -> None:
    body = _link(kube)
    kube.bump(LINKS, "team-a", "link")
    meta = LinkMetadata(kube, LinkIndex())
    kube.fail("patch_metadata", 409, times=2)
    with pytest.raises(KubeError) as raised:
        await meta.add_finalizer(KEY, body)
    assert raised.value.status == 409


async def test_remove_finalizer_keeps_others_and_removes_the_list_when_empty(
    kube: FakeKube,
) -> None:
    body = _link(kube, finalizers=["other.io/keep", FINALIZER])
    meta = LinkMetadata(kube, LinkIndex())
    await meta.remove_finalizer(KEY, body)
    assert _stored(kube)["finalizers"] == ["other.io/keep"]
    body = _link(kube, finalizers=[FINALIZER])
    await meta.remove_finalizer(KEY, body)
    assert "finalizers" not in _stored(kube)


async def test_remove_finalizer_of_a_link_already_gone_is_fine(kube: FakeKube) -> None:
    body = {"metadata": {"namespace": "team-a", "name": "link", "finalizers": [FINALIZER]}}
    await LinkMetadata(kube, LinkIndex()).remove_finalizer(KEY, body)
    assert kube.meta_patches == []


async def test_persist_uuid_writes_annotation_and_finalizer_in_one_patch(kube: FakeKube) -> None:
    body = _link(kube)
    index = LinkIndex()
    index.observe(body)
    await LinkMetadata(kube, index).persist_uuid(KEY, body, "uuid-1")
    assert len(kube.meta_patches) == 1
    stored = _stored(kube)
    assert stored["annotations"] == {UUID_ANNOTATION: "uuid-1"}
    assert stored["finalizers"] == [FINALIZER]
    assert body["metadata"]["annotations"] == {UUID_ANNOTATION: "uuid-1"}
    assert index.key_for_uuid("uuid-1") == KEY


async def test_persist_uuid_keeps_an_existing_finalizer_once(kube: FakeKube) -> None:
    body = _link(kube, finalizers=[FINALIZER])
    await LinkMetadata(kube, LinkIndex()).persist_uuid(KEY, body, "uuid-1")
    assert _stored(kube)["finalizers"] == [FINALIZER]


async def test_persist_uuid_claims_before_writing_and_gives_up_on_failure(
    kube: FakeKube,
) -> None:
    body = _link(kube)
    index = LinkIndex()
    index.observe(body)
    seen: list[Any] = []
    original = kube.patch_metadata

    async def patch_and_look(*args: Any, **kwargs: Any) -> dict[str, Any]:
        seen.append(index.key_for_uuid("uuid-1"))  # claimed while the write is in flight
        raise KubeError(500, "etcd down")

    kube.patch_metadata = patch_and_look  # type: ignore[method-assign]
    with pytest.raises(KubeError):
        await LinkMetadata(kube, index).persist_uuid(KEY, body, "uuid-1")
    kube.patch_metadata = original  # type: ignore[method-assign]
    assert seen == [KEY]
    assert index.key_for_uuid("uuid-1") is None
    assert UUID_ANNOTATION not in (_stored(kube).get("annotations") or {})
