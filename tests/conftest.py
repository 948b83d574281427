"""Shared pytest fixtures: the real Kubernetes control plane rig.

``control_plane`` (session) starts etcd + kube-apiserver built from their Go
modules (tests/support/cluster.py), or, with ``E2E_EXISTING_CLUSTER=1``,
uses the cluster named by ``KUBECONFIG`` (e.g. ``make kind-e2e``). Logs of a
local control plane are kept under ``.cache/test-artifacts/``; their place is
printed at the end of a run that failed. ``ICO_E2E_AUDIT=1`` turns on the
API server's audit log there. Every failed test of every run is appended to
``.cache/test-artifacts/failures.log`` (time, node id, phase, first line of
the error), so a flake seen once is still named after the run is gone.

The fixtures only start anything when a test asks for them.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.support.cluster import (
    ClusterHandle,
    ControlPlane,
    cache_dir,
    existing_cluster,
)

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

ARTIFACTS_KEPT = 5
_rig_log_dirs: list[Path] = []


def _artifacts_dir() -> Path:
    return cache_dir() / "test-artifacts"


def _prune_artifacts(keep: int) -> None:
    root = _artifacts_dir()
    if not root.is_dir():
        return
    runs = sorted(p for p in root.glob("controlplane-*") if p.is_dir())
    for old in runs[: max(0, len(runs) - keep)]:
        shutil.rmtree(old, ignore_errors=True)


@pytest.fixture(scope="session")
def control_plane() -> Iterator[ClusterHandle]:
    """The cluster under test: a fresh local control plane, or an existing one."""
    kubeconfig = existing_cluster()
    if kubeconfig is not None:
        yield ClusterHandle.from_kubeconfig(kubeconfig)
        return
    _prune_artifacts(ARTIFACTS_KEPT - 1)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    log_dir = _artifacts_dir() / f"controlplane-{stamp}-{os.getpid()}"
    cp = ControlPlane(log_dir=log_dir, audit=os.environ.get("ICO_E2E_AUDIT") == "1")
    _rig_log_dirs.append(log_dir)
    cp.start()
    try:
        # Keep a copy of the admin kubeconfig beside the logs for debugging.
        shutil.copy(cp.kubeconfig, log_dir / "kubeconfig")
        yield ClusterHandle(kubeconfig=cp.kubeconfig, server=cp.server, control_plane=cp)
    finally:
        cp.stop()


@pytest.fixture(scope="session")
def kubeconfig(control_plane: ClusterHandle) -> Path:
    """Path of an admin kubeconfig for the cluster under test."""
    return control_plane.kubeconfig


@pytest.fixture(scope="session")
def k8s_api(kubeconfig: Path) -> Iterator[ApiClient]:
    """A ``kubernetes.client.ApiClient`` with admin rights."""
    from kubernetes import config

    client: ApiClient = config.new_client_from_config(  # type: ignore[no-untyped-call]
        config_file=str(kubeconfig)
    )
    try:
        yield client
    finally:
        client.close()  # type: ignore[no-untyped-call]


@pytest.fixture
def namespace(k8s_api: ApiClient, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh namespace per test (deletion stays Terminating without a
    controller-manager; names are unique, so that does not matter)."""
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    base = re.sub(r"[^a-z0-9-]+", "-", request.node.name.lower()).strip("-")[:40].strip("-")
    name = f"{base or 'test'}-{uuid.uuid4().hex[:6]}"
    core = client.CoreV1Api(k8s_api)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    yield name
    with contextlib.suppress(ApiException):
        core.delete_namespace(name)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Append each failed test (setup, call or teardown) to the failures log."""
    if not report.failed:
        return
    first_line = ""
    if report.longrepr is not None:
        lines = [line for line in str(report.longrepr).splitlines() if line.startswith("E ")]
        first_line = (lines[0] if lines else str(report.longrepr).splitlines()[-1])[:300]
    stamp = datetime.datetime.now().isoformat(timespec="seconds")
    with contextlib.suppress(OSError):
        root = _artifacts_dir()
        root.mkdir(parents=True, exist_ok=True)
        with (root / "failures.log").open("a", encoding="utf-8") as log:
            log.write(f"{stamp}\t{report.nodeid}\t{report.when}\t{first_line}\n")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, exitstatus: int) -> None:
    """Point at the control plane's logs when something failed."""
    failed = terminalreporter.stats.get("failed") or terminalreporter.stats.get("error")
    if failed and _rig_log_dirs:
        for log_dir in _rig_log_dirs:
            terminalreporter.write_line(f"control plane logs: {log_dir}")
    if failed:
        terminalreporter.write_line(f"failed tests logged in: {_artifacts_dir() / 'failures.log'}")
