"""Links: the work queue and the per-link reconcile, gate -> prepare -> reconcile -> persist.

Watch events land in the link index and, when they carry new intent, in the
work queue; a fixed set of workers reconciles one key at a time per key.
Each reconcile

1. gates the link: a valid spec, a pool this operator serves and that is
   ready, a shared UUID the link owns (judged here, where the records are),
   a namespace the pool admits, a bandwidth within the pool's per-link
   maximum and headroom, the operator's finalizer;
2. prepares the ``LinkRequest``: the Secrets it names, what the stored
   status carries over, fresh reads where acting on a stale copy could harm;
3. hands it to the pool's driver (``reconcile.driver``: the symmetric
   ``LinkReconciler``, or the customer driver for pools on the clouds' APIs);
4. persists the result: the UUID write-ahead, status, Events, metrics
   (written by ``link_reports``), and the finalizer's removal once the
   provider side is released.

A Ready link whose inputs did not change since its last full reconcile (or,
after a restart, whose stored status and the first snapshot agree) is
confirmed without steps 1-4 (``ready``, on ``confirm``); a restart's stored Ready
links are confirmed in one pass (``restart``). Keys are queued as changes
(a user's edit, a new link, a deletion, a provider's change) or as
rechecks (a link that only waits, a restart's already-handled links);
changes are served first (``workqueue``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from interconnect_operator import redaction
from interconnect_operator.api.lanes import link_work
from interconnect_operator.k8s import confirm
from interconnect_operator.k8s.config_error import ConfigError, validation_message
from interconnect_operator.k8s.credentials import Credentials, link_owner
from interconnect_operator.k8s.index import LinkIndex, LinkKey, shared_uuid, user_intent
from interconnect_operator.k8s.kube import LINKS, KubeError
from interconnect_operator.k8s.kubeapi import KubeApi
from interconnect_operator.k8s.link_memory import (
    POOL_READY_WAIT_SECONDS,
    SECRET_RETRY,
    LinkState,
    Stop,
)
from interconnect_operator.k8s.link_reports import LinkReports
from interconnect_operator.k8s.link_request import build_request
from interconnect_operator.k8s.meta import LinkMetadata, StaleWriteAhead
from interconnect_operator.k8s.namespaces import NamespacePolicy
from interconnect_operator.k8s.ownership import (
    MALFORMED_MESSAGE,
    NOT_OWNED_MESSAGE,
    Ownership,
    UuidOwnership,
)
from interconnect_operator.k8s.policy import capacity_denial
from interconnect_operator.k8s.pool_entry import PoolEntry
from interconnect_operator.k8s.pools import PoolLoops
from interconnect_operator.k8s.publish import Publisher
from interconnect_operator.k8s.ready import ReadyConfirmations
from interconnect_operator.k8s.resources import (
    DeletionPolicy,
    LinkConnectionType,
    MulticloudLinkSpec,
)
from interconnect_operator.k8s.restart import RestartBatch
from interconnect_operator.k8s.secret_recheck import SecretRecheck
from interconnect_operator.k8s.secret_refs import link_secret_refs
from interconnect_operator.k8s.settings import FINALIZER, OperatorOptions
from interconnect_operator.k8s.workqueue import Priority, Requeue, WorkQueue
from interconnect_operator.metrics import OperatorMetrics
from interconnect_operator.reconcile.driver import LinkDriver
from interconnect_operator.reconcile.link import (
    LinkRequest,
    LinkResult,
)
from interconnect_operator.reconcile.pool import PoolRuntime

logger = logging.getLogger(__name__)

#: Reasons after which the link waits for its Secrets to change (``secret_recheck``).
SECRET_WAIT_REASONS = frozenset(
    {"SecretNotFound", "LinkSecretRefused", "SecretKeyMissing", "SecretMalformed"}
)
STARTUP_GRACE_SECONDS = 10.0


@dataclass(frozen=True)
class Admitted:
    """A link that passed the gate: its parsed spec, its pool, its memory."""

    spec: MulticloudLinkSpec
    entry: PoolEntry
    reconciler: LinkDriver
    state: LinkState
    deleting: bool
    generation: int


class LinkWorkers:
    """The link work queue and everything one link reconcile does around the reconciler."""

    def __init__(
        self,
        options: OperatorOptions,
        kube: KubeApi,
        metrics: OperatorMetrics,
        *,
        index: LinkIndex,
        pools: PoolLoops,
        credentials: Credentials,
        meta: LinkMetadata,
        namespaces: NamespacePolicy,
        publisher: Publisher,
        owners: UuidOwnership,
    ) -> None:
        self._kube = kube
        self._metrics = metrics
        self._index = index
        self._pools = pools
        self._credentials = credentials
        self._meta = meta
        self._namespaces = namespaces
        self._publisher = publisher
        self._owners = owners
        self.state: dict[LinkKey, LinkState] = {}
        self.queue: WorkQueue[LinkKey] = WorkQueue(
            self.process, workers=options.workers, name="links"
        )
        self.secret_recheck = SecretRecheck(kube, self.queue.add)
        self._confirmations = ReadyConfirmations(
            kube,
            self.state,
            index=index,
            pools=pools,
            credentials=credentials,
            namespaces=namespaces,
            publisher=publisher,
            owners=owners,
        )
        self._reports = LinkReports(
            self.state, index=index, publisher=publisher, confirmations=self._confirmations
        )
        self._started = time.monotonic()
        #: Reconciles by path since start: "full" (a decision) or "confirmed" (``confirm``).
        self.passes: dict[str, int] = {"full": 0, "confirmed": 0}
        #: A restart's stored Ready links, confirmed in one pass (``restart``).
        self.restart = RestartBatch(
            index, self._confirmations, self.queue, metrics, self._count_confirmed
        )

    def on_event(self, event_type: str | None, body: Mapping[str, Any]) -> None:
        meta = body["metadata"]
        key: LinkKey = (meta["namespace"], meta["name"])
        if event_type == "DELETED":
            self.drop(key)
            return
        known = key in self._index.links
        if self._index.observe(body):
            if self.restart.release(key):
                # Changed before the bulk pass reached it: an ordinary change.
                known = True
            self.enqueue(key, known=known)

    def enqueue(self, key: LinkKey, *, known: bool = True) -> None:
        """Queue a link the watch delivered: a change, unless it is new to this process
        and its stored status shows a Ready its current generation reached (a restart:
        held for the bulk confirmation while that has not begun, else a recheck, so
        that links applied meanwhile go first)."""
        body = self._index.links.get(key)
        if not known and body is not None and confirm.answered_ready(body):
            if not self.restart.hold(key):
                self.queue.add(key, Priority.RECHECK)
        else:
            self.queue.add(key)

    def wake(self, key: LinkKey, priority: Priority) -> None:
        """A pool asks for a look at ``key`` (its first snapshot, a provider change):
        queued, unless the restart's bulk pass holds it (that pass looks at it with
        the pool's latest snapshot)."""
        if not self.restart.holds(key):
            self.queue.add(key, priority)

    def _count_confirmed(self) -> None:
        self.passes["confirmed"] += 1

    def drop(self, key: LinkKey) -> None:
        """Forget a link everywhere: index, memory, queue, pool progress, metrics."""
        self.restart.release(key)
        body = self._index.drop(key)
        if body is not None:
            # Its pool, if being deleted, may be waiting for exactly this link.
            self._pools.wake_pool(((body.get("spec") or {}).get("poolRef") or {}).get("name", ""))
        self.state.pop(key, None)
        self.queue.forget(key)
        self.secret_recheck.forget(key)
        self._pools.forget_link(key)
        self._publisher.forget_link(key)
        redaction.release_prefix(link_owner(key))

    async def process(self, key: LinkKey) -> Requeue | None:
        """The queue's processor: one reconcile; Kubernetes API failures retry later.
        A pool's bulk read stands aside while it runs (``api.lanes``)."""
        body = self._index.links.get(key)
        if body is None:
            return None
        with link_work():
            return await self._process(key, body)

    async def _process(self, key: LinkKey, body: dict[str, Any]) -> Requeue | None:
        # Whatever is logged meanwhile belongs to this tenant (redaction scope).
        tenant = redaction.current_tenant.set(key[0])
        try:
            started = time.perf_counter()
            confirmed = await self._confirmations.try_confirm(key, body)
            if confirmed is not None:
                self.passes["confirmed"] += 1
                self._metrics.observe_reconcile("link_confirm", time.perf_counter() - started)
                return confirmed
        finally:
            redaction.current_tenant.reset(tenant)
        return await self._full(key, body)

    async def _full(self, key: LinkKey, body: dict[str, Any]) -> Requeue | None:
        tenant = redaction.current_tenant.set(key[0])
        started_with = user_intent(body)
        self.passes["full"] += 1
        state = self.state.get(key)
        if state is not None:
            state.basis = None  # set again by LinkReports.publish when this reconcile finds Ready
        with self._metrics.reconcile_duration("link"):
            try:
                delay = await self.reconcile(key, body)
                current = self._index.links.get(key)
                if current is not None and user_intent(current) != started_with:
                    # The server's answer to one of this reconcile's writes showed a
                    # spec change or a deletion made meanwhile. Its watch event is older
                    # than that answer and is dropped as stale, so nothing else would
                    # look at the link before its next requeue (up to POLL_SLOW).
                    state = self.state.get(key)
                    if state is not None:
                        state.basis = None
                    return Requeue(0.0)
                return self._requeue(key, delay)
            except KubeError as exc:
                self._metrics.record_reconcile_error("link", "KubernetesApi")
                logger.warning(
                    "kubernetes write failed: %s", exc, extra={"link": f"{key[0]}/{key[1]}"}
                )
                return Requeue(5.0, Priority.RECHECK) if exc.status != 404 else None
            finally:
                redaction.current_tenant.reset(tenant)

    def _requeue(self, key: LinkKey, delay: float | None) -> Requeue | None:
        """A link making progress (its pool counts it busy), asking for an immediate look,
        or whose current generation no status answered yet (a new link waiting for its
        pool after a start) comes back as a change; one that waits or is Ready, as a
        recheck."""
        if delay is None:
            return None
        body = self._index.links.get(key) or {}
        answered = (body.get("status") or {}).get("observedGeneration") == int(
            (body.get("metadata") or {}).get("generation") or 1
        )
        if delay <= 0 or self._pools.busy(key) or not answered:
            return Requeue(delay)
        return Requeue(delay, Priority.RECHECK)

    async def reconcile(self, key: LinkKey, body: dict[str, Any]) -> float | None:
        """Gate -> prepare -> reconcile -> persist; returns seconds until the next look."""
        admitted = await self._gate(key, body)
        if isinstance(admitted, Stop):
            return admitted.retry
        request = await self._prepare(key, body, admitted)
        if isinstance(request, Stop):
            return request.retry
        result = await admitted.reconciler.reconcile(request)
        return await self._persist(key, body, admitted, request, result)

    # Long on purpose: the gate's checks in the order they must run.
    async def _gate(self, key: LinkKey, body: dict[str, Any]) -> Admitted | Stop:  # noqa: PLR0912
        """Whether the reconciler may take the link now; if not, say why on the link."""
        meta = body["metadata"]
        deleting = bool(meta.get("deletionTimestamp"))
        finalizers = list(meta.get("finalizers") or [])
        if deleting and FINALIZER not in finalizers:
            return Stop(None)
        pool_name = ((body.get("spec") or {}).get("poolRef") or {}).get("name")
        if isinstance(pool_name, str) and pool_name in self._pools.unowned:
            # Another shard's link (--pool-selector): not a single write or call.
            self.state.pop(key, None)
            self._publisher.forget_link(key)
            return Stop(None)
        state = self.state.get(key)
        if state is None:
            # After a restart the stored phase is the baseline: no repeated events.
            old_phase = (body.get("status") or {}).get("phase")
            state = self.state[key] = LinkState(last_phase=old_phase)
        try:
            spec = MulticloudLinkSpec.model_validate(body.get("spec") or {})
        except ValidationError as exc:
            message = validation_message(exc)
            return await self._reports.refuse(
                key, body, "Failed", "InvalidSpec", message, stalled=True
            )
        entry = self._pools.get(spec.pool_ref.name)
        if entry is None and time.monotonic() - self._started < STARTUP_GRACE_SECONDS:
            # Watches start together: the pool's first event may not have arrived yet.
            return Stop(1.0)
        if entry is None or entry.reconciler is None:
            return await self._pool_unavailable(key, body, spec, entry, deleting=deleting)
        if not entry.ready.is_set() and not await entry.wait_ready(POOL_READY_WAIT_SECONDS):
            message = f"pool {entry.name} has not completed its first provider read yet"
            return await self._reports.refuse(
                key, body, "Pending", "PoolNotReady", message, stalled=False, retry=10.0
            )
        if (
            entry.body["metadata"].get("deletionTimestamp")
            and not deleting
            and shared_uuid(body) is None
            and FINALIZER not in finalizers
        ):
            # Nothing exists for this link yet and its pool is going away.
            message = f"pool {entry.name} is being deleted: a new link cannot use it"
            return await self._reports.refuse(
                key, body, "Pending", "PoolDeleting", message, stalled=True
            )
        # Ownership is judged only by the operator that serves the link's pool: its
        # records are the ones the link's UUID was claimed in. Another installation
        # (its own namespace, its own records) would find no record and refuse a link
        # it never claimed, or drop the finalizer of a link being deleted.
        refused = await self._ownership_gate(key, body, deleting=deleting)
        if refused is not None:
            return refused
        if not deleting:
            try:
                denied = await self._namespaces.denial(entry.name, entry.body, key[0])
            except KubeError as exc:
                # Transient: a namespace read that failed says nothing about policy.
                message = (
                    f"cannot read namespace {key[0]} to check the pool's namespaceSelector "
                    f"(HTTP {exc.status}); retrying"
                )
                return await self._reports.refuse(
                    key, body, "Pending", "NamespaceUnreadable", message, stalled=False, retry=10.0
                )
            if denied is not None:
                return await self._reports.refuse(
                    key, body, "Failed", "PolicyDenied", denied, stalled=True
                )
            runtime = entry.runtime
            snapshot = runtime.snapshot if isinstance(runtime, PoolRuntime) else None
            pool_policy = (entry.body.get("spec") or {}).get("policy") or {}
            denied = capacity_denial(
                spec.bandwidth_mbps,
                pool_policy,
                snapshot,
                shared_uuid(body),
                holds_capacity=spec.connection_type is not LinkConnectionType.TEST,
            )
            if denied is not None:
                return await self._reports.refuse(
                    key, body, "Failed", "PolicyDenied", denied, stalled=True
                )
            customer = spec.customer is not None
            if FINALIZER not in finalizers and (shared_uuid(body) is not None or customer):
                # Links without a UUID get the finalizer with it, in the one
                # write-ahead patch (LinkMetadata.persist_uuid): before any provider
                # object. A customer link's first call creates at a cloud before any
                # UUID exists (the cloud issues it): its finalizer goes first.
                await self._meta.add_finalizer(key, body)
        generation = int(meta.get("generation") or 1)
        return Admitted(spec, entry, entry.reconciler, state, deleting, generation)

    async def _ownership_gate(
        self, key: LinkKey, body: dict[str, Any], *, deleting: bool
    ) -> Stop | None:
        """A link showing a UUID it does not own never reaches a provider.

        Every path (create, update, migration, deletion, finalizer removal)
        passes here before anything reaches a provider, once the pool is known
        to be served by this operator. Deleting such a link only drops the
        operator's finalizer: the connection belongs to another link.
        """
        ownership = await self._owners.check(body)
        uuid = shared_uuid(body)
        if ownership is Ownership.OWNED and uuid is not None:
            self._index.claim(uuid, key)
            return None
        if ownership is Ownership.NO_UUID:
            return None
        if uuid is not None:
            self._index.unclaim(uuid, key)
        if deleting:
            await self._meta.remove_finalizer(key, body)
            return Stop(None)
        message = NOT_OWNED_MESSAGE if ownership is Ownership.NOT_OWNED else MALFORMED_MESSAGE
        return await self._reports.refuse(
            key, body, "Failed", "UuidNotOwned", message, stalled=True
        )

    async def _pool_unavailable(
        self,
        key: LinkKey,
        body: dict[str, Any],
        spec: MulticloudLinkSpec,
        entry: PoolEntry | None,
        *,
        deleting: bool,
    ) -> Stop:
        if deleting and spec.deletion_policy is DeletionPolicy.ORPHAN:
            await self._meta.remove_finalizer(key, body)
            return Stop(None)
        if entry is not None and entry.error is None:
            # The pool exists and is building its clients (a start, a restart, a
            # rotated Secret): nothing to report yet, and a Ready link must not
            # flap through Pending. A failure sets entry.error and is reported.
            return Stop(1.0)
        if entry is not None and entry.error is not None:
            reason, message = "PoolNotReady", f"pool {entry.name}: {entry.error[1]}"
        else:
            reason = "PoolNotFound"
            message = f"CapacityPool {spec.pool_ref.name} does not exist"
        if deleting:
            message += "; provider objects cannot be deleted until it is back"
        return await self._reports.refuse(
            key, body, "Pending", reason, message, stalled=False, retry=30.0
        )

    async def _prepare(
        self, key: LinkKey, body: dict[str, Any], link: Admitted
    ) -> LinkRequest | Stop:
        """The reconciler's input, with fresh reads where a stale copy could do harm."""
        state = link.state
        try:
            activation_key, md5 = await self._credentials.link_secrets(
                key, link.spec, deleting=link.deleting
            )
        except ConfigError as exc:
            delay = state.secret_backoff
            state.secret_backoff = min(delay * 2, SECRET_RETRY[1])
            if exc.reason in SECRET_WAIT_REASONS:
                # The backoff stays as a floor; a Secret that appears or changes
                # wakes the link within seconds (get-only recheck, see secret_recheck).
                refs = link_secret_refs(key[0], body.get("spec"))
                self.secret_recheck.wait(
                    key, [(ref, self._credentials.digests.get(ref)) for ref in refs]
                )
            return await self._reports.refuse(
                key, body, "Pending", exc.reason, exc.message, stalled=False, retry=delay
            )
        state.secret_backoff = SECRET_RETRY[0]
        self.secret_recheck.forget(key)
        request = build_request(
            key,
            body,
            link.spec,
            generation=link.generation,
            deleting=link.deleting,
            activation_key=activation_key,
            md5=md5,
        )
        if request.shared_uuid is None and link.spec.destination_account_id and not link.deleting:
            # Issuing a key is not idempotent (and no call withdraws one).
            if self._index.links.get(key) is not body:
                # A watch event (a deletion, a change) arrived during this reconcile:
                # start again from it rather than issue a key on the older copy.
                return Stop(0.0)
            if state.claimed:
                # This process wrote ahead a UUID for the link and that write's answer
                # may have been lost: confirm on a fresh read that the link has no UUID
                # recorded yet (and still exists, not being deleted). Otherwise the
                # copy is the watch's latest (or our own write's answer), and a change
                # still in flight is caught by the optimistic write-ahead (a 404, or a
                # 409 whose re-read finds a deletion or a UUID: StaleWriteAhead).
                fresh = await self._kube.get_object(LINKS, key[0], key[1])
                if fresh["metadata"].get("deletionTimestamp") or shared_uuid(fresh):
                    self._index.links[key] = fresh
                    return Stop(0.0)
        runtime = link.entry.runtime
        assert runtime is not None
        if link.deleting:
            # Decide deletion on a read that started now: a stale snapshot must
            # never make an existing provider object look already gone.
            snapshot = await runtime.refresh(fresh=True)
            if snapshot.errors:
                unreachable = ", ".join(sorted(snapshot.errors))
                return await self._reports.refuse(
                    key,
                    body,
                    "Deleting",
                    "ProviderUnreachable",
                    f"deletion waits for {unreachable} to answer (P19); retrying",
                    stalled=False,
                    retry=10.0,
                )
        return request

    async def _persist(
        self,
        key: LinkKey,
        body: dict[str, Any],
        link: Admitted,
        request: LinkRequest,
        result: LinkResult,
    ) -> float | None:
        """Write what the reconcile decided: UUID write-ahead, status, or the release."""
        if result.persist_uuid is not None:
            uid = str(body["metadata"].get("uid") or "")
            taken = self._index.uuid_owner(result.persist_uuid, key) is not None
            if taken or not await self._owners.claim(result.persist_uuid, uid):
                # P3: a key is good for one connection. The reconciler would adopt the
                # other link's objects as if they were this link's (it cannot tell them
                # from its own after a crash); deleting either would delete both. The
                # message names neither the other link nor the connection.
                message = (
                    "P3: the activation key names a shared connection another link "
                    "already uses; a key is good for one connection"
                )
                stop = await self._reports.refuse(
                    key, body, "Failed", "KeyRefused", message, stalled=True
                )
                return stop.retry
            # The ownership record exists before the annotation: a crash in between
            # leaves a record for this uid, claimed again on the next reconcile.
            link.state.claimed.add(result.persist_uuid)
            try:
                await self._meta.persist_uuid(key, body, result.persist_uuid)
            except KubeError as exc:
                if exc.status != 404:
                    raise
                await self._gone_before_write_ahead(key, body, link, result.persist_uuid)
                return None
            except StaleWriteAhead as stale:
                # Deleted or given a UUID meanwhile: the next reconcile starts from the
                # link as it is. The unused UUID's record goes with the link (claimed).
                logger.info(
                    "link %s/%s changed before its shared UUID was recorded; looking again",
                    key[0],
                    key[1],
                    extra={"link": f"{key[0]}/{key[1]}", "pool": link.entry.name},
                )
                self._index.links[key] = stale.fresh
                link.reconciler.forget(result.persist_uuid)
            return 0.0
        await self._reports.publish(key, body, link.entry, request, result)
        if not result.finalized:
            return result.requeue_after
        logger.info(
            "link %s/%s released (%s)",
            key[0],
            key[1],
            link.spec.deletion_policy.value,
            extra={"link": f"{key[0]}/{key[1]}", "pool": link.entry.name},
        )
        await self._owners.release(body, also=link.state.claimed)
        await self._meta.remove_finalizer(key, body)
        self._index.release(body)
        self.drop(key)
        self._wake_placing(link.entry.name)
        return None

    async def _gone_before_write_ahead(
        self, key: LinkKey, body: dict[str, Any], link: Admitted, uuid: str
    ) -> None:
        """The link was deleted between the fresh read and the UUID write-ahead.

        Nothing was created with the key (the write-ahead comes first), so the
        link has nothing to release at either provider; its ownership record
        goes now rather than staying behind for a uid that no longer exists.
        The key itself stays issued at the responder: the protocol has no call
        that withdraws it, and it names no connection on an interconnect
        (docs/critiques.md).
        """
        logger.info(
            "link %s/%s deleted before its shared UUID was recorded; nothing was created",
            key[0],
            key[1],
            extra={"link": f"{key[0]}/{key[1]}", "pool": link.entry.name},
        )
        await self._owners.release(body, also={uuid, *link.state.claimed})
        link.state.claimed.discard(uuid)
        link.reconciler.forget(uuid)

    def _wake_placing(self, pool: str) -> None:
        """Bandwidth a released link gave back (P19) may be what a waiting link
        needs (P7): links still placing retry now rather than at their slow poll."""
        for other in self._index.keys_of_pool(pool):
            state = self.state.get(other)
            if state is not None and state.last_phase == "Placing":
                self.queue.add(other, Priority.CHANGE)
