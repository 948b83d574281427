"""A simulator as its own process (``python -m interconnect_operator.simulator.cli``).

For tests of the command line and of transport security (HTTPS, mutual TLS):
start it on a free port, wait until it answers, stop it with SIGTERM and tell
whether it shut down cleanly.
"""

from __future__ import annotations

import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import httpx

from tests.support.ports import free_port

REPO = Path(__file__).resolve().parents[2]


def start(args: Sequence[str]) -> subprocess.Popen[bytes]:
    """Start the simulator CLI with ``args`` (output captured for :func:`stop`)."""
    return subprocess.Popen(
        [sys.executable, "-m", "interconnect_operator.simulator.cli", *args],
        cwd=REPO,
        env={"PYTHONPATH": str(REPO / "operator"), "PATH": "/usr/bin:/bin"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def wait_ready(
    url: str,
    process: subprocess.Popen[bytes],
    *,
    verify: ssl.SSLContext | bool = True,
    timeout: float = 30.0,
) -> httpx.Response:
    """GET ``url`` until the server answers (bounded, with backoff); the answer."""
    deadline = time.monotonic() + timeout
    delay = 0.05
    while True:
        if process.poll() is not None:
            output = process.stdout.read().decode() if process.stdout else ""
            raise AssertionError(f"simulator exited early:\n{output}")
        try:
            return httpx.get(url, timeout=1, verify=verify)
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise AssertionError(f"simulator did not answer {url}") from None
            time.sleep(delay)
            delay = min(delay * 2, 0.5)


def stop(process: subprocess.Popen[bytes]) -> bool:
    """SIGTERM; True when the server shut down cleanly.

    uvicorn re-raises the captured signal after its graceful shutdown, so the
    exit status is -SIGTERM (or 0); the log line proves the lifespan ran.
    """
    process.send_signal(signal.SIGTERM)
    try:
        code = process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        raise
    output = process.stdout.read().decode() if process.stdout else ""
    return code in (0, -signal.SIGTERM) and "Application shutdown complete" in output


__all__ = ["REPO", "free_port", "start", "stop", "wait_ready"]
