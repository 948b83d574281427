"""Shared-UUID ownership under races: no link is ever refused as ``UuidNotOwned`` by a
verdict made from an incomplete view of the records.

The first case is the one a full fault run showed (links refused right after
their UUID was written ahead): a second operator installation on the same
cluster (its own namespace, so its own records) watched the links of a pool it
could not serve, found no record for their fresh UUIDs and refused them; the
serving operator then carried that stored refusal on as the link's failure.
The other cases are the races around the claim itself: a retried record
create, a lost annotation write, a second UUID after a failed write, a
remembered owner, a restart.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator
from typing import Any, cast

import pytest

from interconnect_operator.k8s.credentials import Credentials
from interconnect_operator.k8s.index import LinkIndex
from interconnect_operator.k8s.kube import LINKS, KubeError
from interconnect_operator.k8s.links import STARTUP_GRACE_SECONDS, LinkWorkers
from interconnect_operator.k8s.meta import LinkMetadata
from interconnect_operator.k8s.namespaces import NamespacePolicy
from interconnect_operator.k8s.ownership import Ownership, UuidOwnership, record_name
from interconnect_operator.k8s.pool_entry import PoolEntry
from interconnect_operator.k8s.pools import PoolLoops
from interconnect_operator.k8s.publish import Publisher
from interconnect_operator.k8s.settings import FINALIZER, UUID_ANNOTATION, OperatorOptions
from interconnect_operator.metrics import OperatorMetrics
from interconnect_operator.protocol.conditions import Condition, ConditionStatus
from interconnect_operator.protocol.link_state import LinkStatus, Phase
from interconnect_operator.reconcile.link import LinkReconciler, LinkResult
from interconnect_operator.reconcile.pool import PoolRuntime
from tests.unit.k8s.fake_kube import FakeKube
from tests.unit.k8s.link_stubs import StubReconciler, StubRuntime

KEY = ("team-a", "link")
OURS = "interconnect-system"
THEIRS = "other-install-system"
DELETING = "2026-01-01T00:00:00Z"


class Operator:
    """One operator installation: its namespace (records), index, pools and workers."""

    def __init__(self, kube: FakeKube, namespace: str, *, serves_pool: bool) -> None:
        self.kube = kube
        self.namespace = namespace
        self.index = LinkIndex()
        options = OperatorOptions(workers=1, operator_namespace=namespace)
        metrics = OperatorMetrics()
        publisher = Publisher(kube, metrics)
        credentials = Credentials(kube, namespace)
        self.pools = PoolLoops(
            options,
            kube,
            metrics,
            credentials=credentials,
            index=self.index,
            wake_link=lambda key, priority: None,
            on_request=publisher.on_request,
        )
        self.owners = UuidOwnership(kube, namespace)
        self.workers = LinkWorkers(
            options,
            kube,
            metrics,
            index=self.index,
            pools=self.pools,
            credentials=credentials,
            meta=LinkMetadata(kube, self.index),
            namespaces=NamespacePolicy(kube),
            publisher=publisher,
            owners=self.owners,
        )
        self.workers._started -= STARTUP_GRACE_SECONDS + 1
        self.reconciler = StubReconciler()
        entry = PoolEntry(name="pool", body={"metadata": {"name": "pool"}, "spec": {}})
        if serves_pool:
            entry.runtime = cast(PoolRuntime, StubRuntime())
            entry.reconciler = cast(LinkReconciler, self.reconciler)
        else:
            # The pool's credentials live in another installation's namespace.
            entry.error = ("SecretNotFound", f"aws: secret {namespace}/creds not found")
        entry.ready.set()
        self.pools.entries["pool"] = entry

    def see(self) -> dict[str, Any]:
        """The link's watch event reaches this operator; returns the index's copy."""
        self.index.observe(copy.deepcopy(self.kube.objects[(LINKS, *KEY)]))
        return self.index.links[KEY]

    async def reconcile(self) -> float | None:
        answer = await self.workers.process(KEY)
        return None if answer is None else answer.after

    def owner(self, uuid: str) -> str | None:
        record = self.kube.configmaps.get((self.namespace, record_name(uuid)))
        return None if record is None else str(record["data"]["uid"])


def _stored(kube: FakeKube) -> dict[str, Any]:
    return kube.last_seen(LINKS, *KEY)


def _reasons(kube: FakeKube) -> list[str]:
    return [e.reason for e in kube.events]


def _result(phase: Phase, *, uuid: str | None = "uuid-1", **kwargs: Any) -> LinkResult:
    ready = phase is Phase.READY
    cond = ConditionStatus.TRUE if ready else ConditionStatus.FALSE
    status = LinkStatus(
        phase=phase,
        conditions=(Condition("Ready", cond, phase.value, "", 1),),
        interconnect="ix-1" if ready else None,
        migrating_to=None,
        channels=(),
        providers=(),
        ready=ready,
        message="",
    )
    return LinkResult(status, uuid, "env", 60.0, **kwargs)


def _write_ahead(uuid: str) -> LinkResult:
    return LinkResult(None, uuid, "env", 0.0, persist_uuid=uuid)


@pytest.fixture
async def ours(kube: FakeKube) -> AsyncIterator[Operator]:
    kube.add_namespace("team-a", {})
    kube.add_object(
        LINKS,
        {
            "metadata": {"namespace": "team-a", "name": "link"},
            "spec": {
                "poolRef": {"name": "pool"},
                "bandwidthMbps": 1000,
                "destinationAccountId": "acct-1",
            },
        },
    )
    operator = Operator(kube, OURS, serves_pool=True)
    operator.see()
    yield operator
    await operator.pools.stop()


# ----------------------------------------------------- another installation (the fault run)


async def test_a_second_installation_never_refuses_a_link_of_a_pool_it_cannot_serve(
    kube: FakeKube, ours: Operator
) -> None:
    ours.reconciler.results.append(_write_ahead("uuid-1"))
    assert await ours.reconcile() == 0.0
    assert ours.owner("uuid-1") == _stored(kube)["metadata"]["uid"]
    # The annotation's watch event reaches the other installation before any status
    # shows the UUID: it has no record of it (its records live in its own namespace).
    theirs = Operator(kube, THEIRS, serves_pool=False)
    theirs.see()
    await theirs.reconcile()
    assert "UuidNotOwned" not in _reasons(kube)
    assert _stored(kube)["status"]["phase"] != "Failed"
    assert theirs.kube.configmaps.get((THEIRS, record_name("uuid-1"))) is None
    # The serving operator goes on with its link as if nothing had happened.
    ours.see()
    ours.reconciler.results.append(_result(Phase.READY))
    assert await ours.reconcile() == 60.0
    assert ours.reconciler.requests[-1].failure is None
    assert _stored(kube)["status"]["phase"] == "Ready"


async def test_a_second_installation_never_drops_the_finalizer_of_a_link_being_deleted(
    kube: FakeKube, ours: Operator
) -> None:
    ours.reconciler.results.append(_write_ahead("uuid-1"))
    await ours.reconcile()
    _stored(kube)["metadata"]["deletionTimestamp"] = DELETING
    theirs = Operator(kube, THEIRS, serves_pool=False)
    theirs.see()
    await theirs.reconcile()
    assert FINALIZER in _stored(kube)["metadata"]["finalizers"]
    # Ours still deletes at the providers, then releases.
    ours.see()
    ours.reconciler.results.append(_result(Phase.DELETING, finalized=True))
    assert await ours.reconcile() is None
    assert ours.reconciler.requests[-1].deleting
    assert "finalizers" not in _stored(kube)["metadata"]
    assert ours.owner("uuid-1") is None


async def test_a_stored_uuid_not_owned_refusal_is_not_carried_as_the_links_failure(
    kube: FakeKube, ours: Operator
) -> None:
    ours.reconciler.results.append(_write_ahead("uuid-1"))
    await ours.reconcile()
    _stored(kube)["status"] = {
        "phase": "Failed",
        "observedGeneration": 1,
        "conditions": [
            {"type": "Stalled", "status": "True", "reason": "UuidNotOwned", "message": "m"}
        ],
    }
    ours.see()
    ours.reconciler.results.append(_result(Phase.READY))
    assert await ours.reconcile() == 60.0
    assert ours.reconciler.requests[-1].failure is None


# ----------------------------------------------------------------- the claim itself


async def test_two_reconciles_of_one_link_claiming_together_both_own_it(kube: FakeKube) -> None:
    replicas = [UuidOwnership(kube, OURS), UuidOwnership(kube, OURS)]
    claimed = await asyncio.gather(*(r.claim("uuid-1", "uid-a") for r in replicas))
    assert claimed == [True, True]
    rivals = await asyncio.gather(
        UuidOwnership(kube, OURS).claim("uuid-2", "uid-a"),
        UuidOwnership(kube, OURS).claim("uuid-2", "uid-b"),
    )
    assert sorted(rivals) == [False, True]


async def test_a_retried_record_create_that_finds_our_own_write_owns_it(
    kube: FakeKube, ours: Operator
) -> None:
    uid = _stored(kube)["metadata"]["uid"]
    kube.fail_after_commit("create_configmap", 504)
    ours.reconciler.results.append(_write_ahead("uuid-1"))
    assert await ours.reconcile() == 5.0  # the create's answer was lost
    assert ours.owner("uuid-1") == uid
    ours.reconciler.results.append(_write_ahead("uuid-1"))
    assert await ours.reconcile() == 0.0  # AlreadyExists, and it is ours
    assert _stored(kube)["metadata"]["annotations"][UUID_ANNOTATION] == "uuid-1"
    assert _reasons(kube) == []
    assert await ours.owners.check(ours.see()) is Ownership.OWNED


async def test_a_lost_annotation_answer_reads_fresh_and_issues_no_second_key(
    kube: FakeKube, ours: Operator
) -> None:
    kube.fail_after_commit("patch_metadata", 504)
    ours.reconciler.results.append(_write_ahead("uuid-1"))
    assert await ours.reconcile() == 5.0
    # The annotation is stored; this process's copy does not show it yet.
    assert _stored(kube)["metadata"]["annotations"][UUID_ANNOTATION] == "uuid-1"
    assert UUID_ANNOTATION not in (ours.index.links[KEY]["metadata"].get("annotations") or {})
    assert await ours.reconcile() == 0.0  # fresh read before issuing a key: it has one
    assert len(ours.reconciler.requests) == 1
    ours.reconciler.results.append(_result(Phase.PENDING))
    await ours.reconcile()
    assert ours.reconciler.requests[-1].shared_uuid == "uuid-1"
    assert "UuidNotOwned" not in _reasons(kube)


async def test_a_second_uuid_after_a_failed_annotation_write_is_owned(
    kube: FakeKube, ours: Operator
) -> None:
    uid = _stored(kube)["metadata"]["uid"]
    kube.fail("patch_metadata", 500)
    ours.reconciler.results.append(_write_ahead("uuid-1"))
    assert await ours.reconcile() == 5.0
    # The write never happened: the reconciler gets a new key with a new UUID.
    ours.reconciler.results.append(_write_ahead("uuid-2"))
    assert await ours.reconcile() == 0.0
    assert _stored(kube)["metadata"]["annotations"][UUID_ANNOTATION] == "uuid-2"
    assert ours.owner("uuid-2") == uid
    ours.reconciler.results.append(_result(Phase.PENDING, uuid="uuid-2"))
    await ours.reconcile()
    assert ours.reconciler.requests[-1].shared_uuid == "uuid-2"
    assert not {"UuidNotOwned", "KeyRefused"} & set(_reasons(kube))
    # Released with the link: both records, the one never annotated too.
    assert ours.owner("uuid-1") == uid
    _stored(kube)["metadata"]["deletionTimestamp"] = DELETING
    ours.see()
    ours.reconciler.results.append(_result(Phase.DELETING, uuid="uuid-2", finalized=True))
    assert await ours.reconcile() is None
    assert ours.owner("uuid-1") is None
    assert ours.owner("uuid-2") is None


async def test_a_remembered_owner_is_read_again_before_a_refusal(kube: FakeKube) -> None:
    replica = UuidOwnership(kube, OURS)
    assert await replica.claim("uuid-1", "uid-old")
    # Another replica released the record and the UUID was recorded for a new link.
    del kube.configmaps[(OURS, record_name("uuid-1"))]
    assert await UuidOwnership(kube, OURS).claim("uuid-1", "uid-new")
    body = {
        "metadata": {"uid": "uid-new", "annotations": {UUID_ANNOTATION: "uuid-1"}},
        "status": {},
    }
    assert await replica.check(body) is Ownership.OWNED
    body["metadata"]["uid"] = "uid-old"
    assert await replica.check(body) is Ownership.NOT_OWNED


async def test_a_restarted_operator_finds_its_records_and_a_recreated_object_owns_nothing(
    kube: FakeKube, ours: Operator
) -> None:
    ours.reconciler.results.append(_write_ahead("uuid-1"))
    await ours.reconcile()
    restarted = UuidOwnership(kube, OURS)
    assert await restarted.check(ours.see()) is Ownership.OWNED
    # The same name, created anew (a new uid) with a copied annotation: another link.
    copied = copy.deepcopy(ours.see())
    copied["metadata"]["uid"] = "uid-of-a-new-object"
    assert await restarted.check(copied) is Ownership.NOT_OWNED


async def test_a_record_read_failure_is_a_retry_not_a_refusal(
    kube: FakeKube, ours: Operator
) -> None:
    ours.reconciler.results.append(_write_ahead("uuid-1"))
    await ours.reconcile()
    ours.see()
    fresh = Operator(kube, OURS, serves_pool=True)  # a restart: nothing remembered
    fresh.see()
    kube.fail("get_configmap", 503)
    assert await fresh.reconcile() == 5.0
    assert "UuidNotOwned" not in _reasons(kube)
    kube.fail("get_configmap", 500)
    with pytest.raises(KubeError):
        await fresh.owners.check(fresh.see())
    await fresh.pools.stop()
