"""The customer-API fakes as real processes: two simulators, ``fake-aws`` and ``fake-gcp``.

:func:`start_customer_stack` starts the ``aws`` and ``gcp`` simulators (bearer
tokens on, as providers authenticate each other) and one fake in front of
each, on free loopback ports, and waits for all four. Shared by the
integration tests of the fakes and clients and by the demo's customer mode.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.cluster import free_port
from tests.support.stack import (
    Simulator,
    _spawn,
    _wait_http,
    console_script,
    start_simulator,
)

AWS_ACCOUNT = "111122223333"
GCP_PROJECT = "demo-project"
GCP_LOCATION = "us-east4"
AWS_REGION = "us-east-1"
GATEWAY = "5f0c6b8e-3a8f-4c1e-9d27-6b1d2e4f7a10"
GCP_TOKEN = "fake-gcp-access-token"  # the Google fake accepts only this bearer token


@dataclass
class Fake:
    """One customer-API fake process."""

    name: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def hook(self, path: str, body: Any = None) -> Any:
        """Call a test hook (``/_fake/...``) and return its JSON."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            f"{self.url}/_fake/{path}",
            data=data,
            method="POST" if data is not None else "GET",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@dataclass
class CustomerStack:
    """Both simulators and both fakes."""

    aws_sim: Simulator
    gcp_sim: Simulator
    aws: Fake
    gcp: Fake
    extra: list[Any] = field(default_factory=list)

    def stop(self) -> None:
        for part in (self.aws, self.gcp, self.aws_sim, self.gcp_sim):
            part.stop()


def start_fake(
    kind: str,
    *,
    log_dir: Path,
    own: Simulator,
    peer: Simulator,
    own_token: str,
    peer_token: str,
    extra_args: list[str],
    secret_keys: dict[str, str] | None = None,
    port: int | None = None,
    gcp_token: str = GCP_TOKEN,
) -> Fake:
    port = port or free_port()
    argv = [
        console_script("interconnect-operator"),
        f"fake-{kind}",
        "--port",
        str(port),
        "--simulator",
        own.url,
        "--peer-simulator",
        peer.url,
        "--poll-interval",
        "0.3",
        "--log-level",
        "INFO",
        *extra_args,
    ]
    env = {"FAKE_SIMULATOR_TOKEN": own_token, "FAKE_PEER_SIMULATOR_TOKEN": peer_token}
    if kind == "gcp":
        env["FAKE_GCP_TOKEN"] = gcp_token
    if secret_keys:
        env["FAKE_AWS_SECRET_KEYS"] = ",".join(f"{k}={v}" for k, v in secret_keys.items())
    log_path = log_dir / f"fake-{kind}-{port}.log"
    process = _spawn(argv, log_path, env)
    fake = Fake(kind, port, process, log_path)
    _wait_http(f"{fake.url}/healthz", 30, f"fake-{kind}", log_path)
    return fake


def start_customer_stack(
    log_dir: Path,
    *,
    provisioning_delay: float = 0.0,
    aws_args: list[str] | None = None,
    gcp_args: list[str] | None = None,
    aws_secret_keys: dict[str, str] | None = None,
    gcp_token: str = GCP_TOKEN,
    ports: tuple[int | None, int | None, int | None, int | None] = (None, None, None, None),
    on_start: Callable[[str, int], None] | None = None,
) -> CustomerStack:
    """Simulators ``aws`` and ``gcp`` with tokens, and a fake in front of each.

    ``aws_secret_keys``: access key id -> secret whose SigV4 signatures the AWS fake
    verifies; ``ports``: simulator aws, simulator gcp, fake-aws, fake-gcp (None: free
    ones); ``on_start(name, pid)`` is told of each process as it starts."""
    record = on_start or (lambda name, pid: None)
    aws_token, gcp_sim_token = secrets.token_hex(16), secrets.token_hex(16)
    # Each simulator is called as its peer: aws by "gcp", gcp by "aws".
    aws_sim = start_simulator(
        "aws",
        log_dir=log_dir,
        tokens={"gcp": aws_token},
        provisioning_delay=provisioning_delay,
        port=ports[0],
    )
    record("simulator-aws", aws_sim.process.pid)
    gcp_sim = start_simulator(
        "gcp",
        log_dir=log_dir,
        tokens={"aws": gcp_sim_token},
        provisioning_delay=provisioning_delay,
        port=ports[1],
    )
    record("simulator-gcp", gcp_sim.process.pid)
    aws = start_fake(
        "aws",
        log_dir=log_dir,
        own=aws_sim,
        peer=gcp_sim,
        own_token=aws_token,
        peer_token=gcp_sim_token,
        extra_args=["--account", AWS_ACCOUNT, "--gateway", GATEWAY, *(aws_args or [])],
        secret_keys=aws_secret_keys,
        port=ports[2],
    )
    record("fake-aws", aws.process.pid)
    gcp = start_fake(
        "gcp",
        log_dir=log_dir,
        own=gcp_sim,
        peer=aws_sim,
        own_token=gcp_sim_token,
        peer_token=aws_token,
        extra_args=["--project", GCP_PROJECT, "--location", GCP_LOCATION, *(gcp_args or [])],
        port=ports[3],
        gcp_token=gcp_token,
    )
    record("fake-gcp", gcp.process.pid)
    return CustomerStack(aws_sim, gcp_sim, aws, gcp)
