"""Fixtures for the conformance kit's tests: a real simulator, mutant proxies, keys.

The simulator runs as a process (tests/support/stack.py); each mutant is a
proxy process in front of it (``proxy.py``). The kit calls as ``gcp`` with a
bearer token, like a peer would.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from interconnect_operator.api.auth import BearerToken
from interconnect_operator.conformance.session import KitConfig
from tests.support.cluster import free_port
from tests.support.spec import spec_dir
from tests.support.stack import POOL_ENVIRONMENT, REPO, Simulator, start_simulator

CALLER = "gcp"
SERVER = "aws"
TOKEN = "conformance-test-token"
OTHER = "azure"  # a third provider, for OBJ-third-party
OTHER_TOKEN = "conformance-other-token"
ENV = POOL_ENVIRONMENT
PREFIX = "icokit-"


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("conformance")


@pytest.fixture(scope="module")
def token_file(workdir: Path) -> Path:
    path = workdir / "token.txt"
    path.write_text(TOKEN + "\n")
    path.chmod(0o600)
    return path


# Two ACTIVE interconnects (P18 migration) and one PENDING (P7 refusal).
INVENTORY = f"""
environments:
  - id: {ENV}
    peer: {CALLER}
    interconnects:
      - id: ix1
      - id: ix2
      - id: ix3
        state: PENDING
"""


@pytest.fixture(scope="module")
def other_token_file(workdir: Path) -> Path:
    path = workdir / "other-token.txt"
    path.write_text(OTHER_TOKEN + "\n")
    path.chmod(0o600)
    return path


@pytest.fixture(scope="module")
def simulator(workdir: Path) -> Iterator[Simulator]:
    inventory = workdir / "inventory.yaml"
    inventory.write_text(INVENTORY)
    sim = start_simulator(
        SERVER,
        log_dir=workdir,
        tokens={CALLER: TOKEN, OTHER: OTHER_TOKEN},
        extra_args=["--inventory", str(inventory)],
    )
    yield sim
    sim.stop()


@dataclass
class Proxy:
    """A mutant proxy process in front of a simulator."""

    port: int
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_proxy(sim: Simulator, mutant: str | None, workdir: Path, token_file: Path) -> Proxy:
    """Start ``proxy.py`` for ``mutant`` (None: forward everything) and wait for it."""
    port = free_port()
    argv = [
        sys.executable,
        "-m",
        "tests.integration.conformance.proxy",
        "--upstream",
        sim.url,
        "--port",
        str(port),
        "--caller",
        CALLER,
        "--token-file",
        str(token_file),
    ]
    if mutant:
        argv += ["--mutant", mutant]
    log = (workdir / f"proxy-{mutant or 'plain'}.log").open("ab")
    process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
    proxy = Proxy(port, process)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{proxy.url}/healthz", timeout=2):
                return proxy
        except (urllib.error.URLError, OSError):
            if process.poll() is not None:
                break
            time.sleep(0.2)
    proxy.stop()
    raise RuntimeError(f"mutant proxy {mutant} did not start (see {log.name})")


def issue_key(sim: Simulator, bandwidth_mbps: int = 1000) -> str:
    """An activation key from the simulator's customer endpoint (the customer step of P1)."""
    answer = sim.admin(
        "/customer/v1/activationKeys",
        {"environment": ENV, "bandwidthMbps": bandwidth_mbps, "destinationAccountId": "1234"},
    )
    return str(answer["encodedKey"])


def kit_objects(sim: Simulator) -> list[str]:
    """Every connection, feature and MACsec key on the simulator whose id has the kit's prefix."""
    state: dict[str, Any] = sim.state()
    found = [
        f"connection {c['connection']}"
        for c in state["connections"]
        if str(c["connection"]).startswith(PREFIX)
    ]
    found += [
        f"feature {f['feature']}" for f in state["features"] if str(f["feature"]).startswith(PREFIX)
    ]
    found += [
        f"macSecKey {k['macSecKey']}"
        for k in state["macSecKeys"]
        if str(k["macSecKey"]).startswith(PREFIX)
    ]
    return found


def kit_config(url: str, *, key: str | None = None, **overrides: Any) -> KitConfig:
    """The kit's configuration for a test run (every opt-in allowed, short timeouts)."""
    from pydantic import SecretStr

    settings: dict[str, Any] = {
        "endpoint": url,
        "caller": CALLER,
        "environment": ENV,
        "auth": BearerToken(TOKEN),
        "allow_channel_effects": True,
        "allow_issues": True,
        "spec_dir": spec_dir(),
        "activation_key": SecretStr(key) if key else None,
        "provisioning_timeout": 20.0,
        "request_timeout": 10.0,
        "other_caller": OTHER,
        "other_auth": BearerToken(OTHER_TOKEN),
    }
    settings.update(overrides)
    return KitConfig(**settings)


def dump(report: Any) -> str:
    """The FAIL lines of a report, for assertion messages."""
    return json.dumps(
        {r.check_id: r.observed for r in report.results if r.outcome.value == "FAIL"}, indent=1
    )
