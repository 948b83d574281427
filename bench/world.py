"""The benchmark's world: options, control plane, simulators and the operator (or the floor).

One size's :class:`Rig` (a fresh kube-apiserver with its audit log on, two
simulators with an inventory sized for N links, the operator or the floor
operator as a separate process under the chart's ServiceAccount), shared by
the scenarios of bench/run.py, bench/soak.py and bench/shards.py.
"""

from __future__ import annotations

import logging
import math
import os
import secrets
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from tests.support.cluster import ControlPlane, kubectl_path
from tests.support.ports import free_port
from tests.support.stack import (
    POOL_ENVIRONMENT,
    Kube,
    OperatorProcess,
    Simulator,
    is_ready,
    operator_kubeconfig,
    pool_manifests,
    start_operator,
    start_simulator,
    wait_for,
)

from bench.measure import AuditReader, ProcessSampler

log = logging.getLogger("bench")

REPO = Path(__file__).resolve().parents[1]
CRDS = REPO / "crds"
OPERATOR_NAMESPACE = "interconnect-bench"
SERVICE_ACCOUNT = "interconnect-operator"
POOL = "bench-pool"
LINK_MBPS = 1000
INTERCONNECTS = 10
APPLY_CHUNK = 250
APPLY_PARALLEL = 4
#: The operator and the floor run without ``kubernetes`` importable, as in the image
#: (bench/runtime.py; kopf then logs in with its own readers).
RUNTIME = (sys.executable, "-m", "bench.runtime")


@dataclass(frozen=True)
class Options:
    sizes: tuple[int, ...]
    steady_seconds: float
    single_runs: int
    refresh_interval: int
    profile: bool
    out_dir: Path
    log_dir: Path
    merge: bool
    recompute: bool = False
    floor: bool = True
    profile_memory: bool = False
    #: The churn soak (bench/soak.py): seconds (0 = off), links created and deleted per second.
    soak_seconds: float = 0.0
    soak_rate: float = 5.0
    soak_ahead: int = 100
    #: The soak's operator traced (tracemalloc): the growth from warm-up to the end, by traceback.
    soak_trace: bool = False
    #: The sharded burst (bench/shards.py): operator processes (0 = off).
    shards: int = 0
    #: Only the opt-in scenarios (soak, shards).
    skip_main: bool = False


@dataclass
class Rig:
    """One size's world: control plane, simulators, operator, helpers."""

    cp: ControlPlane
    kube: Kube
    custom: Any  # kubernetes.client.CustomObjectsApi
    aws: Simulator
    gcp: Simulator
    operator: OperatorProcess
    audit: AuditReader
    sampler: ProcessSampler
    log_dir: Path

    @property
    def sims(self) -> tuple[Simulator, Simulator]:
        return (self.aws, self.gcp)


# --------------------------------------------------------------------------
# Setup


def write_inventory(path: Path, n: int, environments: Sequence[str] = (POOL_ENVIRONMENT,)) -> None:
    """Both sides: per environment INTERCONNECTS interconnects with room for its share of N
    links and a fifth spare."""
    share = math.ceil(n / len(environments))
    per_ix = max(1_000_000, math.ceil(share * LINK_MBPS * 1.25 / INTERCONNECTS / 1000) * 1000)
    document = {
        "environments": [
            {
                "id": env,
                "interconnectCount": INTERCONNECTS,
                "maxBandwidthMbps": per_ix,
                "channelsPerInterconnect": 4,
            }
            for env in environments
        ]
    }
    path.write_text(yaml.safe_dump(document))


def apply_chunk(
    kubectl: str, kubeconfig: Path, path: Path, submitted: dict[str, float], lock: threading.Lock
) -> None:
    """Server-side apply one file; note the time kubectl reports each object applied."""
    proc = subprocess.Popen(
        [kubectl, "--kubeconfig", str(kubeconfig), "apply", "--server-side", "-f", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        bufsize=1,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        now = time.monotonic()
        ref = line.split(" ", 1)[0]
        if "/" in ref:
            with lock:
                submitted[ref.rsplit("/", 1)[1]] = now
    _, err = proc.communicate()
    if proc.returncode != 0:
        log.warning("kubectl apply %s failed: %s", path.name, err.strip()[-300:])


def write_chunks(directory: Path, stem: str, manifests: Sequence[Mapping[str, Any]]) -> list[Path]:
    """The manifests as List files of APPLY_CHUNK objects each."""
    files = []
    for start in range(0, len(manifests), APPLY_CHUNK):
        path = directory / f"{stem}-{start:05d}.yaml"
        items = [dict(m) for m in manifests[start : start + APPLY_CHUNK]]
        path.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": items}))
        files.append(path)
    return files


def apply_files(kubeconfig: Path, files: Sequence[Path]) -> dict[str, float]:
    """Apply the files, APPLY_PARALLEL kubectl processes at once; name -> time applied."""
    submitted: dict[str, float] = {}
    lock = threading.Lock()
    threads: list[threading.Thread] = []
    pending = list(files)
    while pending or threads:
        while pending and len(threads) < APPLY_PARALLEL:
            thread = threading.Thread(
                target=apply_chunk,
                args=(str(kubectl_path()), kubeconfig, pending.pop(0), submitted, lock),
            )
            thread.start()
            threads.append(thread)
        threads[0].join()
        threads = [t for t in threads if t.is_alive()]
    return submitted


def start_rig(
    n: int,
    opts: Options,
    log_dir: Path,
    *,
    floor: bool = False,
    operator_env: Mapping[str, str] | None = None,
) -> Rig:
    """The world for one size; ``floor``: the floor operator (bench/floor.py) instead of ours."""
    from kubernetes import client, config

    cp = ControlPlane(log_dir=log_dir / "controlplane", audit=True)
    cp.start()
    try:
        kube = Kube(cp.kubeconfig)
        kube.run("apply", "--server-side", "--force-conflicts", "-f", str(CRDS))
        kube.run("wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")
        inventory = log_dir / "inventory.yaml"
        write_inventory(inventory, n)
        tokens = {"aws": secrets.token_hex(16), "gcp": secrets.token_hex(16)}
        inv = ["--inventory", str(inventory)]
        aws = start_simulator("aws", log_dir=log_dir, tokens={"gcp": tokens["aws"]}, extra_args=inv)
        gcp = start_simulator("gcp", log_dir=log_dir, tokens={"aws": tokens["gcp"]}, extra_args=inv)
        identity = operator_kubeconfig(
            kube,
            operator_namespace=OPERATOR_NAMESPACE,
            path=log_dir / "operator.kubeconfig",
            service_account=SERVICE_ACCOUNT,
            link_secret_namespaces=["*"],
        )
        for ns in ("bench-burst", "bench-single", "bench-restart"):
            kube.apply([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}])
        if floor:
            operator = start_floor(identity, log_dir, negotiator=gcp, responder=aws)
        else:
            kube.apply(
                pool_manifests(
                    POOL,
                    negotiator=gcp,
                    responder=aws,
                    operator_namespace=OPERATOR_NAMESPACE,
                    refresh_interval=opts.refresh_interval,
                )
            )
            operator = start_operator(
                identity,
                log_dir=log_dir,
                operator_namespace=OPERATOR_NAMESPACE,
                env={"PYTHONPATH": pythonpath(), **(operator_env or {})},
                command=(*RUNTIME, "interconnect_operator.cli"),
            )
            wait_for(
                lambda: is_ready(kube.try_get("cpool", POOL)),
                120,
                "pool Ready",
                interval=0.5,
            )
        api = config.new_client_from_config(config_file=str(cp.kubeconfig))  # type: ignore[no-untyped-call]
        audit_path = cp.audit_log_path
        assert audit_path is not None
        audit = AuditReader(
            audit_path, f"system:serviceaccount:{OPERATOR_NAMESPACE}:{SERVICE_ACCOUNT}"
        )
        return Rig(
            cp=cp,
            kube=kube,
            custom=client.CustomObjectsApi(api),
            aws=aws,
            gcp=gcp,
            operator=operator,
            audit=audit,
            sampler=ProcessSampler(operator.process.pid),
            log_dir=log_dir,
        )
    except BaseException:
        cp.stop()
        raise


def start_floor(
    kubeconfig: Path, log_dir: Path, *, negotiator: Simulator, responder: Simulator
) -> OperatorProcess:
    """``python -m bench.floor`` under the operator's identity, as the operator runs."""
    liveness = free_port()

    def side(sim: Simulator, peer: Simulator) -> str:
        # The token this simulator accepts from the peer, whose id the floor calls as.
        return f"{sim.provider_id}={sim.url}={sim.tokens[peer.provider_id]}"

    argv = [
        *RUNTIME,
        "bench.floor",
        "--kubeconfig",
        str(kubeconfig),
        "--negotiator",
        side(negotiator, responder),
        "--responder",
        side(responder, negotiator),
        "--environment",
        POOL_ENVIRONMENT,
        "--interconnects",
        str(INTERCONNECTS),
        "--liveness",
        f"http://127.0.0.1:{liveness}/healthz",
    ]
    env = {**os.environ, "PYTHONPATH": pythonpath(), "KUBECONFIG": str(kubeconfig)}
    log_path = log_dir / "floor.log"
    with log_path.open("ab") as handle:
        process = subprocess.Popen(
            argv, stdout=handle, stderr=subprocess.STDOUT, env=env, cwd=REPO, start_new_session=True
        )
    floor = OperatorProcess(process, log_path, 0, liveness, tuple(argv), env)
    wait_for(lambda: _healthy(liveness), 60, "floor operator live", interval=0.2)
    return floor


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
            return bool(response.status < 500)
    except OSError:
        return False


def pythonpath() -> str:
    parts = [str(REPO), os.environ.get("PYTHONPATH", "")]
    return os.pathsep.join(p for p in parts if p)


def stop_rig(rig: Rig) -> None:
    rig.sampler.stop()
    rig.operator.stop()
    for sim in rig.sims:
        sim.stop()
    rig.cp.stop()


def operator_log_problems(operator: OperatorProcess) -> dict[str, int]:
    """ERROR lines and tracebacks in an operator's log."""
    text = operator.log()
    return {
        "errors": sum(1 for ln in text.splitlines() if " ERROR " in ln or '"ERROR"' in ln),
        "tracebacks": text.count("Traceback"),
    }
