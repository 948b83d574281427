"""The churn soak: links created and deleted at a steady rate for a long time; does RSS grow?

On a fresh world with the operator (bench/world.py), ``ahead`` links (the
live set, default 100) are created at once and brought Ready; then for
``seconds`` the harness creates ``rate`` links per second and deletes as many,
oldest first, so the live set stays bounded. Creates and deletes are fired
from a small thread pool on a fixed schedule: the loop waits for nothing the
operator does (a delete returns once the API server marked the object; the
link is counted deleted when the watch reports it gone). Then the live set is
drained (every remaining link deleted) and both simulators are read.

Warm-up: the first third of the churn, at most 3 minutes (180 s of a
15-minute soak). RSS at the end of warm-up and at the end of the churn are
medians of the samples in a window (a twentieth of the soak, 5 to 30 s)
ending there, so one garbage-collection peak does not decide the figure;
growth % compares the two (target <= 5 %). The operator's RSS is sampled by
psutil every ``sample_seconds``; ``rss_series`` keeps at most 120 of them.

Provider leftovers: after the drain, every connection, L3 feature and still
usable activation key at either simulator whose shared UUID no live link
holds (must be 0, P19); counted when the drain is done and, if any, again
after a grace of two pool refresh intervals (``provider_leftovers``, the
figure judged). Calls per churned link: the providers' counters over
the whole soak (fill, churn, drain) divided by the links created, each of
which was also deleted.

Growth attribution (``--soak-trace``): the operator runs with tracemalloc
(bench/runtime.py, a few frames) and ``mark`` is called at the end of the
warm-up and at the end of the churn (the harness has the operator write a
snapshot at each); ``trace_growth`` compares the two by traceback: what the
operator holds more of after the churn than after the warm-up.

Measured (N=1000, 600 s, traced with 6 frames on a loaded machine): at 5
links/s the traced operator fell behind (81 ms CPU per churned link, 2,582 of
3,100 links deleted before Ready) and traced memory grew 21.0 -> 24.6 MiB
(~1.8 KiB per link churned after the warm-up); 1.1 MiB of it was
``PoolSnapshot._observations`` keeping both sides' empty observations of
every deleted link (a leak, fixed: ``LinkReconciler.forget``), the rest
mostly work in flight at the end (decoded watch bodies, provider answers,
link memories of links not yet released) and bounded structures still
filling (the canonical-part texts of ``k8s.bodies``, the released uids of
``k8s.index`` for 600 s, the Event series). At 2 links/s with the fix,
where the operator kept up, traced memory fell over the window (19.9 ->
19.2 MiB); what grew were those bounded structures (~0.4 MiB). A snapshot
costs RSS of its own: the warm-up's took RSS 109.8 -> 125.6 MiB for ~30 s
and left it at 114 (so a traced soak's RSS growth is not the figure to
judge); from then to the end of the churn RSS stayed at 113.3-114.2 MiB.
Untraced, 600 s at 5 links/s, back to back: RSS 88.6 -> 92.0 MiB (3.8 %, 23.4
MiB/h) before the fix, 88.5 -> 90.2 MiB (1.9 %, 12.7 MiB/h) with it.
"""

from __future__ import annotations

import logging
import statistics
import threading
import time
import tracemalloc
from collections import Counter, deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from tests.support.stack import link_manifest

from bench.measure import (
    ProcessSampler,
    cpu_seconds,
    latency_summary,
    merge_ops,
    read_stats,
    reset_stats,
    split_calls,
    wait_quiet,
)
from bench.world import LINK_MBPS, POOL, Rig
from interconnect_operator.k8s.resources import GROUP, LINK_PLURAL, VERSION

log = logging.getLogger("bench")

NAMESPACE = "bench-soak"
UUID_ANNOTATION = "interconnect.io/shared-connection-uuid"
#: Activation key states that still reserve a UUID (tests/support/invariants.py).
USABLE_KEY_STATES = frozenset({"issued", "placed"})
WARMUP_CAP_SECONDS = 180.0
SERIES_POINTS = 120


class LinkTracker:
    """Watches one namespace (kubernetes watch): first Ready, shared UUID and gone time per link."""

    def __init__(self, custom: Any, namespace: str) -> None:
        self._custom = custom
        self._namespace = namespace
        self._lock = threading.Lock()
        self.ready: dict[str, float] = {}
        self.gone: dict[str, float] = {}
        self.uuids: dict[str, str] = {}
        self.seen: set[str] = set()
        self.restarts = 0
        self._stop = threading.Event()
        self._watch: Any = None
        self._thread = threading.Thread(target=self._run, name="soak-watch", daemon=True)
        self._thread.start()

    def _note(self, kind: str, obj: dict[str, Any]) -> None:
        meta = obj.get("metadata") or {}
        name = str(meta.get("name", ""))
        now = time.monotonic()
        status = obj.get("status") or {}
        uuid = (meta.get("annotations") or {}).get(UUID_ANNOTATION) or status.get(
            "sharedConnectionUuid"
        )
        with self._lock:
            if uuid:
                self.uuids[name] = str(uuid)
            if kind == "DELETED":
                self.gone.setdefault(name, now)
                return
            self.seen.add(name)
            ready = any(
                c.get("type") == "Ready" and c.get("status") == "True"
                for c in status.get("conditions") or []
            )
            if ready:
                self.ready.setdefault(name, now)

    def _run(self) -> None:
        from kubernetes import watch

        while not self._stop.is_set():
            try:
                listing = self._custom.list_namespaced_custom_object(
                    GROUP, VERSION, self._namespace, LINK_PLURAL
                )
                present = set()
                for obj in listing.get("items", []):
                    present.add(obj["metadata"]["name"])
                    self._note("ADDED", obj)
                with self._lock:
                    # Gone while the watch was down.
                    for name in self.seen - present:
                        self.gone.setdefault(name, time.monotonic())
                self._watch = watch.Watch()  # type: ignore[no-untyped-call]
                for event in self._watch.stream(
                    self._custom.list_namespaced_custom_object,
                    GROUP,
                    VERSION,
                    self._namespace,
                    LINK_PLURAL,
                    resource_version=listing["metadata"]["resourceVersion"],
                    timeout_seconds=240,
                ):
                    if event.get("type") == "ERROR":
                        break
                    self._note(str(event.get("type")), event["object"])
                    if self._stop.is_set():
                        break
            except Exception as exc:
                if self._stop.is_set():
                    return
                log.info("soak watch restarts: %s", exc)
                time.sleep(0.5)
            self.restarts += 1

    def snapshot(self) -> tuple[dict[str, float], dict[str, float], dict[str, str]]:
        with self._lock:
            return dict(self.ready), dict(self.gone), dict(self.uuids)

    def created(self, names: set[str]) -> set[str]:
        """The names the watch has seen (present or gone)."""
        with self._lock:
            return {n for n in names if n in self.seen or n in self.gone}

    def wait_gone(self, names: set[str], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if names <= self.gone.keys():
                    return True
            time.sleep(0.25)
        return False

    def wait_ready(self, names: set[str], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if names <= self.ready.keys():
                    return True
            time.sleep(0.25)
        return False

    def stop(self) -> None:
        self._stop.set()
        if self._watch is not None:
            self._watch.stop()
        self._thread.join(timeout=5)


def provider_leftovers(states: list[dict[str, Any]], live: set[str]) -> dict[str, dict[str, int]]:
    """Per provider: connections, features and usable keys whose UUID no live link holds."""
    out: dict[str, dict[str, int]] = {}
    for state in states:
        provider = str(state.get("provider") or "?")
        out[provider] = {
            "connections": sum(
                1 for c in state.get("connections") or [] if str(c["connection"]) not in live
            ),
            "features": sum(
                1 for f in state.get("features") or [] if str(f["connection"]) not in live
            ),
            "usable_activation_keys": sum(
                1
                for k in state.get("activationKeys") or []
                if k.get("state") in USABLE_KEY_STATES
                and str(k.get("sharedConnectionUuid")) not in live
            ),
        }
    return out


def _series(samples: list[tuple[float, int, float]], t0: float) -> list[list[float]]:
    """[seconds since churn start, RSS MiB], at most SERIES_POINTS evenly picked."""
    step = max(1, -(-len(samples) // SERIES_POINTS))
    return [[round(t - t0, 1), round(rss / 2**20, 1)] for t, rss, _ in samples[::step]]


def _slope_mib_per_hour(samples: list[tuple[float, int, float]]) -> float:
    if len(samples) < 3:
        return 0.0
    xs = [t for t, _, _ in samples]
    ys = [rss / 2**20 for _, rss, _ in samples]
    if max(xs) == min(xs):
        return 0.0
    return round(statistics.linear_regression(xs, ys).slope * 3600.0, 1)


def _live_uuids(rig: Rig) -> set[str]:
    out = set()
    for obj in rig.custom.list_cluster_custom_object(GROUP, VERSION, LINK_PLURAL)["items"]:
        uuid = (obj["metadata"].get("annotations") or {}).get(UUID_ANNOTATION) or (
            obj.get("status") or {}
        ).get("sharedConnectionUuid")
        if uuid:
            out.add(str(uuid))
    return out


def _short(filename: str) -> str:
    """A traced file's name from its package on (``k8s/bodies.py``, ``json/decoder.py``)."""
    for marker in ("site-packages/", "interconnect_operator/", "lib/python3"):
        if marker in filename:
            rest = filename.split(marker, 1)[1]
            return rest.split("/", 1)[1] if marker == "lib/python3" else rest
    return filename


def trace_growth(before: Path, after: Path, top: int = 15) -> dict[str, Any]:
    """What the traced memory grew by between two snapshots, largest growth first.

    Grouped by traceback (every frame the snapshot kept, innermost first), so a
    growth in ``dict.__setitem__`` names the caller that keeps adding. tracemalloc's
    own allocations and untraced frames are left out.
    """
    ignore = [
        tracemalloc.Filter(False, tracemalloc.__file__),
        tracemalloc.Filter(False, "<unknown>"),
    ]
    old = tracemalloc.Snapshot.load(str(before)).filter_traces(ignore)
    new = tracemalloc.Snapshot.load(str(after)).filter_traces(ignore)
    diffs = [d for d in new.compare_to(old, "traceback") if d.size_diff > 0]
    diffs.sort(key=lambda d: d.size_diff, reverse=True)
    total_old = sum(t.size for t in old.traces)
    total_new = sum(t.size for t in new.traces)
    return {
        "traced_mib_before": round(total_old / 2**20, 2),
        "traced_mib_after": round(total_new / 2**20, 2),
        "traced_growth_kib": round((total_new - total_old) / 1024, 1),
        "growth_kib_positive": round(sum(d.size_diff for d in diffs) / 1024, 1),
        "top_growth": [
            {
                # A Traceback runs oldest frame first; the rows read innermost first.
                "where": [f"{_short(f.filename)}:{f.lineno}" for f in reversed(d.traceback)],
                "kib_diff": round(d.size_diff / 1024, 1),
                "count_diff": d.count_diff,
                "kib": round(d.size / 1024, 1),
            }
            for d in diffs[:top]
        ],
    }


def scenario_soak(
    rig: Rig,
    seconds: float,
    rate: float,
    ahead: int,
    grace: float = 0.0,
    mark: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Fill ``ahead`` links, churn ``rate``/s for ``seconds``, drain; RSS, calls, leftovers.

    ``mark("warmup")`` is called once the warm-up is over, ``mark("end")`` when
    the churn is (before the drain).
    """
    rig.kube.apply([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}])
    pid = rig.operator.process.pid
    sample_seconds = max(1.0, min(5.0, seconds / 120.0))
    sampler = ProcessSampler(pid, interval=sample_seconds)
    tracker = LinkTracker(rig.custom, NAMESPACE)
    pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="soak-api")
    failures: Counter[str] = Counter()
    deleted_at: dict[str, float] = {}
    futures: deque[Future[None]] = deque()

    def create(name: str) -> None:
        try:
            rig.custom.create_namespaced_custom_object(
                GROUP,
                VERSION,
                NAMESPACE,
                LINK_PLURAL,
                link_manifest(name, NAMESPACE, POOL, LINK_MBPS),
            )
        except Exception:
            failures["create"] += 1

    def delete(name: str) -> None:
        deleted_at[name] = time.monotonic()
        try:
            rig.custom.delete_namespaced_custom_object(GROUP, VERSION, NAMESPACE, LINK_PLURAL, name)
        except Exception:
            failures["delete"] += 1

    def submit(fn: Any, name: str) -> None:
        futures.append(pool.submit(fn, name))
        while futures and futures[0].done():
            futures.popleft()
        if len(futures) > 200:
            failures["backlog"] += 1  # the API server cannot keep up with the rate

    time.sleep(1.0)
    reset_stats(rig.sims)
    rig.audit.mark()
    cpu_fill = cpu_seconds(pid)
    live: deque[str] = deque()
    counter = 0
    for _ in range(ahead):
        name = f"soak-{counter:06d}"
        counter += 1
        live.append(name)
        submit(create, name)
    fill_ready = tracker.wait_ready(set(live), max(120.0, ahead * 0.5))
    log.info(
        "soak: %d links filled (all Ready: %s); churn %.0fs at %.1f/s",
        ahead,
        fill_ready,
        seconds,
        rate,
    )

    cpu0, t0 = cpu_seconds(pid), time.monotonic()
    created_in_churn = 0
    tick = 0
    period = 1.0 / rate
    planned_warmup = min(WARMUP_CAP_SECONDS, seconds / 3.0)
    warm_marked = False
    while True:
        due = t0 + tick * period
        if due - t0 >= seconds:
            break
        if mark is not None and not warm_marked and due - t0 >= planned_warmup:
            warm_marked = True
            mark("warmup")
        pause = due - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        name = f"soak-{counter:06d}"
        counter += 1
        live.append(name)
        submit(create, name)
        created_in_churn += 1
        submit(delete, live.popleft())
        tick += 1
    t_end = time.monotonic()
    cpu1 = cpu_seconds(pid)
    if mark is not None:
        mark("end")

    # Drain: delete the live set; count when gone.
    while live:
        submit(delete, live.popleft())
    for future in list(futures):
        future.result()
    pool.shutdown(wait=True)
    names = {f"soak-{i:06d}" for i in range(counter)}
    # A create that failed made nothing to wait for.
    drained = tracker.wait_gone(tracker.created(names), max(120.0, ahead * 1.0))
    t_drained = time.monotonic()
    wait_quiet(rig.audit, quiet_seconds=5.0, cap_seconds=60.0)
    stats = read_stats(rig.sims)
    writes = rig.audit.writes_since_mark()
    cpu_drained = cpu_seconds(pid)
    at_drain = provider_leftovers([rig.aws.state(), rig.gcp.state()], _live_uuids(rig))
    # Anything the operator cleans up on its own time (a pool refresh) gets that time.
    if grace > 0 and any(any(v.values()) for v in at_drain.values()):
        time.sleep(grace)
    leftovers = provider_leftovers([rig.aws.state(), rig.gcp.state()], _live_uuids(rig))
    rss_drained = sampler.median_mib(since=time.monotonic() - 5.0) or sampler.peak_mib(
        since=t_drained
    )
    sampler.stop()
    tracker.stop()

    ready, gone, uuids = tracker.snapshot()
    churn = t_end - t0
    warmup = min(WARMUP_CAP_SECONDS, churn / 3.0)
    window = min(30.0, max(5.0, churn / 20.0))
    rss_warm = sampler.median_mib(since=t0 + warmup - window, until=t0 + warmup)
    rss_end = sampler.median_mib(since=t_end - window, until=t_end)
    after_warmup = [s for s in sampler.samples if t0 + warmup <= s[0] <= t_end]
    ops = merge_ops(stats)
    pool_level, link_calls, mutating = split_calls(ops)
    created = len(tracker.created(names))
    delete_latencies = [gone[n] - deleted_at[n] for n in gone if n in deleted_at]
    return {
        "name": "soak",
        "soak_seconds": round(churn, 1),
        "rate_per_second": rate,
        "live_set": ahead,
        "warmup_seconds": round(warmup, 1),
        "warmup_rule": "first third of the churn, at most 180 s",
        "rss_window_seconds": round(window, 1),
        "sample_seconds": sample_seconds,
        "fill_all_ready": fill_ready,
        "links_created": created,
        "links_created_in_churn": created_in_churn,
        "links_deleted": len([n for n in names if n in gone]),
        "links_ready": len([n for n in names if n in ready]),
        "links_never_ready": len([n for n in names if n not in ready]),
        "api_failures": dict(failures),
        "drained": drained,
        "delete_to_gone": latency_summary(delete_latencies),
        "rss_mib_warmup_end": rss_warm,
        "rss_mib_end": rss_end,
        "rss_growth_percent": round(100.0 * (rss_end - rss_warm) / rss_warm, 1)
        if rss_warm
        else 0.0,
        "rss_mib_max_after_warmup": round(max((s[1] for s in after_warmup), default=0) / 2**20, 1),
        "rss_slope_mib_per_hour_after_warmup": _slope_mib_per_hour(after_warmup),
        "rss_mib_after_drain": rss_drained,
        "rss_series": _series(sampler.samples, t0),
        "provider_leftovers_at_drain": at_drain,
        "leftover_grace_seconds": grace,
        "provider_leftovers": leftovers,
        "provider_leftovers_total": sum(sum(v.values()) for v in leftovers.values()),
        "uuids_seen": len(uuids),
        "calls_total": sum(ops.values()),
        "calls_by_provider": stats,
        "provider_calls_per_churned_link": round(sum(ops.values()) / created, 2)
        if created
        else 0.0,
        "link_calls_per_churned_link": round(link_calls / created, 2) if created else 0.0,
        "mutating_calls_per_churned_link": round(mutating / created, 2) if created else 0.0,
        "pool_level_calls": pool_level,
        "calls_by_operation_per_link": {
            op: round(c / created, 2) for op, c in ops.items() if created
        },
        "k8s_writes_total": writes.total,
        "k8s_writes_per_churned_link": round(writes.total / created, 2) if created else 0.0,
        "k8s_writes_by_resource": writes.as_dict(),
        # Objects the operator created in the soak and did not delete (its ConfigMaps: the
        # UUID ownership records; Events expire on their own).
        "k8s_configmaps_left": writes.by_resource.get("create configmaps", 0)
        - writes.by_resource.get("delete configmaps", 0),
        "operator_cpu_percent": round(100.0 * (cpu1 - cpu0) / churn, 1) if churn else 0.0,
        "operator_cpu_ms_per_churned_link": round(1000.0 * (cpu_drained - cpu_fill) / created, 1)
        if created
        else 0.0,
        "watch_restarts": tracker.restarts,
    }
