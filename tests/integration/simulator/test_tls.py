"""P34 transport security: HTTPS, and mutual TLS with ``--client-ca``."""

from __future__ import annotations

import ssl
from pathlib import Path

import httpx
import pytest

from tests.support import simulator_process
from tests.support.pki import make_pki
from tests.support.ports import free_port


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
    port = free_port()
    process = simulator_process.start(
        [
            "--provider-id", "aws", "--port", str(port),
            "--tls-cert", str(pki["server"]), "--tls-key", str(pki["server-key"]),
            "--client-ca", str(pki["ca"]),
        ]
    )  # fmt: skip
    base = f"https://127.0.0.1:{port}"
    with_cert = ssl.create_default_context(cafile=str(pki["ca"]))
    with_cert.load_cert_chain(str(pki["client"]), str(pki["client-key"]))
    without_cert = ssl.create_default_context(cafile=str(pki["ca"]))
    try:
        response = simulator_process.wait_ready(
            f"{base}/providers/gcp/environments", process, verify=with_cert
        )
        assert response.status_code == 200
        assert response.json()["environments"][0]["name"].endswith("/aws-gcp-us-east")
        with pytest.raises(httpx.TransportError):
            httpx.get(f"{base}/healthz", verify=without_cert)
    finally:
        assert simulator_process.stop(process)
