"""Prometheus exporter of link, pool and operator health.

The handlers convert what they observe into the plain frozen dataclasses
below (`LinkHealth`, `PoolHealth`, ...) and hand them to `OperatorMetrics`;
this module knows nothing of Kubernetes or of the wire models, so it is
usable from every layer and testable alone.

Design:

- Every `OperatorMetrics` owns its own `CollectorRegistry` (never the
  process-global default), so tests create fresh instances freely and the
  operator exposes only its own families.
- Link and pool state is exported by a custom collector from the latest
  snapshot of each object: series are built at scrape time, so a deleted link
  or pool (`remove_link`, `remove_pool`) and a label set that no longer
  applies (a channel gone, a phase left) disappear at once, with no stale
  gauge children to track and `remove()`.
- Counters and histograms (provider requests, reconcile durations and errors,
  time to ready) are ordinary prometheus-client metrics on the same registry.
- Cardinality: per-link series carry the labels namespace, name and pool.
  Link counts are modest (one per private link a platform team declares,
  typically tens to a few hundreds), so they are on by default; with
  `per_link=False` only the per-pool aggregate `interconnect_pool_links`
  (always exported) remains.
- Label values are names, ids, phases and states only. As a safeguard any
  label value containing a secret registered with
  `logging_setup.register_secret` is replaced by `redacted` (P31: keys never
  leave the operator).

- The operator's process is described too: prometheus-client's process,
  GC and platform collectors (`process_*`, `python_gc_*`, `python_info`,
  the standard names every Python exporter uses; `RUNTIME_METRIC_NAMES`),
  the work queue in client-go's terms (`WorkQueueMetrics`, made per queue
  by `OperatorMetrics.workqueue`) and `interconnect_build_info`.

Units follow Prometheus conventions: bytes per second (Mbps * 125,000; the
byte is the base unit, so no `bits`), seconds,
Unix timestamps in seconds; counters end in `_total`, metadata in `_info`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import platform
import threading
import time
from collections import Counter as _Tally
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from wsgiref.simple_server import WSGIServer

from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client import start_http_server as _start_http_server
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from interconnect_operator import __version__
from interconnect_operator.logging_setup import contains_secret, secrets_generation
from interconnect_operator.protocol.link_state import Phase

__all__ = [
    "CODE_CONNECTION_ERROR",
    "CODE_TIMEOUT",
    "LINK_PHASES",
    "METRIC_NAMES",
    "RUNTIME_METRIC_NAMES",
    "ChannelHealth",
    "InterconnectHealth",
    "LinkHealth",
    "MetricsServer",
    "OperatorMetrics",
    "PoolHealth",
    "WorkQueueMetrics",
    "render",
    "serve_metrics",
]

logger = logging.getLogger(__name__)

PREFIX = "interconnect_"

#: Phases a MulticloudLink goes through (the state machine's own list).
#: `interconnect_link_phase` and
#: `interconnect_pool_links` export one series per phase in this list (0 or 1
#: / a count, so a phase with no link reads 0 rather than "absent"); a phase
#: outside the list is still exported for the links that are in it.
LINK_PHASES: tuple[str, ...] = tuple(phase.value for phase in Phase)

#: `code` label of `interconnect_provider_requests_total` when no HTTP status
#: came back. Otherwise `code` is the status as a string ("200", "429", ...).
CODE_TIMEOUT = "timeout"
CODE_CONNECTION_ERROR = "connection_error"

#: Buckets for provider API calls: a healthy call takes tens of milliseconds,
#: a throttled or slow one seconds; the client's timeout caps it.
PROVIDER_LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
#: Buckets for one reconcile pass (several provider calls).
RECONCILE_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
#: Buckets for the work queue's wait and work times: a key waits and is
#: reconciled in milliseconds when all is well, seconds under load.
WORKQUEUE_BUCKETS = (0.0001, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 60.0)
#: Buckets for time to ready: minutes (simulator) to hours (real provisioning).
TIME_TO_READY_BUCKETS = (30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0)

_REDACTED = "redacted"
# Prometheus' base unit of information is the byte (promtool's lint rejects
# `bits`): 1 Mbps = 1e6 bit/s = 125,000 byte/s. Dashboards multiply by 8 to
# show bit rates, which is what network people read.
_MBPS_TO_BYTES_PER_SECOND = 125_000

# ---------------------------------------------------------------------------
# Input types: what the handlers hand over.
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class LinkHealth:
    """Observed health of one MulticloudLink.

    `verified` maps provider id to whether that provider reports the
    connection VERIFIED (P14); `features` maps (provider, feature state) to a
    count; `channels_up` maps channel id to whether its feature is live.
    `time_to_ready_seconds` is from creation to the first Ready, if reached.
    """

    namespace: str
    name: str
    pool: str
    environment: str
    interconnect: str
    shared_uuid: str
    phase: str
    ready: bool
    degraded: bool
    bandwidth_mbps: int
    verified: Mapping[str, bool] = field(default_factory=dict)
    features: Mapping[tuple[str, str], int] = field(default_factory=dict)
    channels_up: Mapping[str, bool] = field(default_factory=dict)
    time_to_ready_seconds: float | None = None


@dataclass(frozen=True)
class ChannelHealth:
    """One channel of an interconnect, as the pool timer sees it (P24-P31)."""

    id: str
    maintenance_active: bool = False
    #: Unix time of the next scheduled maintenance start, if any.
    next_maintenance_start: float | None = None
    #: Age of the channel's active MACsec key, if the channel has one.
    macsec_key_age_seconds: float | None = None
    #: True when this channel's maintenance overlaps another channel's (P25).
    maintenance_overlap: bool = False


@dataclass(frozen=True)
class InterconnectHealth:
    """Capacity and channels of one interconnect of a pool."""

    id: str
    max_mbps: int
    allocated_mbps: int
    available_mbps: int
    channels_by_admin_state: Mapping[str, int] = field(default_factory=dict)
    channels: Sequence[ChannelHealth] = ()


@dataclass(frozen=True)
class PoolHealth:
    """Observed health of one CapacityPool."""

    pool: str
    providers_reachable: Mapping[str, bool] = field(default_factory=dict)
    interconnects: Sequence[InterconnectHealth] = ()


# ---------------------------------------------------------------------------
# Family names.
# ---------------------------------------------------------------------------

# Link (per link, behind `per_link`).
LINK_READY = "interconnect_link_ready"
LINK_DEGRADED = "interconnect_link_degraded"
LINK_INFO = "interconnect_link_info"
LINK_PHASE = "interconnect_link_phase"
LINK_BANDWIDTH = "interconnect_link_bandwidth_bytes_per_second"
LINK_VERIFIED = "interconnect_link_verified"
LINK_FEATURES = "interconnect_link_features"
LINK_CHANNEL_UP = "interconnect_link_channel_up"
LINK_TIME_TO_READY = "interconnect_link_time_to_ready_seconds"
# Pool.
POOL_LINKS = "interconnect_pool_links"
POOL_CAPACITY_MAX = "interconnect_pool_capacity_max_bytes_per_second"
POOL_CAPACITY_ALLOCATED = "interconnect_pool_capacity_allocated_bytes_per_second"
POOL_CAPACITY_AVAILABLE = "interconnect_pool_capacity_available_bytes_per_second"
POOL_CHANNELS = "interconnect_pool_channels"
CHANNEL_MAINTENANCE_ACTIVE = "interconnect_channel_maintenance_active"
CHANNEL_NEXT_MAINTENANCE = "interconnect_channel_next_maintenance_timestamp_seconds"
CHANNEL_MACSEC_KEY_AGE = "interconnect_channel_macsec_key_age_seconds"
CHANNEL_MAINTENANCE_OVERLAP = "interconnect_channel_maintenance_overlap"
PROVIDER_REACHABLE = "interconnect_provider_reachable"
# Operator.
PROVIDER_REQUESTS = "interconnect_provider_requests_total"
PROVIDER_REQUEST_DURATION = "interconnect_provider_request_duration_seconds"
RECONCILE_DURATION = "interconnect_reconcile_duration_seconds"
RECONCILE_ERRORS = "interconnect_reconcile_errors_total"
BUILD_INFO = "interconnect_build_info"
# Work queue (client-go's names under the project's prefix; label `name`).
WORKQUEUE_DEPTH = "interconnect_workqueue_depth"
WORKQUEUE_ADDS = "interconnect_workqueue_adds_total"
WORKQUEUE_QUEUE_DURATION = "interconnect_workqueue_queue_duration_seconds"
WORKQUEUE_WORK_DURATION = "interconnect_workqueue_work_duration_seconds"
WORKQUEUE_RETRIES = "interconnect_workqueue_retries_total"
WORKQUEUE_UNFINISHED = "interconnect_workqueue_unfinished_work_seconds"
WORKQUEUE_LONGEST = "interconnect_workqueue_longest_running_processor_seconds"

#: Environment variable holding the source revision the image was built from
#: (the Dockerfile sets it from its REVISION build argument).
REVISION_ENV = "INTERCONNECT_OPERATOR_REVISION"

#: Every metric family this module exports, as named on a scrape's `# TYPE`
#: lines (counters with `_total`; histograms by base name, whose samples add
#: `_bucket`/`_sum`/`_count`). prometheus-client also emits a `<counter>_created`
#: / `<histogram>_created` gauge next to each counter and histogram; those are
#: its convention and not listed. Tests check alerts and the dashboard against
#: this set.
METRIC_NAMES: frozenset[str] = frozenset(
    {
        LINK_READY,
        LINK_DEGRADED,
        LINK_INFO,
        LINK_PHASE,
        LINK_BANDWIDTH,
        LINK_VERIFIED,
        LINK_FEATURES,
        LINK_CHANNEL_UP,
        LINK_TIME_TO_READY,
        POOL_LINKS,
        POOL_CAPACITY_MAX,
        POOL_CAPACITY_ALLOCATED,
        POOL_CAPACITY_AVAILABLE,
        POOL_CHANNELS,
        CHANNEL_MAINTENANCE_ACTIVE,
        CHANNEL_NEXT_MAINTENANCE,
        CHANNEL_MACSEC_KEY_AGE,
        CHANNEL_MAINTENANCE_OVERLAP,
        PROVIDER_REACHABLE,
        PROVIDER_REQUESTS,
        PROVIDER_REQUEST_DURATION,
        RECONCILE_DURATION,
        RECONCILE_ERRORS,
        BUILD_INFO,
        WORKQUEUE_DEPTH,
        WORKQUEUE_ADDS,
        WORKQUEUE_QUEUE_DURATION,
        WORKQUEUE_WORK_DURATION,
        WORKQUEUE_RETRIES,
        WORKQUEUE_UNFINISHED,
        WORKQUEUE_LONGEST,
    }
)

#: Names of the histogram families (their samples carry suffixes).
HISTOGRAM_NAMES: frozenset[str] = frozenset(
    {
        LINK_TIME_TO_READY,
        PROVIDER_REQUEST_DURATION,
        RECONCILE_DURATION,
        WORKQUEUE_QUEUE_DURATION,
        WORKQUEUE_WORK_DURATION,
    }
)

#: Families of prometheus-client's process, GC and platform collectors, on
#: the same registry under their standard names (the process ones only on
#: Linux, where /proc exists).
RUNTIME_METRIC_NAMES: frozenset[str] = frozenset(
    {
        "process_virtual_memory_bytes",
        "process_resident_memory_bytes",
        "process_start_time_seconds",
        "process_cpu_seconds_total",
        "process_open_fds",
        "process_max_fds",
        "python_gc_objects_collected_total",
        "python_gc_objects_uncollectable_total",
        "python_gc_collections_total",
        "python_info",
    }
)

_LINK_LABELS = ("namespace", "name", "pool")


# Verdicts of `_label`, valid for one generation of the secret registry.
# Label values repeat on every scrape (namespaces, pools, channel ids), so
# caching them keeps a scrape of hundreds of links cheap even with a
# thousand registered secrets. Bounded: cleared when it grows past the limit.
_label_cache: dict[str, str] = {}
_label_cache_generation = -1
_label_cache_lock = threading.Lock()
_LABEL_CACHE_LIMIT = 100_000


def _label(value: str) -> str:
    """A label value, unless it carries a registered secret (then masked)."""
    global _label_cache_generation
    generation = secrets_generation()
    with _label_cache_lock:
        if generation != _label_cache_generation or len(_label_cache) > _LABEL_CACHE_LIMIT:
            _label_cache.clear()
            _label_cache_generation = generation
        cached = _label_cache.get(value)
    if cached is not None:
        return cached
    safe = value
    if contains_secret(value):
        # The value itself must not reach the log either.
        logger.error("refusing a secret as a metric label value; exported as %r", _REDACTED)
        safe = _REDACTED
    with _label_cache_lock:
        if generation == _label_cache_generation:
            _label_cache[value] = safe
    return safe


def _flag(value: bool) -> float:
    return 1.0 if value else 0.0


class _StateCollector(Collector):
    """Builds link and pool families from the stored snapshots at scrape time."""

    def __init__(self, owner: OperatorMetrics) -> None:
        self._owner = owner

    def describe(self) -> Iterable[Metric]:
        # Declaring no description makes the registry call collect() at
        # registration to learn the names; with no snapshots that is cheap,
        # and it keeps the name check of CollectorRegistry in force.
        return self.collect()

    def collect(self) -> Iterable[Metric]:
        links, pools = self._owner._snapshot()
        yield from self._link_families(links)
        yield from self._pool_families(links, pools)
        yield from self._workqueue_families(self._owner._queues_snapshot())
        info = GaugeMetricFamily(
            BUILD_INFO,
            "Operator build information (always 1): version, source revision, Python version.",
            labels=["version", "revision", "python_version"],
        )
        info.add_metric(
            [
                __version__,
                _label(os.environ.get(REVISION_ENV) or "unknown"),
                platform.python_version(),
            ],
            1.0,
        )
        yield info

    @staticmethod
    def _workqueue_families(queues: Sequence[WorkQueueMetrics]) -> Iterator[Metric]:
        depth = GaugeMetricFamily(
            WORKQUEUE_DEPTH, "Keys waiting in the work queue.", labels=["name"]
        )
        unfinished = GaugeMetricFamily(
            WORKQUEUE_UNFINISHED,
            "Seconds of work in progress not yet observed by work_duration: the sum of "
            "the running reconciles' ages (large values mean stuck workers).",
            labels=["name"],
        )
        longest = GaugeMetricFamily(
            WORKQUEUE_LONGEST,
            "Age of the longest-running reconcile of the queue, in seconds.",
            labels=["name"],
        )
        now = time.monotonic()
        for queue in queues:
            waiting, started = queue.read()
            ages = [max(0.0, now - t) for t in started]
            depth.add_metric([queue.name], float(waiting))
            unfinished.add_metric([queue.name], sum(ages))
            longest.add_metric([queue.name], max(ages, default=0.0))
        yield from (depth, unfinished, longest)

    def _link_families(self, links: Sequence[LinkHealth]) -> Iterator[Metric]:
        if not self._owner.per_link:
            return
        ready = GaugeMetricFamily(
            LINK_READY, "1 if the link's Ready condition is True.", labels=_LINK_LABELS
        )
        degraded = GaugeMetricFamily(
            LINK_DEGRADED,
            "1 if the link runs without full redundancy (e.g. 3 of 4 features, P12).",
            labels=_LINK_LABELS,
        )
        info = GaugeMetricFamily(
            LINK_INFO,
            "Link metadata (always 1): environment, interconnect, shared connection UUID.",
            labels=(*_LINK_LABELS, "environment", "interconnect", "shared_uuid"),
        )
        phase = GaugeMetricFamily(
            LINK_PHASE,
            "1 for the link's current phase, 0 for the others.",
            labels=(*_LINK_LABELS, "phase"),
        )
        bandwidth = GaugeMetricFamily(
            LINK_BANDWIDTH, "Requested link bandwidth in bytes per second.", labels=_LINK_LABELS
        )
        verified = GaugeMetricFamily(
            LINK_VERIFIED,
            "1 if the provider reports the connection VERIFIED (P14).",
            labels=(*_LINK_LABELS, "provider"),
        )
        features = GaugeMetricFamily(
            LINK_FEATURES,
            "Number of the link's features by provider and provisioning state.",
            labels=(*_LINK_LABELS, "provider", "state"),
        )
        channel_up = GaugeMetricFamily(
            LINK_CHANNEL_UP,
            "1 if the link's feature on the channel is live.",
            labels=(*_LINK_LABELS, "channel"),
        )
        for link in links:
            base = [_label(link.namespace), _label(link.name), _label(link.pool)]
            ready.add_metric(base, _flag(link.ready))
            degraded.add_metric(base, _flag(link.degraded))
            info.add_metric(
                [
                    *base,
                    _label(link.environment),
                    _label(link.interconnect),
                    _label(link.shared_uuid),
                ],
                1.0,
            )
            for name in _phases_with(link.phase):
                phase.add_metric([*base, _label(name)], _flag(name == link.phase))
            bandwidth.add_metric(base, float(link.bandwidth_mbps * _MBPS_TO_BYTES_PER_SECOND))
            for provider, ok in sorted(link.verified.items()):
                verified.add_metric([*base, _label(provider)], _flag(ok))
            for (provider, state), count in sorted(link.features.items()):
                features.add_metric([*base, _label(provider), _label(state)], float(count))
            for channel, up in sorted(link.channels_up.items()):
                channel_up.add_metric([*base, _label(channel)], _flag(up))
        yield from (ready, degraded, info, phase, bandwidth, verified, features, channel_up)

    def _pool_families(
        self, links: Sequence[LinkHealth], pools: Sequence[PoolHealth]
    ) -> Iterator[Metric]:
        pool_links = GaugeMetricFamily(
            POOL_LINKS, "Number of links of the pool in each phase.", labels=("pool", "phase")
        )
        tally = _Tally((link.pool, link.phase) for link in links)
        pool_names = sorted({p.pool for p in pools} | {link.pool for link in links})
        extra_phases = sorted({phase for _, phase in tally} - set(LINK_PHASES))
        for pool in pool_names:
            for phase in (*LINK_PHASES, *extra_phases):
                count = tally.get((pool, phase), 0)
                if phase in LINK_PHASES or count:
                    pool_links.add_metric([_label(pool), _label(phase)], float(count))
        yield pool_links

        ic_labels = ("pool", "interconnect")
        ch_labels = ("pool", "interconnect", "channel")
        cap_max = GaugeMetricFamily(
            POOL_CAPACITY_MAX, "Interconnect capacity in bytes per second.", labels=ic_labels
        )
        cap_alloc = GaugeMetricFamily(
            POOL_CAPACITY_ALLOCATED,
            "Bandwidth allocated to connections on the interconnect, bytes per second.",
            labels=ic_labels,
        )
        cap_avail = GaugeMetricFamily(
            POOL_CAPACITY_AVAILABLE,
            "Bandwidth still available on the interconnect, bytes per second.",
            labels=ic_labels,
        )
        channels = GaugeMetricFamily(
            POOL_CHANNELS,
            "Number of the interconnect's channels by admin state.",
            labels=(*ic_labels, "admin_state"),
        )
        maint_active = GaugeMetricFamily(
            CHANNEL_MAINTENANCE_ACTIVE, "1 while the channel is in maintenance.", labels=ch_labels
        )
        next_maint = GaugeMetricFamily(
            CHANNEL_NEXT_MAINTENANCE,
            "Unix time of the channel's next scheduled maintenance start (P24).",
            labels=ch_labels,
        )
        key_age = GaugeMetricFamily(
            CHANNEL_MACSEC_KEY_AGE,
            "Age of the channel's active MACsec key in seconds (P28).",
            labels=ch_labels,
        )
        overlap = GaugeMetricFamily(
            CHANNEL_MAINTENANCE_OVERLAP,
            "1 if the channel's maintenance overlaps another channel's of the "
            "same interconnect (violates P25).",
            labels=ch_labels,
        )
        reachable = GaugeMetricFamily(
            PROVIDER_REACHABLE,
            "1 if the operator's last call to the provider got an answer.",
            labels=("pool", "provider"),
        )
        for pool_health in pools:
            pool_label = _label(pool_health.pool)
            for provider, ok in sorted(pool_health.providers_reachable.items()):
                reachable.add_metric([pool_label, _label(provider)], _flag(ok))
            for ic in pool_health.interconnects:
                ic_key = [pool_label, _label(ic.id)]
                cap_max.add_metric(ic_key, float(ic.max_mbps * _MBPS_TO_BYTES_PER_SECOND))
                cap_alloc.add_metric(ic_key, float(ic.allocated_mbps * _MBPS_TO_BYTES_PER_SECOND))
                cap_avail.add_metric(ic_key, float(ic.available_mbps * _MBPS_TO_BYTES_PER_SECOND))
                for state, count in sorted(ic.channels_by_admin_state.items()):
                    channels.add_metric([*ic_key, _label(state)], float(count))
                for ch in ic.channels:
                    ch_key = [*ic_key, _label(ch.id)]
                    maint_active.add_metric(ch_key, _flag(ch.maintenance_active))
                    overlap.add_metric(ch_key, _flag(ch.maintenance_overlap))
                    # Unknown values are left out rather than exported as 0:
                    # a 0 timestamp or key age would read as a real value.
                    if ch.next_maintenance_start is not None:
                        next_maint.add_metric(ch_key, float(ch.next_maintenance_start))
                    if ch.macsec_key_age_seconds is not None:
                        key_age.add_metric(ch_key, float(ch.macsec_key_age_seconds))
        yield from (
            cap_max,
            cap_alloc,
            cap_avail,
            channels,
            maint_active,
            next_maint,
            key_age,
            overlap,
            reachable,
        )


def _phases_with(current: str) -> tuple[str, ...]:
    return LINK_PHASES if current in LINK_PHASES else (*LINK_PHASES, current)


class WorkQueueMetrics:
    """One work queue's metrics, as client-go's queue reports them.

    Counters and histograms move as the queue calls `added`, `waited`,
    `worked` and `retried`; depth, unfinished work and the longest running
    reconcile are read from the queue (`bind`) at scrape time.
    """

    def __init__(
        self, *, name: str, adds: Counter, retries: Counter, wait: Histogram, work: Histogram
    ) -> None:
        self.name = name
        self._adds = adds
        self._retries = retries
        self._wait = wait
        self._work = work
        self._depth: Callable[[], int] = lambda: 0
        self._processing_since: Callable[[], Iterable[float]] = tuple

    def bind(
        self, depth: Callable[[], int], processing_since: Callable[[], Iterable[float]]
    ) -> None:
        """Read ``depth()`` and ``processing_since()`` (monotonic start times) at scrape time."""
        self._depth = depth
        self._processing_since = processing_since

    def read(self) -> tuple[int, list[float]]:
        """Keys waiting and the start times of keys in work, now."""
        return self._depth(), list(self._processing_since())

    def added(self) -> None:
        self._adds.inc()

    def waited(self, seconds: float) -> None:
        self._wait.observe(seconds)

    def worked(self, seconds: float) -> None:
        self._work.observe(seconds)

    def retried(self) -> None:
        self._retries.inc()


class OperatorMetrics:
    """The operator's metrics, on a registry of their own.

    Thread-safe: handlers update it from the event loop while the HTTP server
    thread scrapes it.
    """

    def __init__(self, registry: CollectorRegistry | None = None, per_link: bool = True) -> None:
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        self.per_link = per_link
        self._lock = threading.Lock()
        self._links: dict[tuple[str, str], LinkHealth] = {}
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
        self._reconcile_duration = Histogram(
            RECONCILE_DURATION,
            "Duration of one reconcile pass in seconds, by resource kind.",
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
        self.registry.register(_StateCollector(self))
        # The process-wide collectors' own instances (they read /proc, gc and
        # platform when scraped; registering them again would describe the
        # same process twice on the default registry only, never here).
        for collector in (PROCESS_COLLECTOR, GC_COLLECTOR, PLATFORM_COLLECTOR):
            self.registry.register(collector)

    # -- work queues -----------------------------------------------------------

    def workqueue(self, name: str) -> WorkQueueMetrics:
        """The metrics of the work queue ``name`` (one per name; a provider for the queue)."""
        with self._lock:
            queue = self._queues.get(name)
            if queue is None:
                queue = WorkQueueMetrics(
                    name=_label(name),
                    adds=self._queue_adds.labels(name=_label(name)),
                    retries=self._queue_retries.labels(name=_label(name)),
                    wait=self._queue_wait.labels(name=_label(name)),
                    work=self._queue_work.labels(name=_label(name)),
                )
                self._queues[name] = queue
        return queue

    def _queues_snapshot(self) -> list[WorkQueueMetrics]:
        with self._lock:
            return [self._queues[k] for k in sorted(self._queues)]

    # -- snapshots -----------------------------------------------------------

    def _snapshot(self) -> tuple[list[LinkHealth], list[PoolHealth]]:
        with self._lock:
            links = [self._links[k] for k in sorted(self._links)]
            pools = [self._pools[k] for k in sorted(self._pools)]
        return links, pools

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
            self._links[key] = frozen
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
            self._links.pop((namespace, name), None)
            self._ready_observed.discard((namespace, name))

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
        self._time_to_ready.labels(pool=_label(pool)).observe(seconds)

    # -- operator ------------------------------------------------------------

    def record_provider_request(
        self, provider: str, operation: str, code: str, latency_seconds: float
    ) -> None:
        """Count one provider API call and observe its latency.

        `code` is the HTTP status ("200", "429", "503") or `CODE_TIMEOUT` /
        `CODE_CONNECTION_ERROR` when no answer came; `operation` is the
        operationId of the symmetric API (a bounded set of 33).
        """
        self._provider_requests.labels(
            provider=_label(provider), operation=_label(operation), code=_label(code)
        ).inc()
        self._provider_latency.labels(
            provider=_label(provider), operation=_label(operation)
        ).observe(latency_seconds)

    def observe_reconcile(self, kind: str, seconds: float) -> None:
        """Observe one reconcile pass of `kind` (MulticloudLink, CapacityPool)."""
        self._reconcile_duration.labels(kind=_label(kind)).observe(seconds)

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
        self._reconcile_errors.labels(kind=_label(kind), reason=_label(reason)).inc()


def render(metrics: OperatorMetrics) -> bytes:
    """The text exposition of `metrics`, as a scrape would receive it."""
    return generate_latest(metrics.registry)


@dataclass
class MetricsServer:
    """A running metrics HTTP server (a daemon thread); `shutdown()` stops it."""

    server: WSGIServer
    thread: threading.Thread

    @property
    def port(self) -> int:
        """The bound port (useful when started with port 0)."""
        return int(self.server.server_address[1])

    def shutdown(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def serve_metrics(metrics: OperatorMetrics, port: int, host: str = "0.0.0.0") -> MetricsServer:
    """Serve `/metrics` for `metrics` on host:port in a daemon thread."""
    server, thread = _start_http_server(port, addr=host, registry=metrics.registry)
    logger.info("serving metrics", extra={"host": host, "port": server.server_address[1]})
    return MetricsServer(server=server, thread=thread)
