"""Pools: one refresh loop per CapacityPool, and when its status is written.

A pool gets a loop of its own (a timer per pool, never per link): it builds
the pool's provider clients from the spec and Secrets, then reads both
providers in bulk on the pool's interval and wakes only the links whose
provider state changed. While links of the pool are making progress the
loop refreshes faster; while many are (a burst), refreshes take at most a
tenth of the wall clock: a large pool's bulk read (thousands of features
to parse) must not crowd out the links' own calls. The pool's
``.status`` and health series (written by ``k8s.pool_report``) follow
each refresh, and between refreshes when its links changed (a link Ready,
updated or gone): from the snapshot as the links' own provider answers left
it, no provider read, at most every PUBLISH_SECONDS. Without that a burst
that needs no refresh (every link Ready from its own calls) left the pool's
capacity and link count as they were before it until the pool's next interval.

A pool with links never disappears under them: the operator keeps its
finalizer on every pool, and a pool being deleted keeps serving its links
(so they can still be deleted at the providers) with a ``Deleting``
condition and a Warning Event naming them, until the last one is gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from interconnect_operator import redaction
from interconnect_operator.api.client import RequestRecord
from interconnect_operator.k8s import pool_status
from interconnect_operator.k8s.cleanup import LeftoverCleanup
from interconnect_operator.k8s.config_error import ConfigError
from interconnect_operator.k8s.credentials import Credentials, pool_owner
from interconnect_operator.k8s.customer_pools import customer_driver
from interconnect_operator.k8s.escalations import LinkEscalations
from interconnect_operator.k8s.index import LinkIndex, LinkKey
from interconnect_operator.k8s.kube import POOLS, KubeError
from interconnect_operator.k8s.kubeapi import KubeApi
from interconnect_operator.k8s.policy import selector_matches
from interconnect_operator.k8s.pool_entry import PoolEntry
from interconnect_operator.k8s.pool_report import PoolReportWriter
from interconnect_operator.k8s.publish import involved
from interconnect_operator.k8s.refresh_rule import BUSY_MANY, refresh_due_in
from interconnect_operator.k8s.resources import GROUP, CapacityPoolSpec
from interconnect_operator.k8s.secret_refs import SecretReferrers, pool_secret_names
from interconnect_operator.k8s.secret_watch import SecretWatches
from interconnect_operator.k8s.settings import OperatorOptions
from interconnect_operator.k8s.waits import wait_any, wait_set
from interconnect_operator.k8s.workqueue import Priority
from interconnect_operator.metrics import OperatorMetrics
from interconnect_operator.protocol.conditions import ConditionStatus
from interconnect_operator.protocol.escalation import Thresholds
from interconnect_operator.protocol.retry_discipline import sanitise
from interconnect_operator.reconcile.channels import ChannelWatch
from interconnect_operator.reconcile.driver import PoolView
from interconnect_operator.reconcile.link import LinkReconciler
from interconnect_operator.reconcile.pool import PoolConfig, PoolRuntime, build_client

logger = logging.getLogger(__name__)

#: While a burst's links are busy, the wait for the next refresh is judged again this often.
REJUDGE_SECONDS = 2.0
#: Between refreshes, a pool whose links changed writes its status at most this often.
PUBLISH_SECONDS = 2.0
#: Kept on every CapacityPool: deleting a pool waits until no link uses it.
POOL_FINALIZER = f"{GROUP}/pool-protection"
CONFIG_RETRY = (5.0, 300.0)
#: Setup failures only a change of the pool's spec can fix: Stalled, no retry until then.
TERMINAL_REASONS = frozenset({"InvalidSpec", "CredentialsRequired"})


class PoolLoops:
    """The pools the operator knows and their refresh loops."""

    def __init__(
        self,
        options: OperatorOptions,
        kube: KubeApi,
        metrics: OperatorMetrics,
        *,
        credentials: Credentials,
        index: LinkIndex,
        wake_link: Callable[[LinkKey, Priority], None],
        on_request: Callable[[RequestRecord], None],
    ) -> None:
        self._options = options
        self._kube = kube
        self._metrics = metrics
        self._credentials = credentials
        self._index = index
        self._wake_link = wake_link
        self._on_request = on_request
        self.entries: dict[str, PoolEntry] = {}
        self.reports = PoolReportWriter(kube, metrics, index)
        self.secret_refs: SecretReferrers[str, str] = SecretReferrers()
        self._secret_latest: dict[str, str | None] = {}
        self._secret_watches = SecretWatches(
            kube, options.operator_namespace, self.on_secret_change
        )
        after = dt.timedelta(seconds=options.escalation_after_seconds)
        self.escalations = LinkEscalations(
            kube,
            index,
            thresholds=Thresholds(features_pending=after, verification_missing=after),
        )
        # Only an operator that sees every namespace can tell a vanished link from
        # one outside its view (--namespace): P21 runs only then.
        self.cleanup = LeftoverCleanup(
            kube, index, options.operator_namespace, enabled=not options.namespaces
        )
        #: Pools seen whose labels do not match this instance's --pool-selector.
        self.unowned: set[str] = set()
        #: Links waiting in the work queue with a change to act on, of every pool
        #: (``refresh_share``); None until the controller connects its queue.
        self.pending: Callable[[], int | None] = lambda: None
        #: Loops run only while this replica acts (leader election): a standby
        #: keeps the pools' bodies and makes no provider call and no write.
        self.active = True

    def owns(self, body: Mapping[str, Any]) -> bool:
        """Whether this instance (a shard when --pool-selector is set) owns the pool."""
        selector = self._options.pool_selector
        if selector is None:
            return True
        return selector_matches(selector, (body.get("metadata") or {}).get("labels") or {})

    def get(self, name: str) -> PoolEntry | None:
        return self.entries.get(name)

    async def on_event(self, event_type: str | None, body: Mapping[str, Any]) -> None:
        """(Re)start a pool's loop on a spec change; stop it on deletion."""
        name = body["metadata"]["name"]
        if event_type == "DELETED" or not self.owns(body):
            # Another shard's pool is forgotten like a deleted one, but its
            # links are left alone (LinkWorkers ignores links of `unowned` pools).
            if event_type == "DELETED":
                self.unowned.discard(name)
            else:
                self.unowned.add(name)
            entry = self.entries.pop(name, None)
            if entry is not None:
                await self.stop_pool(entry)
            redaction.release_prefix(pool_owner(name))
            self.escalations.forget_pool(name)
            self.cleanup.forget_pool(name)
            self._metrics.remove_pool(name)
            self.wake_links(name)
            self._watch_secrets(name, None)
            return
        # Only the Secrets of pools this instance owns are watched.
        self._watch_secrets(name, body.get("spec"))
        newly_owned = name in self.unowned
        self.unowned.discard(name)
        entry = self.entries.get(name)
        generation = int(body["metadata"].get("generation") or 0)
        if newly_owned:
            self.wake_links(name)
        if entry is None:
            entry = PoolEntry(name=name, body=dict(body))
            self.entries[name] = entry
        entry.body = dict(body)
        if self.active:
            await self.guard(entry)
        if entry.task is None or generation != entry.generation:
            entry.generation = generation
            await self.stop_pool(entry)
            if self.active:
                entry.task = asyncio.create_task(self._loop(entry), name=f"pool-{name}")

    async def guard(self, entry: PoolEntry) -> bool:
        """Keep the pool's finalizer while links use it; True once it was let go.

        A write that loses a race (409) or fails is retried on the next event
        or round: the finalizer only ever blocks, it never deletes anything.
        """
        meta = entry.body["metadata"]
        finalizers = list(meta.get("finalizers") or [])
        deleting = bool(meta.get("deletionTimestamp"))
        remaining = self._index.keys_of_pool(entry.name)
        if not deleting and POOL_FINALIZER not in finalizers:
            change: list[str] | None = [*finalizers, POOL_FINALIZER]
        elif deleting and POOL_FINALIZER in finalizers and not remaining:
            change = [f for f in finalizers if f != POOL_FINALIZER] or None
        else:
            if deleting and remaining and entry.blocked_event is None:
                entry.blocked_event = pool_status.deletion_condition(
                    [f"{ns}/{name}" for ns, name in remaining], entry.generation
                ).message
                await self._kube.create_event(
                    involved(entry.body, "CapacityPool"),
                    type_="Warning",
                    reason="LinksRemain",
                    message=entry.blocked_event,
                )
            return False
        # Letting go waits for a status write in flight (it would race the deletion)
        # and stops any later one: the object is gone once the write lands.
        async with entry.writes:
            entry.released = deleting
            try:
                patched = await self._kube.patch_metadata(
                    POOLS, None, entry.name, {"finalizers": change}, meta.get("resourceVersion")
                )
            except KubeError as exc:
                entry.released = False
                logger.info("pool finalizer not written yet: %s", exc, extra={"pool": entry.name})
                return False
        meta["finalizers"] = patched["metadata"].get("finalizers")
        meta["resourceVersion"] = patched["metadata"]["resourceVersion"]
        return change is None or POOL_FINALIZER not in change

    def activate(self) -> None:
        """This replica acts from now on: start the loops of every pool known so far."""
        self.active = True
        for entry in self.entries.values():
            if entry.task is None:
                entry.task = asyncio.create_task(self._loop(entry), name=f"pool-{entry.name}")

    async def stop(self) -> None:
        await self._secret_watches.stop()
        for entry in list(self.entries.values()):
            await self.stop_pool(entry)

    def _watch_secrets(self, pool: str, spec: Mapping[str, Any] | None) -> None:
        """Track the Secrets ``pool`` references; watch those of all pools, only those."""
        self.secret_refs.set(pool, pool_secret_names(spec))
        names = self.secret_refs.secrets()
        for gone in set(self._secret_latest) - names:
            del self._secret_latest[gone]
        self._secret_watches.sync(names)

    async def on_secret_change(self, name: str, digest: str | None) -> None:
        """A referenced Secret's content as the watch sees it now.

        A pool built from other content rebuilds its clients (a rotation takes
        effect without a spec change); a pool still waiting for its Secrets
        retries at once. A deleted Secret leaves running clients alone: they
        keep working until the Secret is back or they fail.
        """
        self._secret_latest[name] = digest
        for pool in sorted(self.secret_refs.referrers(name)):
            entry = self.entries.get(pool)
            if entry is None or entry.task is None:
                continue
            if entry.runtime is None:
                entry.wake.set()  # _connect's backoff ends now
            elif digest is not None and entry.secret_digests.get(name) != digest:
                logger.info(
                    "secret %s changed: the pool rebuilds its provider clients",
                    name,
                    extra={"pool": pool},
                )
                await self.stop_pool(entry)
                entry.task = asyncio.create_task(self._loop(entry), name=f"pool-{pool}")

    async def stop_pool(self, entry: PoolEntry) -> None:
        if entry.task is not None:
            entry.task.cancel()
            await asyncio.gather(entry.task, return_exceptions=True)
            entry.task = None
        if entry.runtime is not None:
            await entry.runtime.aclose()
            entry.runtime = None
            entry.reconciler = None
        entry.ready.clear()

    def wake_pool(self, pool: str) -> None:
        """A link of ``pool`` went away: a pool being deleted may now let go."""
        entry = self.entries.get(pool)
        if entry is not None:
            entry.lagging.set()  # its link count, and the capacity the link held
            entry.wake.set()

    def wake_links(self, pool: str, priority: Priority = Priority.CHANGE) -> None:
        for key in self._index.keys_of_pool(pool):
            self._wake_link(key, priority)

    def busy(self, key: LinkKey) -> bool:
        """Whether ``key`` is making progress (its pool refreshes faster for it)."""
        return any(key in entry.busy for entry in self.entries.values())

    def forget_link(self, key: LinkKey) -> None:
        for entry in self.entries.values():
            entry.busy.discard(key)

    async def _loop(self, entry: PoolEntry) -> None:
        """Build the pool's clients, then refresh on its interval (or when woken)."""
        runtime = await self._connect(entry)
        first = True
        while True:
            started = time.monotonic()
            with contextlib.suppress(KubeError):
                await self.guard(entry)
            if entry.released:
                # Let go of a pool being deleted (here, or by its watch event's guard):
                # its DELETED event stops this loop; a refresh would only write
                # status to an object on its way out.
                entry.wake.clear()
                await wait_set(entry.wake, runtime.refresh_interval)
                continue
            try:
                await self._refresh_once(entry, runtime)
            except Exception as exc:  # containment: the loop outlives any one round
                entry.refreshed = False
                logger.exception("pool round failed", extra={"pool": entry.name})
                self._metrics.record_reconcile_error("pool", "RefreshFailed")
                with contextlib.suppress(Exception):
                    await self.reports.write_error(
                        entry, "RefreshFailed", failure_text(exc), reachable=ConditionStatus.FALSE
                    )
                entry.ready.set()  # links report the pool's condition, not wait on it
            else:
                entry.refreshed = True
                entry.ready.set()
                if first:
                    # Every link looks at the new clients' first snapshot; those not
                    # queued for a change already (a restart's Ready links) as rechecks.
                    first = False
                    self.wake_links(entry.name, Priority.RECHECK)
                else:
                    for uuid in runtime.changed:
                        key = self._index.key_for_uuid(uuid)
                        if key is not None:
                            self._wake_link(key, Priority.CHANGE)
            await self._wait_until_due(entry, runtime, started, time.monotonic() - started)

    async def _wait_until_due(
        self, entry: PoolEntry, runtime: PoolView, started: float, duration: float
    ) -> None:
        """Sleep until the next refresh is due, re-judged on every wake and timeout
        (links become busy or idle meanwhile)."""
        woken_at: float | None = None
        while True:
            now = time.monotonic()
            if entry.lagging.is_set() and now - entry.published_at >= PUBLISH_SECONDS:
                await self._publish(entry, runtime)
                now = time.monotonic()
            busy = len(entry.busy)
            due = refresh_due_in(
                runtime.refresh_interval,
                duration,
                now - started,
                busy=busy,
                since_woken=None if woken_at is None else now - woken_at,
                pending=self.pending() if busy > BUSY_MANY else None,
            )
            if due <= 0:
                return
            entry.wake.clear()
            if busy > BUSY_MANY:  # the share changes as the burst drains: judged again
                due = min(due, REJUDGE_SECONDS)
            # Not asyncio.wait_for: on 3.11 it can swallow the cancellation that
            # stops this loop (k8s/waits.py); stop_pool would wait for ever.
            if entry.lagging.is_set():  # published less than PUBLISH_SECONDS ago
                due = min(due, entry.published_at + PUBLISH_SECONDS - now)
                woken = await wait_set(entry.wake, max(due, 0.05))
            else:
                woken = await wait_any((entry.wake, entry.lagging), max(due, 0.2))
                woken = woken and entry.wake.is_set()  # a status to publish is no wake
            if not woken:
                continue
            if self._may_let_go(entry):
                return  # the last link is gone: the loop's guard lets go of the pool now
            if woken_at is None:  # the first wake only: flapping links cannot starve it
                woken_at = time.monotonic()

    async def _publish(self, entry: PoolEntry, runtime: PoolView) -> None:
        """Between refreshes: the status and health series from the snapshot as
        the links' recorded provider answers left it (no provider read). Not
        after a failed refresh: its error condition stands until a refresh ends it."""
        if entry.refreshed:
            await self.reports.write_report(entry, runtime.report())
        else:
            entry.mark_published()

    def _may_let_go(self, entry: PoolEntry) -> bool:
        """A pool being deleted that no link uses any more (its finalizer can go)."""
        meta = entry.body["metadata"]
        return bool(meta.get("deletionTimestamp")) and not self._index.keys_of_pool(entry.name)

    async def _connect(self, entry: PoolEntry) -> PoolView:
        """Resolve the pool's configuration (retrying with backoff) and build its clients."""
        backoff = CONFIG_RETRY[0]
        while entry.runtime is None:
            entry.wake.clear()
            try:
                config = await self._credentials.pool_config(entry.name, entry.body)
                await self._build(entry, config)
            except Exception as exc:  # containment: a pool never stops trying
                if isinstance(exc, ConfigError):
                    reason, message = exc.reason, exc.message
                else:
                    logger.exception("pool setup failed", extra={"pool": entry.name})
                    reason, message = "PoolSetupFailed", failure_text(exc)
                entry.error = (reason, message)
                terminal = reason in TERMINAL_REASONS
                with contextlib.suppress(Exception):
                    await self.reports.write_error(entry, reason, message, stalled=terminal)
                # A referenced Secret that appears or changes ends the wait (on_secret_change);
                # a terminal reason waits for that or a spec change (a new loop) only.
                await wait_set(entry.wake, None if terminal else backoff)
                backoff = min(backoff * 2, CONFIG_RETRY[1])
                continue
            entry.error = None
            if entry.runtime is not None and not self._record_secrets(entry):
                # A Secret changed while the clients were being built: build again.
                await entry.runtime.aclose()
                entry.runtime, entry.reconciler, entry.watch = None, None, None
        return entry.runtime

    def _record_secrets(self, entry: PoolEntry) -> bool:
        """Remember what the clients were built from; False if a watch saw newer content."""
        namespace = self._options.operator_namespace
        entry.secret_digests = {
            name: self._credentials.digests.get((namespace, name), "")
            for name in self.secret_refs.secrets_of(entry.name)
        }
        return all(
            self._secret_latest.get(name) in (None, digest)
            for name, digest in entry.secret_digests.items()
        )

    async def _build(self, entry: PoolEntry, config: PoolConfig) -> None:
        """The pool's driver behind the seam: symmetric, or the clouds' customer APIs."""
        spec = CapacityPoolSpec.model_validate(entry.body.get("spec") or {})
        entry.builds += 1
        if spec.customer:
            pool, driver = await customer_driver(
                self._credentials,
                self._options.operator_namespace,
                spec,
                config,
                max_concurrency=min(self._options.provider_concurrency, 16),
            )
            entry.runtime, entry.reconciler = pool, driver
            return
        negotiator, responder = (
            build_client(
                provider,
                max_concurrency=self._options.provider_concurrency,
                on_request=self._on_request,
            )
            for provider in (config.negotiator, config.responder)
        )
        runtime = PoolRuntime(config, negotiator, responder)
        entry.runtime, entry.reconciler = runtime, LinkReconciler(runtime)
        entry.watch = ChannelWatch(runtime)

    async def _refresh_once(self, entry: PoolEntry, runtime: PoolView) -> None:
        with self._metrics.reconcile_duration("pool"):
            await runtime.refresh()  # a failure here is the loop's: ProvidersReachable False
        report = runtime.report()
        if entry.watch is not None and entry.watch.due() and not report.errors:
            # MACsec (P26-P31) and maintenance (P24-P25): channel-level, slow cadence.
            await entry.watch.run()
        health = await self.reports.write_report(entry, report)
        if isinstance(runtime, PoolRuntime) and not report.errors:
            try:
                # Stuck links raise, follow and close their issue (Issues API, P24).
                await self.escalations.run(entry.name, runtime, health)
            except Exception:  # containment: escalation never stops the refresh loop
                logger.exception("escalation round failed", extra={"pool": entry.name})
            try:
                # P21: what the operator created for links now gone, unfinished for 7 days.
                await self.cleanup.run(entry.name, runtime, entry.body)
            except Exception:  # containment: cleanup never stops the refresh loop
                logger.exception("leftover cleanup failed", extra={"pool": entry.name})


def failure_text(exc: BaseException) -> str:
    """What a condition says about an unexpected failure: its type and a sanitised line."""
    return sanitise(f"{type(exc).__name__}: {exc}")
