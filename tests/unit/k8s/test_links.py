"""The link reconcile around the reconciler (k8s.links): gate, prepare, persist.

The reconciler and the pool runtime are stubs (their own tests live in
tests/integration/reconcile); Kubernetes is the fake client.
"""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from typing import Any, cast

import pytest

from interconnect_operator.k8s.credentials import Credentials
from interconnect_operator.k8s.index import LinkIndex
from interconnect_operator.k8s.kube import LINKS
from interconnect_operator.k8s.link_request import build_request, observed_generation
from interconnect_operator.k8s.links import STARTUP_GRACE_SECONDS, LinkState, LinkWorkers
from interconnect_operator.k8s.meta import LinkMetadata
from interconnect_operator.k8s.namespaces import NamespacePolicy
from interconnect_operator.k8s.ownership import UuidOwnership, record_name
from interconnect_operator.k8s.pool_entry import PoolEntry
from interconnect_operator.k8s.pools import PoolLoops
from interconnect_operator.k8s.publish import Publisher
from interconnect_operator.k8s.resources import MulticloudLinkSpec
from interconnect_operator.k8s.settings import FINALIZER, UUID_ANNOTATION, OperatorOptions
from interconnect_operator.k8s.workqueue import Priority, Requeue
from interconnect_operator.metrics import OperatorMetrics, render
from interconnect_operator.protocol.conditions import Condition, ConditionStatus
from interconnect_operator.protocol.link_state import LinkStatus, Phase
from interconnect_operator.reconcile.link import LinkReconciler, LinkResult
from interconnect_operator.reconcile.pool import PoolRuntime
from tests.unit.k8s.fake_kube import FakeKube
from tests.unit.k8s.link_stubs import StubReconciler, StubRuntime

KEY = ("team-a", "link")
LINK_SECRET = {"interconnect.io/link-secret": "true"}
OPTIONS = OperatorOptions(workers=1)


@dataclass
class Rig:
    kube: FakeKube
    metrics: OperatorMetrics
    index: LinkIndex
    pools: PoolLoops
    workers: LinkWorkers
    reconciler: StubReconciler
    runtime: StubRuntime

    def link(self, name: str = "link", *, owned: bool = True, **spec: Any) -> dict[str, Any]:
        """A stored link, observed by the index; returns the index's copy.

        A link showing a UUID owns it (its ownership record exists) unless ``owned=False``.
        """
        meta = spec.pop("meta", {})
        if "activationKey" not in spec:
            spec.setdefault("destinationAccountId", "acct-1")
        body = {
            "metadata": {"namespace": "team-a", "name": name, **meta},
            "spec": {"poolRef": {"name": "pool"}, "bandwidthMbps": 1000, **spec},
        }
        stored = self.kube.add_object(LINKS, body)
        uuid = (meta.get("annotations") or {}).get(UUID_ANNOTATION)
        if uuid and owned:
            self.own(uuid, stored["metadata"]["uid"])
        self.index.observe(stored)
        return self.index.links[("team-a", name)]

    def own(self, uuid: str, uid: str) -> None:
        record = {"metadata": {"name": record_name(uuid)}, "data": {"uid": uid}}
        self.kube.configmaps[(OPTIONS.operator_namespace, record_name(uuid))] = record

    def owner(self, uuid: str) -> str | None:
        record = self.kube.configmaps.get((OPTIONS.operator_namespace, record_name(uuid)))
        return None if record is None else str(record["data"]["uid"])

    def add_pool(self, *, ready: bool = True, selector: dict[str, Any] | None = None) -> PoolEntry:
        policy = {"namespaceSelector": selector} if selector else {}
        entry = PoolEntry(
            name="pool", body={"metadata": {"name": "pool"}, "spec": {"policy": policy}}
        )
        entry.runtime = cast(PoolRuntime, self.runtime)
        entry.reconciler = cast(LinkReconciler, self.reconciler)
        if ready:
            entry.ready.set()
        self.pools.entries["pool"] = entry
        return entry

    def stored(self, name: str = "link") -> dict[str, Any]:
        return self.kube.last_seen(LINKS, "team-a", name)

    def reasons(self) -> list[str]:
        return [e.reason for e in self.kube.events]


@pytest.fixture
async def rig(kube: FakeKube, metrics: OperatorMetrics) -> AsyncIterator[Rig]:
    index = LinkIndex()
    publisher = Publisher(kube, metrics)
    credentials = Credentials(kube, OPTIONS.operator_namespace)
    holder: list[LinkWorkers] = []

    def wake(key: tuple[str, str], priority: Priority) -> None:
        holder[0].queue.add(key, priority)

    pools = PoolLoops(
        OPTIONS,
        kube,
        metrics,
        credentials=credentials,
        index=index,
        wake_link=wake,
        on_request=publisher.on_request,
    )
    workers = LinkWorkers(
        OPTIONS,
        kube,
        metrics,
        index=index,
        pools=pools,
        credentials=credentials,
        meta=LinkMetadata(kube, index),
        namespaces=NamespacePolicy(kube),
        publisher=publisher,
        owners=UuidOwnership(kube, OPTIONS.operator_namespace),
    )
    holder.append(workers)
    workers._started -= STARTUP_GRACE_SECONDS + 1  # past the startup grace
    yield Rig(kube, metrics, index, pools, workers, StubReconciler(), StubRuntime())
    await pools.stop()


def _status(phase: Phase, *, ready: bool = False, message: str = "") -> LinkStatus:
    cond = ConditionStatus.TRUE if ready else ConditionStatus.FALSE
    return LinkStatus(
        phase=phase,
        conditions=(Condition("Ready", cond, phase.value, message, 1),),
        interconnect="ix-1" if ready else None,
        migrating_to=None,
        channels=(),
        providers=(),
        ready=ready,
        message=message,
    )


def _result(phase: Phase, **kwargs: Any) -> LinkResult:
    ready = phase is Phase.READY
    status = _status(phase, ready=ready)
    return LinkResult(status, kwargs.pop("shared_uuid", "uuid-1"), "env", 60.0, **kwargs)


# ---------------------------------------------------------------- gate


async def test_an_invalid_spec_fails_once_with_one_event(rig: Rig) -> None:
    body = rig.link(bandwidthMbps="lots")
    for _ in range(2):
        assert await rig.workers.reconcile(KEY, body) is None
    assert rig.stored()["status"]["phase"] == "Failed"
    assert rig.reasons() == ["InvalidSpec"]
    assert len(rig.kube.status_patches) == 1


async def test_a_missing_pool_waits_during_startup_then_says_so(rig: Rig) -> None:
    body = rig.link()
    rig.workers._started += STARTUP_GRACE_SECONDS + 1  # just started
    assert await rig.workers.reconcile(KEY, body) == 1.0
    assert rig.kube.status_patches == []
    rig.workers._started -= STARTUP_GRACE_SECONDS + 1
    assert await rig.workers.reconcile(KEY, body) == 30.0
    assert rig.stored()["status"]["phase"] == "Pending"
    assert rig.reasons() == ["PoolNotFound"]


async def test_a_pool_that_cannot_start_names_its_error(rig: Rig) -> None:
    entry = rig.add_pool()
    entry.reconciler = None
    entry.error = ("SecretNotFound", "aws: secret interconnect-system/creds not found")
    body = rig.link()
    assert await rig.workers.reconcile(KEY, body) == 30.0
    message = rig.stored()["status"]["message"]
    assert message == "pool pool: aws: secret interconnect-system/creds not found"
    assert rig.reasons() == ["PoolNotReady"]


async def test_a_pool_still_building_its_clients_is_waited_for_without_a_write(
    rig: Rig,
) -> None:
    entry = rig.add_pool()
    entry.reconciler = None  # connecting: no clients yet, no error either
    body = rig.link()
    assert await rig.workers.reconcile(KEY, body) == 1.0
    assert rig.kube.status_patches == []
    assert rig.reasons() == []


async def test_deleting_without_our_finalizer_does_nothing(rig: Rig) -> None:
    rig.add_pool()
    body = rig.link(meta={"deletionTimestamp": "2026-01-01T00:00:00Z"})
    assert await rig.workers.reconcile(KEY, body) is None
    assert rig.kube.status_patches == rig.kube.meta_patches == []
    assert rig.reconciler.requests == []


async def test_orphan_deletion_without_a_pool_releases_the_link(rig: Rig) -> None:
    body = rig.link(
        deletionPolicy="Orphan",
        meta={"deletionTimestamp": "2026-01-01T00:00:00Z", "finalizers": [FINALIZER]},
    )
    assert await rig.workers.reconcile(KEY, body) is None
    assert "finalizers" not in rig.stored()["metadata"]


async def test_a_namespace_the_pool_does_not_admit_is_denied(rig: Rig) -> None:
    rig.kube.add_namespace("team-a", {})
    rig.add_pool(selector={"matchLabels": {"links": "yes"}})
    body = rig.link()
    assert await rig.workers.reconcile(KEY, body) is None
    assert rig.stored()["status"]["phase"] == "Failed"
    assert rig.reasons() == ["PolicyDenied"]
    assert rig.reconciler.requests == []


async def test_the_gate_waits_for_the_pools_first_refresh(rig: Rig) -> None:
    entry = rig.add_pool(ready=False)
    body = rig.link()
    rig.reconciler.results.append(_result(Phase.PLACING))
    task = asyncio.create_task(rig.workers.reconcile(KEY, body))
    await asyncio.sleep(0)
    assert not task.done()
    assert rig.reconciler.requests == []
    entry.ready.set()
    assert await asyncio.wait_for(task, 5.0) == 60.0
    assert len(rig.reconciler.requests) == 1


# ---------------------------------------------------------------- prepare


async def test_a_missing_secret_backs_off_and_resets_once_found(rig: Rig) -> None:
    rig.add_pool()
    body = rig.link(activationKey={"secretRef": {"name": "key", "key": "activationKey"}})
    delays = [await rig.workers.reconcile(KEY, body) for _ in range(9)]
    assert delays == [5.0, 10.0, 20.0, 40.0, 80.0, 160.0, 300.0, 300.0, 300.0]
    assert rig.reasons() == ["LinkSecretRefused"]
    # The backoff is the floor; the get-only recheck watches for the Secret meanwhile.
    assert rig.workers.secret_recheck.waiting == {("team-a", "key")}
    rig.kube.add_secret("team-a", "key", {"activationKey": "k"}, labels=LINK_SECRET)
    rig.reconciler.results.append(_result(Phase.PLACING))
    assert await rig.workers.reconcile(KEY, body) == 60.0
    assert rig.workers.state[KEY].secret_backoff == 5.0
    assert rig.workers.secret_recheck.waiting == frozenset()
    request = rig.reconciler.requests[0]
    assert request.activation_key is not None
    assert request.activation_key.reveal() == "k"


async def test_a_first_key_is_issued_on_the_watched_copy_without_a_read(rig: Rig) -> None:
    # The watch's copy of a new link is the server's: no GET before the key (one
    # request per link less in a burst); the write-ahead is optimistic.
    rig.add_pool()
    body = rig.link()
    rig.reconciler.results.append(_result(Phase.PENDING, persist_uuid="uuid-1"))
    assert await rig.workers.reconcile(KEY, body) == 0.0
    assert rig.kube.reads == []
    assert rig.stored()["metadata"]["annotations"] == {UUID_ANNOTATION: "uuid-1"}


async def test_no_key_is_issued_on_a_copy_a_newer_watch_event_replaced(rig: Rig) -> None:
    rig.add_pool()
    body = rig.link()
    newer = copy.deepcopy(rig.stored())
    newer["metadata"]["resourceVersion"] = str(int(newer["metadata"]["resourceVersion"]) + 1)
    rig.index.observe(newer)  # arrived while this reconcile held ``body``
    assert await rig.workers.reconcile(KEY, body) == 0.0
    assert rig.reconciler.requests == []
    assert rig.kube.meta_patches == []


async def test_key_issuance_after_a_write_ahead_rechecks_on_a_fresh_read(rig: Rig) -> None:
    rig.add_pool()
    body = rig.link()
    rig.workers.state[KEY] = LinkState(claimed={"uuid-9"})
    # The write-ahead of uuid-9 reached the server; its answer did not reach us.
    rig.stored()["metadata"]["annotations"] = {UUID_ANNOTATION: "uuid-9"}
    assert await rig.workers.reconcile(KEY, body) == 0.0
    assert rig.reconciler.requests == []
    assert rig.kube.reads == ["multicloudlinks/link"]
    assert rig.index.links[KEY]["metadata"]["annotations"] == {UUID_ANNOTATION: "uuid-9"}


@pytest.mark.parametrize(
    "change",
    [
        {"annotations": {UUID_ANNOTATION: "uuid-9"}},
        {"deletionTimestamp": "2026-01-01T00:00:00Z", "finalizers": ["other.io/hold"]},
    ],
)
async def test_a_write_ahead_on_a_stale_copy_never_overwrites_the_link(
    rig: Rig, change: dict[str, Any]
) -> None:
    # The link changed after the copy the key was issued on (an event still in
    # flight): the optimistic write-ahead conflicts, the re-read shows another UUID
    # or a deletion, and nothing is written (P3: uuid-9's objects stay its own).
    rig.add_pool()
    body = rig.link()
    stored = rig.stored()["metadata"]
    stored.update(change)
    stored["resourceVersion"] = str(int(stored["resourceVersion"]) + 100)
    rig.reconciler.results.append(_result(Phase.PENDING, persist_uuid="uuid-1"))
    assert await rig.workers.reconcile(KEY, body) == 0.0
    assert rig.kube.meta_patches == []
    assert rig.stored()["metadata"].get("annotations") == change.get("annotations")
    assert rig.reconciler.forgotten == ["uuid-1"]
    assert rig.index.links[KEY]["metadata"]["resourceVersion"] == stored["resourceVersion"]
    assert rig.index.key_for_uuid("uuid-1") is None
    # The unused UUID's record is released with the link (claimed).
    assert rig.workers.state[KEY].claimed == {"uuid-1"}


async def test_deletion_waits_for_both_providers_to_answer(rig: Rig) -> None:
    rig.add_pool()
    rig.runtime.errors = {"aws": "timeout"}
    body = rig.link(
        meta={"deletionTimestamp": "2026-01-01T00:00:00Z", "finalizers": [FINALIZER]},
    )
    assert await rig.workers.reconcile(KEY, body) == 10.0
    assert rig.runtime.fresh_reads == 1
    assert rig.stored()["status"]["phase"] == "Deleting"
    assert rig.reasons() == ["ProviderUnreachable"]
    assert rig.reconciler.requests == []


# ---------------------------------------------------------------- persist


async def test_a_new_uuid_is_written_ahead_with_the_finalizer(rig: Rig) -> None:
    rig.add_pool()
    body = rig.link()
    rig.reconciler.results.append(_result(Phase.PENDING, persist_uuid="uuid-1"))
    assert await rig.workers.reconcile(KEY, body) == 0.0
    meta = rig.stored()["metadata"]
    assert meta["annotations"] == {UUID_ANNOTATION: "uuid-1"}
    assert meta["finalizers"] == [FINALIZER]
    assert rig.kube.status_patches == []


async def test_a_key_already_used_by_another_link_is_refused(rig: Rig) -> None:
    rig.add_pool()
    rig.link("first", meta={"annotations": {UUID_ANNOTATION: "uuid-1"}})
    body = rig.link()
    rig.reconciler.results.append(_result(Phase.PENDING, persist_uuid="uuid-1"))
    assert await rig.workers.reconcile(KEY, body) is None
    assert rig.stored()["status"]["phase"] == "Failed"
    assert rig.reasons() == ["KeyRefused"]
    assert "first" not in rig.kube.events[0].message
    assert UUID_ANNOTATION not in (rig.stored()["metadata"].get("annotations") or {})


async def test_steady_state_writes_nothing(rig: Rig) -> None:
    entry = rig.add_pool()
    body = rig.link(meta={"annotations": {UUID_ANNOTATION: "uuid-1"}, "finalizers": [FINALIZER]})
    rig.reconciler.results.extend(_result(Phase.READY) for _ in range(3))
    for _ in range(3):
        assert await rig.workers.reconcile(KEY, body) == 60.0
    assert len(rig.kube.status_patches) == 1
    assert rig.kube.meta_patches == []
    assert rig.reasons() == ["LinkReady"]
    assert rig.stored()["status"]["readyTime"]
    assert entry.busy == set()
    exported = render(rig.metrics).decode()
    ready = [line for line in exported.splitlines() if line.startswith("interconnect_link_ready{")]
    assert len(ready) == 1
    assert 'name="link"' in ready[0]
    assert ready[0].endswith(" 1.0")
    # The next request carries what the stored status says.
    last = rig.reconciler.requests[-1]
    assert last.ever_ready is True
    assert last.interconnect == "ix-1"
    assert last.shared_uuid == "uuid-1"


async def test_a_link_in_progress_speeds_up_its_pool(rig: Rig) -> None:
    entry = rig.add_pool()
    body = rig.link()
    rig.reconciler.results.append(replace(_result(Phase.PROVISIONING), requeue_after=30.0))
    await rig.workers.reconcile(KEY, body)
    assert entry.busy == {KEY}
    assert entry.wake.is_set()


async def test_a_waiting_link_does_not_pin_fast_refreshes(rig: Rig) -> None:
    entry = rig.add_pool()
    body = rig.link()
    # Placing, to be looked at again in a minute (no capacity, a backoff): not busy.
    rig.reconciler.results.append(_result(Phase.PLACING))
    await rig.workers.reconcile(KEY, body)
    assert entry.busy == set()


async def test_a_released_link_drops_its_finalizer_and_wakes_placing_links(rig: Rig) -> None:
    rig.add_pool()
    waiting = rig.link("waiting")
    rig.reconciler.results.append(_result(Phase.PLACING))
    await rig.workers.reconcile(("team-a", "waiting"), waiting)
    body = rig.link(
        meta={
            "deletionTimestamp": "2026-01-01T00:00:00Z",
            "finalizers": [FINALIZER],
            "annotations": {UUID_ANNOTATION: "uuid-1"},
        }
    )
    rig.reconciler.results.append(_result(Phase.DELETING, finalized=True))
    assert await rig.workers.reconcile(KEY, body) is None
    assert "finalizers" not in rig.stored()["metadata"]
    assert KEY not in rig.index.links
    assert rig.index.key_for_uuid("uuid-1") is None
    assert ("team-a", "waiting") in rig.workers.queue._queued
    # Its late watch events are ignored.
    assert rig.index.observe(rig.stored()) is False


async def test_kubernetes_failures_retry_later_and_are_counted(rig: Rig) -> None:
    rig.link(bandwidthMbps="lots")
    rig.kube.fail("patch_status", 500)
    assert await rig.workers.process(KEY) == Requeue(5.0, Priority.RECHECK)
    rig.kube.fail("patch_status", 404)
    assert await rig.workers.process(KEY) is None
    errors = rig.metrics.registry.get_sample_value(
        "interconnect_reconcile_errors_total", {"kind": "link", "reason": "KubernetesApi"}
    )
    assert errors == 2.0
    assert await rig.workers.process(("team-a", "unknown")) is None


async def test_a_deleted_link_is_forgotten(rig: Rig) -> None:
    entry = rig.add_pool()
    body = rig.link()
    entry.busy.add(KEY)
    rig.workers.on_event("DELETED", body)
    assert KEY not in rig.index.links
    assert entry.busy == set()


# ---------------------------------------------------------------- pure parts


def _spec() -> MulticloudLinkSpec:
    return MulticloudLinkSpec.model_validate(
        {"poolRef": {"name": "pool"}, "bandwidthMbps": 1000, "destinationAccountId": "a"}
    )


def test_build_request_carries_a_failure_of_this_generation_only() -> None:
    failed = {
        "phase": "Failed",
        "observedGeneration": 2,
        "conditions": [
            {"type": "Stalled", "status": "True", "reason": "KeyRejected", "message": "m"}
        ],
    }
    body = {
        "metadata": {"generation": 2, "creationTimestamp": "2026-01-01T00:00:00Z"},
        "status": failed,
    }
    request = build_request(
        KEY, body, _spec(), generation=2, deleting=False, activation_key=None, md5=None
    )
    assert request.failure is not None
    assert request.failure.reason == "KeyRejected"
    assert request.created_at == dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    edited = build_request(
        KEY, body, _spec(), generation=3, deleting=False, activation_key=None, md5=None
    )
    assert edited.failure is None


def test_a_paused_link_keeps_the_generation_it_acted_on() -> None:
    body = {"metadata": {"generation": 5, "annotations": {"interconnect.io/paused": "true"}}}
    request = build_request(
        KEY, body, _spec(), generation=5, deleting=False, activation_key=None, md5=None
    )
    assert request.spec.paused
    assert observed_generation(request, {"observedGeneration": 4}) == 4
    assert observed_generation(request, {}) == 5


# ---------------------------------------------------------------- ownership

FOREIGN = {"annotations": {UUID_ANNOTATION: "uuid-1"}, "finalizers": [FINALIZER]}


async def test_a_link_claiming_a_foreign_uuid_is_refused_naming_no_one(rig: Rig) -> None:
    rig.add_pool()
    rig.own("uuid-1", "uid-of-the-victim")
    body = rig.link(meta=FOREIGN, owned=False)
    assert await rig.workers.reconcile(KEY, body) is None
    assert rig.reconciler.requests == []
    assert rig.runtime.fresh_reads == 0
    assert rig.reasons() == ["UuidNotOwned"]
    message = rig.kube.events[0].message
    assert "victim" not in message
    assert "uuid-1" not in message
    assert rig.stored()["status"]["phase"] == "Failed"
    assert rig.owner("uuid-1") == "uid-of-the-victim"


async def test_deleting_a_foreign_uuid_link_only_drops_our_finalizer(rig: Rig) -> None:
    rig.add_pool()
    rig.own("uuid-1", "uid-of-the-victim")
    meta = {**FOREIGN, "finalizers": ["other/keep", FINALIZER]}
    body = rig.link(meta={**meta, "deletionTimestamp": "2026-01-01T00:00:00Z"}, owned=False)
    assert await rig.workers.reconcile(KEY, body) is None
    assert rig.reconciler.requests == []
    assert rig.runtime.fresh_reads == 0
    assert rig.stored()["metadata"]["finalizers"] == ["other/keep"]
    assert rig.owner("uuid-1") == "uid-of-the-victim"
    assert rig.kube.status_patches == []


async def test_a_foreign_uuid_is_refused_even_from_a_namespace_the_policy_denies(rig: Rig) -> None:
    rig.kube.add_namespace("team-a", {})
    rig.add_pool(selector={"matchLabels": {"links": "yes"}})
    rig.own("uuid-1", "uid-of-the-victim")
    body = rig.link(meta={**FOREIGN, "deletionTimestamp": "2026-01-01T00:00:00Z"}, owned=False)
    assert await rig.workers.reconcile(KEY, body) is None
    assert rig.reconciler.requests == []
    assert "finalizers" not in rig.stored()["metadata"]


async def test_an_unrecorded_uuid_without_operator_status_is_refused(rig: Rig) -> None:
    rig.add_pool()
    body = rig.link(meta=FOREIGN, owned=False)
    assert await rig.workers.reconcile(KEY, body) is None
    assert rig.reasons() == ["UuidNotOwned"]
    assert rig.owner("uuid-1") is None


async def test_a_malformed_uuid_is_refused_before_any_record_read(rig: Rig) -> None:
    rig.add_pool()
    body = rig.link(meta={"annotations": {UUID_ANNOTATION: "../../x"}}, owned=False)
    assert await rig.workers.reconcile(KEY, body) is None
    assert rig.reasons() == ["UuidNotOwned"]
    assert rig.kube.configmaps == {}


async def test_a_link_from_before_records_is_adopted_from_its_status(rig: Rig) -> None:
    rig.add_pool()
    rig.kube.add_namespace("team-a", {})
    body = rig.link(meta=FOREIGN, owned=False)
    rig.stored()["status"] = body["status"] = {"sharedConnectionUuid": "uuid-1"}
    rig.reconciler.results.append(_result(Phase.READY))
    assert await rig.workers.reconcile(KEY, body) == 60.0
    assert rig.owner("uuid-1") == rig.stored()["metadata"]["uid"]
    assert rig.index.key_for_uuid("uuid-1") == KEY


async def test_a_new_uuid_is_recorded_before_the_annotation(rig: Rig) -> None:
    rig.add_pool()
    body = rig.link()
    rig.reconciler.results.append(_result(Phase.PENDING, persist_uuid="uuid-1"))
    rig.kube.fail("patch_metadata", 500)
    assert await rig.workers.process(KEY) == Requeue(5.0, Priority.RECHECK)
    assert rig.owner("uuid-1") == rig.stored()["metadata"]["uid"]
    assert UUID_ANNOTATION not in (rig.stored()["metadata"].get("annotations") or {})
    assert body["metadata"]["uid"] == rig.owner("uuid-1")


async def test_a_link_deleted_before_its_write_ahead_leaves_no_record(rig: Rig) -> None:
    # Deleted between the fresh read and the write-ahead (kubectl apply, then
    # delete at once): nothing was created with the key, and the ownership
    # record claimed for it must not stay behind for a uid that is gone.
    rig.add_pool()
    body = rig.link()
    rig.reconciler.results.append(_result(Phase.PENDING, persist_uuid="uuid-1"))
    rig.kube.fail("patch_metadata", 404)
    assert await rig.workers.process(KEY) is None
    assert rig.owner("uuid-1") is None
    assert rig.reconciler.forgotten == ["uuid-1"]
    assert rig.index.key_for_uuid("uuid-1") is None
    assert UUID_ANNOTATION not in (body["metadata"].get("annotations") or {})
    assert rig.kube.status_patches == []


async def test_a_key_whose_uuid_is_recorded_for_another_uid_is_refused(rig: Rig) -> None:
    rig.add_pool()
    rig.own("uuid-1", "uid-gone-from-the-index")
    body = rig.link()
    rig.reconciler.results.append(_result(Phase.PENDING, persist_uuid="uuid-1"))
    assert await rig.workers.reconcile(KEY, body) is None
    assert rig.reasons() == ["KeyRefused"]
    assert "uuid-1" not in rig.kube.events[0].message
    assert UUID_ANNOTATION not in (rig.stored()["metadata"].get("annotations") or {})


async def test_a_released_link_gives_its_record_up(rig: Rig) -> None:
    rig.add_pool()
    body = rig.link(meta={**FOREIGN, "deletionTimestamp": "2026-01-01T00:00:00Z"})
    rig.reconciler.results.append(_result(Phase.DELETING, finalized=True))
    assert await rig.workers.reconcile(KEY, body) is None
    assert len(rig.reconciler.requests) == 1
    assert rig.owner("uuid-1") is None


# ---------------------------------------------------------------- capacity policy


@pytest.mark.parametrize("spec", [{"activationKey": {"secretRef": {"name": "k"}}}, {}])
async def test_a_link_above_the_per_link_maximum_is_denied_before_the_reconciler(
    rig: Rig, spec: dict[str, Any]
) -> None:
    rig.add_pool()
    rig.pools.entries["pool"].body["spec"]["policy"] = {"maxBandwidthMbpsPerLink": 2000}
    body = rig.link(bandwidthMbps=10000, **spec)
    assert await rig.workers.reconcile(KEY, body) is None
    assert rig.reconciler.requests == []
    assert rig.reasons() == ["PolicyDenied"]
    assert "per-link maximum of 2000" in rig.kube.events[0].message
    assert rig.stored()["status"]["phase"] == "Failed"
    assert "finalizers" not in rig.stored()["metadata"]


async def test_a_ready_link_patched_above_the_maximum_is_not_resized(rig: Rig) -> None:
    rig.add_pool()
    rig.pools.entries["pool"].body["spec"]["policy"] = {"maxBandwidthMbpsPerLink": 2000}
    body = rig.link(bandwidthMbps=1000, meta=FOREIGN)
    rig.reconciler.results.append(_result(Phase.READY))
    assert await rig.workers.reconcile(KEY, body) == 60.0
    rig.stored()["spec"]["bandwidthMbps"] = 10000
    rig.stored()["metadata"]["generation"] = 2
    rig.index.observe(copy.deepcopy(rig.stored()))
    assert await rig.workers.reconcile(KEY, rig.index.links[KEY]) is None
    assert len(rig.reconciler.requests) == 1
    assert rig.reasons()[-1] == "PolicyDenied"


async def test_deletion_is_never_held_by_the_capacity_policy(rig: Rig) -> None:
    rig.add_pool()
    rig.pools.entries["pool"].body["spec"]["policy"] = {"maxBandwidthMbpsPerLink": 2000}
    meta = {**FOREIGN, "deletionTimestamp": "2026-01-01T00:00:00Z"}
    body = rig.link(bandwidthMbps=10000, meta=meta)
    rig.reconciler.results.append(_result(Phase.DELETING, finalized=True))
    assert await rig.workers.reconcile(KEY, body) is None
    assert len(rig.reconciler.requests) == 1


async def test_a_new_link_of_a_pool_being_deleted_is_refused(rig: Rig) -> None:
    entry = rig.add_pool()
    entry.body["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    body = rig.link()
    assert await rig.workers.reconcile(KEY, body) is None
    assert rig.reasons() == ["PoolDeleting"]
    assert rig.reconciler.requests == []
    assert "finalizers" not in rig.stored()["metadata"]
    assert rig.kube.objects[(LINKS, "team-a", "link")]["status"]["phase"] == "Pending"


async def test_a_deletion_shown_by_the_answer_to_a_status_write_is_looked_at_at_once(
    rig: Rig,
) -> None:
    # The user deletes the link while its reconcile runs. The watch event of the
    # deletion is older than the server's answer to the reconcile's status patch
    # (which already shows the deletionTimestamp), so the index drops it as stale:
    # the reconcile itself must requeue the link at once, not after POLL_SLOW.
    rig.add_pool()
    rig.link(meta={"annotations": {UUID_ANNOTATION: "uuid-1"}, "finalizers": [FINALIZER]})
    rig.reconciler.results.append(_result(Phase.READY))
    rig.stored()["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    assert await rig.workers.process(KEY) == Requeue(0.0, Priority.CHANGE)
    assert rig.index.links[KEY]["metadata"]["deletionTimestamp"]


async def test_the_operators_own_uuid_record_is_no_reason_to_look_again(rig: Rig) -> None:
    rig.add_pool()
    rig.link()
    rig.reconciler.results.append(_result(Phase.PENDING, persist_uuid="uuid-1"))
    rig.reconciler.results.append(_result(Phase.READY))
    assert await rig.workers.process(KEY) == Requeue(0.0)  # the write-ahead's own requeue
    # Ready, nothing in progress: its next look is a recheck, behind any change.
    assert await rig.workers.process(KEY) == Requeue(60.0, Priority.RECHECK)
