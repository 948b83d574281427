"""HTTPS and mutual-TLS simulators for end-to-end tests, with their throwaway PKI.

Each call makes a new CA (:func:`make_pki`), so a client certificate made for
one test grants nothing elsewhere, not even on the cluster; :func:`start_tls_sim`
starts ``interconnect-operator simulate`` over HTTPS (``mtls``: clients must
present a certificate of that CA) and waits, bounded, until it answers.
"""

from __future__ import annotations

import ssl
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tests.support.pki import make_pki as make_rig_pki
from tests.support.ports import free_port
from tests.support.stack import console_script


@dataclass
class Pki:
    ca_pem: str
    server_cert: Path
    server_key: Path
    client_cert_pem: str
    client_key_pem: str
    ca_file: Path


def make_pki(directory: Path, name: str) -> Pki:
    """A fresh CA, a server certificate for 127.0.0.1 and a client certificate.

    The rig's own PKI maker serves (its serving certificate carries the
    127.0.0.1 and localhost SANs); the CA is new per call, so its client
    certificate grants nothing on the cluster.
    """
    files = make_rig_pki(directory / name, days=1)
    return Pki(
        ca_pem=files.ca_cert.read_text(),
        server_cert=files.serving_cert,
        server_key=files.serving_key,
        client_cert_pem=files.admin_cert.read_text(),
        client_key_pem=files.admin_key.read_text(),
        ca_file=files.ca_cert,
    )


@dataclass
class TlsSim:
    provider_id: str
    port: int
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_tls_sim(
    provider_id: str, pki: Pki, log_dir: Path, *, tokens: dict[str, str], mtls: bool
) -> TlsSim:
    port = free_port()
    argv = [
        console_script("interconnect-operator"),
        "simulate",
        "--provider-id",
        provider_id,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--provisioning-delay",
        "0.3",
        "--log-level",
        "WARNING",
        "--tls-cert",
        str(pki.server_cert),
        "--tls-key",
        str(pki.server_key),
    ]
    if mtls:
        argv += ["--client-ca", str(pki.ca_file)]
    if tokens:
        token_file = log_dir / f"tls-{provider_id}-{port}.tokens"
        token_file.write_text("".join(f"{c}={t}\n" for c, t in tokens.items()))
        token_file.chmod(0o600)
        argv += ["--token-file", str(token_file)]
    log = (log_dir / f"tls-simulator-{provider_id}-{port}.log").open("ab")
    process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    sim = TlsSim(provider_id, port, process)
    ctx = ssl.create_default_context(cadata=pki.ca_pem)
    if mtls:
        cert_file = log_dir / f"tls-client-{port}.pem"
        cert_file.write_text(pki.client_cert_pem + pki.client_key_pem)
        cert_file.chmod(0o600)
        ctx.load_cert_chain(str(cert_file))
    deadline = time.monotonic() + 30
    delay = 0.05
    while True:
        try:
            with urllib.request.urlopen(f"{sim.url}/healthz", context=ctx, timeout=2):
                return sim
        except (urllib.error.URLError, OSError):
            if time.monotonic() > deadline or process.poll() is not None:
                sim.stop()
                raise
            time.sleep(delay)
            delay = min(delay * 2, 1.0)
