"""``DEMO_APIS=customer make demo`` works: both example customer links Ready, then a clean stop.

Runs hack/demo.py as a user would, without a terminal, on its own control
plane, simulators, fakes and ports (nothing shared with the session's rig).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.cluster import free_port

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
LINKS = {"team-a/google-first", "team-a/aws-first"}


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.timeout(600)
def test_customer_demo_exits_zero_once_both_links_are_ready(tmp_path: Path) -> None:
    ports = {
        name: free_port()
        for name in ("DEMO_AWS_PORT", "DEMO_GCP_PORT", "DEMO_FAKE_AWS_PORT", "DEMO_FAKE_GCP_PORT")
    }
    state_dir = tmp_path / "demo"
    result = subprocess.run(
        [sys.executable, str(REPO / "hack" / "demo.py"), "up"],
        env={
            **os.environ,
            "PYTHONPATH": str(REPO),
            "DEMO_APIS": "customer",
            "DEMO_EXIT_WHEN_READY": "1",
            "DEMO_STATE_DIR": str(state_dir),
            "DEMO_PROVISIONING_DELAY": "1",
            "DEMO_TIMEOUT": "240",
            **{name: str(port) for name, port in ports.items()},
        },
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=540,
        cwd=REPO,
        check=False,
    )
    assert result.returncode == 0, f"demo failed:\n{result.stdout}\n{result.stderr}"
    assert "all 2 links Ready" in result.stdout
    kubectl_rows = [line.split() for line in result.stdout.splitlines() if "multicloudlink" in line]
    assert {f"{row[0]}/{row[1].rsplit('/', 1)[-1]}" for row in kubectl_rows} == LINKS
    assert all(row[-3:-1] == ["True", "Ready"] for row in kubectl_rows), kubectl_rows
    # Everything it started is gone, the fakes included.
    assert not any(_listening(port) for port in ports.values())
    assert not (state_dir / "state.json").exists()
