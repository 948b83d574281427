"""Writes bench/REPORT.md from bench/results.json: each figure next to its target.

The generated part (machine, one table per size, calls by operation, writes
by resource, profile) is rebuilt on every run; the hand-written findings in
``bench/analysis.md`` (why a target is missed, what to change, with the
measured evidence) are appended as they are, so re-running keeps them.

``python -m bench.report [results.json] [REPORT.md]`` rewrites the report alone.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ANALYSIS = HERE / "analysis.md"
PROTOCOL_MINIMUM_CALLS = 14


@dataclass(frozen=True)
class Figure:
    """One row: where the number is, its unit, the target and how to judge it."""

    scenario: str
    key: str
    label: str
    target: str
    check: Callable[[Any, int], bool | None]
    unit: str = ""


def _at_most(limit: float) -> Callable[[Any, int], bool | None]:
    return lambda v, _n: None if v is None else float(v) <= limit


def _at_least(limit: float) -> Callable[[Any, int], bool | None]:
    return lambda v, _n: None if v is None else float(v) >= limit


def _at_least_at(limit: float, size: int) -> Callable[[Any, int], bool | None]:
    return lambda v, n: (None if v is None else float(v) >= limit) if n >= size else None


def _at_most_at(limit: float, size: int) -> Callable[[Any, int], bool | None]:
    return lambda v, n: (None if v is None else float(v) <= limit) if n >= size else None


def _at_most_per_size(limits: Mapping[int, float]) -> Callable[[Any, int], bool | None]:
    """A limit for the sizes the issue names (others: no verdict)."""
    return lambda v, n: None if v is None or n not in limits else float(v) <= limits[n]


def _true(v: Any, _n: int) -> bool | None:
    return None if v is None else bool(v)


def _none(_v: Any, _n: int) -> bool | None:
    return None


def _max_value(v: Any) -> Any:
    if isinstance(v, Mapping):
        return max(v.values()) if v else None
    return v


FIGURES: tuple[Figure, ...] = (
    Figure("floor", "links_per_second", "floor operator: links/s", "-", lambda v, n: None),
    Figure(
        "floor",
        "operator_cpu_ms_per_link",
        "floor operator: CPU per link (psutil)",
        "-",
        lambda v, n: None,
        "ms",
    ),
    Figure("floor", "rss_mib_peak", "floor operator: RSS peak", "-", lambda v, n: None, "MiB"),
    Figure("burst", "seconds_to_all_ready", "seconds until all Ready", "-", lambda v, n: None, "s"),
    Figure("burst", "links_per_second", "links/s", ">= 50 at N=1000", _at_least_at(50, 1000)),
    Figure(
        "burst", "floor_rate_ratio", "links/s as a ratio of the floor's", ">= 0.7", _at_least(0.7)
    ),
    Figure(
        "burst",
        "cpu_per_link_vs_floor",
        "CPU per link as a multiple of the floor's",
        "-",
        lambda v, n: None,
    ),
    Figure("burst", "p50_ms", "apply-to-Ready p50", "-", lambda v, n: None, "ms"),
    Figure("burst", "p99_ms", "apply-to-Ready p99", "-", lambda v, n: None, "ms"),
    Figure("burst", "max_ms", "apply-to-Ready max", "-", lambda v, n: None, "ms"),
    Figure(
        "burst",
        "operator_cpu_ms_per_link",
        "operator CPU per link (psutil)",
        "-",
        lambda v, n: None,
        "ms",
    ),
    Figure(
        "burst",
        "operator_cpu_percent",
        "operator CPU during burst, % of one core",
        "-",
        lambda v, n: None,
        "%",
    ),
    Figure(
        "burst",
        "provider_calls_per_link",
        "provider calls per link to Ready (minus refresh)",
        f"<= 15 (protocol minimum {PROTOCOL_MINIMUM_CALLS})",
        _at_most(15),
    ),
    Figure("burst", "k8s_writes_per_link", "Kubernetes writes per link", "<= 4", _at_most(4)),
    Figure(
        "burst",
        "rss_mib_peak",
        "operator RSS peak during burst",
        "<= 128 MiB",
        _at_most(128),
        "MiB",
    ),
    Figure("single", "p50_ms", "single link apply-to-Ready p50", "<= 50 ms", _at_most(50), "ms"),
    Figure(
        "single",
        "p99_ms",
        "single link apply-to-Ready p99",
        "<= 150 ms, <= 250 ms at N=10,000",
        _at_most_per_size({100: 150.0, 1000: 150.0, 10000: 250.0}),
        "ms",
    ),
    Figure("single", "max_ms", "single link apply-to-Ready max", "-", lambda v, n: None, "ms"),
    Figure(
        "single",
        "server_p99_ms",
        "single link create-to-Ready-status p99 (API server's clock)",
        "-",
        lambda v, n: None,
        "ms",
    ),
    Figure(
        "single",
        "operator_cpu_ms_per_link",
        "operator CPU of one link (psutil)",
        "-",
        lambda v, n: None,
        "ms",
    ),
    Figure(
        "single",
        "provider_calls_per_link",
        "provider calls of one link (exact)",
        "<= 15",
        _at_most(15),
    ),
    Figure("single", "k8s_writes_per_link", "Kubernetes writes of one link", "<= 4", _at_most(4)),
    Figure(
        "steady", "steady_calls_per_link", "provider calls per link in the window", "0", _at_most(0)
    ),
    Figure(
        "steady",
        "list_calls_per_interconnect_per_refresh",
        "list calls per interconnect per refresh (worst side)",
        "<= 2",
        lambda v, n: None if _max_value(v) is None else float(_max_value(v)) <= 2,
    ),
    Figure(
        "steady",
        "idle_cpu_percent",
        "operator CPU, % of one core",
        "<= 1 at N=1000, <= 3 at N=10,000",
        _at_most_per_size({1000: 1.0, 10000: 3.0}),
        "%",
    ),
    Figure("steady", "k8s_writes", "Kubernetes writes in the window", "0", _at_most(0)),
    Figure(
        "steady",
        "rss_mib_peak",
        "operator RSS peak (whole run so far)",
        "<= 128 MiB at N=1000",
        _at_most_at(128, 1000),
        "MiB",
    ),
    Figure(
        "steady",
        "rss_mib_settled",
        "operator RSS settled",
        "<= 128 MiB at N=1000, <= 256 MiB at N=10,000",
        _at_most_per_size({1000: 128.0, 10000: 256.0}),
        "MiB",
    ),
    Figure(
        "restart",
        "recovery_seconds",
        "restart: seconds until every link confirmed",
        "-",
        lambda v, n: None,
        "s",
    ),
    Figure(
        "restart",
        "existing_confirmed_seconds",
        "restart: seconds until every link Ready before the kill is confirmed",
        "<= 3 s at N=1000, <= 10 s at N=10,000",
        _at_most_per_size({1000: 3.0, 10000: 10.0}),
        "s",
    ),
    Figure(
        "restart", "recovery_mutating_calls", "restart: mutating provider calls", "0", _at_most(0)
    ),
    Figure("restart", "recovery_status_writes", "restart: status writes", "0", _at_most(0)),
    Figure("restart", "links_changed", "restart: links whose object changed", "0", _at_most(0)),
    Figure("restart", "probe_ready", "restart: link applied meanwhile Ready", "yes", _true),
)


#: The churn soak (bench/soak.py), one run at the size it is stored under.
SOAK_FIGURES: tuple[Figure, ...] = (
    Figure("soak", "soak_seconds", "churn length", "900 s (issue)", lambda v, n: None, "s"),
    Figure("soak", "rate_per_second", "links created and deleted per second", "5", _none),
    Figure("soak", "live_set", "links alive throughout", "-", _none),
    Figure("soak", "warmup_seconds", "warm-up (first third, at most 180 s)", "-", _none, "s"),
    Figure("soak", "rss_mib_warmup_end", "RSS at the end of warm-up (median)", "-", _none, "MiB"),
    Figure("soak", "rss_mib_end", "RSS at the end of the churn (median)", "-", _none, "MiB"),
    Figure(
        "soak",
        "rss_growth_percent",
        "RSS growth after warm-up",
        "<= 5 %",
        _at_most(5),
        "%",
    ),
    Figure("soak", "rss_mib_max_after_warmup", "RSS max after warm-up", "-", _none, "MiB"),
    Figure(
        "soak",
        "rss_slope_mib_per_hour_after_warmup",
        "RSS trend after warm-up (least squares)",
        "-",
        _none,
        "MiB/h",
    ),
    Figure("soak", "rss_mib_after_drain", "RSS after the drain", "-", _none, "MiB"),
    Figure("soak", "links_created", "links created", "-", _none),
    Figure("soak", "links_deleted", "links deleted (seen gone)", "= created", _none),
    Figure("soak", "links_ready", "links Ready before their delete", "-", _none),
    Figure("soak", "drained", "every link gone after the drain", "yes", _true),
    Figure(
        "soak",
        "provider_leftovers_total",
        "provider leftovers after the drain (connections, features, usable keys)",
        "0",
        _at_most(0),
    ),
    Figure(
        "soak",
        "k8s_configmaps_left",
        "ConfigMaps the operator created and did not delete",
        "0",
        _at_most(0),
    ),
    Figure(
        "soak",
        "provider_calls_per_churned_link",
        "provider calls per churned link (create + delete, refresh included)",
        "-",
        _none,
    ),
    Figure("soak", "link_calls_per_churned_link", "of them on the link's own objects", "-", _none),
    Figure("soak", "k8s_writes_per_churned_link", "Kubernetes writes per churned link", "-", _none),
    Figure("soak", "operator_cpu_percent", "operator CPU during the churn", "-", _none, "%"),
    Figure(
        "soak",
        "operator_cpu_ms_per_churned_link",
        "operator CPU per churned link",
        "-",
        _none,
        "ms",
    ),
)

#: The sharded burst (bench/shards.py): the issue's targets at N=10,000.
SHARD_FIGURES: tuple[Figure, ...] = (
    Figure("shards", "shards", "operator processes (one pool each)", "2", _none),
    Figure("shards", "seconds_to_all_ready", "seconds until all Ready", "-", _none, "s"),
    Figure(
        "shards",
        "links_per_second",
        "links/s (all shards)",
        ">= 50 at N=1000",
        _at_least_at(50, 1000),
    ),
    Figure("shards", "p99_ms", "apply-to-Ready p99", "-", _none, "ms"),
    Figure(
        "shards",
        "operator_cpu_ms_per_link",
        "operator CPU per link (all shards)",
        "<= 10 ms at N=1000",
        _at_most_at(10, 1000),
        "ms",
    ),
    Figure(
        "shards",
        "link_operation_calls_per_link",
        "provider calls per link on its own objects",
        "<= 14.1",
        _at_most(14.1),
    ),
    Figure(
        "shards",
        "provider_calls_per_link",
        "provider calls per link, refresh included",
        "-",
        _none,
    ),
    Figure("shards", "k8s_writes_per_link", "Kubernetes writes per link", "<= 4", _at_most(4)),
    Figure("shards", "isolated", "no cross-shard write, series or log line", "yes", _true),
)


def _fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Mapping):
        return ", ".join(f"{k} {_fmt(v)}" for k, v in value.items()) or "n/a"
    if isinstance(value, float):
        text = f"{value:.2f}".rstrip("0").rstrip(".") if abs(value) < 100 else f"{value:.0f}"
    else:
        text = str(value)
    return f"{text} {unit}".strip()


def _verdict(ok: bool | None) -> str:
    return {True: "met", False: "**missed**", None: ""}[ok]


def _by_size(scenarios: Sequence[Mapping[str, Any]]) -> dict[int, dict[str, Mapping[str, Any]]]:
    out: dict[int, dict[str, Mapping[str, Any]]] = {}
    for s in scenarios:
        out.setdefault(int(s["n"]), {})[str(s["name"])] = s
    return dict(sorted(out.items()))


def summary_table(results: Mapping[str, Any]) -> list[str]:
    sizes = _by_size(results.get("scenarios", []))
    if not sizes:
        return ["No results yet: run `make bench`."]
    header = "| scenario | figure | target | " + " | ".join(f"N={n}" for n in sizes) + " |"
    lines = [header, "|" + " --- |" * (3 + len(sizes))]
    for fig in FIGURES:
        cells = []
        for n, by_name in sizes.items():
            scenario = by_name.get(fig.scenario)
            if scenario is None or fig.key not in scenario:
                cells.append("n/a")
                continue
            value = scenario[fig.key]
            verdict = _verdict(fig.check(value, n))
            cells.append(f"{_fmt(value, fig.unit)} {verdict}".strip())
        lines.append(f"| {fig.scenario} | {fig.label} | {fig.target} | " + " | ".join(cells) + " |")
    return lines


def missed(results: Mapping[str, Any]) -> list[str]:
    """Human-readable list of missed targets (also used by the smoke test's output)."""
    out = []
    for n, by_name in _by_size(results.get("scenarios", [])).items():
        for fig in (*FIGURES, *SOAK_FIGURES, *SHARD_FIGURES):
            scenario = by_name.get(fig.scenario)
            if scenario is None or fig.key not in scenario:
                continue
            value = _fmt(scenario[fig.key], fig.unit)
            if fig.check(scenario[fig.key], n) is False:
                out.append(f"N={n} {fig.scenario}: {fig.label} = {value} (target {fig.target})")
    return out


def _existing_confirmed(restart: Mapping[str, Any]) -> str:
    """Where the restart's headline figure comes from: the operator's own line at the
    end of its bulk confirmation, or the harness's ``/metrics`` poll (and when the
    poll saw it, for comparison)."""
    source = restart.get("existing_confirmed_from")
    if not source:
        return ""
    text = (
        f"; every link Ready before the kill confirmed after "
        f"{_fmt(restart.get('existing_confirmed_seconds'), 's')} ({source}"
    )
    polled = restart.get("existing_confirmed_poll_seconds")
    if source != "metrics poll" and polled is not None:
        text += f"; the `/metrics` poll first showed them all at {_fmt(polled, 's')}"
    return text + ")"


def _profile(what: str, scenario: Mapping[str, Any]) -> list[str]:
    profile = scenario.get("profile")
    if not profile:
        if scenario.get("profile_error"):
            return [f"Profile of the {what}: not taken ({scenario['profile_error']}).", ""]
        return []
    lines = [
        f"Profile of the operator during the {what} (py-spy, {profile.get('samples')} samples "
        "of CPU-active threads; self = innermost frame, owner = innermost non-stdlib frame, "
        "inclusive = anywhere below the event loop's dispatch):",
        "",
        "| where | self % | owner % | inclusive % |",
        "| --- | --- | --- | --- |",
    ]
    for cat in profile.get("inclusive_percent", {}):
        lines.append(
            f"| {cat} | {_fmt(profile['self_percent'].get(cat, 0.0))} | "
            f"{_fmt(profile['owner_percent'].get(cat, 0.0))} | "
            f"{_fmt(profile['inclusive_percent'].get(cat, 0.0))} |"
        )
    lines += [
        "",
        "Hottest leaf functions (%): " + _fmt(profile.get("top_leaf_functions")) + ".",
        "",
        "Our code, inclusive (%): " + _fmt(profile.get("top_our_functions_inclusive")) + ".",
        "",
    ]
    return lines


def floor_table(results: Mapping[str, Any]) -> list[str]:
    """The operator's burst and the floor's, side by side, per size (same run)."""
    rows = []
    for n, by_name in _by_size(results.get("scenarios", [])).items():
        floor, burst = by_name.get("floor"), by_name.get("burst")
        if not floor or not burst:
            continue
        rows.append(
            f"| {n} | {_fmt(floor.get('links_per_second'))} | {_fmt(burst.get('links_per_second'))}"
            f" | {_fmt(burst.get('floor_rate_ratio'))} | "
            f"{_fmt(floor.get('operator_cpu_ms_per_link'), 'ms')} | "
            f"{_fmt(burst.get('operator_cpu_ms_per_link'), 'ms')} | "
            f"{_fmt(burst.get('cpu_per_link_vs_floor'))} | "
            f"{_fmt(floor.get('provider_calls_per_link'))} | "
            f"{_fmt(burst.get('provider_calls_per_link'))} | "
            f"{_fmt(floor.get('k8s_writes_per_link'))} | "
            f"{_fmt(burst.get('k8s_writes_per_link'))} | "
            f"{_fmt(floor.get('rss_mib_peak'), 'MiB')} | "
            f"{_fmt(burst.get('rss_mib_peak'), 'MiB')} |"
        )
    if not rows:
        return []
    notes = []
    for n, by_name in _by_size(results.get("scenarios", [])).items():
        floor, burst = by_name.get("floor"), by_name.get("burst")
        if not floor or not burst or not floor.get("runs"):
            continue
        runs = "; ".join(
            f"{_fmt(r.get('links_per_second'))} links/s, {_fmt(r.get('operator_cpu_ms_per_link'))}"
            f" ms/link at load {_fmt(r.get('load_average'))}"
            for r in floor["runs"]
        )
        notes.append(
            f"N={n}: floor runs (before and after the operator's): {runs}; the operator's "
            f"burst at load {_fmt(burst.get('load_average'))}."
        )
    return [
        "## The floor, side by side",
        "",
        "The floor (bench/floor.py) is a minimal kopf operator that per link makes the same",
        "Kubernetes writes and the same 14 provider calls to the same simulators and nothing",
        "else; it runs before and after the operator at each size, each time on a fresh control",
        "plane and simulators of its own, and the ratio uses the mean of the two. On a shared",
        "2-core machine absolute figures move with the load; the ratios are the measure.",
        "",
        "| N | floor links/s | ours links/s | ratio (goal >= 0.7) | floor CPU/link | ours CPU/link"
        " | ours / floor | floor calls/link | ours calls/link | floor writes/link"
        " | ours writes/link | floor RSS peak | ours RSS peak |",
        "|" + " --- |" * 13,
        *rows,
        "",
        *(line for note in notes for line in (note, "")),
    ]


def memory_section(results: Mapping[str, Any]) -> list[str]:
    """Top allocators of the operator (tracemalloc) at each size that was profiled."""
    lines: list[str] = []
    for n, by_name in _by_size(results.get("scenarios", [])).items():
        memory = by_name.get("memory")
        if not memory:
            continue
        if not lines:
            lines = ["## Memory profile (tracemalloc)", ""]
        lines += [
            f"N={n}: {memory.get('links')} links Ready; traced "
            f"{_fmt(memory.get('traced_mib'), 'MiB')}"
            f" (peak {_fmt(memory.get('traced_peak_mib'), 'MiB')}), RSS with tracing on "
            f"{_fmt(memory.get('rss_mib'), 'MiB')} (tracing costs memory of its own; the RSS "
            "rows above are without it); `kubernetes` imported: "
            f"{_fmt(memory.get('kubernetes_imported'))}. Top allocators by line:",
            "",
            "| where | MiB | blocks |",
            "| --- | --- | --- |",
        ]
        for row in memory.get("top_lines", []):
            lines.append(f"| {row['where']} | {_fmt(row['mib'])} | {row['count']} |")
        lines += ["", "By file:", "", "| file | MiB |", "| --- | --- |"]
        for row in memory.get("top_files", []):
            lines.append(f"| {row['where']} | {_fmt(row['mib'])} |")
        lines.append("")
    return lines


def _figure_rows(figures: Sequence[Figure], scenario: Mapping[str, Any], n: int) -> list[str]:
    rows = ["| figure | target | value |", "| --- | --- | --- |"]
    for fig in figures:
        if fig.key not in scenario:
            continue
        value = scenario[fig.key]
        cell = f"{_fmt(value, fig.unit)} {_verdict(fig.check(value, n))}".strip()
        rows.append(f"| {fig.label} | {fig.target} | {cell} |")
    return rows


def soak_section(results: Mapping[str, Any]) -> list[str]:
    """The churn soak: RSS growth after warm-up, leftovers, calls per churned link."""
    lines: list[str] = []
    for n, by_name in _by_size(results.get("scenarios", [])).items():
        soak = by_name.get("soak")
        if not soak:
            continue
        if not lines:
            lines = [
                "## Churn soak",
                "",
                "`--soak-seconds S --soak-rate R` (bench/soak.py; `BENCH_SOAK_SECONDS`): a fresh",
                "world, a live set of links created at once, then R links created and R deleted",
                "(oldest first) per second for S seconds, fired without waiting for the operator;",
                "then every link deleted. Warm-up: the first third of the churn, at most 180 s.",
                "RSS at a point: the median of the psutil samples in a window ending there.",
                "Leftovers: connections, features and usable activation keys at either simulator",
                "that no live link holds once the drain is done and, if any, again after two pool",
                "refresh intervals (the figure judged; P19).",
                "",
            ]
        series = soak.get("rss_series") or []
        step = max(1, len(series) // 12)
        shown = ", ".join(f"{p[0]:.0f}s {p[1]:.0f}" for p in series[::step])
        lines += [
            f"N={n} (pool sized for N), run at {soak.get('run_at', '?')}:",
            "",
            *_figure_rows(SOAK_FIGURES, soak, n),
            "",
            f"Leftovers by provider: {_fmt(soak.get('provider_leftovers'))} (when the drain was "
            f"done: {_fmt(soak.get('provider_leftovers_at_drain'))}; grace "
            f"{_fmt(soak.get('leftover_grace_seconds'), 's')}). API failures: "
            f"{_fmt(soak.get('api_failures')) if soak.get('api_failures') else 'none'}. "
            "Delete to gone: "
            f"{_fmt(soak.get('delete_to_gone'))} (ms). Calls per churned link by operation: "
            f"{_fmt(soak.get('calls_by_operation_per_link'))}.",
            "",
            f"RSS (MiB) by seconds since the churn began: {shown or 'n/a'}.",
            "",
            *_trace_growth_lines(soak.get("trace_growth")),
        ]
    return lines


def _trace_growth_lines(growth: Mapping[str, Any] | None) -> list[str]:
    """The soak's ``--soak-trace``: traced growth from warm-up to the end, by traceback."""
    if not growth:
        return []
    lines = [
        "Traced (tracemalloc, "
        f"{growth.get('frames', '?')} frames; the traced operator is slower and larger): "
        f"{_fmt(growth.get('traced_mib_before'), 'MiB')} at the end of warm-up, "
        f"{_fmt(growth.get('traced_mib_after'), 'MiB')} at the end of the churn "
        f"({_fmt(growth.get('traced_growth_kib'), 'KiB')}, "
        f"{_fmt(growth.get('bytes_per_link_churned_after_warmup'))} bytes per link churned after "
        "the warm-up). The RSS rows of a traced soak carry the snapshots' own cost (the "
        "warm-up's adds a step of a few MiB). Largest growth by traceback (innermost frame "
        "first):",
        "",
        "| KiB grown | blocks grown | KiB held | where |",
        "| --- | --- | --- | --- |",
    ]
    for row in growth.get("top_growth", []):
        where = " < ".join(str(w) for w in row.get("where", []))
        lines.append(
            f"| {_fmt(row.get('kib_diff'))} | {_fmt(row.get('count_diff'))} | "
            f"{_fmt(row.get('kib'))} | {where} |"
        )
    lines.append("")
    return lines


def shards_section(results: Mapping[str, Any]) -> list[str]:
    """The sharded burst: totals with targets, then one row per shard."""
    lines: list[str] = []
    for n, by_name in _by_size(results.get("scenarios", [])).items():
        shards = by_name.get("shards")
        if not shards:
            continue
        if not lines:
            lines = [
                "## Shards",
                "",
                "`--shards K` (bench/shards.py; `BENCH_SHARDS`): K CapacityPools labelled",
                "`interconnect.io/shard=<k>` (one simulator environment each), K operator",
                "processes each started with `--pool-selector interconnect.io/shard=<k>` under a",
                "ServiceAccount of its own, N links spread evenly over the pools and applied at",
                "once. Calls per link on its own objects exclude the pool refresh; per shard,",
                "calls are the shard's own `interconnect_provider_requests_total` (refresh",
                "included). Isolation: no write by a shard's ServiceAccount to another shard's",
                "pool or links (audit log), no other shard's link or pool in its `/metrics`, no",
                "other shard's link named in its log.",
                "",
            ]
        incomplete = (
            []
            if shards.get("all_ready", True)
            else [
                f"**Incomplete run:** the harness saw {shards.get('ready')} of {n} links Ready"
                " before its readiness watch ended; the per-link figures below cover only the"
                " window it measured (bench/analysis.md has the figures read from the logs).",
                "",
            ]
        )
        lines += [
            f"N={n}, {shards.get('shards')} shards, run at {shards.get('run_at', '?')}:",
            "",
            *incomplete,
            *_figure_rows(SHARD_FIGURES, shards, n),
            "",
            "| shard | pool | links | Ready | CPU/link | RSS peak | RSS settled | calls/link"
            " | writes/link | own links in /metrics | log errors |",
            "|" + " --- |" * 11,
        ]
        for s in shards.get("per_shard", []):
            problems = s.get("operator_log") or {}
            lines.append(
                f"| {s.get('shard')} | {s.get('pool')} | {s.get('links')} | {s.get('ready')} | "
                f"{_fmt(s.get('operator_cpu_ms_per_link'), 'ms')} | "
                f"{_fmt(s.get('rss_mib_peak'), 'MiB')} | {_fmt(s.get('rss_mib_settled'), 'MiB')}"
                f" | {_fmt(s.get('provider_calls_per_link'))} | "
                f"{_fmt(s.get('k8s_writes_per_link'))} | {s.get('own_links_in_metrics')} of "
                f"{s.get('links_in_metrics')} | {problems.get('errors', 0)} |"
            )
        lines.append("")
        lines += [
            "Provider calls per link by operation (both simulators, refresh included): "
            + _fmt(shards.get("calls_by_operation"))
            + ".",
            "",
        ]
        cross = shards.get("cross_shard") or []
        if cross:
            lines += ["Cross-shard failures:", "", *(f"- {c}" for c in cross), ""]
    return lines


def _refresh_cpu_ms(steady: Mapping[str, Any]) -> float | None:
    """Operator CPU per pool refresh in the steady window (idle CPU / refreshes)."""
    refreshes = max((steady.get("refreshes") or {}).values(), default=0)
    if not refreshes or "idle_cpu_percent" not in steady:
        return None
    cpu_s = float(steady["idle_cpu_percent"]) / 100.0 * float(steady.get("window_seconds", 0))
    return round(1000.0 * cpu_s / refreshes, 1)


def growth_table(results: Mapping[str, Any]) -> list[str]:
    """How the per-link costs grow with N, from every size results.json holds."""
    sizes = {n: b for n, b in _by_size(results.get("scenarios", [])).items() if "burst" in b}
    if not sizes:
        return []
    base_n = min(sizes)
    base_rss = (sizes[base_n].get("steady") or {}).get("rss_mib_settled")
    rows = []
    for n, by_name in sizes.items():
        burst = by_name.get("burst") or {}
        steady = by_name.get("steady") or {}
        restart = by_name.get("restart") or {}
        rss = steady.get("rss_mib_settled")
        per_link = round(1024.0 * float(rss) / n, 1) if rss else None
        marginal = (
            round(1024.0 * (float(rss) - float(base_rss)) / (n - base_n), 1)
            if rss and base_rss and n > base_n
            else None
        )
        rows.append(
            f"| {n} | {_fmt(burst.get('links_per_second'))} | "
            f"{_fmt(burst.get('operator_cpu_ms_per_link'), 'ms')} | {_fmt(rss, 'MiB')} | "
            f"{_fmt(per_link, 'KiB')} | {_fmt(marginal, 'KiB')} | "
            f"{_fmt(steady.get('idle_cpu_percent'), '%')} | {_fmt(_refresh_cpu_ms(steady), 'ms')}"
            f" | {_fmt(_max_value(steady.get('list_calls_per_interconnect_per_refresh')))} | "
            f"{_fmt(restart.get('recovery_seconds'), 's')} |"
        )
    return [
        "## Growth with N",
        "",
        "From every size in results.json (each row its own run; see run_at in the details).",
        f"RSS per link: settled RSS / N; marginal: the growth over N={base_n} per added link.",
        "Refresh cost: operator CPU in the steady window divided by the pool refreshes in it",
        "(the steady window holds little else), and list calls per interconnect per refresh.",
        "",
        "| N | burst links/s | CPU per link | RSS settled | RSS per link | marginal RSS per link"
        " | idle CPU | CPU per refresh | list calls/interconnect/refresh | restart |",
        "|" + " --- |" * 10,
        *rows,
        "",
    ]


def _detail(n: int, by_name: Mapping[str, Mapping[str, Any]]) -> list[str]:
    lines = [f"### N={n}", ""]
    burst = by_name.get("burst", {})
    single = by_name.get("single", {})
    steady = by_name.get("steady", {})
    restart = by_name.get("restart", {})
    if burst:
        lines.append(
            f"Burst: {burst.get('ready')}/{n} Ready; kubectl finished applying after "
            f"{_fmt(burst.get('apply_seconds'), 's')}; settled (no operator writes for 5 s) "
            f"{_fmt(burst.get('settle_seconds'), 's')} after the last Ready. Provider calls: "
            f"{burst.get('calls_total')} in total, "
            f"{burst.get('refresh_calls_during_burst')} of them pool-level (steady rate "
            f"predicts {burst.get('refresh_calls_expected_from_steady')}); "
            f"mutating calls per link {_fmt(burst.get('mutating_calls_per_link'))}."
        )
        lines.append("")
        lines.append("| operation | burst calls per link | single link (exact) |")
        lines.append("| --- | --- | --- |")
        ops = sorted(
            set(burst.get("calls_by_operation", {})) | set(single.get("calls_by_operation", {}))
        )
        for op in ops:
            lines.append(
                f"| {op} | {_fmt(burst.get('calls_by_operation', {}).get(op))} | "
                f"{_fmt(single.get('calls_by_operation', {}).get(op))} |"
            )
        lines.append("")
        lines.append(
            "Kubernetes writes by the operator during the burst: "
            + _fmt(burst.get("k8s_writes_by_resource"))
            + f" (total {burst.get('k8s_writes_total')}, {burst.get('k8s_writes_at_all_ready')} "
            "of them by the time the last link was Ready)."
        )
        lines.append("")
    if steady:
        lines.append(
            f"Steady window {_fmt(steady.get('window_seconds'), 's')}: refreshes "
            f"{_fmt(steady.get('refreshes'))}; pool-level calls (refresh, MACsec, maintenance) "
            f"{steady.get('steady_pool_level_calls')}, per-link calls "
            f"{steady.get('steady_link_calls')}; list calls per interconnect per refresh by "
            f"operation {_fmt(steady.get('list_calls_per_interconnect_per_refresh_by_operation'))}"
            "; Kubernetes writes "
            f"{_fmt(steady.get('k8s_writes_by_resource')) if steady.get('k8s_writes') else 0}."
        )
        lines.append("")
    if restart:
        other_writes = (
            _fmt(restart.get("recovery_k8s_writes_by_resource"))
            if restart.get("recovery_k8s_writes")
            else 0
        )
        fields = _fmt(restart.get("status_fields_changed")) or "none"
        lines.append(
            f"Restart: {restart.get('confirmed')}/{restart.get('links')} links confirmed Ready "
            "by the "
            f"new process (its `interconnect_link_ready` gauges) after "
            f"{_fmt(restart.get('recovery_seconds'), 's')} (process live after "
            f"{_fmt(restart.get('restart_to_live_seconds'), 's')}){_existing_confirmed(restart)}; "
            "provider calls "
            f"{_fmt(restart.get('recovery_calls_by_operation'))}; mutating calls raw "
            f"{restart.get('recovery_mutating_calls_raw')} of which the link applied meanwhile "
            f"is expected to need {_fmt(restart.get('probe_mutating_calls_expected'))}; "
            f"Kubernetes writes other than the new link's: "
            f"{other_writes}; new link Ready "
            f"{_fmt(restart.get('probe_seconds_to_ready'), 's')} after the restart began; "
            f"status fields that changed (links): {fields}."
        )
        lines.append("")
    lines.extend(_profile("burst", burst))
    lines.extend(_profile("single-link runs", single))
    lines.extend(
        _profile("steady window (refreshes, rechecks, MACsec and maintenance rounds)", steady)
    )
    lines.extend(_profile("restart (until every link was confirmed)", restart))
    return lines


def render(results: Mapping[str, Any], *, findings: bool = True) -> str:
    machine = results.get("machine", {})
    settings = results.get("settings", {})
    lines = [
        "# Benchmark report",
        "",
        "Generated by `make bench` (bench/run.py, bench/report.py) from `bench/results.json`;",
        "the findings at the end are written by hand (bench/analysis.md).",
        "",
        "Setup: a fresh kube-apiserver + etcd of the test rig per size (audit log on), two",
        "simulators (`--provisioning-delay 0`, inventory with room for every link), the operator",
        "as a separate process under the chart's ServiceAccount. Apply-to-Ready = the harness's",
        "own monotonic time when kubectl reported the object applied (burst) or before the create",
        "call (single), to the first watch event (`kubectl get -w`) with Ready=True; beside it",
        "(single) the API server's own clock from the create's arrival to the end of the",
        "operator's last status patch of the link (audit log), which leaves the harness out.",
        "Kubernetes writes = audit events (create/update/patch/delete) of the operator's user,",
        "Events included.",
        "",
        "Machine: "
        + ", ".join(
            f"{k} {v}"
            for k, v in machine.items()
            if k
            in (
                "cores",
                "cpu_model",
                "memory_mib",
                "python",
                "kopf",
                "kubernetes",
                "pydantic",
                "httpx",
                "aiohttp",
                "load_average_at_start",
            )
        ),
        "",
        "Settings: " + ", ".join(f"{k} {v}" for k, v in settings.items()),
        "",
        "## Figures and targets",
        "",
        *summary_table(results),
        "",
        *floor_table(results),
        *memory_section(results),
        *growth_table(results),
        *soak_section(results),
        *shards_section(results),
        "## Details",
        "",
    ]
    for n, by_name in _by_size(results.get("scenarios", [])).items():
        lines.extend(_detail(n, by_name))
    if findings and ANALYSIS.exists():
        lines.extend(["## Findings", "", ANALYSIS.read_text().strip(), ""])
    return "\n".join(lines).rstrip() + "\n"


def write_report(results: Mapping[str, Any], path: Path) -> None:
    """Write the report; the hand-written findings go only into bench/REPORT.md itself."""
    findings = path.resolve() == (HERE / "REPORT.md").resolve()
    path.write_text(render(results, findings=findings))


def main(argv: Sequence[str]) -> int:
    results_path = Path(argv[0]) if argv else HERE / "results.json"
    out = Path(argv[1]) if len(argv) > 1 else HERE / "REPORT.md"
    write_report(json.loads(results_path.read_text()), out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
