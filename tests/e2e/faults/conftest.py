"""Fixtures of the fault suite: a control plane and a stack of its own per module.

Each module gets its own kube-apiserver + etcd (``faults_cluster``), so a
fault scenario never disturbs the shared session rig nor is disturbed by
the session's operator (which watches every namespace and pool of the
shared API server). ``rig_factory`` starts simulators, a pool and the
operator on it; everything is stopped at the end of the module.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.faults.rig import (
    SUMMARIES,
    FaultRig,
    RestartableControlPlane,
    crd_kube,
    own_control_plane,
    start_rig,
)
from tests.support.stack import Kube


@pytest.fixture(scope="module")
def faults_cluster(request: pytest.FixtureRequest) -> Iterator[RestartableControlPlane]:
    name = request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_").replace("_", "-")
    with own_control_plane(name[:20]) as cp:
        yield cp


@pytest.fixture(scope="module")
def faults_kube(faults_cluster: RestartableControlPlane) -> Kube:
    return crd_kube(faults_cluster)


@pytest.fixture(scope="module")
def faults_log_dir(faults_cluster: RestartableControlPlane) -> Path:
    path = faults_cluster.log_dir / "stack"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module")
def rig_factory(faults_kube: Kube, faults_log_dir: Path) -> Iterator[Callable[..., FaultRig]]:
    """``rig_factory(name, **start_rig_options)`` -> a started FaultRig.

    The scenarios of a module share its control plane, so the rigs of earlier
    scenarios are stopped first: an operator left running watches every link
    of the cluster, including the next scenario's, which that scenario's
    counts and verdicts must not include.
    """
    made: list[FaultRig] = []

    def make(name: str, **options: Any) -> FaultRig:
        for earlier in made:
            earlier.stop()
        rig = start_rig(faults_kube, faults_log_dir, name, **options)
        made.append(rig)
        return rig

    yield make
    for rig in made:
        rig.stop()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Repeat every scenario's summary line at the end of the run."""
    if SUMMARIES:
        terminalreporter.section("fault scenarios")
        for line in SUMMARIES:
            terminalreporter.write_line(line)
