"""`make demo` works: run hack/demo.py as a user would, without a terminal.

The demo starts its own control plane (in a temporary state dir), its own
simulators on free ports and its own operator, so it shares nothing with the
session's rig: an operator of another test watching all namespaces would
otherwise reconcile the demo's links too.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.cluster import free_port

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "hack" / "demo.py"
LINKS = {"team-a/basic", "team-a/dual-stack", "team-a/large"}


def _run_demo(env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(DEMO), "up"],
        env={**os.environ, "PYTHONPATH": str(REPO), **env},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        check=False,
    )


def _final_table(stdout: str) -> dict[str, list[str]]:
    """Rows of the last table printed before "all N links Ready", by link."""
    lines = stdout.splitlines()
    end = next(i for i, line in enumerate(lines) if line.startswith("all ") and "Ready" in line)
    start = max(i for i in range(end) if lines[i].startswith("LINK "))
    rows = {}
    for line in lines[start + 1 : end]:
        if line.strip():
            cells = line.split()
            rows[cells[0]] = cells
    return rows


def _port_listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _processes_mentioning(text: str) -> list[str]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in args:
            found.append(args)
    return found


@pytest.mark.timeout(600)
def test_demo_brings_every_example_link_to_ready_and_stops_what_it_started(
    tmp_path: Path,
) -> None:
    aws_port, gcp_port = free_port(), free_port()
    state_dir = tmp_path / "demo"
    result = _run_demo(
        {
            "DEMO_EXIT_WHEN_READY": "1",
            "DEMO_STATE_DIR": str(state_dir),
            "DEMO_AWS_PORT": str(aws_port),
            "DEMO_GCP_PORT": str(gcp_port),
            "DEMO_PROVISIONING_DELAY": "1",
            "DEMO_TIMEOUT": "240",
        },
        timeout=540,
    )
    assert result.returncode == 0, f"demo failed:\n{result.stdout}\n{result.stderr}"
    # One progress line per setup stage, in order, with the time since the start.
    stages = [line for line in result.stdout.splitlines() if re.match(r"^\[ *\d+\.\ds\] ", line)]
    wanted = (
        "control plane binaries",
        "etcd and kube-apiserver",
        "CRDs installed",
        "simulated providers up",
        "operator running",
    )
    found = [next(i for i, line in enumerate(stages) if word in line) for word in wanted]
    assert found == sorted(found), stages
    assert "go: downloading" not in result.stdout + result.stderr

    table = _final_table(result.stdout)
    assert set(table) == LINKS
    for link, cells in table.items():
        # LINK BANDWIDTH Mbps PHASE aws n/4 gcp n/4 VERIFIED ELAPSED
        assert cells[3] == "Ready", f"{link}: {cells}"
        assert cells[4:8] == ["aws", "4/4", "gcp", "4/4"], f"{link}: {cells}"
        assert cells[8] == "aws,gcp", f"{link}: {cells}"
    # kubectl's own view, printed after the table, agrees.
    kubectl_rows = [line.split() for line in result.stdout.splitlines() if "multicloudlink" in line]
    assert len(kubectl_rows) == len(LINKS)
    assert all(row[-3:-1] == ["True", "Ready"] for row in kubectl_rows), kubectl_rows

    # Everything it started is gone: simulators, operator, etcd/kube-apiserver.
    assert not _port_listening(aws_port)
    assert not _port_listening(gcp_port)
    assert _processes_mentioning(str(state_dir)) == []
    assert not (state_dir / "state.json").exists()


def test_demo_refuses_a_taken_port_before_starting_anything(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = _run_demo(
            {
                "DEMO_STATE_DIR": str(tmp_path / "demo"),
                "DEMO_AWS_PORT": str(port),
                "DEMO_GCP_PORT": str(free_port()),
            },
            timeout=60,
        )
    assert result.returncode != 0
    assert f"port {port}" in result.stderr
    assert "already in use" in result.stderr
    assert "starting etcd" not in result.stdout
