"""The scrape-time collector: link and pool families built from the latest health records."""

from __future__ import annotations

import functools
import os
import platform
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample

from interconnect_operator import __version__
from interconnect_operator.metrics.exposition import RenderedFamily
from interconnect_operator.metrics.health import LinkHealth, PoolHealth
from interconnect_operator.metrics.labels import flag, safe_label
from interconnect_operator.metrics.linktext import LINK_FAMILIES, LinkText, phases_with
from interconnect_operator.metrics.names import (
    BUILD_INFO,
    CHANNEL_MACSEC_KEY_AGE,
    CHANNEL_MAINTENANCE_ACTIVE,
    CHANNEL_MAINTENANCE_OVERLAP,
    CHANNEL_NEXT_MAINTENANCE,
    LINK_BANDWIDTH,
    LINK_CHANNEL_UP,
    LINK_DEGRADED,
    LINK_FEATURES,
    LINK_INFO,
    LINK_LABELS,
    LINK_PHASE,
    LINK_PHASES,
    LINK_READY,
    LINK_VERIFIED,
    MBPS_TO_BYTES_PER_SECOND,
    POOL_CAPACITY_ALLOCATED,
    POOL_CAPACITY_AVAILABLE,
    POOL_CAPACITY_MAX,
    POOL_CHANNELS,
    POOL_CHANNELS_SHARING_DEVICE,
    POOL_LINKS,
    PROVIDER_REACHABLE,
    REVISION_ENV,
    WORKQUEUE_DEPTH,
    WORKQUEUE_LONGEST,
    WORKQUEUE_UNFINISHED,
)

if TYPE_CHECKING:
    from interconnect_operator.metrics.exporter import OperatorMetrics
    from interconnect_operator.metrics.workqueue import WorkQueueMetrics

#: HELP text of the per-link families.
LINK_HELP: dict[str, str] = {
    LINK_READY: "1 if the link's Ready condition is True.",
    LINK_DEGRADED: "1 if the link runs without full redundancy (e.g. 3 of 4 features, P12).",
    LINK_INFO: "Link metadata (always 1): environment, interconnect; the shared connection "
    "UUID only with --metrics-shared-uuid.",
    LINK_PHASE: "1 for the link's current phase, 0 for the others.",
    LINK_BANDWIDTH: "Requested link bandwidth in bytes per second.",
    LINK_VERIFIED: "1 if the provider reports the connection VERIFIED (P14).",
    LINK_FEATURES: "Number of the link's features by provider and provisioning state.",
    LINK_CHANNEL_UP: "1 if the link's feature on the channel is live.",
}


class StateCollector(Collector):
    """Builds link and pool families from the stored snapshots at scrape time."""

    def __init__(self, owner: OperatorMetrics) -> None:
        self._owner = owner
        #: The per-link families' text, kept per link (see `linktext`).
        self.link_text = LinkText()

    def describe(self) -> Iterable[Metric]:
        # Declaring no description makes the registry call collect() at
        # registration to learn the names; with no snapshots that is cheap,
        # and it keeps the name check of CollectorRegistry in force.
        return self.collect()

    def collect(self) -> Iterable[Metric]:
        yield from self._link_families()
        tally, pools = self._owner._pools_snapshot()
        yield from self._pool_families(tally, pools)
        yield from self._workqueue_families(self._owner._queues_snapshot())
        info = GaugeMetricFamily(
            BUILD_INFO,
            "Operator build information (always 1): version, source revision, Python version.",
            labels=["version", "revision", "python_version"],
        )
        info.add_metric(
            [
                __version__,
                safe_label(os.environ.get(REVISION_ENV) or "unknown"),
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

    def _link_families(self) -> Iterator[Metric]:
        if not self._owner.per_link:
            return
        with_uuid = self._owner.shared_uuid_label
        text = self.link_text
        with text.lock:
            changes, everything = self._owner.take_link_changes()
            text.update(changes, everything, with_uuid=with_uuid)
            columns = text.columns()
        # Readers of the samples themselves (get_sample_value, name[] filters)
        # get them from the straightforward renderer, built once per collect.
        reference = functools.cache(
            lambda: reference_link_families(text.healths(), with_uuid=with_uuid)
        )
        for index, (name, lines) in enumerate(zip(LINK_FAMILIES, columns, strict=True)):
            yield RenderedFamily(
                name,
                LINK_HELP[name],
                lines,
                functools.partial(_samples_of, reference, index),
            )

    # Long on purpose: one family per pool and channel metric, declared then filled.
    def _pool_families(
        self, tally: Mapping[tuple[str, str], int], pools: Sequence[PoolHealth]
    ) -> Iterator[Metric]:
        pool_links = GaugeMetricFamily(
            POOL_LINKS, "Number of links of the pool in each phase.", labels=("pool", "phase")
        )
        pool_names = sorted({p.pool for p in pools} | {pool for pool, _ in tally})
        extra_phases = sorted({phase for _, phase in tally} - set(LINK_PHASES))
        for pool in pool_names:
            for phase in (*LINK_PHASES, *extra_phases):
                count = tally.get((pool, phase), 0)
                if phase in LINK_PHASES or count:
                    pool_links.add_metric([safe_label(pool), safe_label(phase)], float(count))
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
        sharing = GaugeMetricFamily(
            POOL_CHANNELS_SHARING_DEVICE,
            "Channels of the interconnect that share their device (obfuscatedDeviceId) with "
            "another channel at the provider; 0 when every channel has its own device.",
            labels=(*ic_labels, "provider"),
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
            pool_label = safe_label(pool_health.pool)
            for provider, ok in sorted(pool_health.providers_reachable.items()):
                reachable.add_metric([pool_label, safe_label(provider)], flag(ok))
            for ic in pool_health.interconnects:
                ic_key = [pool_label, safe_label(ic.id)]
                cap_max.add_metric(ic_key, float(ic.max_mbps * MBPS_TO_BYTES_PER_SECOND))
                cap_alloc.add_metric(ic_key, float(ic.allocated_mbps * MBPS_TO_BYTES_PER_SECOND))
                cap_avail.add_metric(ic_key, float(ic.available_mbps * MBPS_TO_BYTES_PER_SECOND))
                for state, count in sorted(ic.channels_by_admin_state.items()):
                    channels.add_metric([*ic_key, safe_label(state)], float(count))
                for provider, count in sorted(ic.channels_sharing_device.items()):
                    sharing.add_metric([*ic_key, safe_label(provider)], float(count))
                for ch in ic.channels:
                    ch_key = [*ic_key, safe_label(ch.id)]
                    maint_active.add_metric(ch_key, flag(ch.maintenance_active))
                    overlap.add_metric(ch_key, flag(ch.maintenance_overlap))
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
            sharing,
            maint_active,
            next_maint,
            key_age,
            overlap,
            reachable,
        )


def _samples_of(families: Callable[[], list[Metric]], index: int) -> list[Sample]:
    return families()[index].samples


# Long on purpose: one family per per-link metric, declared then filled.
def reference_link_families(links: Sequence[LinkHealth], *, with_uuid: bool) -> list[Metric]:
    """The per-link families as prometheus-client objects: the straightforward renderer.

    A scrape writes the cached text of `linktext` instead; this builds the same
    samples for readers of ``registry.collect()`` and for the tests that
    compare the two byte for byte.
    """
    ready = GaugeMetricFamily(LINK_READY, LINK_HELP[LINK_READY], labels=LINK_LABELS)
    degraded = GaugeMetricFamily(LINK_DEGRADED, LINK_HELP[LINK_DEGRADED], labels=LINK_LABELS)
    info = GaugeMetricFamily(
        LINK_INFO,
        LINK_HELP[LINK_INFO],
        labels=(
            *LINK_LABELS,
            "environment",
            "interconnect",
            *(("shared_uuid",) if with_uuid else ()),
        ),
    )
    phase = GaugeMetricFamily(LINK_PHASE, LINK_HELP[LINK_PHASE], labels=(*LINK_LABELS, "phase"))
    bandwidth = GaugeMetricFamily(LINK_BANDWIDTH, LINK_HELP[LINK_BANDWIDTH], labels=LINK_LABELS)
    verified = GaugeMetricFamily(
        LINK_VERIFIED, LINK_HELP[LINK_VERIFIED], labels=(*LINK_LABELS, "provider")
    )
    features = GaugeMetricFamily(
        LINK_FEATURES, LINK_HELP[LINK_FEATURES], labels=(*LINK_LABELS, "provider", "state")
    )
    channel_up = GaugeMetricFamily(
        LINK_CHANNEL_UP, LINK_HELP[LINK_CHANNEL_UP], labels=(*LINK_LABELS, "channel")
    )
    for link in links:
        # The tenant's own Secrets may mask its series' labels, nobody else's.
        label = functools.partial(safe_label, tenant=link.namespace)
        base = [label(link.namespace), label(link.name), label(link.pool)]
        ready.add_metric(base, flag(link.ready))
        degraded.add_metric(base, flag(link.degraded))
        info.add_metric(
            [
                *base,
                label(link.environment),
                label(link.interconnect),
                *((label(link.shared_uuid),) if with_uuid else ()),
            ],
            1.0,
        )
        for name in phases_with(link.phase):
            phase.add_metric([*base, label(name)], flag(name == link.phase))
        bandwidth.add_metric(base, float(link.bandwidth_mbps * MBPS_TO_BYTES_PER_SECOND))
        for provider, ok in sorted(link.verified.items()):
            verified.add_metric([*base, label(provider)], flag(ok))
        for (provider, state), count in sorted(link.features.items()):
            features.add_metric([*base, label(provider), label(state)], float(count))
        for channel, up in sorted(link.channels_up.items()):
            channel_up.add_metric([*base, label(channel)], flag(up))
    return [ready, degraded, info, phase, bandwidth, verified, features, channel_up]
