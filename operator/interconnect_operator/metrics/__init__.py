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
- A scrape costs what changed, not what exists: each link's ~24 lines are
  rendered as text once per change of its health and kept (`linktext`); the
  scrape joins them and lets prometheus-client's encoder write every other
  family and header (`exposition`), byte for byte what prometheus-client
  would write from the samples, in the text format and in OpenMetrics.
- Counters and histograms (provider requests, reconcile durations and errors,
  time to ready) are ordinary prometheus-client metrics on the same registry.
- Cardinality: per-link series carry the labels namespace, name and pool.
  Link counts are modest (one per private link a platform team declares,
  typically tens to a few hundreds), so they are on by default; with
  `per_link=False` only the per-pool aggregate `interconnect_pool_links`
  (always exported) remains.
- Label values are names, ids, phases and states only. As a safeguard any
  label value containing a secret held in `redaction` is replaced by
  `redacted` (P31: keys never leave the operator); a tenant's values only
  apply to that tenant's link series.

- The operator's process is described too: prometheus-client's process,
  GC and platform collectors (`process_*`, `python_gc_*`, `python_info`,
  the standard names every Python exporter uses; `RUNTIME_METRIC_NAMES`),
  the work queue in client-go's terms (`WorkQueueMetrics`, made per queue
  by `OperatorMetrics.workqueue`) and `interconnect_build_info`.

Units follow Prometheus conventions: bytes per second (Mbps * 125,000; the
byte is the base unit, so no `bits`), seconds,
Unix timestamps in seconds; counters end in `_total`, metadata in `_info`.

Modules: `names` (families, buckets, codes), `health` (the input records),
`labels` (secret-safe label values), `linktext` (the per-link text kept
between scrapes), `collector` (scrape-time families), `exposition` (the text
written per scrape), `workqueue`, `exporter` (`OperatorMetrics`), `server`
(`/metrics`).
"""

from __future__ import annotations

from interconnect_operator.metrics.exporter import OperatorMetrics
from interconnect_operator.metrics.health import (
    ChannelHealth,
    InterconnectHealth,
    LinkHealth,
    PoolHealth,
)
from interconnect_operator.metrics.names import (
    CODE_CONNECTION_ERROR,
    CODE_TIMEOUT,
    HISTOGRAM_NAMES,
    LINK_PHASES,
    METRIC_NAMES,
    RUNTIME_METRIC_NAMES,
)
from interconnect_operator.metrics.server import MetricsServer, render, serve_metrics
from interconnect_operator.metrics.workqueue import WorkQueueMetrics

__all__ = [
    "CODE_CONNECTION_ERROR",
    "CODE_TIMEOUT",
    "HISTOGRAM_NAMES",
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
