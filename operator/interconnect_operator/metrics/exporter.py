"""`OperatorMetrics`: the operator's metrics on a registry of their own."""

from __future__ import annotations

import contextlib
import threading
import time
from collections import Counter as _Tally
from collections.abc import Iterator
from types import MappingProxyType

from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Histogram,
)

from interconnect_operator import redaction
from interconnect_operator.metrics.collector import StateCollector
from interconnect_operator.metrics.health import LinkHealth, PoolHealth
from interconnect_operator.metrics.labels import safe_label
from interconnect_operator.metrics.names import (
    CODE_CONNECTION_ERROR,
    CODE_TIMEOUT,
    LINK_TIME_TO_READY,
    PROVIDER_LATENCY_BUCKETS,
    PROVIDER_REQUEST_DURATION,
    PROVIDER_REQUESTS,
    RECONCILE_BUCKETS,
    RECONCILE_DURATION,
    RECONCILE_ERRORS,
    TIME_TO_READY_BUCKETS,
    WORKQUEUE_ADDS,
    WORKQUEUE_BUCKETS,
    WORKQUEUE_QUEUE_DURATION,
    WORKQUEUE_RETRIES,
    WORKQUEUE_WORK_DURATION,
)
from interconnect_operator.metrics.workqueue import WorkQueueMetrics

#: Most (provider, operation, code) series kept looked up (operations are a
#: bounded set; providers and codes few): past it the lookups start again.
CALL_SERIES = 1024
#: Most reconcile kinds whose duration child is kept looked up (a fixed set in code).
RECONCILE_KINDS = 16


class OperatorMetrics:
    """The operator's metrics, on a registry of their own.

    Thread-safe: handlers update it from the event loop while the HTTP server
    thread scrapes it.
    """

    # Long on purpose: one statement per counter and histogram family.
    def __init__(
        self,
        registry: CollectorRegistry | None = None,
        per_link: bool = True,
        *,
        shared_uuid_label: bool = False,
    ) -> None:
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        self.per_link = per_link
        #: Whether ``interconnect_link_info`` carries ``shared_uuid``. Off by default:
        #: the UUID is what a tenant would need to claim another team's connection,
        #: and a scrape is readable by whoever reaches the metrics port.
        self.shared_uuid_label = shared_uuid_label
        self._lock = threading.Lock()
        self._links: dict[tuple[str, str], LinkHealth] = {}
        # Links set to a different record or removed since the collector last
        # looked (`take_link_changes`); bounded: past the number of links it is
        # dropped and the collector compares every link once (`_resync`).
        self._link_changes: dict[tuple[str, str], LinkHealth | None] = {}
        self._resync = True
        # Links per (pool, phase), kept as links change (interconnect_pool_links).
        self._phase_tally: _Tally[tuple[str, str]] = _Tally()
        self._pools: dict[str, PoolHealth] = {}
        self._ready_observed: set[tuple[str, str]] = set()

        self._provider_requests = Counter(
            PROVIDER_REQUESTS.removesuffix("_total"),
            "Calls to provider APIs by operation and result code "
            f"(HTTP status, or {CODE_TIMEOUT!r} / {CODE_CONNECTION_ERROR!r}).",
            ("provider", "operation", "code"),
            registry=self.registry,
        )
        self._provider_latency = Histogram(
            PROVIDER_REQUEST_DURATION,
            "Duration of calls to provider APIs in seconds.",
            ("provider", "operation"),
            buckets=PROVIDER_LATENCY_BUCKETS,
            registry=self.registry,
        )
        # Per (provider, operation, code): the two series one call adds to,
        # looked up once instead of through labels() and safe_label per call.
        # Dropped when the held secrets change (a label may have to be masked).
        self._call_series: dict[tuple[str, str, str], tuple[Counter, Histogram]] = {}
        self._call_series_generation = -1
        # kind -> its reconcile-duration child, looked up once (a Ready confirmation
        # observes one per link per recheck: 10,000 per 300 s at N=10,000).
        self._reconcile_children: dict[str, Histogram] = {}
        self._reconcile_children_generation = -1
        self._reconcile_duration = Histogram(
            RECONCILE_DURATION,
            "Duration of one reconcile pass in seconds, by kind: link (a full reconcile), "
            "link_confirm (a Ready link confirmed unchanged, no decision), pool.",
            ("kind",),
            buckets=RECONCILE_BUCKETS,
            registry=self.registry,
        )
        self._reconcile_errors = Counter(
            RECONCILE_ERRORS.removesuffix("_total"),
            "Reconcile passes that ended in an error, by kind and CamelCase reason.",
            ("kind", "reason"),
            registry=self.registry,
        )
        self._time_to_ready = Histogram(
            LINK_TIME_TO_READY,
            "Time from a link's creation to its first Ready, in seconds.",
            ("pool",),
            buckets=TIME_TO_READY_BUCKETS,
            registry=self.registry,
        )
        self._queues: dict[str, WorkQueueMetrics] = {}
        self._queue_adds = Counter(
            WORKQUEUE_ADDS.removesuffix("_total"),
            "Keys added to the work queue.",
            ("name",),
            registry=self.registry,
        )
        self._queue_retries = Counter(
            WORKQUEUE_RETRIES.removesuffix("_total"),
            "Keys requeued with a delay after a reconcile (asked to look again, or failed).",
            ("name",),
            registry=self.registry,
        )
        self._queue_wait = Histogram(
            WORKQUEUE_QUEUE_DURATION,
            "Seconds a key waits in the work queue before a worker takes it.",
            ("name",),
            buckets=WORKQUEUE_BUCKETS,
            registry=self.registry,
        )
        self._queue_work = Histogram(
            WORKQUEUE_WORK_DURATION,
            "Seconds one reconcile of a key from the work queue takes.",
            ("name",),
            buckets=WORKQUEUE_BUCKETS,
            registry=self.registry,
        )
        self._state = StateCollector(self)
        self.registry.register(self._state)
        # The process-wide collectors' own instances (they read /proc, gc and
        # platform when scraped; registering them again would describe the
        # same process twice on the default registry only, never here).
        for collector in (PROCESS_COLLECTOR, GC_COLLECTOR, PLATFORM_COLLECTOR):
            self.registry.register(collector)

    @property
    def links_rendered(self) -> int:
        """Links whose series were rendered as text so far; a scrape renders only changed ones."""
        return self._state.link_text.renders

    # -- work queues -----------------------------------------------------------

    def workqueue(self, name: str) -> WorkQueueMetrics:
        """The metrics of the work queue ``name`` (one per name; a provider for the queue)."""
        with self._lock:
            queue = self._queues.get(name)
            if queue is None:
                queue = WorkQueueMetrics(
                    name=safe_label(name),
                    adds=self._queue_adds.labels(name=safe_label(name)),
                    retries=self._queue_retries.labels(name=safe_label(name)),
                    wait=self._queue_wait.labels(name=safe_label(name)),
                    work=self._queue_work.labels(name=safe_label(name)),
                )
                self._queues[name] = queue
        return queue

    def _queues_snapshot(self) -> list[WorkQueueMetrics]:
        with self._lock:
            return [self._queues[k] for k in sorted(self._queues)]

    # -- snapshots -----------------------------------------------------------

    def _pools_snapshot(self) -> tuple[dict[tuple[str, str], int], list[PoolHealth]]:
        """Links per (pool, phase) with at least one link, and the pools, sorted."""
        with self._lock:
            return dict(self._phase_tally), [self._pools[k] for k in sorted(self._pools)]

    def take_link_changes(
        self,
    ) -> tuple[dict[tuple[str, str], LinkHealth | None], list[LinkHealth] | None]:
        """Links changed since the last call (None: removed), or every link (sorted).

        Every link comes back, instead of the changes, on the first call and
        after changes piled up past the number of links (no scrape for a while).
        For the one collector that keeps the per-link text.
        """
        with self._lock:
            if self._resync:
                self._resync = False
                self._link_changes = {}
                return {}, [self._links[k] for k in sorted(self._links)]
            changes, self._link_changes = self._link_changes, {}
            return changes, None

    def _changed(self, key: tuple[str, str], health: LinkHealth | None) -> None:
        # Called with the lock held.
        self._link_changes[key] = health
        if len(self._link_changes) > len(self._links) + 1024:
            self._link_changes = {}
            self._resync = True

    def _tally(self, health: LinkHealth, step: int) -> None:
        # Called with the lock held; no zero counts kept (a phase no link is in
        # is exported only if it is one of LINK_PHASES).
        pool_phase = (health.pool, health.phase)
        count = self._phase_tally[pool_phase] + step
        if count:
            self._phase_tally[pool_phase] = count
        else:
            del self._phase_tally[pool_phase]

    def set_link(self, health: LinkHealth) -> None:
        """Record the latest health of a link (replaces the previous one)."""
        frozen = LinkHealth(
            namespace=health.namespace,
            name=health.name,
            pool=health.pool,
            environment=health.environment,
            interconnect=health.interconnect,
            shared_uuid=health.shared_uuid,
            phase=health.phase,
            ready=health.ready,
            degraded=health.degraded,
            bandwidth_mbps=health.bandwidth_mbps,
            # Copies behind read-only views: the caller may reuse its dicts.
            verified=MappingProxyType(dict(health.verified)),
            features=MappingProxyType(dict(health.features)),
            channels_up=MappingProxyType(dict(health.channels_up)),
            time_to_ready_seconds=health.time_to_ready_seconds,
        )
        key = (health.namespace, health.name)
        with self._lock:
            previous = self._links.get(key)
            if previous == frozen:
                # The same record: the link's kept text stays valid.
                return
            self._links[key] = frozen
            self._changed(key, frozen)
            if previous is not None:
                self._tally(previous, -1)
            self._tally(frozen, +1)
            # Observe time to ready only on a not-ready -> ready transition
            # witnessed by this process, once per link: a link first seen
            # Ready (e.g. after an operator restart) was counted before, and
            # a link that flaps keeps its original time to ready.
            first_ready = (
                previous is not None
                and not previous.ready
                and frozen.ready
                and frozen.time_to_ready_seconds is not None
                and key not in self._ready_observed
            )
            if first_ready:
                self._ready_observed.add(key)
        if first_ready and frozen.time_to_ready_seconds is not None:
            self.observe_time_to_ready(frozen.pool, frozen.time_to_ready_seconds)

    def remove_link(self, namespace: str, name: str) -> None:
        """Forget a deleted link: its series vanish from the next scrape."""
        with self._lock:
            previous = self._links.pop((namespace, name), None)
            self._ready_observed.discard((namespace, name))
            if previous is not None:
                self._changed((namespace, name), None)
                self._tally(previous, -1)

    def set_pool(self, health: PoolHealth) -> None:
        """Record the latest health of a pool (replaces the previous one)."""
        frozen = PoolHealth(
            pool=health.pool,
            providers_reachable=MappingProxyType(dict(health.providers_reachable)),
            interconnects=tuple(health.interconnects),
        )
        with self._lock:
            self._pools[health.pool] = frozen

    def remove_pool(self, pool: str) -> None:
        """Forget a deleted pool and its time-to-ready histogram series."""
        with self._lock:
            self._pools.pop(pool, None)
        with contextlib.suppress(KeyError):
            self._time_to_ready.remove(pool)

    def observe_time_to_ready(self, pool: str, seconds: float) -> None:
        """Observe a link's time to its first Ready.

        `set_link` already does this when it witnesses a link's not-ready ->
        ready transition (with `time_to_ready_seconds` set); call this
        directly only for links whose transition does not go through
        `set_link`, or the link is counted twice. Links first seen Ready
        (after an operator restart) are deliberately not observed again.
        """
        self._time_to_ready.labels(pool=safe_label(pool)).observe(seconds)

    # -- operator ------------------------------------------------------------

    def record_provider_request(
        self, provider: str, operation: str, code: str, latency_seconds: float
    ) -> None:
        """Count one provider API call and observe its latency.

        `code` is the HTTP status ("200", "429", "503") or `CODE_TIMEOUT` /
        `CODE_CONNECTION_ERROR` when no answer came; `operation` is the
        operationId of the symmetric API (a bounded set of 33).
        """
        generation = redaction.generation()
        if generation != self._call_series_generation or len(self._call_series) > CALL_SERIES:
            self._call_series = {}
            self._call_series_generation = generation
        key = (provider, operation, code)
        series = self._call_series.get(key)
        if series is None:
            provider_l, operation_l = safe_label(provider), safe_label(operation)
            series = self._call_series[key] = (
                self._provider_requests.labels(
                    provider=provider_l, operation=operation_l, code=safe_label(code)
                ),
                self._provider_latency.labels(provider=provider_l, operation=operation_l),
            )
        series[0].inc()
        series[1].observe(latency_seconds)

    def observe_reconcile(self, kind: str, seconds: float) -> None:
        """Observe one reconcile pass of `kind` (MulticloudLink, CapacityPool)."""
        generation = redaction.generation()
        if generation != self._reconcile_children_generation:
            self._reconcile_children = {}
            self._reconcile_children_generation = generation
        child = self._reconcile_children.get(kind)
        if child is None:
            if len(self._reconcile_children) >= RECONCILE_KINDS:
                self._reconcile_children.clear()
            child = self._reconcile_children[kind] = self._reconcile_duration.labels(
                kind=safe_label(kind)
            )
        child.observe(seconds)

    @contextlib.contextmanager
    def reconcile_duration(self, kind: str) -> Iterator[None]:
        """Time the enclosed reconcile pass (also when it raises)."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self.observe_reconcile(kind, time.perf_counter() - start)

    def record_reconcile_error(self, kind: str, reason: str) -> None:
        """Count a failed reconcile pass; `reason` is a CamelCase reason, not a message."""
        self._reconcile_errors.labels(kind=safe_label(kind), reason=safe_label(reason)).inc()
