"""Interrupting a run (SIGINT mid-way) leaves nothing behind on the provider.

The simulator keeps features PENDING for a while, so the kit is waiting for
provisioning (P13) with a connection and features created when the signal
arrives. After the signal the kit cleans up and exits 130.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.conformance.conftest import CALLER, ENV, TOKEN, kit_objects
from tests.support.spec import spec_dir
from tests.support.stack import REPO, Simulator, start_simulator


@pytest.fixture
def slow_simulator(workdir: Path) -> Iterator[Simulator]:
    sim = start_simulator("aws", log_dir=workdir, tokens={CALLER: TOKEN}, provisioning_delay=120.0)
    yield sim
    sim.stop()


def _wait_for_features(sim: Simulator, process: subprocess.Popen[str]) -> list[str]:
    delay = 0.1
    for _ in range(60):
        found = [o for o in kit_objects(sim) if o.startswith("feature")]
        if found or process.poll() is not None:
            return found
        time.sleep(delay)
        delay = min(delay * 2, 1.0)
    return []


def test_sigint_mid_run_cleans_up_everything(
    slow_simulator: Simulator, token_file: Path, workdir: Path
) -> None:
    argv = [
        sys.executable,
        "-m",
        "interconnect_operator.cli",
        "conformance",
        "--endpoint",
        slow_simulator.url,
        "--caller",
        CALLER,
        "--environment",
        ENV,
        "--auth",
        "Bearer",
        "--token-file",
        str(token_file),
        "--spec-dir",
        str(spec_dir()),
        "--junit",
        str(workdir / "interrupted.xml"),
    ]
    process = subprocess.Popen(
        argv, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        created = _wait_for_features(slow_simulator, process)
        assert created, "the run never reached its features"
        assert any(o.startswith("connection") for o in kit_objects(slow_simulator))
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 130, out[-2000:] + err[-2000:]
    assert "interrupted: cleaning up" in err
    assert "(interrupted)" in out
    assert kit_objects(slow_simulator) == []
    state = slow_simulator.state()
    assert state["connections"] == []
    assert state["features"] == []
    assert "P13-final" in (workdir / "interrupted.xml").read_text()
