"""Fixtures of the operator e2e tier: two simulator processes, the operator as a process.

The operator runs under the ServiceAccount and RBAC the chart ships
(``k8s/rbac.py``), never as cluster admin, against the real kube-apiserver of
the rig (tests/conftest.py).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.cluster import ClusterHandle
from tests.support.stack import (
    Kube,
    OperatorProcess,
    Simulator,
    operator_kubeconfig,
    pool_manifests,
    start_operator,
    start_simulator,
)

REPO = Path(__file__).resolve().parents[2]
CRDS = REPO / "crds"


@dataclass
class Stack:
    """What an operator e2e test works with."""

    kube: Kube
    aws: Simulator
    gcp: Simulator
    operator: OperatorProcess
    operator_namespace: str
    pool: str
    log_dir: Path


@pytest.fixture(scope="session")
def kube(control_plane: ClusterHandle) -> Kube:
    k = Kube(control_plane.kubeconfig)
    k.run("apply", "--server-side", "--force-conflicts", "-f", str(CRDS))
    k.run("wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")
    return k


@pytest.fixture(scope="session")
def e2e_log_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = os.environ.get("ICO_E2E_LOG_DIR")
    path = Path(base) if base else tmp_path_factory.mktemp("stack")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def stack(kube: Kube, e2e_log_dir: Path) -> Iterator[Stack]:
    """Two simulators (aws responder, gcp negotiator), a pool over them, the operator."""
    tokens = {"aws": secrets.token_hex(16), "gcp": secrets.token_hex(16)}
    # Each server accepts the token of the caller it serves: aws is called as gcp.
    aws = start_simulator(
        "aws", log_dir=e2e_log_dir, tokens={"gcp": tokens["aws"]}, provisioning_delay=0.5
    )
    gcp = start_simulator(
        "gcp", log_dir=e2e_log_dir, tokens={"aws": tokens["gcp"]}, provisioning_delay=0.5
    )
    operator_namespace = "interconnect-e2e"
    identity = operator_kubeconfig(
        kube,
        operator_namespace=operator_namespace,
        path=e2e_log_dir / "operator.kubeconfig",
        link_secret_namespaces=["*"],
    )
    pool = "e2e-pool"
    kube.apply(
        pool_manifests(
            pool,
            negotiator=gcp,
            responder=aws,
            operator_namespace=operator_namespace,
            refresh_interval=5,
        )
    )
    operator = start_operator(identity, log_dir=e2e_log_dir, operator_namespace=operator_namespace)
    try:
        yield Stack(kube, aws, gcp, operator, operator_namespace, pool, e2e_log_dir)
    finally:
        operator.stop()
        aws.stop()
        gcp.stop()
