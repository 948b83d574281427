"""P34 transport security: HTTPS, and mutual TLS with ``--client-ca``."""

from __future__ import annotations

import datetime
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.integration.simulator.test_cli import REPO, _free_port, _stop
from tests.support.cluster import make_pki

_NOW = datetime.datetime.now(datetime.UTC)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """CA, server certificate for 127.0.0.1 and a client certificate (the rig's PKI maker)."""
    files = make_pki(tmp_path_factory.mktemp("pki"), days=1)
    return {
        "ca": files.ca_cert,
        "server": files.serving_cert,
        "server-key": files.serving_key,
        "client": files.admin_cert,
        "client-key": files.admin_key,
    }


def test_p34_mutual_tls_requires_a_client_certificate(pki: dict[str, Path]) -> None:
    port = _free_port()
    process = subprocess.Popen(
        [
            sys.executable, "-m", "interconnect_operator.simulator.cli",
            "--provider-id", "aws", "--port", str(port),
            "--tls-cert", str(pki["server"]), "--tls-key", str(pki["server-key"]),
            "--client-ca", str(pki["ca"]),
        ],
        cwd=REPO,
        env={"PYTHONPATH": str(REPO / "operator"), "PATH": "/usr/bin:/bin"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"https://127.0.0.1:{port}"
    with_cert = ssl.create_default_context(cafile=str(pki["ca"]))
    with_cert.load_cert_chain(str(pki["client"]), str(pki["client-key"]))
    without_cert = ssl.create_default_context(cafile=str(pki["ca"]))
    try:
        deadline = datetime.datetime.now() + datetime.timedelta(seconds=30)
        while True:
            assert process.poll() is None
            try:
                response = httpx.get(f"{base}/providers/gcp/environments", verify=with_cert)
                break
            except httpx.ConnectError:
                assert datetime.datetime.now() < deadline, "server did not start"
                time.sleep(0.1)
        assert response.status_code == 200
        assert response.json()["environments"][0]["name"].endswith("/aws-gcp-us-east")
        with pytest.raises(httpx.TransportError):
            httpx.get(f"{base}/healthz", verify=without_cert)
    finally:
        assert _stop(process)
