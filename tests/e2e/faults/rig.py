"""The fault suite's own rig: a control plane, two simulators, a pool, the operator.

Faults (killed processes, a restarted API server, providers that fail) must
not disturb the rest of the e2e tier, and the session's operator (which
watches every namespace and every pool of the shared API server) must not
act on the links of a fault scenario. So each fault scenario runs on its own
control plane (:class:`RestartableControlPlane`, which can also stop and
start its kube-apiserver on the same port over the same etcd) with its own
simulator processes (state files, so they can be restarted without losing
anything) and its own operator process under the chart's RBAC.

Every scenario ends with the provider invariants (``tests/support/invariants``)
and one summary line (faults injected, links Ready, duplicates, leaks),
printed and collected for the terminal summary.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import yaml

from tests.support import cluster as cluster_mod
from tests.support.cluster import ControlPlane, cache_dir
from tests.support.invariants import InvariantReport, check
from tests.support.stack import (
    Kube,
    OperatorProcess,
    Simulator,
    is_ready,
    link_manifest,
    operator_kubeconfig,
    pool_manifests,
    start_operator,
    start_simulator,
    wait_for,
)

REPO = Path(__file__).resolve().parents[3]
CRDS = REPO / "crds"
SUMMARIES: list[str] = []
"""One line per scenario; printed by the package's pytest_terminal_summary."""


class RestartableControlPlane(ControlPlane):
    """A ControlPlane whose kube-apiserver can be stopped and started again.

    etcd keeps running (and its data), the PKI and the port stay the same, so
    every kubeconfig and ServiceAccount token stays valid across the restart:
    what a client sees is an API server that went away and came back.
    """

    def stop_apiserver(self, grace: float = 5.0) -> None:
        """SIGTERM; SIGKILL after ``grace`` seconds (a graceful stop waits ~30 s
        for open watches, which is not what this restart is about)."""
        proc = self._apiserver
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)

    def start_apiserver(self) -> None:
        port = self.secure_port
        # _start_apiserver picks a new port; keep the old one (kubeconfigs name it).
        with mock.patch.object(cluster_mod, "free_port", return_value=port):
            self._start_apiserver(self.binaries)


@contextmanager
def own_control_plane(name: str, *, audit: bool = False) -> Iterator[RestartableControlPlane]:
    """A fresh control plane for one fault module (logs kept under .cache);
    ``audit`` turns the API server's audit log on (every request, Metadata level)."""
    if os.environ.get("E2E_EXISTING_CLUSTER", "") in ("1", "true", "yes"):
        pytest.skip("fault scenarios start their own control plane (local rig only)")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    log_dir = cache_dir() / "test-artifacts" / f"faults-{name}-{stamp}-{os.getpid()}"
    cp = RestartableControlPlane(log_dir=log_dir, audit=audit)
    cp.start()
    try:
        yield cp
    finally:
        cp.stop()


def crd_kube(cp: ControlPlane) -> Kube:
    """Admin kubectl on ``cp`` with the project's CRDs applied and established."""
    kube = Kube(cp.kubeconfig)
    kube.run("apply", "--server-side", "--force-conflicts", "-f", str(CRDS))
    kube.run("wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")
    return kube


# ---------------------------------------------------------------------- the rig


@dataclass
class FaultRig:
    """What a fault scenario works with."""

    kube: Kube
    aws: Simulator
    gcp: Simulator
    operator: OperatorProcess | None
    operator_namespace: str
    identity: Path
    pool: str
    log_dir: Path
    namespaces: list[str] = field(default_factory=list)

    @property
    def sims(self) -> tuple[Simulator, Simulator]:
        return (self.aws, self.gcp)

    def start_operator(self, name: str = "operator", *extra: str) -> OperatorProcess:
        self.operator = start_operator(
            self.identity,
            log_dir=self.log_dir,
            operator_namespace=self.operator_namespace,
            extra_args=list(extra),
            name=name,
        )
        return self.operator

    def namespace(self, name: str) -> str:
        self.kube.apply([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}])
        self.namespaces.append(name)
        return name

    # -- links ---------------------------------------------------------------

    def apply_links(
        self, namespace: str, names: Sequence[str], bandwidth_mbps: int = 1000, **spec: Any
    ) -> None:
        self.kube.apply(
            [link_manifest(n, namespace, self.pool, bandwidth_mbps, **spec) for n in names]
        )

    def links(self, namespace: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.kube.get("mcl", namespace=namespace)["items"]
        return items

    def wait_ready(self, namespace: str, names: Sequence[str], timeout: float) -> list[Any]:
        """Wait until every named link is Ready at its current generation."""
        wanted = set(names)

        def all_ready() -> list[Any] | None:
            objs = [o for o in self.links(namespace) if o["metadata"]["name"] in wanted]
            ready = [
                o
                for o in objs
                if is_ready(o)
                and o["status"].get("observedGeneration") == o["metadata"]["generation"]
            ]
            if len(ready) == len(wanted):
                return ready
            return None

        try:
            result: list[Any] = wait_for(all_ready, timeout, f"{len(wanted)} links Ready", 1.0)
        except AssertionError:
            not_ready = {
                o["metadata"]["name"]: (o.get("status") or {}).get("phase")
                for o in self.links(namespace)
                if o["metadata"]["name"] in wanted and not is_ready(o)
            }
            tail = self.operator.log()[-4000:] if self.operator is not None else ""
            raise AssertionError(
                f"links not Ready: {not_ready}\noperator log tail:\n{tail}"
            ) from None
        return result

    def ready_count(self, namespace: str) -> int:
        return sum(1 for o in self.links(namespace) if is_ready(o))

    def uuids(self, namespace: str) -> dict[str, str]:
        """link name -> shared UUID (status or the write-ahead annotation)."""
        out: dict[str, str] = {}
        for obj in self.links(namespace):
            annotations = obj["metadata"].get("annotations") or {}
            uuid = annotations.get("interconnect.io/shared-connection-uuid") or (
                obj.get("status") or {}
            ).get("sharedConnectionUuid")
            if uuid:
                out[obj["metadata"]["name"]] = str(uuid)
        return out

    def delete_links(self, namespace: str, names: Sequence[str]) -> None:
        if names:
            self.kube.run("delete", "mcl", "-n", namespace, "--wait=false", *names)

    def wait_gone(self, namespace: str, names: Sequence[str], timeout: float) -> None:
        wanted = set(names)
        wait_for(
            lambda: not ({o["metadata"]["name"] for o in self.links(namespace)} & wanted),
            timeout,
            f"{len(wanted)} links deleted (finalizer removed)",
            1.0,
        )

    # -- providers -------------------------------------------------------------

    def set_faults(self, config: Mapping[str, Any]) -> None:
        for sim in self.sims:
            sim.admin("/admin/faults", dict(config))

    def clear_faults(self) -> None:
        for sim in self.sims:
            sim.admin("/admin/faults", {})

    def reset_stats(self) -> None:
        for sim in self.sims:
            sim.admin("/admin/stats/reset", {})

    def faults_injected(self) -> int:
        """Injected 503s, 429s and requests left without response, on both providers."""
        total = 0
        for sim in self.sims:
            by_status = sim.stats().get("byStatus") or {}
            total += sum(int(by_status.get(k, 0)) for k in ("503", "429", "dropped"))
        return total

    def invariants(
        self,
        *,
        live: Sequence[str] | None = None,
        deleted: Sequence[str] = (),
        migrating: Sequence[str] = (),
    ) -> InvariantReport:
        return check(
            [self.aws.state(), self.gcp.state()], live=live, deleted=deleted, migrating=migrating
        )

    def stop(self) -> None:
        if self.operator is not None:
            self.operator.stop()
        for sim in self.sims:
            sim.stop()


def start_rig(
    kube: Kube,
    log_dir: Path,
    name: str,
    *,
    inventory: Mapping[str, Any] | None = None,
    provisioning_delay: float = 0.3,
    refresh_interval: int = 5,
    operator: bool = True,
    operator_args: Sequence[str] = (),
    sim_args: Sequence[str] = (),
) -> FaultRig:
    """Two simulators (with state files), the operator's identity, a pool, the operator."""
    log_dir.mkdir(parents=True, exist_ok=True)
    extra = list(sim_args)
    if inventory is not None:
        path = log_dir / f"{name}-inventory.yaml"
        path.write_text(yaml.safe_dump(dict(inventory)))
        extra += ["--inventory", str(path)]
    tokens = {"aws": secrets.token_hex(16), "gcp": secrets.token_hex(16)}
    aws = start_simulator(
        "aws",
        log_dir=log_dir,
        tokens={"gcp": tokens["aws"]},
        provisioning_delay=provisioning_delay,
        state_file=log_dir / f"{name}-aws.sqlite",
        extra_args=extra,
    )
    gcp = start_simulator(
        "gcp",
        log_dir=log_dir,
        tokens={"aws": tokens["gcp"]},
        provisioning_delay=provisioning_delay,
        state_file=log_dir / f"{name}-gcp.sqlite",
        extra_args=extra,
    )
    operator_namespace = f"{name}-system"
    identity = operator_kubeconfig(
        kube,
        operator_namespace=operator_namespace,
        path=log_dir / f"{name}-operator.kubeconfig",
        link_secret_namespaces=["*"],
    )
    pool = f"{name}-pool"
    kube.apply(
        pool_manifests(
            pool,
            negotiator=gcp,
            responder=aws,
            operator_namespace=operator_namespace,
            refresh_interval=refresh_interval,
        )
    )
    rig = FaultRig(kube, aws, gcp, None, operator_namespace, identity, pool, log_dir)
    if operator:
        rig.start_operator(f"{name}-operator", *operator_args)
    return rig


def record_summary(scenario: str, **counts: Any) -> str:
    """One scenario's summary line: printed now, repeated in the terminal summary."""
    line = f"[faults] {scenario}: " + " ".join(f"{k}={v}" for k, v in counts.items())
    SUMMARIES.append(line)
    print(line)
    return line
