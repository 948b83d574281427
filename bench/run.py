"""Benchmark harness: the operator on the rig's real API server against two simulators.

``make bench`` (``python -m bench.run``) starts, for each size N of
``BENCH_N`` (default ``100,1000``), a fresh control plane with its audit log
on (never the developer's cluster), two simulators at zero provisioning
delay with capacity for N links, and the operator as a separate process
under the chart's ServiceAccount, then runs the scenarios:

- ``floor`` (before and after the operator's world, each on a world of its
  own; ``--no-floor`` skips it): the minimal kopf operator of bench/floor.py
  (the same Kubernetes writes and 14 provider calls per link, nothing else)
  through the same burst; the operator's burst rate and CPU per link are
  reported as ratios of the two runs' mean;
- ``burst``: N links applied at once (server-side apply in parallel chunks);
  seconds until all Ready, links/s, apply-to-Ready p50/p99/max, provider
  calls per link by operation (minus the pool refresh measured in steady),
  Kubernetes writes per link (audit log, the operator's user), RSS peak and
  a py-spy profile of the operator;
- ``steady``: a window after settling (``BENCH_STEADY_SECONDS``, default
  300): provider calls per link, list calls per interconnect per refresh,
  operator CPU %, Kubernetes writes, RSS settled;
- ``single``: one link at a time on the idle operator (``BENCH_SINGLE_RUNS``,
  default 50): apply-to-Ready p50/p99/max and the exact calls of one link;
- ``restart``: SIGKILL the operator with all links Ready, start it again,
  apply one link meanwhile: seconds until every link is confirmed Ready by
  the new process, mutating provider calls and status writes during it;
- ``memory`` (``--profile-memory``, on a world of its own): tracemalloc in
  the operator through a burst; the top allocators once settled;
- ``shards`` (``--shards K``, ``BENCH_SHARDS``, on a world of its own, at
  every size): bench/shards.py, K operator processes with ``--pool-selector``,
  N links over K pools, per-shard figures and the isolation checks;
- ``soak`` (``--soak-seconds S``, ``BENCH_SOAK_SECONDS``, on a world of its
  own, once, at the run's last size): bench/soak.py, links created and
  deleted at ``--soak-rate`` per second; RSS growth after warm-up, provider
  leftovers, calls per churned link.

``--skip-main`` runs only the opt-in scenarios (soak, shards, memory profile) and keeps
the other stored results of those sizes. The world's setup is bench/world.py.

The operator and the floor run without the ``kubernetes`` package importable,
as in the image (bench/runtime.py).

Results go to ``bench/results.json`` (merged by size with an earlier file)
and ``bench/REPORT.md`` (bench/report.py); logs and profiles to
``.cache/bench/<time>/``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import json
import logging
import os
import platform
import re
import shutil
import signal
import statistics
import sys
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import psutil
from tests.support.cluster import cache_dir, kubectl_path
from tests.support.stack import (
    OperatorProcess,
    link_manifest,
    wait_for,
)

from bench import report
from bench.measure import (
    Profiler,
    ReadyWatcher,
    cpu_seconds,
    create_to_status_seconds,
    is_mutating,
    is_pool_level,
    latency_summary,
    merge_ops,
    read_stats,
    reset_stats,
    split_calls,
    summarise_profile,
    wait_quiet,
)
from bench.runtime import export_outside_runtime
from bench.shards import run_shards
from bench.soak import scenario_soak, trace_growth
from bench.world import (
    APPLY_CHUNK,
    APPLY_PARALLEL,
    INTERCONNECTS,
    LINK_MBPS,
    POOL,
    REPO,
    Options,
    Rig,
    apply_files,
    operator_log_problems,
    start_rig,
    stop_rig,
    write_chunks,
)
from interconnect_operator.k8s.controller import RESTART_CONFIRMED
from interconnect_operator.k8s.resources import GROUP, LINK_PLURAL, VERSION

log = logging.getLogger("bench")

PLURAL = LINK_PLURAL
SCENARIO_ORDER = ("floor", "burst", "single", "steady", "restart", "memory", "soak", "shards")

# --------------------------------------------------------------------------
# Scenarios


def scenario_burst(rig: Rig, n: int, opts: Options) -> dict[str, Any]:
    namespace = "bench-burst"
    names = [f"burst-{i:05d}" for i in range(n)]
    chunk_files = write_chunks(
        rig.log_dir, "burst", [link_manifest(nm, namespace, POOL, LINK_MBPS) for nm in names]
    )
    watcher = ReadyWatcher(str(kubectl_path()), rig.cp.kubeconfig, namespace)
    time.sleep(1.0)  # let the watch establish before anything is created
    reset_stats(rig.sims)
    rig.audit.mark()
    profiler = _profiler(rig, opts.profile, f"burst-{n}")
    load = [round(x, 2) for x in os.getloadavg()]
    cpu0 = cpu_seconds(rig.operator.process.pid)
    t0 = time.monotonic()
    submitted = apply_files(rig.cp.kubeconfig, chunk_files)
    applied_seconds = time.monotonic() - t0
    timeout = max(120.0, n * 0.5)
    all_ready = watcher.wait(names, timeout)
    t_end = time.monotonic()
    cpu1 = cpu_seconds(rig.operator.process.pid)
    if profiler is not None:
        profiler.stop()
    stats = read_stats(rig.sims)
    writes_at_ready = rig.audit.writes_since_mark().total
    settle_seconds = wait_quiet(rig.audit, quiet_seconds=5.0, cap_seconds=120.0)
    writes = rig.audit.writes_since_mark()
    watcher.stop()

    ready_times = {nm: watcher.ready[nm] for nm in names if nm in watcher.ready}
    last_ready = max(ready_times.values()) if ready_times else t_end
    latencies = [ready_times[nm] - submitted[nm] for nm in ready_times if nm in submitted]
    seconds = last_ready - t0
    ops = merge_ops(stats)
    result: dict[str, Any] = {
        "name": "burst",
        "n": n,
        "load_average": load,
        "ready": len(ready_times),
        "all_ready": all_ready,
        "apply_seconds": round(applied_seconds, 2),
        "seconds_to_all_ready": round(seconds, 2),
        "links_per_second": round(len(ready_times) / seconds, 1) if seconds > 0 else 0.0,
        **latency_summary(latencies),
        "burst_seconds": round(t_end - t0, 2),
        # psutil CPU time, not py-spy samples: on a busy machine py-spy also
        # counts threads that are runnable but waiting for a core.
        "operator_cpu_seconds": round(cpu1 - cpu0, 2),
        "operator_cpu_ms_per_link": round(1000.0 * (cpu1 - cpu0) / n, 1),
        "operator_cpu_percent": round(100.0 * (cpu1 - cpu0) / (t_end - t0), 1),
        "calls_total": sum(ops.values()),
        "calls_by_provider": stats,
        "k8s_writes_total": writes.total,
        "k8s_writes_at_all_ready": writes_at_ready,
        "k8s_writes_per_link": round(writes.total / n, 2),
        "k8s_writes_by_resource": writes.as_dict(),
        "settle_seconds": round(settle_seconds, 1),
        "rss_mib_peak": rig.sampler.peak_mib(since=t0),
        **_profile_result(profiler),
    }
    return result


#: List calls that are not the pool refresh's: the interconnects themselves
#: (read again only now and then) and the MACsec round's keys.
NOT_REFRESH = frozenset({"ListInterconnects", "ListMacSecKeys"})


def derive_call_figures(
    burst: dict[str, Any], steady: dict[str, Any], refresh_interval: float = 0.0
) -> None:
    """Call figures of both scenarios from their raw counters (``calls_by_provider``).

    Burst: calls per link by operation minus the pool-level calls the steady
    window's rate predicts over the burst. Steady: per-link calls (operations
    on a connection), pool-level calls, list calls per interconnect per
    refresh. Refreshes: those the operator counted in the window
    (``pool_refreshes``, its pool reconcile-duration count; the bench has one
    pool); in results stored without that count, the window over the pool's
    ``refreshInterval`` (``refresh_interval``: a window holds one refresh
    more or less than that quotient, ~9 % of an 11-refresh window), else
    ListInterconnects calls (a refresh that keeps the interconnects it listed
    before makes none, so that count is a floor). ``refreshes_from`` says
    which. The lists counted are the refresh's own; ListMacSecKeys belongs to
    the MACsec round.
    Kept apart from the scenarios so that ``--recompute`` can redo them.
    """
    stats: dict[str, dict[str, int]] = steady["calls_by_provider"]
    elapsed = float(steady["window_seconds"])
    links = int(steady["n"])
    ops = merge_ops(stats)
    pool_level, link, _ = split_calls(ops)
    per_ix: dict[str, float] = {}
    per_op_ix: dict[str, dict[str, float]] = {}
    by_interval = int(elapsed // refresh_interval) if refresh_interval > 0 else 0
    by_count = int(steady.get("pool_refreshes") or 0)
    counted: dict[str, int] = {}
    for provider, pops in stats.items():
        refreshes = by_count or by_interval or pops.get("ListInterconnects", 0)
        counted[provider] = refreshes
        if not refreshes:
            continue
        lists = {k: v for k, v in pops.items() if k.startswith("List") and k not in NOT_REFRESH}
        per_op_ix[provider] = {
            k: round(v / (refreshes * INTERCONNECTS), 2) for k, v in lists.items()
        }
        per_ix[provider] = round(sum(lists.values()) / (refreshes * INTERCONNECTS), 2)
    steady["refreshes"] = counted
    if by_count:
        steady["refreshes_from"] = "pool refreshes counted by the operator"
    elif by_interval:
        steady["refreshes_from"] = f"window / refreshInterval ({refresh_interval:g} s)"
    else:
        steady["refreshes_from"] = "ListInterconnects calls"
    steady["steady_calls_per_link"] = round(link / links, 3) if links else 0.0
    steady["steady_link_calls"] = link
    steady["steady_pool_level_calls"] = pool_level
    steady["list_calls_per_interconnect_per_refresh"] = per_ix
    steady["list_calls_per_interconnect_per_refresh_by_operation"] = per_op_ix

    rates = {op: c / elapsed for op, c in ops.items() if is_pool_level(op) and elapsed > 0}
    burst_ops = merge_ops(burst["calls_by_provider"])
    duration = float(burst["burst_seconds"])
    n = int(burst["n"])
    expected = {op: rate * duration for op, rate in rates.items()}
    per_op: dict[str, float] = {}
    for op, count in burst_ops.items():
        net = max(0.0, count - expected.get(op, 0.0))
        if net > 0:
            per_op[op] = round(net / n, 2)
    b_pool, b_link, b_mutating = split_calls(burst_ops)
    burst["calls_by_operation"] = per_op
    burst["provider_calls_per_link"] = round(sum(per_op.values()), 2)
    burst["link_operation_calls_per_link"] = round(b_link / n, 2)
    burst["mutating_calls_per_link"] = round(b_mutating / n, 2)
    burst["refresh_calls_during_burst"] = b_pool
    burst["refresh_calls_expected_from_steady"] = round(sum(expected.values()), 1)


def _link_passes(operator: OperatorProcess) -> dict[str, float]:
    """Reconciles so far by kind: ``link`` (full, a decision), ``link_confirm``
    (a Ready link confirmed unchanged) and ``pool`` (one pool refresh), from the
    reconcile-duration histogram's counts."""
    try:
        text = operator.metrics()
    except OSError:
        return {}
    out: dict[str, float] = {}
    prefix = "interconnect_reconcile_duration_seconds_count{"
    for line in text.splitlines():
        if line.startswith(prefix):
            labels, _, value = line[len(prefix) :].partition("} ")
            kind = labels.partition('kind="')[2].partition('"')[0]
            if kind.startswith("link") or kind == "pool":
                out[kind] = float(value)
    return out


def _passes_per_link(
    before: Mapping[str, float], after: Mapping[str, float], n: int
) -> dict[str, float]:
    return {
        kind: round((after.get(kind, 0.0) - before.get(kind, 0.0)) / n, 3) if n else 0.0
        for kind in ("link", "link_confirm")
    }


def scenario_steady(rig: Rig, total_links: int, opts: Options) -> dict[str, Any]:
    window = opts.steady_seconds
    pid = rig.operator.process.pid
    reset_stats(rig.sims)
    rig.audit.mark()
    passes0 = _link_passes(rig.operator)
    profiler = _profiler(rig, opts.profile, f"steady-{total_links}")
    cpu0, t0 = cpu_seconds(pid), time.monotonic()
    time.sleep(window)
    cpu1, t1 = cpu_seconds(pid), time.monotonic()
    if profiler is not None:
        profiler.stop()
    passes1 = _link_passes(rig.operator)
    stats = read_stats(rig.sims)
    writes = rig.audit.writes_since_mark()
    elapsed = t1 - t0
    result: dict[str, Any] = {
        "name": "steady",
        "n": total_links,
        "window_seconds": round(elapsed, 1),
        "calls_by_provider": stats,
        "idle_cpu_percent": round(100.0 * (cpu1 - cpu0) / elapsed, 2) if elapsed else 0.0,
        "reconciles_per_link": _passes_per_link(passes0, passes1, total_links),
        "pool_refreshes": int(passes1.get("pool", 0.0) - passes0.get("pool", 0.0)),
        "k8s_writes": writes.total,
        "k8s_writes_by_resource": writes.as_dict(),
        "rss_mib_peak": rig.sampler.peak_mib(),
        "rss_mib_settled": rig.sampler.median_mib(since=t0, until=t1),
        **_profile_result(profiler),
    }
    return result


def scenario_single(rig: Rig, n: int, opts: Options) -> dict[str, Any]:
    namespace = "bench-single"
    watcher = ReadyWatcher(str(kubectl_path()), rig.cp.kubeconfig, namespace)
    time.sleep(1.0)
    profiler = _profiler(rig, opts.profile, f"single-{n}")
    latencies: list[float] = []
    server_side: list[float] = []
    cpu_per_link: list[float] = []
    calls: list[int] = []
    per_op_runs: list[dict[str, int]] = []
    writes_runs: list[int] = []
    failures = 0
    for i in range(opts.single_runs):
        name = f"single-{i:03d}"
        reset_stats(rig.sims)
        rig.audit.mark()
        cpu0 = cpu_seconds(rig.operator.process.pid)
        t0 = time.monotonic()
        rig.custom.create_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURAL, link_manifest(name, namespace, POOL, LINK_MBPS)
        )
        if not watcher.wait([name], 30.0):
            failures += 1
            continue
        latencies.append(watcher.ready[name] - t0)
        time.sleep(0.3)  # trailing writes and calls of this link land before counting
        on_server = create_to_status_seconds(rig.audit, name)
        if on_server is not None:
            server_side.append(on_server)
        cpu_per_link.append(cpu_seconds(rig.operator.process.pid) - cpu0)
        ops = {k: v for k, v in merge_ops(read_stats(rig.sims)).items() if not is_pool_level(k)}
        per_op_runs.append(ops)
        calls.append(sum(ops.values()))
        # The operator is otherwise idle: every write but the pool's status is this link's.
        writes = rig.audit.writes_since_mark()
        writes_runs.append(
            writes.total - sum(v for k, v in writes.by_resource.items() if "capacitypools" in k)
        )
        time.sleep(0.2)
    watcher.stop()
    extra = _profile_result(profiler)
    all_ops = sorted({op for run in per_op_runs for op in run})
    return {
        **extra,
        "name": "single",
        "n": n,
        "runs": opts.single_runs,
        "failures": failures,
        **latency_summary(latencies),
        **{f"server_{k}": v for k, v in latency_summary(server_side).items()},
        "provider_calls_per_link": statistics.median(calls) if calls else 0,
        "operator_cpu_ms_per_link": round(1000.0 * statistics.median(cpu_per_link), 1)
        if cpu_per_link
        else 0.0,
        "calls_by_operation": {
            op: statistics.median(run.get(op, 0) for run in per_op_runs) for op in all_ops
        },
        "mutating_calls_per_link": statistics.median(
            sum(v for k, v in run.items() if is_mutating(k)) for run in per_op_runs
        )
        if per_op_runs
        else 0,
        "k8s_writes_per_link": statistics.median(writes_runs) if writes_runs else 0,
    }


def _ready_links_in_metrics(operator: OperatorProcess) -> int:
    try:
        text = operator.metrics()
    except OSError:
        return 0
    count = 0
    for line in text.splitlines():
        if line.startswith("interconnect_link_ready{") and line.rsplit(" ", 1)[-1] in ("1", "1.0"):
            count += 1
    return count


def _link_versions(rig: Rig) -> dict[str, tuple[str, Any]]:
    items = rig.custom.list_cluster_custom_object(GROUP, VERSION, PLURAL)["items"]
    return {
        f"{o['metadata']['namespace']}/{o['metadata']['name']}": (
            o["metadata"]["resourceVersion"],
            o.get("status"),
        )
        for o in items
    }


def _status_diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> set[str]:
    """Names of the status fields (conditions by type and key) that differ."""
    out: set[str] = set()
    for field in set(before) | set(after):
        if field != "conditions":
            if before.get(field) != after.get(field):
                out.add(field)
            continue
        old = {c.get("type"): c for c in before.get(field) or []}
        new = {c.get("type"): c for c in after.get(field) or []}
        for type_ in set(old) | set(new):
            a, b = old.get(type_) or {}, new.get(type_) or {}
            out.update(f"conditions[{type_}].{k}" for k in set(a) | set(b) if a.get(k) != b.get(k))
    return out


#: How often the restart scenario scrapes ``/metrics`` before the operator logs
#: its bulk confirmation (seconds).
SCRAPE_WHILE_CONFIRMING = 5.0


def scenario_restart(
    rig: Rig, n: int, single_mutating: float, profile: bool = False
) -> dict[str, Any]:
    namespace = "bench-restart"
    probe = "restart-probe"
    before = _link_versions(rig)
    total = len(before) + 1
    watcher = ReadyWatcher(str(kubectl_path()), rig.cp.kubeconfig, namespace)
    time.sleep(1.0)
    reset_stats(rig.sims)
    rig.audit.mark()
    rig.operator.kill()
    rig.custom.create_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, link_manifest(probe, namespace, POOL, LINK_MBPS)
    )
    log_offset = rig.operator.log_path.stat().st_size if rig.operator.log_path.exists() else 0
    t_start, wall_start = time.monotonic(), time.time()
    rig.operator.restart()
    rig.sampler.set_pid(rig.operator.process.pid)
    t_live = time.monotonic()
    profiler = _profiler(rig, profile, f"restart-{n}")
    timeout = max(120.0, total * 0.3)
    confirmed = 0
    # Each scrape of N links' series costs the operator CPU of its own (a
    # back-to-back poll took ~45 % of its samples at N=1000; at twice the
    # scrape's duration 8 % of a 10,000-link restart's samples). The figure
    # comes from the operator's log when it can (below): until that line is
    # there, the log is read every 0.2 s and ``/metrics`` scraped only every
    # SCRAPE_WHILE_CONFIRMING seconds, as a Prometheus would (typically 15-30 s);
    # after it, at twice the scrape's own duration, at least every 0.2 s.
    pause = 0.2
    t_existing: float | None = None
    t_not_yet = t_start  # the last scrape that still missed some of them
    next_scrape = t_start
    while time.monotonic() - t_start < timeout:
        if time.monotonic() < next_scrape and not restart_confirmed_at(
            _log_since(rig.operator.log_path, log_offset)
        ):
            time.sleep(0.2)
            continue
        scraped = time.monotonic()
        confirmed = _ready_links_in_metrics(rig.operator)
        if t_existing is None:
            if confirmed >= total - 1:
                # Every link that was Ready before the kill (or all but one of them, if
                # the probe came up first): the restart's confirmations without the
                # probe's own bring-up.
                t_existing = scraped
            else:
                t_not_yet = scraped
        if confirmed >= total:
            break
        pause = max(0.2, 2 * (time.monotonic() - scraped))
        next_scrape = scraped + SCRAPE_WHILE_CONFIRMING
        time.sleep(pause)
    t_confirmed = time.monotonic()
    passes = _link_passes(rig.operator)
    probe_ready = watcher.wait([probe], 60.0)
    extra = _profile_result(profiler)
    t_probe = watcher.ready.get(probe)
    time.sleep(2.0)  # anything the new process still does right after confirming
    stats = read_stats(rig.sims)
    writes = rig.audit.writes_since_mark(exclude_names=[probe])
    status_writes = sum(
        v for k, v in writes.by_resource.items() if k.endswith("multicloudlinks/status")
    )
    after = _link_versions(rig)
    changed = [k for k, (rv, _) in before.items() if after.get(k, ("", None))[0] != rv]
    fields_changed: Counter[str] = Counter()
    for key in changed:
        fields_changed.update(
            _status_diff(before[key][1] or {}, after.get(key, ("", None))[1] or {})
        )
    watcher.stop()
    ops = merge_ops(stats)
    _, _, mutating = split_calls(ops)
    logged = restart_confirmed_at(_log_since(rig.operator.log_path, log_offset))
    existing = existing_confirmed(
        logged,
        links_before=len(before),
        wall_start=wall_start,
        polled=None if t_existing is None else t_existing - t_start,
    )
    return {
        **extra,
        "name": "restart",
        "n": n,
        "links": total,
        "confirmed": confirmed,
        "restart_to_live_seconds": round(t_live - t_start, 2),
        "recovery_seconds": round(t_confirmed - t_start, 2),
        **existing,
        "existing_confirmed_poll_seconds": round(t_existing - t_start, 2)
        if t_existing is not None
        else None,
        # The poll saw them all between these two scrapes (seconds from the start).
        "existing_confirmed_poll_bracket": [
            round(t_not_yet - t_start, 2),
            round(t_existing - t_start, 2) if t_existing is not None else None,
        ],
        "recovery_reconciles_per_link": _passes_per_link({}, passes, total),
        "confirm_poll_seconds": round(pause, 2),
        "recovery_mutating_calls": max(0, round(mutating - single_mutating)),
        "recovery_mutating_calls_raw": mutating,
        "probe_mutating_calls_expected": single_mutating,
        "recovery_calls_by_operation": ops,
        "recovery_status_writes": status_writes,
        "recovery_k8s_writes": writes.total,
        "recovery_k8s_writes_by_resource": writes.as_dict(),
        "links_changed": len(changed),
        "status_fields_changed": dict(fields_changed.most_common()),
        "probe_ready": probe_ready,
        "probe_seconds_to_ready": round(t_probe - t_start, 2) if t_probe else None,
        "rss_mib_after_recovery": rig.sampler.peak_mib(since=t_confirmed),
    }


@dataclass(frozen=True)
class RestartLogged:
    """The operator's line at the end of a restart's bulk confirmation."""

    wall_time: float
    confirmed: int
    queued: int


_RESTART_TEXT = re.compile(
    r"^(?P<time>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) \S+ \S+: "
    + re.escape(RESTART_CONFIRMED)
    + r": (?P<confirmed>\d+) links confirmed, (?P<queued>\d+) queued"
)


def restart_confirmed_at(log_text: str) -> RestartLogged | None:
    """The first bulk-confirmation line of ``log_text``, or None.

    The operator logs text (``time LEVEL logger: message``, local time to the
    millisecond) or JSON lines (``timestamp`` in UTC, ``--log-format json``).
    """
    for line in log_text.splitlines():
        if RESTART_CONFIRMED not in line:
            continue
        if line.startswith("{"):
            try:
                record = json.loads(line)
                when = dt.datetime.fromisoformat(str(record["timestamp"]))
                if str(record["message"]).startswith(RESTART_CONFIRMED):
                    return RestartLogged(
                        when.timestamp(), int(record["confirmed"]), int(record["queued"])
                    )
            except (ValueError, KeyError, TypeError):
                continue
            continue
        match = _RESTART_TEXT.match(line)
        if match is not None:
            local = dt.datetime.strptime(match["time"], "%Y-%m-%d %H:%M:%S,%f")
            return RestartLogged(local.timestamp(), int(match["confirmed"]), int(match["queued"]))
    return None


def existing_confirmed(
    logged: RestartLogged | None, *, links_before: int, wall_start: float, polled: float | None
) -> dict[str, Any]:
    """When the new process had confirmed every link that was Ready before the kill,
    in seconds from its start, and where that moment comes from.

    The operator's log when its bulk pass confirmed all of them (none handed to
    the queue): the moment the last one was exported Ready, to the millisecond.
    Otherwise (some went through the queue, or no such line) the harness's
    ``/metrics`` poll: the first scrape that showed them all, up to one poll
    interval late.
    """
    if logged is not None and logged.queued == 0 and logged.confirmed >= links_before:
        return {
            "existing_confirmed_seconds": round(max(0.0, logged.wall_time - wall_start), 2),
            "existing_confirmed_from": "operator log: bulk confirmation done",
        }
    return {
        "existing_confirmed_seconds": round(polled, 2) if polled is not None else None,
        "existing_confirmed_from": "metrics poll",
    }


def _log_since(path: Path, offset: int) -> str:
    try:
        with path.open("rb") as handle:
            handle.seek(offset)
            return handle.read().decode(errors="replace")
    except OSError:
        return ""


# --------------------------------------------------------------------------
# Driver


def _profiler(rig: Rig, on: bool, name: str) -> Profiler | None:
    """``--profile``: py-spy on the operator into ``<log dir>/<name>.pyspy.txt``."""
    if not on:
        return None
    return Profiler(_py_spy(), rig.operator.process.pid, rig.log_dir / f"{name}.pyspy.txt")


def _profile_result(profiler: Profiler | None) -> dict[str, Any]:
    """Stop ``profiler`` (if it still runs); a scenario's profile fields: the
    summary and the raw file, or why there is none."""
    if profiler is None:
        return {}
    profiler.stop()
    if profiler.out.exists():
        return {"profile": summarise_profile(profiler.out), "profile_file": str(profiler.out)}
    return {"profile_error": profiler.error}


def _py_spy() -> str:
    candidate = Path(sys.executable).parent / "py-spy"
    return str(candidate) if candidate.exists() else (shutil.which("py-spy") or "py-spy")


def run_floor(n: int, opts: Options, tag: str = "") -> dict[str, Any]:
    """The floor operator's burst on a world of its own (same sizes, same simulators)."""
    log_dir = opts.log_dir / f"n{n}-floor{tag}"
    log_dir.mkdir(parents=True, exist_ok=True)
    log.info("N=%d: floor (bench/floor.py), logs %s", n, log_dir)
    rig = start_rig(n, opts, log_dir, floor=True)
    try:
        burst = scenario_burst(rig, n, replace(opts, profile=False))
        problems = operator_log_problems(rig.operator)
    finally:
        stop_rig(rig)
    ops = merge_ops(burst["calls_by_provider"])
    burst["name"] = "floor"
    burst["calls_by_operation"] = {op: round(c / n, 2) for op, c in sorted(ops.items())}
    burst["provider_calls_per_link"] = round(sum(ops.values()) / n, 2)
    burst["run_at"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    burst["operator_log"] = problems
    burst["logs"] = str(log_dir)
    log.info(
        "N=%d: floor %d/%d Ready in %.1fs", n, burst["ready"], n, burst["seconds_to_all_ready"]
    )
    return burst


FLOOR_MEANS = ("links_per_second", "operator_cpu_ms_per_link", "seconds_to_all_ready")


def combine_floors(runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One floor figure from the runs before and after the operator's (load drifts)."""
    combined = dict(runs[0])
    for key in FLOOR_MEANS:
        combined[key] = round(statistics.mean(float(r[key]) for r in runs), 2)
    combined["ready"] = min(int(r["ready"]) for r in runs)
    combined["all_ready"] = all(bool(r["all_ready"]) for r in runs)
    combined["rss_mib_peak"] = max(float(r["rss_mib_peak"]) for r in runs)
    combined["runs"] = [
        {
            "run_at": r["run_at"],
            "load_average": r.get("load_average"),
            **{key: r[key] for key in FLOOR_MEANS},
        }
        for r in runs
    ]
    return combined


def run_memory(n: int, opts: Options) -> dict[str, Any]:
    """tracemalloc in the operator through a burst of N; the top allocators once settled.

    A world of its own: tracing slows every allocation, so no timing of this
    run is reported. The snapshot is taken by SIGUSR1 (bench/runtime.py).
    """
    log_dir = opts.log_dir / f"n{n}-memory"
    log_dir.mkdir(parents=True, exist_ok=True)
    out = log_dir / "operator.tracemalloc"
    log.info("N=%d: memory profile (tracemalloc), logs %s", n, log_dir)
    rig = start_rig(n, opts, log_dir, operator_env={"BENCH_TRACEMALLOC_OUT": str(out)})
    try:
        burst = scenario_burst(rig, n, replace(opts, profile=False))
        time.sleep(5.0)
        os.kill(rig.operator.process.pid, signal.SIGUSR1)
        facts_path = out.with_name(out.name + ".json")
        wait_for(facts_path.exists, 120, "tracemalloc snapshot", interval=0.5)
        time.sleep(1.0)
        rss = rig.sampler.median_mib(since=time.monotonic() - 5.0)
    finally:
        stop_rig(rig)
    return summarise_memory(n, out, int(burst["ready"]), rss)


def summarise_memory(n: int, out: Path, ready: int, rss: Any) -> dict[str, Any]:
    facts = json.loads(out.with_name(out.name + ".json").read_text())
    snapshot = tracemalloc.Snapshot.load(str(out)).filter_traces(
        [tracemalloc.Filter(False, tracemalloc.__file__), tracemalloc.Filter(False, "<unknown>")]
    )

    def short(filename: str) -> str:
        for marker in ("site-packages/", "operator/", "lib/python3"):
            if marker in filename:
                return filename.split(marker, 1)[1]
        return filename

    lines = [
        {
            "where": f"{short(st.traceback[0].filename)}:{st.traceback[0].lineno}",
            "mib": round(st.size / 2**20, 2),
            "count": st.count,
        }
        for st in snapshot.statistics("lineno")[:20]
    ]
    files = [
        {"where": short(st.traceback[0].filename), "mib": round(st.size / 2**20, 2)}
        for st in snapshot.statistics("filename")[:15]
    ]
    return {
        "name": "memory",
        "n": n,
        "links": ready,
        "traced_mib": round(facts["traced_bytes"] / 2**20, 1),
        "traced_peak_mib": round(facts["traced_peak_bytes"] / 2**20, 1),
        "rss_mib": rss,
        "kubernetes_imported": facts["kubernetes_imported"],
        "top_lines": lines,
        "top_files": files,
        "snapshot_file": str(out),
        "run_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


def compare_with_floor(burst: dict[str, Any], floor: dict[str, Any]) -> None:
    """Our burst as a ratio of the floor's: rate (goal >= 0.7) and CPU per link."""
    rate, floor_rate = float(burst["links_per_second"]), float(floor["links_per_second"])
    cpu, floor_cpu = (
        float(burst["operator_cpu_ms_per_link"]),
        float(floor["operator_cpu_ms_per_link"]),
    )
    burst["floor_links_per_second"] = floor_rate
    burst["floor_rate_ratio"] = round(rate / floor_rate, 2) if floor_rate else 0.0
    burst["floor_cpu_ms_per_link"] = floor_cpu
    burst["cpu_per_link_vs_floor"] = round(cpu / floor_cpu, 2) if floor_cpu else 0.0


#: Frames kept per traced allocation in the soak's ``--soak-trace`` (enough to reach the caller
#: of a container's growth; more costs the traced operator time and memory).
SOAK_TRACE_FRAMES = 6


def run_soak(n: int, opts: Options) -> dict[str, Any]:
    """The churn soak (bench/soak.py) on a fresh world sized for N."""
    log_dir = opts.log_dir / f"n{n}-soak"
    log_dir.mkdir(parents=True, exist_ok=True)
    log.info(
        "N=%d: soak %.0fs at %.1f links/s (live set %d), logs %s",
        n,
        opts.soak_seconds,
        opts.soak_rate,
        opts.soak_ahead,
        log_dir,
    )
    trace = log_dir / "operator.tracemalloc"
    env = (
        {
            "BENCH_TRACEMALLOC_OUT": str(trace),
            "BENCH_TRACEMALLOC_FRAMES": str(SOAK_TRACE_FRAMES),
            "BENCH_TRACEMALLOC_NUMBERED": "1",
            "BENCH_TRACEMALLOC_AFTER_IMPORT": "interconnect_operator.k8s.main",
        }
        if opts.soak_trace
        else None
    )
    rig = start_rig(n, opts, log_dir, operator_env=env)
    marks: list[str] = []

    def mark(what: str) -> None:
        # The k-th signal writes operator.tracemalloc.<k> (bench/runtime.py); not waited
        # for here, so the churn keeps its schedule.
        marks.append(what)
        os.kill(rig.operator.process.pid, signal.SIGUSR1)

    try:
        result = scenario_soak(
            rig,
            opts.soak_seconds,
            opts.soak_rate,
            opts.soak_ahead,
            grace=min(120.0, 2.0 * opts.refresh_interval + 5.0),
            mark=mark if opts.soak_trace else None,
        )
        result["operator_log"] = operator_log_problems(rig.operator)
        if opts.soak_trace:
            files = [trace.with_name(f"{trace.name}.{k}") for k in (1, 2)]
            for f in files:
                wait_for(
                    f.with_name(f.name + ".json").exists, 300, "tracemalloc snapshot", interval=0.5
                )
    finally:
        stop_rig(rig)
    if opts.soak_trace:
        growth = trace_growth(files[0], files[1])
        churned = result["rate_per_second"] * (result["soak_seconds"] - result["warmup_seconds"])
        growth["frames"] = SOAK_TRACE_FRAMES
        growth["marks"] = marks
        growth["bytes_per_link_churned_after_warmup"] = (
            round(1024 * growth["traced_growth_kib"] / churned) if churned else 0
        )
        growth["snapshot_files"] = [str(f) for f in files]
        result["trace_growth"] = growth
    result["n"] = n
    result["logs"] = str(log_dir)
    result["run_at"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    return result


MAIN_SCENARIOS = frozenset({"floor", "burst", "single", "steady", "restart"})


def merged_scenarios(
    stored: Sequence[dict[str, Any]], produced: Sequence[dict[str, Any]], n: int, *, main_ran: bool
) -> list[dict[str, Any]]:
    """The results after size ``n`` ran: what it produced replaces the stored
    scenario of the same name and size. When the main scenarios ran, any stored
    main scenario of that size that did not (a failed size) goes too: main
    figures of one size come from one run. Opt-in scenarios (memory, soak,
    shards) not run this time keep their stored result."""
    done = {str(s["name"]) for s in produced}

    def kept(s: dict[str, Any]) -> bool:
        if int(s["n"]) != n:
            return True
        name = str(s["name"])
        return name not in done and not (main_ran and name in MAIN_SCENARIOS)

    merged = [s for s in stored if kept(s)] + list(produced)
    merged.sort(key=lambda s: (int(s["n"]), SCENARIO_ORDER.index(s["name"])))
    return merged


def run_extras(n: int, opts: Options, last: bool) -> list[dict[str, Any]]:
    """The opt-in scenarios: shards at every size, the soak once (at the run's last size)."""
    out = []
    if opts.shards:
        log.info("N=%d: %d shards", n, opts.shards)
        shards = run_shards(n, opts.shards, opts, opts.log_dir / f"n{n}-shards{opts.shards}")
        shards["run_at"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        log.info(
            "N=%d: %d shards, %d/%d Ready in %.1fs, isolated: %s",
            n,
            opts.shards,
            shards["ready"],
            n,
            shards["seconds_to_all_ready"],
            shards["isolated"],
        )
        out.append(shards)
    if opts.soak_seconds > 0 and last:
        soak = run_soak(n, opts)
        log.info(
            "N=%d: soak RSS %.1f -> %.1f MiB (%.1f %%), leftovers %d",
            n,
            soak["rss_mib_warmup_end"],
            soak["rss_mib_end"],
            soak["rss_growth_percent"],
            soak["provider_leftovers_total"],
        )
        out.append(soak)
    return out


def run_size(n: int, opts: Options) -> list[dict[str, Any]]:
    if opts.skip_main:
        # Only the opt-in scenarios; the memory profile runs on a world of its own.
        return [run_memory(n, opts)] if opts.profile_memory else []
    # The floor runs before and after the operator's world; the ratio uses their mean.
    floors = [run_floor(n, opts, "-before")] if opts.floor else []
    log_dir = opts.log_dir / f"n{n}"
    log_dir.mkdir(parents=True, exist_ok=True)
    log.info("N=%d: starting control plane, simulators and operator (logs %s)", n, log_dir)
    rig = start_rig(n, opts, log_dir)
    try:
        log.info("N=%d: burst", n)
        burst = scenario_burst(rig, n, opts)
        log.info(
            "N=%d: burst %d/%d Ready in %.1fs; steady window %.0fs",
            n,
            burst["ready"],
            n,
            burst["seconds_to_all_ready"],
            opts.steady_seconds,
        )
        steady = scenario_steady(rig, n, opts)
        derive_call_figures(burst, steady, opts.refresh_interval)
        log.info("N=%d: single (%d runs)", n, opts.single_runs)
        single = scenario_single(rig, n, opts)
        log.info("N=%d: restart", n)
        restart = scenario_restart(
            rig, n, float(single["mutating_calls_per_link"]), profile=opts.profile
        )
        problems = operator_log_problems(rig.operator)
    finally:
        stop_rig(rig)
    stamp = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    scenarios = [burst, single, steady, restart]
    for s in scenarios:
        s["run_at"] = stamp
        s["operator_log"] = problems
        s["logs"] = str(log_dir)
    if floors:
        floors.append(run_floor(n, opts, "-after"))
        floor = combine_floors(floors)
        compare_with_floor(burst, floor)
        scenarios.insert(0, floor)
    if opts.profile_memory:
        scenarios.append(run_memory(n, opts))
    return scenarios


def machine_info(server_version: str) -> dict[str, Any]:
    def version(dist: str) -> str:
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            return "absent"

    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cores": psutil.cpu_count(logical=True),
        "physical_cores": psutil.cpu_count(logical=False),
        "cpu_model": model,
        "memory_mib": round(psutil.virtual_memory().total / 2**20),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "platform": platform.platform(),
        "python": platform.python_version(),
        "kopf": version("kopf"),
        "kubernetes": server_version,
        "kubernetes_python_client": version("kubernetes"),
        "pydantic": version("pydantic"),
        "httpx": version("httpx"),
        "aiohttp": version("aiohttp"),
        "uvicorn": version("uvicorn"),
        "psutil": version("psutil"),
        "py_spy": version("py-spy"),
    }


def _server_version() -> str:
    env_file = cache_dir() / "bin" / "current.env"
    if env_file.exists():
        for line in env_file.read_text().splitlines():
            if line.startswith("export ICO_K8S_VERSION="):
                return line.split("=", 1)[1].strip()
    return "unknown"


def _env_number(name: str, default: str, cast: Callable[[str], Any]) -> Any:
    return cast(os.environ.get(name, default) or default)


def parse_args(argv: Sequence[str] | None) -> Options:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default=os.environ.get("BENCH_N", "100,1000"))
    parser.add_argument(
        "--steady-seconds", type=float, default=_env_number("BENCH_STEADY_SECONDS", "300", float)
    )
    parser.add_argument(
        "--single-runs", type=int, default=_env_number("BENCH_SINGLE_RUNS", "50", int)
    )
    parser.add_argument(
        "--refresh-interval",
        type=int,
        default=_env_number("BENCH_REFRESH_SECONDS", "0", int),
        help="pool refreshInterval (default: 30, or the steady window when shorter; min 5)",
    )
    parser.add_argument(
        "--profile",
        action=argparse.BooleanOptionalAction,
        default=os.environ.get("BENCH_PROFILE", "1") not in ("0", "false", "no"),
    )
    parser.add_argument(
        "--floor",
        action=argparse.BooleanOptionalAction,
        default=os.environ.get("BENCH_FLOOR", "1") not in ("0", "false", "no"),
        help="run the floor operator (bench/floor.py) first at each size",
    )
    parser.add_argument(
        "--profile-memory",
        action=argparse.BooleanOptionalAction,
        default=os.environ.get("BENCH_PROFILE_MEMORY", "0") not in ("0", "false", "no"),
        help="one more burst per size with tracemalloc on: the top allocators in the report",
    )
    parser.add_argument(
        "--soak-seconds",
        type=float,
        default=_env_number("BENCH_SOAK_SECONDS", "0", float),
        help="churn soak (bench/soak.py) this long at the last size; 0 = off (issue: 900)",
    )
    parser.add_argument(
        "--soak-rate",
        type=float,
        default=_env_number("BENCH_SOAK_RATE", "5", float),
        help="links created and deleted per second in the soak",
    )
    parser.add_argument(
        "--soak-live",
        type=int,
        default=_env_number("BENCH_SOAK_LIVE", "100", int),
        help="links alive during the soak (created ahead, deleted oldest first)",
    )
    parser.add_argument(
        "--soak-trace",
        action=argparse.BooleanOptionalAction,
        default=os.environ.get("BENCH_SOAK_TRACE", "0") not in ("0", "false", "no"),
        help="tracemalloc in the soak's operator: growth from warm-up to the end, by traceback",
    )
    parser.add_argument(
        "--shards",
        type=int,
        default=_env_number("BENCH_SHARDS", "0", int),
        help="sharded burst (bench/shards.py) with this many operator processes; 0 = off",
    )
    parser.add_argument(
        "--skip-main",
        action="store_true",
        help="run only the opt-in scenarios (soak, shards, memory profile); keep the stored others",
    )
    parser.add_argument("--out-dir", type=Path, default=REPO / "bench")
    parser.add_argument("--log-dir", type=Path, default=None)
    parser.add_argument(
        "--recompute",
        action="store_true",
        help="only redo the derived call figures and REPORT.md from the stored results",
    )
    parser.add_argument(
        "--no-merge", dest="merge", action="store_false", help="do not keep other sizes' results"
    )
    args = parser.parse_args(argv)
    sizes = tuple(int(x) for x in str(args.sizes).replace(" ", "").split(",") if x)
    refresh = args.refresh_interval or max(5, min(30, int(args.steady_seconds)))
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return Options(
        sizes=sizes,
        steady_seconds=float(args.steady_seconds),
        single_runs=int(args.single_runs),
        refresh_interval=max(5, refresh),
        profile=bool(args.profile),
        out_dir=args.out_dir.resolve(),
        log_dir=(args.log_dir or cache_dir() / "bench" / stamp).resolve(),
        merge=bool(args.merge),
        recompute=bool(args.recompute),
        floor=bool(args.floor),
        profile_memory=bool(args.profile_memory),
        soak_seconds=max(0.0, float(args.soak_seconds)),
        soak_rate=float(args.soak_rate),
        soak_ahead=max(1, int(args.soak_live)),
        soak_trace=bool(args.soak_trace),
        shards=max(0, int(args.shards)),
        skip_main=bool(args.skip_main),
    )


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s bench %(message)s")
    opts = parse_args(argv)
    opts.out_dir.mkdir(parents=True, exist_ok=True)
    # The operator and the floor start as the image runs them (bench/runtime.py),
    # from a list of absent modules found once here, not at every start.
    export_outside_runtime()
    results_path = opts.out_dir / "results.json"
    if opts.recompute:
        stored = json.loads(results_path.read_text())
        sizes: dict[int, dict[str, dict[str, Any]]] = {}
        for scenario in stored["scenarios"]:
            sizes.setdefault(int(scenario["n"]), {})[scenario["name"]] = scenario
        for by_name in sizes.values():
            if "burst" in by_name and "steady" in by_name:
                derive_call_figures(
                    by_name["burst"],
                    by_name["steady"],
                    float(stored.get("settings", {}).get("pool_refresh_interval_seconds", 0)),
                )
        results_path.write_text(json.dumps(stored, indent=2) + "\n")
        report.write_report(stored, opts.out_dir / "REPORT.md")
        return 0
    previous: list[dict[str, Any]] = []
    previous_settings: dict[str, Any] = {}
    if opts.merge and results_path.exists():
        try:
            stored = json.loads(results_path.read_text())
            previous = list(stored.get("scenarios", []))
            previous_settings = dict(stored.get("settings") or {})
        except (ValueError, AttributeError):
            previous = []
    results: dict[str, Any] = {
        "machine": machine_info(_server_version()),
        "settings": {
            "sizes": list(opts.sizes),
            "steady_seconds": opts.steady_seconds,
            "single_runs": opts.single_runs,
            "pool_refresh_interval_seconds": opts.refresh_interval,
            "interconnects": INTERCONNECTS,
            "link_mbps": LINK_MBPS,
            "provisioning_delay_seconds": 0,
            "apply": (
                f"kubectl apply --server-side, chunks of {APPLY_CHUNK}, {APPLY_PARALLEL} at once"
            ),
        },
        "scenarios": list(previous),
    }
    if opts.skip_main and previous_settings:
        # The stored main scenarios keep the settings they ran with.
        results["settings"] = previous_settings
    for extra in ("soak", "shards"):
        # An opt-in scenario not run this time keeps its stored result: its settings too.
        if extra in previous_settings:
            results["settings"][extra] = previous_settings[extra]
    if opts.soak_seconds > 0:
        results["settings"]["soak"] = {
            "seconds": opts.soak_seconds,
            "rate_per_second": opts.soak_rate,
            "live_set": opts.soak_ahead,
            "pool_refresh_interval_seconds": opts.refresh_interval,
        }
    if opts.shards:
        results["settings"]["shards"] = {
            "shards": opts.shards,
            "pool_refresh_interval_seconds": opts.refresh_interval,
        }
    for n in opts.sizes:
        produced = run_size(n, opts) + run_extras(n, opts, last=n == opts.sizes[-1])
        results["scenarios"] = merged_scenarios(
            results["scenarios"], produced, n, main_ran=not opts.skip_main
        )
        results_path.write_text(json.dumps(results, indent=2) + "\n")
        report.write_report(results, opts.out_dir / "REPORT.md")
        log.info("N=%d done: %s", n, results_path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
