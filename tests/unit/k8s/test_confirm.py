"""Ready links confirmed without a full reconcile (k8s.confirm, ReadyConfirmations.try_confirm).

The pool's runtime holds a hand-made snapshot; the reconciler is the scripted
stub, so every full reconcile shows as a request it received. A Ready link
rechecked with nothing changed makes none; any change of what it depends on
(its provider records, its object, its pool, its Secret, the safety net's due
time) takes the full path again. After a restart, a stored Ready status whose
``inputsDigest`` matches the first snapshot is confirmed from the status.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import ipaddress
import time
from dataclasses import replace
from typing import Any, cast

import pytest
from pydantic import SecretStr

from interconnect_operator.k8s import confirm, status
from interconnect_operator.k8s.kube import KubeError
from interconnect_operator.k8s.links import LinkWorkers
from interconnect_operator.k8s.pool_entry import PoolEntry
from interconnect_operator.k8s.settings import FINALIZER, UUID_ANNOTATION
from interconnect_operator.k8s.workqueue import Priority, Requeue
from interconnect_operator.protocol.link_state import Phase
from interconnect_operator.protocol.types import FeatureFailure, Side
from interconnect_operator.reconcile import views
from interconnect_operator.reconcile.link import LinkResult
from interconnect_operator.reconcile.pool import PoolConfig, PoolRuntime, ProviderConfig
from interconnect_operator.reconcile.records import (
    BgpRecord,
    ChannelInfo,
    ConnectionRecord,
    FeatureRecord,
    SideView,
)
from interconnect_operator.reconcile.snapshot import PoolSnapshot
from tests.unit.k8s import test_links
from tests.unit.k8s.test_links import KEY, LINK_SECRET, OPTIONS, Rig, _status

UUID = "uuid-1"
rig = test_links.rig  # the link workers' rig, with this module's pool and snapshot


def _side(provider: str, state: str = "FINAL") -> SideView:
    view = SideView(provider=provider)
    view.channels["ix-1"] = [ChannelInfo(f"ch-{i}", "ENABLED", provider) for i in range(4)]
    view.connections["ix-1"] = {
        UUID: ConnectionRecord(bandwidth_mbps=1000, name=UUID, verification_state="VERIFIED")
    }
    view.features["ix-1"] = {
        UUID: {
            f"ch-{i}": FeatureRecord(name=f"l3-ch-{i}", provisioning_state=state) for i in range(4)
        }
    }
    return view


class _NoClient:
    async def aclose(self) -> None:
        """Nothing was opened."""


def _runtime() -> PoolRuntime:
    def provider(name: str, side: Side) -> ProviderConfig:
        return ProviderConfig(name=name, endpoint="https://unused", call_as=name, side=side)

    config = PoolConfig(
        name="pool",
        environment="env",
        negotiator=provider("gcp", Side.NEGOTIATOR),
        responder=provider("aws", Side.RESPONDER),
    )
    # Never called: the snapshot is set by hand, nothing refreshes.
    runtime = PoolRuntime(config, cast(Any, _NoClient()), cast(Any, _NoClient()))
    runtime.snapshot = PoolSnapshot(
        "env", _side("gcp"), _side("aws"), dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    )
    return runtime


def _pool(rig: Rig, generation: int = 1) -> tuple[PoolEntry, PoolRuntime]:
    entry = rig.add_pool()
    runtime = _runtime()
    entry.runtime = runtime
    entry.generation = generation
    return entry, runtime


def _ready(runtime: PoolRuntime) -> LinkResult:
    assert runtime.snapshot is not None
    return LinkResult(
        _status(Phase.READY, ready=True),
        UUID,
        "env",
        300.0,
        ready_inputs=views.ready_inputs(runtime.snapshot, UUID),
    )


def _ready_link(rig: Rig, **spec: Any) -> dict[str, Any]:
    meta = {"annotations": {UUID_ANNOTATION: UUID}, "finalizers": [FINALIZER]}
    return rig.link(meta=meta, **spec)


async def _reconciled_ready(rig: Rig, runtime: PoolRuntime, **spec: Any) -> None:
    """One full reconcile that finds the link Ready (the stub answers once)."""
    _ready_link(rig, **spec)
    rig.reconciler.results.append(_ready(runtime))
    assert await rig.workers.process(KEY) == Requeue(300.0, Priority.RECHECK)
    assert len(rig.reconciler.requests) == 1


ReadyPool = tuple[PoolEntry, PoolRuntime]


@pytest.fixture
async def ready_pool(rig: Rig) -> ReadyPool:
    """The module's pool, and the link reconciled once in full and found Ready."""
    entry, runtime = _pool(rig)
    await _reconciled_ready(rig, runtime)
    return entry, runtime


async def _process_scripting_ready(rig: Rig, runtime: PoolRuntime) -> None:
    """Process the link once; should it take the full path, the stub answers Ready."""
    rig.reconciler.results.append(_ready(runtime))
    await rig.workers.process(KEY)


@pytest.mark.usefixtures("ready_pool")
async def test_an_unchanged_ready_link_is_confirmed_without_a_decision(rig: Rig) -> None:
    stored = rig.stored()
    version = stored["metadata"]["resourceVersion"]
    assert stored["status"]["inputsDigest"]
    for _ in range(3):
        assert await rig.workers.process(KEY) == Requeue(300.0, Priority.RECHECK)
    assert len(rig.reconciler.requests) == 1  # no further full reconcile
    assert rig.workers.passes == {"full": 1, "confirmed": 3}
    assert rig.stored()["metadata"]["resourceVersion"] == version  # nothing written


async def test_a_provider_change_takes_the_full_path(rig: Rig, ready_pool: ReadyPool) -> None:
    _, runtime = ready_pool
    assert runtime.snapshot is not None
    # A refresh shows one feature PENDING again (P15): a new record.
    features = runtime.snapshot.responder.features["ix-1"][UUID]
    features["ch-2"] = replace(features["ch-2"], provisioning_state="PENDING")
    await _process_scripting_ready(rig, runtime)
    assert len(rig.reconciler.requests) == 2


async def test_a_channel_disabled_takes_the_full_path(rig: Rig, ready_pool: ReadyPool) -> None:
    _, runtime = ready_pool
    assert runtime.snapshot is not None
    channels = runtime.snapshot.negotiator.channels["ix-1"]
    channels[0] = replace(channels[0], admin_state="DISABLED")
    await _process_scripting_ready(rig, runtime)
    assert len(rig.reconciler.requests) == 2


async def test_a_change_of_the_link_object_takes_the_full_path(
    rig: Rig, ready_pool: ReadyPool
) -> None:
    _, runtime = ready_pool
    # Another writer (a label, a status edit): a new resourceVersion, the same intent.
    changed = dict(rig.stored())
    changed["metadata"] = {
        **changed["metadata"],
        "labels": {"team": "b"},
        "resourceVersion": "99999",
    }
    rig.index.observe(changed)
    await _process_scripting_ready(rig, runtime)
    assert len(rig.reconciler.requests) == 2


async def test_a_pool_spec_change_takes_the_full_path(rig: Rig, ready_pool: ReadyPool) -> None:
    entry, runtime = ready_pool
    entry.generation += 1
    await _process_scripting_ready(rig, runtime)
    assert len(rig.reconciler.requests) == 2


async def test_the_safety_net_reconciles_in_full_once_due(rig: Rig, ready_pool: ReadyPool) -> None:
    _, runtime = ready_pool
    state = rig.workers.state[KEY]
    assert state.basis is not None
    low, high = confirm.FULL_LOOK_SECONDS
    assert low - 1 <= state.basis.full_due - time.monotonic() <= high
    state.basis = replace(state.basis, full_due=0.0)
    await _process_scripting_ready(rig, runtime)
    assert len(rig.reconciler.requests) == 2


async def test_a_changed_link_secret_takes_the_full_path(rig: Rig) -> None:
    _, runtime = _pool(rig)
    rig.kube.add_secret("team-a", "key", {"key": "AAAA"}, labels=LINK_SECRET)
    ref = {"secretRef": {"name": "key", "key": "key"}}
    rig.reconciler.results.append(_ready(runtime))
    _ready_link(rig, activationKey=ref)
    await rig.workers.process(KEY)
    assert len(rig.reconciler.requests) == 1
    await rig.workers.process(KEY)
    assert len(rig.reconciler.requests) == 1  # unchanged Secret (read again): confirmed
    assert rig.kube.reads.count("secrets/team-a/key") == 2
    rig.kube.add_secret("team-a", "key", {"key": "BBBB"}, labels=LINK_SECRET)
    await _process_scripting_ready(rig, runtime)
    assert len(rig.reconciler.requests) == 2


def _restarted(rig: Rig) -> LinkWorkers:
    """A new process: the same cluster and pool, nothing in memory."""
    workers = rig.workers
    workers.state.clear()
    workers.passes = {"full": 0, "confirmed": 0}
    body = dict(rig.stored())
    rig.index.links.pop(KEY, None)
    rig.index.observe(body)
    return workers


@pytest.mark.usefixtures("ready_pool")
async def test_a_restart_confirms_a_stored_ready_status_that_matches_the_snapshot(
    rig: Rig,
) -> None:
    version = rig.stored()["metadata"]["resourceVersion"]
    rig.metrics.remove_link(*KEY)
    workers = _restarted(rig)
    assert await workers.process(KEY) == Requeue(300.0, Priority.RECHECK)
    assert workers.passes == {"full": 0, "confirmed": 1}
    assert len(rig.reconciler.requests) == 1  # only the one before the restart
    assert rig.stored()["metadata"]["resourceVersion"] == version
    ready = rig.metrics.registry.get_sample_value(
        "interconnect_link_ready", {"namespace": KEY[0], "name": KEY[1], "pool": "pool"}
    )
    assert ready == 1.0


async def _restart_with_status(
    rig: Rig, runtime: PoolRuntime, **status_changes: Any
) -> LinkWorkers:
    """A Ready link reconciled once, its stored status then edited by someone else
    (a tenant granted ``*/status``), and the operator restarted."""
    await _reconciled_ready(rig, runtime)
    stored = rig.stored()
    stored["status"] = {**stored["status"], **status_changes}
    workers = _restarted(rig)
    rig.reconciler.results.append(_ready(runtime))
    return workers


def _key_secret(rig: Rig) -> bytes:
    from interconnect_operator.k8s.digest_key import KEY_SECRET, parse_key

    key = parse_key(rig.kube.secrets[(OPTIONS.operator_namespace, KEY_SECRET)])
    assert key is not None
    return key


async def test_a_restart_confirms_only_a_digest_signed_with_the_installation_key(
    rig: Rig,
) -> None:
    _, runtime = _pool(rig)
    await _reconciled_ready(rig, runtime)
    signed = rig.stored()["status"]["inputsDigest"]
    assert signed.startswith(confirm.key_id(_key_secret(rig)) + ".")
    workers = _restarted(rig)
    await workers.process(KEY)
    assert workers.passes == {"full": 0, "confirmed": 1}


def _unkeyed_digest(body: dict[str, Any], provider: tuple[object, ...]) -> str:
    """The previous, unkeyed digest: anyone who can read the link and guess the
    provider data can compute it."""
    import hashlib

    from interconnect_operator import __version__

    meta = body["metadata"]
    parts = (
        "1",
        __version__,
        meta["uid"],
        1,
        sorted(meta["annotations"].items()),
        True,
        "pool",
        1,
        provider,
    )
    return hashlib.blake2b(repr(parts).encode(), digest_size=16).hexdigest()


async def test_a_restart_does_not_trust_a_forged_or_unsigned_digest(rig: Rig) -> None:
    _, runtime = _pool(rig)
    assert runtime.snapshot is not None
    provider = views.ready_inputs(runtime.snapshot, UUID)
    _ready_link(rig)
    forged = _unkeyed_digest(rig.stored(), provider)
    workers = await _restart_with_status(rig, runtime, inputsDigest=forged)
    await workers.process(KEY)
    assert workers.passes == {"full": 1, "confirmed": 0}
    # The full reconcile signs it again: the forged digest does not stay.
    assert rig.stored()["status"]["inputsDigest"] != forged


async def test_a_restart_does_not_trust_a_digest_of_another_key(rig: Rig) -> None:
    _, runtime = _pool(rig)
    assert runtime.snapshot is not None
    provider = views.ready_inputs(runtime.snapshot, UUID)
    _ready_link(rig)
    body = rig.stored()
    status_now = {"phase": "Ready"}
    other = confirm.inputs_digest(b"o" * 32, body, "pool", 1, provider, status=status_now)
    workers = await _restart_with_status(rig, runtime, inputsDigest=other)
    await workers.process(KEY)
    assert workers.passes == {"full": 1, "confirmed": 0}


async def test_a_restart_does_not_trust_a_status_edited_under_a_valid_digest(rig: Rig) -> None:
    """The digest covers the status as written: a tenant who keeps the digest and
    changes what the status says (here: where the link lands) is not believed."""
    _, runtime = _pool(rig)
    workers = await _restart_with_status(rig, runtime, interconnect="ix-elsewhere")
    await workers.process(KEY)
    assert workers.passes == {"full": 1, "confirmed": 0}


async def test_a_rotated_key_takes_the_full_path_once_and_signs_again(rig: Rig) -> None:
    from interconnect_operator.k8s.digest_key import KEY_SECRET

    _, runtime = _pool(rig)
    await _reconciled_ready(rig, runtime)
    old = rig.stored()["status"]["inputsDigest"]
    del rig.kube.secrets[(OPTIONS.operator_namespace, KEY_SECRET)]  # rotation: deleted
    workers = _restarted(rig)
    workers._confirmations.key = type(workers._confirmations.key)(
        rig.kube, OPTIONS.operator_namespace
    )  # the new process reads (creates) the key again
    rig.reconciler.results.append(_ready(runtime))
    await workers.process(KEY)
    assert workers.passes == {"full": 1, "confirmed": 0}
    new = rig.stored()["status"]["inputsDigest"]
    assert new != old
    assert new.startswith(confirm.key_id(_key_secret(rig)) + ".")
    workers = _restarted(rig)
    await workers.process(KEY)
    assert workers.passes == {"full": 0, "confirmed": 1}


async def test_without_a_key_ready_statuses_carry_no_digest_and_restarts_go_full(
    rig: Rig,
) -> None:
    _, runtime = _pool(rig)
    rig.kube.failures["create_secret"] = [KubeError(403, "forbidden")]
    await _reconciled_ready(rig, runtime)
    assert rig.stored()["status"].get("inputsDigest") is None
    workers = _restarted(rig)
    rig.reconciler.results.append(_ready(runtime))
    await workers.process(KEY)
    assert workers.passes == {"full": 1, "confirmed": 0}


async def test_a_restart_reconciles_in_full_when_the_provider_changed_meanwhile(
    rig: Rig, ready_pool: ReadyPool
) -> None:
    _, runtime = ready_pool
    assert runtime.snapshot is not None
    runtime.snapshot.negotiator.connections["ix-1"][UUID] = ConnectionRecord(
        bandwidth_mbps=1000, name=UUID, verification_state="UNVERIFIED"
    )
    workers = _restarted(rig)  # the same workers, their memory cleared
    await _process_scripting_ready(rig, runtime)
    assert workers.passes == {"full": 1, "confirmed": 0}


async def test_a_restart_reconciles_in_full_a_status_for_an_older_generation(
    rig: Rig, ready_pool: ReadyPool
) -> None:
    _, runtime = ready_pool
    rig.stored()["metadata"]["generation"] = 2
    workers = _restarted(rig)  # the same workers, their memory cleared
    await _process_scripting_ready(rig, runtime)
    assert workers.passes == {"full": 1, "confirmed": 0}


def _new_link(name: str) -> dict[str, Any]:
    return {
        "metadata": {"namespace": KEY[0], "name": name, "uid": f"u-{name}", "generation": 1},
        "spec": {"poolRef": {"name": "pool"}, "bandwidthMbps": 1000},
    }


async def test_a_restart_confirms_stored_ready_links_in_one_pass_not_one_queue_item_each(
    rig: Rig,
) -> None:
    _, runtime = _pool(rig)
    await _reconciled_ready(rig, runtime)
    rig.metrics.remove_link(*KEY)
    workers = _restarted(rig)
    rig.index.links.pop(KEY)
    workers.on_event("ADDED", rig.stored())
    workers.on_event("ADDED", _new_link("new-one"))
    # The stored Ready link is held for the bulk pass; the new one is a change now.
    assert workers.restart.held == {KEY}
    # The pool's first snapshot wakes its links: a held one is left to the pass.
    workers.wake(KEY, Priority.RECHECK)
    assert workers.queue.waiting(Priority.RECHECK) == 0
    assert workers.queue.waiting(Priority.CHANGE) == 1
    await workers.restart.confirm()
    assert workers.restart.counts == {"confirmed": 1, "queued": 0}
    assert workers.passes == {"full": 0, "confirmed": 1}
    assert len(rig.reconciler.requests) == 1  # only the one before the restart
    assert workers.queue.waiting(Priority.RECHECK) == 0  # back at its recheck, delayed
    assert len(workers.queue) == 2  # the new link now, the confirmed one later
    ready = rig.metrics.registry.get_sample_value(
        "interconnect_link_ready", {"namespace": KEY[0], "name": KEY[1], "pool": "pool"}
    )
    assert ready == 1.0
    # The pass is over: a stored Ready link seen later is one recheck, as before.
    assert workers.restart.held is None
    late = _new_link("late")
    late["status"] = dict(rig.stored()["status"])
    workers.on_event("ADDED", late)
    assert workers.queue.waiting(Priority.RECHECK) == 1


async def _restart_before_clients(rig: Rig) -> tuple[PoolEntry, PoolRuntime, LinkWorkers]:
    """A Ready link held for the restart's bulk pass in a new process whose pool has
    no clients built and no snapshot yet."""
    entry, runtime = _pool(rig)
    await _reconciled_ready(rig, runtime)
    rig.metrics.remove_link(*KEY)
    workers = _restarted(rig)
    rig.index.links.pop(KEY)
    workers.on_event("ADDED", rig.stored())
    entry.runtime = None
    entry.ready.clear()
    return entry, runtime, workers


async def test_a_restart_pass_begun_before_the_pools_clients_are_built_waits_for_them(
    rig: Rig,
) -> None:
    """A few links list faster than a pool's clients build: the bulk pass waits for
    the pool's first snapshot rather than sending every held link to the queue."""
    entry, runtime, workers = await _restart_before_clients(rig)

    async def built() -> None:
        await asyncio.sleep(0.05)
        entry.runtime = runtime
        entry.ready.set()

    building = asyncio.create_task(built())
    await workers.restart.confirm()
    await building
    assert workers.restart.counts == {"confirmed": 1, "queued": 0}
    assert workers.passes == {"full": 0, "confirmed": 1}


async def test_a_restart_pass_does_not_wait_for_a_pool_whose_setup_failed(rig: Rig) -> None:
    entry, _, workers = await _restart_before_clients(rig)
    entry.error = ("CredentialsRequired", "no Secret")
    await asyncio.wait_for(workers.restart.confirm(), 5)
    assert workers.restart.counts == {"confirmed": 0, "queued": 1}


async def test_a_restart_pass_stops_waiting_when_the_pools_setup_fails_meanwhile(
    rig: Rig,
) -> None:
    entry, _, workers = await _restart_before_clients(rig)

    async def fails() -> None:
        await asyncio.sleep(0.05)
        entry.error = ("PoolSetupFailed", "endpoint unreachable")

    failing = asyncio.create_task(fails())
    # Well below POOL_READY_WAIT_SECONDS: the wait ends on the error, not the bound.
    await asyncio.wait_for(workers.restart.confirm(), 5)
    await failing
    assert workers.restart.counts == {"confirmed": 0, "queued": 1}


async def test_a_restart_link_that_does_not_match_takes_the_queue(rig: Rig) -> None:
    _, runtime = _pool(rig)
    await _reconciled_ready(rig, runtime)
    assert runtime.snapshot is not None
    runtime.snapshot.negotiator.connections["ix-1"][UUID] = ConnectionRecord(
        bandwidth_mbps=1000, name=UUID, verification_state="UNVERIFIED"
    )
    workers = _restarted(rig)
    rig.index.links.pop(KEY)
    workers.on_event("ADDED", rig.stored())
    await workers.restart.confirm()
    assert workers.restart.counts == {"confirmed": 0, "queued": 1}
    assert workers.passes == {"full": 0, "confirmed": 0}
    assert workers.queue.waiting(Priority.RECHECK) == 1


async def test_a_restart_link_changed_or_deleted_before_the_pass_leaves_the_batch(
    rig: Rig,
) -> None:
    _, runtime = _pool(rig)
    await _reconciled_ready(rig, runtime)
    workers = _restarted(rig)
    rig.index.links.pop(KEY)
    stored = rig.stored()
    workers.on_event("ADDED", stored)
    changed = {
        **stored,
        "metadata": {**stored["metadata"], "generation": 2, "resourceVersion": "999"},
        "spec": {**stored["spec"], "bandwidthMbps": 2000},
    }
    workers.on_event("MODIFIED", changed)
    assert workers.restart.held == set()
    assert workers.queue.waiting(Priority.CHANGE) == 1
    other = _new_link("other")
    other["status"] = dict(stored["status"])
    workers.on_event("ADDED", other)
    assert workers.restart.held == {(KEY[0], "other")}
    workers.on_event("DELETED", other)
    await workers.restart.confirm()
    assert workers.restart.counts == {"confirmed": 0, "queued": 0}


KEY_BYTES = b"k" * 32


def test_the_digest_ignores_nothing_it_covers_and_is_not_compared() -> None:
    runtime = _runtime()
    assert runtime.snapshot is not None
    provider = views.ready_inputs(runtime.snapshot, UUID)
    body = {"metadata": {"uid": "u", "generation": 1, "finalizers": [FINALIZER]}}
    ready = {"phase": "Ready", "observedGeneration": 1}

    def digest(key: bytes = KEY_BYTES, **changes: Any) -> str:
        args: dict[str, Any] = {
            "body": body,
            "pool": "pool",
            "pool_generation": 1,
            "provider": provider,
            "status": ready,
        }
        args.update(changes)
        return confirm.inputs_digest(
            key,
            args["body"],
            args["pool"],
            args["pool_generation"],
            args["provider"],
            status=args["status"],
        )

    signed = digest()
    assert signed == digest()
    assert signed.startswith(confirm.key_id(KEY_BYTES) + ".")
    assert signed != digest(pool_generation=2)
    assert signed != digest(body={"metadata": {**body["metadata"], "generation": 2}})
    assert signed != digest(status={**ready, "interconnect": "ix-9"})
    assert signed != digest(key=b"o" * 32)  # another installation's (or a rotated) key
    # The status as the server stores it: key order, nulls and integral floats do not matter.
    assert signed == digest(status={"observedGeneration": 1, "phase": "Ready", "message": None})
    timed = digest(status={**ready, "timeToReadySeconds": 12.0})
    assert timed == digest(status={**ready, "timeToReadySeconds": 12})
    runtime.snapshot.responder.features["ix-1"][UUID]["ch-0"] = FeatureRecord(
        name="l3-ch-0", provisioning_state="PENDING"
    )
    assert signed != digest(provider=views.ready_inputs(runtime.snapshot, UUID))
    # Only a digest moved (same key): no status write for it.
    other = digest(pool_generation=3)
    assert not status.status_changed(
        {**ready, "inputsDigest": signed}, {**ready, "inputsDigest": other}
    )
    # A digest of another key, an unsigned one or none: written again once.
    rotated = digest(key=b"o" * 32)
    assert status.status_changed(
        {**ready, "inputsDigest": rotated}, {**ready, "inputsDigest": signed}
    )
    assert status.status_changed(
        {**ready, "inputsDigest": "ab" * 16}, {**ready, "inputsDigest": signed}
    )
    assert status.status_changed(ready, {**ready, "inputsDigest": signed})


def test_the_basis_digest_follows_the_records_equality() -> None:
    runtime = _runtime()
    assert runtime.snapshot is not None
    provider = views.ready_inputs(runtime.snapshot, UUID)
    same = views.ready_inputs(_runtime().snapshot or runtime.snapshot, UUID)
    assert same == provider
    assert same is not provider
    assert confirm.provider_digest(same) == confirm.provider_digest(provider)
    view = runtime.snapshot.negotiator.connections["ix-1"]
    keyed = replace(view[UUID], activation_key=SecretStr("key-one"))
    view[UUID] = keyed
    one = views.ready_inputs(runtime.snapshot, UUID)
    view[UUID] = replace(keyed, activation_key=SecretStr("key-two"))
    two = views.ready_inputs(runtime.snapshot, UUID)
    assert repr(one) == repr(two)  # repr masks the key ...
    assert one != two  # ... equality does not, and neither does the basis digest
    assert confirm.provider_digest(one) != confirm.provider_digest(two)


async def test_the_basis_keeps_no_provider_record(rig: Rig) -> None:
    _, runtime = _pool(rig)
    await _reconciled_ready(rig, runtime)
    basis = rig.workers.state[KEY].basis
    assert basis is not None
    assert isinstance(basis.provider, int)  # a hash: no record, no tuple of them


async def test_a_connection_record_replaced_by_a_refresh_takes_the_full_path(rig: Rig) -> None:
    """The basis holds a digest, not the record: a record a refresh replaced with
    different values still fails the comparison, one with equal values passes."""
    _, runtime = _pool(rig)
    await _reconciled_ready(rig, runtime)
    assert runtime.snapshot is not None
    records = runtime.snapshot.responder.connections["ix-1"]
    records[UUID] = replace(records[UUID])  # a new, equal record: still confirmed
    await rig.workers.process(KEY)
    assert len(rig.reconciler.requests) == 1
    records[UUID] = replace(records[UUID], bandwidth_mbps=2000)
    rig.reconciler.results.append(_ready(runtime))
    await rig.workers.process(KEY)
    assert len(rig.reconciler.requests) == 2


async def test_an_activation_key_change_alone_takes_the_full_path(rig: Rig) -> None:
    _, runtime = _pool(rig)
    assert runtime.snapshot is not None
    records = runtime.snapshot.negotiator.connections["ix-1"]
    records[UUID] = replace(records[UUID], activation_key=SecretStr("key-one"))
    await _reconciled_ready(rig, runtime)
    records[UUID] = replace(records[UUID], activation_key=SecretStr("key-two"))
    rig.reconciler.results.append(_ready(runtime))
    await rig.workers.process(KEY)
    assert len(rig.reconciler.requests) == 2


async def test_a_new_link_waiting_for_its_pool_after_a_start_stays_a_change(rig: Rig) -> None:
    rig.link()  # no status yet: its generation was never answered
    rig.workers._started = time.monotonic()  # within the startup grace, no pool event yet
    assert await rig.workers.process(KEY) == Requeue(1.0, Priority.CHANGE)
    answered = _ready_link(rig)
    answered["status"] = {"observedGeneration": 1, "phase": "Ready"}
    assert await rig.workers.process(KEY) == Requeue(1.0, Priority.RECHECK)


def test_verified_reads_the_status_as_stored_or_as_written() -> None:
    runtime = _runtime()
    assert runtime.snapshot is not None
    provider = views.ready_inputs(runtime.snapshot, UUID)
    meta = {"uid": "u", "generation": 1, "finalizers": [FINALIZER]}
    written = {
        "phase": "Ready",
        "observedGeneration": 1,
        "conditions": [{"type": "Ready", "status": "True", "reason": None}],
        "timeToReadySeconds": 12.0,
        "issue": None,
        "channels": [],
    }
    digest = confirm.inputs_digest(
        KEY_BYTES, {"metadata": meta}, "pool", 1, provider, status=written
    )
    stored = {  # the server's copy: nulls and empty fields gone, 12.0 read back as 12
        "timeToReadySeconds": 12,
        "conditions": [{"status": "True", "type": "Ready"}],
        "observedGeneration": 1,
        "phase": "Ready",
        "inputsDigest": digest,
    }
    for shown in (stored, {**written, "inputsDigest": digest}):
        body = {"metadata": meta, "status": shown}
        assert confirm.verified(KEY_BYTES, body, "pool", 1, provider)
        assert not confirm.verified(b"o" * 32, body, "pool", 1, provider)
        assert not confirm.verified(None, body, "pool", 1, provider)
        assert not confirm.verified(KEY_BYTES, body, "pool", 2, provider)
        edited = {"metadata": meta, "status": {**shown, "message": "forged"}}
        assert not confirm.verified(KEY_BYTES, edited, "pool", 1, provider)


def _stored(provider: tuple[object, ...], **meta: Any) -> dict[str, Any]:
    """A link as stored after this operator wrote its Ready status with a digest."""
    metadata = {
        "uid": "u",
        "generation": 1,
        "finalizers": [FINALIZER],
        "annotations": {UUID_ANNOTATION: UUID, "team": "a"},
        **meta,
    }
    written = {
        "phase": "Ready",
        "observedGeneration": 1,
        "conditions": [{"type": "Ready", "status": "True", "reason": "Ready"}],
        "sharedConnectionUuid": UUID,
        "interconnect": "ix-1",
        "timeToReadySeconds": 12.0,
    }
    digest = confirm.inputs_digest(
        KEY_BYTES, {"metadata": metadata}, "pool", 1, provider, status=written
    )
    return {"metadata": metadata, "status": {**written, "inputsDigest": digest}}


def test_tampering_with_any_covered_input_fails_verification() -> None:
    runtime = _runtime()
    snapshot = runtime.snapshot
    assert snapshot is not None
    provider = views.ready_inputs(snapshot, UUID)
    body = _stored(provider)
    assert confirm.verified(KEY_BYTES, body, "pool", 1, provider)
    meta, shown = body["metadata"], body["status"]

    def fails(changed: dict[str, Any], pool: str = "pool", generation: int = 1) -> None:
        assert not confirm.verified(KEY_BYTES, changed, pool, generation, provider)

    # The link object: uid, generation (the status answers it too), annotations, finalizer.
    fails({**body, "metadata": {**meta, "uid": "v"}})
    fails(
        {
            "metadata": {**meta, "generation": 2},
            "status": {**shown, "observedGeneration": 2},
        }
    )
    fails({**body, "metadata": {**meta, "annotations": {**meta["annotations"], "team": "b"}}})
    fails({**body, "metadata": {**meta, "annotations": {UUID_ANNOTATION: UUID}}})
    fails({**body, "metadata": {**meta, "finalizers": []}})
    # The pool.
    fails(body, pool="other")
    fails(body, generation=2)
    # The status as stored, any field at any depth.
    fails({**body, "status": {**shown, "interconnect": "ix-2"}})
    fails({**body, "status": {**shown, "timeToReadySeconds": 13}})
    fails({**body, "status": {**shown, "message": "forged"}})
    conditions = [{"type": "Ready", "status": "True", "reason": "Forged"}]
    fails({**body, "status": {**shown, "conditions": conditions}})
    # A digest made by the previous version (repr of the same inputs) never verifies.
    fails({**body, "status": {**shown, "inputsDigest": _repr_digest(body, provider)}})

    # The provider data: each record field, a channel, the deferral settings.
    def tampered(change: Any) -> None:
        fresh = _runtime().snapshot
        assert fresh is not None
        change(fresh)
        other = views.ready_inputs(fresh, UUID)
        assert not confirm.verified(KEY_BYTES, body, "pool", 1, other)

    def connection(**fields: Any) -> Any:
        def change(s: PoolSnapshot) -> None:
            records = s.negotiator.connections["ix-1"]
            records[UUID] = replace(records[UUID], **fields)

        return change

    for fields in (
        {"bandwidth_mbps": 2000},
        {"name": "other"},
        {"verification_state": "UNVERIFIED"},
        {"admin_state": "DISABLED"},
        {"deferred": True},
        {"counts_against_capacity": False},
        {"activation_key": SecretStr("key-one")},  # a key now held (shown as present only)
    ):
        tampered(connection(**fields))

    def feature(**fields: Any) -> Any:
        def change(s: PoolSnapshot) -> None:
            records = s.responder.features["ix-1"][UUID]
            records["ch-1"] = replace(records["ch-1"], **fields)

        return change

    for fields in (
        {"name": "l3-other"},
        {"provisioning_state": "PENDING"},
        {"vlan": 7},
        {"mtu": 9000},
        {"invalid": True},
        {"ipv4": ipaddress.IPv4Network("169.254.0.0/30")},
        {"ipv6": ipaddress.IPv6Network("fd00::/126")},
        {"bgp": (BgpRecord("gcp", 16550, "169.254.0.1", None),)},
        {"failure": FeatureFailure(code="QUOTA", message="no room")},
    ):
        tampered(feature(**fields))

    def channel(s: PoolSnapshot) -> None:
        channels = s.responder.channels["ix-1"]
        channels[3] = replace(channels[3], device_id="dev-9")

    def no_feature(s: PoolSnapshot) -> None:
        del s.negotiator.features["ix-1"][UUID]["ch-0"]

    tampered(channel)
    tampered(no_feature)
    # Within a BGP record and a failure: a value changed one level down.
    bgp = (BgpRecord("gcp", 16550, "169.254.0.1", None),)
    failure = FeatureFailure(code="QUOTA", message="no room")
    body = _stored(_with_feature(bgp=bgp, failure=failure))
    assert confirm.verified(KEY_BYTES, body, "pool", 1, _with_feature(bgp=bgp, failure=failure))
    for fields in (
        {"bgp": (BgpRecord("gcp", 16551, "169.254.0.1", None),), "failure": failure},
        {"bgp": (BgpRecord("gcp", 16550, "169.254.0.5", None),), "failure": failure},
        {"bgp": bgp, "failure": FeatureFailure(code="QUOTA", message="no room!")},
        {"bgp": bgp, "failure": FeatureFailure(code="QUOTA", message="no room", retryable=True)},
    ):
        assert not confirm.verified(KEY_BYTES, body, "pool", 1, _with_feature(**fields))


def _with_feature(**fields: Any) -> tuple[object, ...]:
    """The provider data with one feature record's fields set (the rest as ``_side``)."""
    snapshot = _runtime().snapshot
    assert snapshot is not None
    records = snapshot.responder.features["ix-1"][UUID]
    records["ch-1"] = replace(records["ch-1"], **fields)
    return views.ready_inputs(snapshot, UUID)


def _repr_digest(body: dict[str, Any], provider: tuple[object, ...]) -> str:
    """``inputsDigest`` as the previous version (``DIGEST_VERSION`` 2) made it."""
    import hashlib

    from interconnect_operator import __version__

    meta = body["metadata"]
    status = {k: v for k, v in body["status"].items() if k != "inputsDigest"}
    facts = confirm.status_facts(status)
    parts = (
        "2",
        __version__,
        meta["uid"],
        meta["generation"],
        sorted(meta["annotations"].items()),
        True,
        "pool",
        1,
        provider,
        facts,
    )
    mac = hashlib.blake2b(repr(parts).encode(), digest_size=16, key=KEY_BYTES).hexdigest()
    return f"{confirm.key_id(KEY_BYTES)}.{mac}"


def test_the_canonical_text_never_runs_two_values_together() -> None:
    text = confirm._text
    pairs: list[tuple[object, object]] = [
        (("ab", "c"), ("a", "bc")),
        (("1",), (1,)),
        ((None,), ("None",)),
        ((True,), (1,)),
        ((1.0,), (1,)),
        ((("a",), "b"), (("a", "b"),)),
        ((SecretStr("x"),), (None,)),
        ((ChannelInfo("c", "ENABLED", "gcp"),), (ChannelInfo("c", "ENABLED", "aws"),)),
        ((ChannelInfo("c", None, None),), (ChannelInfo("c", "None", None),)),
    ]
    for one, two in pairs:
        assert text(one) != text(two), (one, two)
    # A kept channel's text is the one its fields give (equal records, equal texts).
    shared = ChannelInfo("c", "ENABLED", "gcp", "dev-1")
    assert text((shared, shared)) == text((shared, replace(shared)))
    # Every provider record has its short form (a field added to one falls back to
    # the generic form, still covered, but slower: this says to update the form).
    assert set(confirm._RECORDS) == {
        ConnectionRecord,
        FeatureRecord,
        BgpRecord,
        FeatureFailure,
        ChannelInfo,
    }


def test_a_status_as_the_server_stores_it_verifies_from_one_json_text(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The server keeps an empty top-level list as written (``pendingRequests: []``)
    and drops nulls: the plain text already reads as the signer's, so the slower
    canonical pass (``status_facts``) is not needed for it."""
    runtime = _runtime()
    assert runtime.snapshot is not None
    provider = views.ready_inputs(runtime.snapshot, UUID)
    meta = {"uid": "u", "generation": 1, "finalizers": [FINALIZER]}
    written = {
        "phase": "Ready",
        "observedGeneration": 1,
        "conditions": [{"type": "Ready", "status": "True"}],
        "message": None,
        "routing": {"maxPrefixes": 100, "providerLimits": []},
        "pendingRequests": [],
    }
    digest = confirm.inputs_digest(
        KEY_BYTES, {"metadata": meta}, "pool", 1, provider, status=written
    )
    stored = {k: v for k, v in written.items() if v is not None}
    body = {"metadata": meta, "status": {**stored, "inputsDigest": digest}}

    def unused(status: Any) -> str:
        raise AssertionError("the canonical pass ran")

    monkeypatch.setattr(confirm, "status_facts", unused)
    assert confirm.verified(KEY_BYTES, body, "pool", 1, provider)
    tampered = {**body, "status": {**body["status"], "pendingRequests": [{"call": "x"}]}}
    with pytest.raises(AssertionError, match="canonical pass"):
        confirm.verified(KEY_BYTES, tampered, "pool", 1, provider)


def _full_records() -> dict[type, object]:
    """One record of each kind the MAC text renders field by field, no field None."""
    failure = FeatureFailure(
        code="QUOTA",
        message="no room",
        retryable=True,
        observed_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    )
    bgp = BgpRecord("gcp", 16550, "169.254.0.1", "fd00::1")
    return {
        ConnectionRecord: ConnectionRecord(
            1000, "c", "VERIFIED", "ENABLED", False, True, SecretStr("k")
        ),
        FeatureRecord: FeatureRecord(
            "l3",
            "PROVISIONED",
            5,
            ipaddress.IPv4Network("169.254.0.0/30"),
            ipaddress.IPv6Network("fd00::/126"),
            1500,
            (bgp,),
            False,
            failure,
        ),
        BgpRecord: bgp,
        FeatureFailure: failure,
        ChannelInfo: ChannelInfo("ch-1", "ENABLED", "PROVIDER", "dev-1"),
    }


def _other(value: object) -> object:
    """A value of the same kind as ``value`` that differs from it."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, str):
        return value + "x"
    if isinstance(value, SecretStr):
        return None  # a key is covered as present or absent, never by its value
    if isinstance(value, ipaddress.IPv4Network | ipaddress.IPv6Network):
        return ipaddress.ip_network(
            (int(value.network_address) + value.num_addresses, value.prefixlen)
        )
    if isinstance(value, tuple):
        return ()
    if isinstance(value, FeatureFailure):
        return replace(value, message="other")
    if isinstance(value, dt.datetime):
        return value + dt.timedelta(seconds=1)
    raise AssertionError(f"no other value for {type(value).__name__}: extend _other")


@pytest.mark.parametrize(
    "kind", [ConnectionRecord, FeatureRecord, BgpRecord, FeatureFailure, ChannelInfo]
)
def test_every_field_of_every_record_kind_is_in_the_mac_text(kind: type) -> None:
    """The MAC text of a record is written field by field (``confirm._connection`` and
    the like): a field added to a record must change the text, or a change to it
    would verify. Every field, by ``dataclasses.fields``, not a hand-kept list."""
    record = _full_records()[kind]
    text = confirm._text(record)
    for field in dataclasses.fields(kind):
        value = getattr(record, field.name)
        assert value is not None
        changed = _other(value)
        assert confirm._text(replace(record, **{field.name: changed})) != text, field.name
