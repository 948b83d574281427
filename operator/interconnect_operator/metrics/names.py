"""Names the exporter uses: metric families, buckets, result codes, label sets.

One source of truth for every family name: alerts, the dashboard and the
README reference are checked against `METRIC_NAMES`.
"""

from __future__ import annotations

from interconnect_operator.protocol.link_state import Phase

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

# Prometheus' base unit of information is the byte (promtool's lint rejects
# `bits`): 1 Mbps = 1e6 bit/s = 125,000 byte/s. Dashboards multiply by 8 to
# show bit rates, which is what network people read.
MBPS_TO_BYTES_PER_SECOND = 125_000

REDACTED = "redacted"


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
POOL_CHANNELS_SHARING_DEVICE = "interconnect_pool_channels_sharing_device"
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
        POOL_CHANNELS_SHARING_DEVICE,
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

LINK_LABELS = ("namespace", "name", "pool")
