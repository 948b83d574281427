"""P34 transport security: HTTPS, and mutual TLS with ``--client-ca``."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.integration.simulator.test_cli import REPO, _free_port, _stop

_NOW = datetime.datetime.now(datetime.UTC)


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def _cert(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Certificate | None,
    issuer_key: ec.EllipticCurvePrivateKey,
    usage: x509.ObjectIdentifier | None,
) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer.subject if issuer else name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_NOW - datetime.timedelta(minutes=5))
        .not_valid_after(_NOW + datetime.timedelta(hours=1))
    )
    if issuer is None or usage is None:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
    else:
        builder = builder.add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), False)
        if usage == ExtendedKeyUsageOID.SERVER_AUTH:
            san = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
            builder = builder.add_extension(san, False)
    return builder.sign(issuer_key, hashes.SHA256())


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("pki")
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _cert("test-ca", ca_key, None, ca_key, None)
    files: dict[str, Path] = {"ca": base / "ca.pem"}
    files["ca"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    for role, usage in (
        ("server", ExtendedKeyUsageOID.SERVER_AUTH),
        ("client", ExtendedKeyUsageOID.CLIENT_AUTH),
    ):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _cert(role, key, ca, ca_key, usage)
        files[role] = base / f"{role}.pem"
        files[f"{role}-key"] = base / f"{role}-key.pem"
        files[role].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        _write_key(key, files[f"{role}-key"])
    return files


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
