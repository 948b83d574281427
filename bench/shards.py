"""The sharded burst: K operator processes, each owning one CapacityPool, N links over the K pools.

A world of its own (bench/world.py's pieces): one control plane with its
audit log on, two simulators whose inventory has one environment per pool
(each with the interconnects of the single-process runs and room for N/K
links), and per shard k a CapacityPool ``bench-pool-shard-k`` labelled
``interconnect.io/shard=k``, its own ServiceAccount (so the audit log tells
the shards' writes apart) and an operator process started with
``--pool-selector interconnect.io/shard=k``. N links, spread evenly over the
pools (``shard<k>-link-<i>``), are applied at once as in the burst.

Reported: seconds until all Ready, links/s, provider calls and Kubernetes
writes per link, and per shard its links, CPU per link, RSS peak and settled,
calls per link (its own ``interconnect_provider_requests_total``) and writes
per link. Isolation, each a failure recorded in ``cross_shard``: a write by
one shard's ServiceAccount to an object named for another shard's pool or
links; a link or pool of another shard in a shard's ``/metrics``; another
shard's link named in a shard's log.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.cluster import ControlPlane, kubectl_path, make_sa_kubeconfig
from tests.support.stack import (
    POOL_ENVIRONMENT,
    Kube,
    OperatorProcess,
    Simulator,
    is_ready,
    link_manifest,
    pool_manifests,
    start_operator,
    start_simulator,
    wait_for,
)

from bench.measure import (
    LINK_OPERATIONS,
    AuditReader,
    ProcessSampler,
    ReadyWatcher,
    cpu_seconds,
    latency_summary,
    merge_ops,
    read_stats,
    reset_stats,
    wait_quiet,
)
from bench.world import (
    CRDS,
    LINK_MBPS,
    OPERATOR_NAMESPACE,
    RUNTIME,
    Options,
    apply_files,
    operator_log_problems,
    pythonpath,
    write_chunks,
    write_inventory,
)
from interconnect_operator.k8s.rbac import render_rbac

log = logging.getLogger("bench")

NAMESPACE = "bench-shards"
SHARD_LABEL = "interconnect.io/shard"
_LINK_SERIES = re.compile(r"^interconnect_link_ready\{([^}]*)\}", re.M)
_POOL_SERIES = re.compile(r'^interconnect_pool_links\{[^}]*pool="([^"]+)"', re.M)
_LABEL = re.compile(r'(\w+)="([^"]*)"')
_REQUESTS = re.compile(r"^interconnect_provider_requests_total\{[^}]*\} (\S+)$", re.M)


@dataclass
class Shard:
    index: int
    pool: str
    service_account: str
    operator: OperatorProcess
    audit: AuditReader
    sampler: ProcessSampler

    @property
    def prefix(self) -> str:
        return link_prefix(self.index)


def link_prefix(index: int) -> str:
    return f"shard{index}-link-"


def shard_pool(index: int) -> str:
    return f"bench-pool-shard-{index}"


def _environment(index: int) -> str:
    return f"{POOL_ENVIRONMENT}-shard-{index}"


def _start_shard(
    index: int,
    kube: Kube,
    cp: ControlPlane,
    log_dir: Path,
    aws: Simulator,
    gcp: Simulator,
    opts: Options,
) -> Shard:
    pool, sa = shard_pool(index), f"interconnect-operator-shard-{index}"
    kube.apply(
        render_rbac(
            OPERATOR_NAMESPACE,
            sa,
            name=f"interconnect-operator-bench-shard-{index}",
            link_secret_namespaces=["*"],
        )
    )
    kubeconfig = make_sa_kubeconfig(
        OPERATOR_NAMESPACE, sa, log_dir / f"shard-{index}.kubeconfig", kubeconfig=cp.kubeconfig
    )
    docs = pool_manifests(
        pool,
        negotiator=gcp,
        responder=aws,
        operator_namespace=OPERATOR_NAMESPACE,
        refresh_interval=opts.refresh_interval,
        environment=_environment(index),
    )
    docs[-1]["metadata"]["labels"] = {SHARD_LABEL: str(index)}
    kube.apply(docs)
    operator = start_operator(
        kubeconfig,
        log_dir=log_dir,
        operator_namespace=OPERATOR_NAMESPACE,
        extra_args=("--pool-selector", f"{SHARD_LABEL}={index}"),
        env={"PYTHONPATH": pythonpath()},
        name=f"operator-shard-{index}",
        command=(*RUNTIME, "interconnect_operator.cli"),
    )
    audit_path = cp.audit_log_path
    assert audit_path is not None
    return Shard(
        index=index,
        pool=pool,
        service_account=sa,
        operator=operator,
        audit=AuditReader(audit_path, f"system:serviceaccount:{OPERATOR_NAMESPACE}:{sa}"),
        sampler=ProcessSampler(operator.process.pid),
    )


def _metrics_names(operator: OperatorProcess) -> tuple[set[str], set[str], set[str], float]:
    """(link names, their pools, pools, provider requests) in the shard's /metrics."""
    text = operator.metrics()
    links, link_pools = set(), set()
    for labels in _LINK_SERIES.findall(text):
        pairs = dict(_LABEL.findall(labels))
        links.add(pairs.get("name", ""))
        link_pools.add(pairs.get("pool", ""))
    requests = sum(float(v) for v in _REQUESTS.findall(text))
    return links, link_pools, set(_POOL_SERIES.findall(text)), requests


def isolation_failures(
    shard: Shard,
    shards: list[Shard],
    written: set[str],
    metrics: tuple[set[str], set[str], set[str]],
) -> list[str]:
    """Every sign of this shard touching another shard's pool or links."""
    others = [s for s in shards if s.index != shard.index]
    links, link_pools, pools = metrics
    out = []
    for other in others:
        foreign_writes = sorted(
            name for name in written if name.startswith(other.prefix) or name == other.pool
        )
        if foreign_writes:
            out.append(
                f"shard {shard.index} wrote {len(foreign_writes)} objects of shard {other.index} "
                f"(e.g. {foreign_writes[0]})"
            )
        foreign_links = sorted(n for n in links if n.startswith(other.prefix))
        if foreign_links:
            out.append(
                f"shard {shard.index}'s /metrics names {len(foreign_links)} links of shard "
                f"{other.index} (e.g. {foreign_links[0]})"
            )
        if other.pool in pools or other.pool in link_pools:
            out.append(f"shard {shard.index}'s /metrics names pool {other.pool}")
        mentions = shard.operator.log().count(other.prefix)
        if mentions:
            out.append(
                f"shard {shard.index}'s log names shard {other.index}'s links {mentions} times"
            )
    return out


def run_shards(n: int, k: int, opts: Options, log_dir: Path) -> dict[str, Any]:
    """K shards, N links over K pools, all applied at once."""
    log_dir.mkdir(parents=True, exist_ok=True)
    cp = ControlPlane(log_dir=log_dir / "controlplane", audit=True)
    cp.start()
    shards: list[Shard] = []
    sims: list[Simulator] = []
    try:
        kube = Kube(cp.kubeconfig)
        kube.run("apply", "--server-side", "--force-conflicts", "-f", str(CRDS))
        kube.run("wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")
        inventory = log_dir / "inventory.yaml"
        write_inventory(inventory, n, [_environment(i) for i in range(k)])
        tokens = {"aws": secrets.token_hex(16), "gcp": secrets.token_hex(16)}
        inv = ["--inventory", str(inventory)]
        aws = start_simulator("aws", log_dir=log_dir, tokens={"gcp": tokens["aws"]}, extra_args=inv)
        sims.append(aws)
        gcp = start_simulator("gcp", log_dir=log_dir, tokens={"aws": tokens["gcp"]}, extra_args=inv)
        sims.append(gcp)
        for ns in (OPERATOR_NAMESPACE, NAMESPACE):
            kube.apply([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}])
        for i in range(k):
            shards.append(_start_shard(i, kube, cp, log_dir, aws, gcp, opts))
        for shard in shards:
            wait_for(
                lambda pool=shard.pool: is_ready(kube.try_get("cpool", pool)),
                120,
                f"{shard.pool} Ready",
                interval=0.5,
            )
        _probe(kube, shards)
        return _burst(n, shards, (aws, gcp), cp, log_dir)
    finally:
        for shard in shards:
            shard.sampler.stop()
            shard.operator.stop()
        for sim in sims:
            sim.stop()
        cp.stop()


def _probe(kube: Kube, shards: list[Shard]) -> None:
    """One link per shard up and deleted: every shard's watches are running before the burst
    (a watch started while the API server's storage initialises retries after a backoff)."""
    names = [f"{s.prefix}probe" for s in shards]
    kube.apply(
        [
            link_manifest(nm, NAMESPACE, s.pool, LINK_MBPS)
            for nm, s in zip(names, shards, strict=True)
        ]
    )
    for name in names:
        wait_for(
            lambda name=name: is_ready(kube.try_get("mcl", name, NAMESPACE)),
            120,
            f"probe link {name} Ready",
            interval=0.5,
        )
    kube.run("delete", "mcl", "-n", NAMESPACE, "--wait=true", "--timeout=120s", *names)


def _burst(
    n: int,
    shards: list[Shard],
    sims: tuple[Simulator, Simulator],
    cp: ControlPlane,
    log_dir: Path,
) -> dict[str, Any]:
    k = len(shards)
    names_by_shard = {s.index: [f"{s.prefix}{i:05d}" for i in range(s.index, n, k)] for s in shards}
    manifests = []
    for i in range(n):
        shard = shards[i % k]
        manifests.append(link_manifest(f"{shard.prefix}{i:05d}", NAMESPACE, shard.pool, LINK_MBPS))
    files = write_chunks(log_dir, "shards", manifests)
    names = [str(m["metadata"]["name"]) for m in manifests]
    watcher = ReadyWatcher(str(kubectl_path()), cp.kubeconfig, NAMESPACE)
    time.sleep(1.0)
    reset_stats(sims)
    for shard in shards:
        shard.audit.mark()
    requests0 = {s.index: _metrics_names(s.operator)[3] for s in shards}
    cpu0 = {s.index: cpu_seconds(s.operator.process.pid) for s in shards}
    t0 = time.monotonic()
    submitted = apply_files(cp.kubeconfig, files)
    all_ready = watcher.wait(names, max(120.0, n * 0.5))
    t_end = time.monotonic()
    cpu1 = {s.index: cpu_seconds(s.operator.process.pid) for s in shards}
    stats = read_stats(sims)
    for shard in shards:
        wait_quiet(shard.audit, quiet_seconds=5.0, cap_seconds=120.0)
    t_quiet = time.monotonic()
    time.sleep(2.0)
    watcher.stop()
    ready = {nm: watcher.ready[nm] for nm in names if nm in watcher.ready}
    last_ready = max(ready.values()) if ready else t_end
    seconds = last_ready - t0
    ops = merge_ops(stats)
    per_shard = []
    cross: list[str] = []
    writes_total = 0
    for shard in shards:
        own = names_by_shard[shard.index]
        writes = shard.audit.writes_since_mark()
        writes_total += writes.total
        links, link_pools, pools, requests = _metrics_names(shard.operator)
        cross += isolation_failures(
            shard, shards, set(writes.by_object), (links, link_pools, pools)
        )
        cpu = cpu1[shard.index] - cpu0[shard.index]
        count = max(1, len(own))
        per_shard.append(
            {
                "shard": shard.index,
                "pool": shard.pool,
                "links": len(own),
                "ready": sum(1 for nm in own if nm in ready),
                "operator_cpu_seconds": round(cpu, 2),
                "operator_cpu_ms_per_link": round(1000.0 * cpu / count, 1),
                "rss_mib_peak": shard.sampler.peak_mib(since=t0),
                "rss_mib_settled": shard.sampler.median_mib(since=t_quiet),
                "provider_calls_per_link": round((requests - requests0[shard.index]) / count, 2),
                "k8s_writes_per_link": round(writes.total / count, 2),
                "k8s_writes_by_resource": writes.as_dict(),
                "links_in_metrics": len(links),
                "own_links_in_metrics": len(links & set(own)),
                "operator_log": operator_log_problems(shard.operator),
            }
        )
    latencies = [ready[nm] - submitted[nm] for nm in ready if nm in submitted]
    link_calls = sum(v for op, v in ops.items() if op in LINK_OPERATIONS)
    return {
        "name": "shards",
        "n": n,
        "shards": k,
        "ready": len(ready),
        "all_ready": all_ready,
        "seconds_to_all_ready": round(seconds, 2),
        "watch_restarts": watcher.restarts,
        "watch_polls": watcher.polls,
        "links_per_second": round(len(ready) / seconds, 1) if seconds > 0 else 0.0,
        **latency_summary(latencies),
        "operator_cpu_ms_per_link": round(1000.0 * sum(cpu1[i] - cpu0[i] for i in cpu0) / n, 1),
        "provider_calls_per_link": round(sum(ops.values()) / n, 2),
        "link_operation_calls_per_link": round(link_calls / n, 2),
        "calls_by_provider": stats,
        "calls_by_operation": {op: round(c / n, 2) for op, c in ops.items()},
        "k8s_writes_per_link": round(writes_total / n, 2),
        "per_shard": per_shard,
        "cross_shard": cross,
        "isolated": not cross,
        "logs": str(log_dir),
    }
