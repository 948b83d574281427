"""Ready links confirmed without a full reconcile (k8s.confirm, ReadyConfirmations.try_confirm).

The pool's runtime holds a hand-made snapshot; the reconciler is the scripted
stub, so every full reconcile shows as a request it received. A Ready link
rechecked with nothing changed makes none; any change of what it depends on
(its provider records, its object, its pool, its Secret, the safety net's due
time) takes the full path again. After a restart, a stored Ready status whose
``inputsDigest`` matches the first snapshot is confirmed from the status.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import replace
from typing import Any, cast

from interconnect_operator.k8s import confirm, status
from interconnect_operator.k8s.links import LinkWorkers
from interconnect_operator.k8s.pools import PoolEntry
from interconnect_operator.k8s.settings import FINALIZER, UUID_ANNOTATION
from interconnect_operator.k8s.workqueue import Priority, Requeue
from interconnect_operator.protocol.link_state import Phase
from interconnect_operator.protocol.types import Side
from interconnect_operator.reconcile import views
from interconnect_operator.reconcile.link import LinkResult
from interconnect_operator.reconcile.pool import PoolConfig, PoolRuntime, ProviderConfig
from interconnect_operator.reconcile.snapshot import (
    ChannelInfo,
    ConnectionRecord,
    FeatureRecord,
    PoolSnapshot,
    SideView,
)
from tests.unit.k8s import test_links
from tests.unit.k8s.test_links import KEY, LINK_SECRET, Rig, _status

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


async def test_an_unchanged_ready_link_is_confirmed_without_a_decision(rig: Rig) -> None:
    _, runtime = _pool(rig)
    await _reconciled_ready(rig, runtime)
    stored = rig.stored()
    version = stored["metadata"]["resourceVersion"]
    assert stored["status"]["inputsDigest"]
    for _ in range(3):
        assert await rig.workers.process(KEY) == Requeue(300.0, Priority.RECHECK)
    assert len(rig.reconciler.requests) == 1  # no further full reconcile
    assert rig.workers.passes == {"full": 1, "confirmed": 3}
    assert rig.stored()["metadata"]["resourceVersion"] == version  # nothing written


async def test_a_provider_change_takes_the_full_path(rig: Rig) -> None:
    _, runtime = _pool(rig)
    await _reconciled_ready(rig, runtime)
    assert runtime.snapshot is not None
    # A refresh shows one feature PENDING again (P15): a new record.
    features = runtime.snapshot.responder.features["ix-1"][UUID]
    features["ch-2"] = replace(features["ch-2"], provisioning_state="PENDING")
    rig.reconciler.results.append(_ready(runtime))
    await rig.workers.process(KEY)
    assert len(rig.reconciler.requests) == 2


async def test_a_channel_disabled_takes_the_full_path(rig: Rig) -> None:
    _, runtime = _pool(rig)
    await _reconciled_ready(rig, runtime)
    assert runtime.snapshot is not None
    channels = runtime.snapshot.negotiator.channels["ix-1"]
    channels[0] = replace(channels[0], admin_state="DISABLED")
    rig.reconciler.results.append(_ready(runtime))
    await rig.workers.process(KEY)
    assert len(rig.reconciler.requests) == 2


async def test_a_change_of_the_link_object_takes_the_full_path(rig: Rig) -> None:
    _, runtime = _pool(rig)
    await _reconciled_ready(rig, runtime)
    # Another writer (a label, a status edit): a new resourceVersion, the same intent.
    changed = dict(rig.stored())
    changed["metadata"] = {
        **changed["metadata"],
        "labels": {"team": "b"},
        "resourceVersion": "99999",
    }
    rig.index.observe(changed)
    rig.reconciler.results.append(_ready(runtime))
    await rig.workers.process(KEY)
    assert len(rig.reconciler.requests) == 2


async def test_a_pool_spec_change_takes_the_full_path(rig: Rig) -> None:
    entry, runtime = _pool(rig)
    await _reconciled_ready(rig, runtime)
    entry.generation += 1
    rig.reconciler.results.append(_ready(runtime))
    await rig.workers.process(KEY)
    assert len(rig.reconciler.requests) == 2


async def test_the_safety_net_reconciles_in_full_once_due(rig: Rig) -> None:
    _, runtime = _pool(rig)
    await _reconciled_ready(rig, runtime)
    state = rig.workers.state[KEY]
    assert state.basis is not None
    low, high = confirm.FULL_LOOK_SECONDS
    assert low - 1 <= state.basis.full_due - time.monotonic() <= high
    state.basis = replace(state.basis, full_due=0.0)
    rig.reconciler.results.append(_ready(runtime))
    await rig.workers.process(KEY)
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
    rig.reconciler.results.append(_ready(runtime))
    await rig.workers.process(KEY)
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


async def test_a_restart_confirms_a_stored_ready_status_that_matches_the_snapshot(
    rig: Rig,
) -> None:
    _, runtime = _pool(rig)
    await _reconciled_ready(rig, runtime)
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


async def test_a_restart_reconciles_in_full_when_the_provider_changed_meanwhile(
    rig: Rig,
) -> None:
    _, runtime = _pool(rig)
    await _reconciled_ready(rig, runtime)
    assert runtime.snapshot is not None
    runtime.snapshot.negotiator.connections["ix-1"][UUID] = ConnectionRecord(
        bandwidth_mbps=1000, name=UUID, verification_state="UNVERIFIED"
    )
    workers = _restarted(rig)
    rig.reconciler.results.append(_ready(runtime))
    await workers.process(KEY)
    assert workers.passes == {"full": 1, "confirmed": 0}


async def test_a_restart_reconciles_in_full_a_status_for_an_older_generation(rig: Rig) -> None:
    _, runtime = _pool(rig)
    await _reconciled_ready(rig, runtime)
    rig.stored()["metadata"]["generation"] = 2
    workers = _restarted(rig)
    rig.reconciler.results.append(_ready(runtime))
    await workers.process(KEY)
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
    assert workers.restart_batch == {KEY}
    # The pool's first snapshot wakes its links: a held one is left to the pass.
    workers.wake(KEY, Priority.RECHECK)
    assert workers.queue.waiting(Priority.RECHECK) == 0
    assert workers.queue.waiting(Priority.CHANGE) == 1
    await workers.confirm_restart()
    assert workers.restart_counts == {"confirmed": 1, "queued": 0}
    assert workers.passes == {"full": 0, "confirmed": 1}
    assert len(rig.reconciler.requests) == 1  # only the one before the restart
    assert workers.queue.waiting(Priority.RECHECK) == 0  # back at its recheck, delayed
    assert len(workers.queue) == 2  # the new link now, the confirmed one later
    ready = rig.metrics.registry.get_sample_value(
        "interconnect_link_ready", {"namespace": KEY[0], "name": KEY[1], "pool": "pool"}
    )
    assert ready == 1.0
    # The pass is over: a stored Ready link seen later is one recheck, as before.
    assert workers.restart_batch is None
    late = _new_link("late")
    late["status"] = dict(rig.stored()["status"])
    workers.on_event("ADDED", late)
    assert workers.queue.waiting(Priority.RECHECK) == 1


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
    await workers.confirm_restart()
    assert workers.restart_counts == {"confirmed": 0, "queued": 1}
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
    assert workers.restart_batch == set()
    assert workers.queue.waiting(Priority.CHANGE) == 1
    other = _new_link("other")
    other["status"] = dict(stored["status"])
    workers.on_event("ADDED", other)
    assert workers.restart_batch == {(KEY[0], "other")}
    workers.on_event("DELETED", other)
    await workers.confirm_restart()
    assert workers.restart_counts == {"confirmed": 0, "queued": 0}


def test_the_digest_ignores_nothing_it_covers_and_is_not_compared() -> None:
    runtime = _runtime()
    assert runtime.snapshot is not None
    provider = views.ready_inputs(runtime.snapshot, UUID)
    body = {"metadata": {"uid": "u", "generation": 1, "finalizers": [FINALIZER]}}
    digest = confirm.inputs_digest(body, "pool", 1, provider)
    assert digest == confirm.inputs_digest(body, "pool", 1, provider)
    assert digest != confirm.inputs_digest(body, "pool", 2, provider)
    newer = {"metadata": {**body["metadata"], "generation": 2}}
    assert digest != confirm.inputs_digest(newer, "pool", 1, provider)
    runtime.snapshot.responder.features["ix-1"][UUID]["ch-0"] = FeatureRecord(
        name="l3-ch-0", provisioning_state="PENDING"
    )
    changed = views.ready_inputs(runtime.snapshot, UUID)
    assert digest != confirm.inputs_digest(body, "pool", 1, changed)
    # Only a digest moved: no status write for it.
    assert not status.status_changed({"phase": "Ready"}, {"phase": "Ready", "inputsDigest": digest})


async def test_a_new_link_waiting_for_its_pool_after_a_start_stays_a_change(rig: Rig) -> None:
    rig.link()  # no status yet: its generation was never answered
    rig.workers._started = time.monotonic()  # within the startup grace, no pool event yet
    assert await rig.workers.process(KEY) == Requeue(1.0, Priority.CHANGE)
    answered = _ready_link(rig)
    answered["status"] = {"observedGeneration": 1, "phase": "Ready"}
    assert await rig.workers.process(KEY) == Requeue(1.0, Priority.RECHECK)
