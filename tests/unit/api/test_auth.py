"""Auth plugins (P34): bearer, OAuth2 service account, SigV4, mutual TLS."""

from __future__ import annotations

import datetime as dt
import json
import ssl
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from pydantic import SecretStr

from interconnect_operator import redaction
from interconnect_operator.api.auth import (
    BearerToken,
    MutualTLS,
    NoAuth,
    OAuth2ServiceAccount,
    SigV4,
    build_auth,
    tls_context,
)
from interconnect_operator.api.client import ProviderClient
from tests.unit.api import samples

FIXED = dt.datetime(2026, 5, 18, 12, 0, 0)


def recording_client(
    auth: Any, seen: list[httpx.Request], statuses: list[int] | None = None
) -> ProviderClient:
    queue = list(statuses or [])

    def handler(request: httpx.Request) -> httpx.Response:
        # Snapshot: an auth flow may resend the same (mutated) request object.
        seen.append(
            httpx.Request(
                request.method, request.url, headers=request.headers.copy(), content=request.content
            )
        )
        status = queue.pop(0) if queue else 200
        return httpx.Response(status, json=samples.CONNECTION if status == 200 else {})

    return ProviderClient(
        "https://peer.test", "prov-a", auth=auth, transport=httpx.MockTransport(handler)
    )


async def test_bearer_token_header() -> None:
    seen: list[httpx.Request] = []
    async with recording_client(BearerToken(SecretStr("tok-123")), seen) as client:
        await client.get_connection("e", "i", "k")
    assert seen[0].headers["Authorization"] == "Bearer tok-123"
    assert "tok-123" not in repr(BearerToken("tok-123"))


def test_bearer_token_must_not_be_empty() -> None:
    with pytest.raises(ValueError, match="empty"):
        BearerToken("")


async def test_no_auth_adds_nothing() -> None:
    seen: list[httpx.Request] = []
    async with recording_client(NoAuth(), seen) as client:
        await client.get_connection("e", "i", "k")
    assert "Authorization" not in seen[0].headers


class FakeCredentials:
    """google-auth-like credentials: refresh() mints a new token."""

    def __init__(self, lifetime: dt.timedelta) -> None:
        self.token: str | None = None
        self.expiry: dt.datetime | None = None
        self.refreshes = 0
        self.lifetime = lifetime

    def refresh(self, request: Any) -> None:
        self.refreshes += 1
        self.token = f"tok-{self.refreshes}"
        self.expiry = dt.datetime(2026, 5, 18, 12, 0) + self.lifetime  # naive UTC


async def test_oauth2_token_cached_until_expiry() -> None:
    now = [dt.datetime(2026, 5, 18, 12, 0, tzinfo=dt.UTC)]
    credentials = FakeCredentials(dt.timedelta(hours=1))
    auth = OAuth2ServiceAccount(credentials, request_factory=object, now=lambda: now[0])
    seen: list[httpx.Request] = []
    async with recording_client(auth, seen) as client:
        await client.get_connection("e", "i", "k")
        await client.get_connection("e", "i", "k")
        assert credentials.refreshes == 1
        now[0] += dt.timedelta(minutes=59, seconds=30)  # within the refresh margin
        await client.get_connection("e", "i", "k")
    assert credentials.refreshes == 2
    assert [r.headers["Authorization"] for r in seen] == [
        "Bearer tok-1",
        "Bearer tok-1",
        "Bearer tok-2",
    ]


class LongTokenCredentials(FakeCredentials):
    def refresh(self, request: Any) -> None:
        super().refresh(request)
        self.token = f"ya29.access-token-{self.refreshes:04d}"


async def test_oauth2_tokens_are_held_for_redaction_and_the_old_one_let_go() -> None:
    now = [dt.datetime(2026, 5, 18, 12, 0, tzinfo=dt.UTC)]
    credentials = LongTokenCredentials(dt.timedelta(hours=1))
    auth = OAuth2ServiceAccount(credentials, request_factory=object, now=lambda: now[0])
    seen: list[httpx.Request] = []
    async with recording_client(auth, seen) as client:
        await client.get_connection("e", "i", "k")
        assert redaction.contains_secret("ya29.access-token-0001")
        now[0] += dt.timedelta(hours=2)
        await client.get_connection("e", "i", "k")
    assert redaction.contains_secret("ya29.access-token-0002")
    assert not redaction.contains_secret("ya29.access-token-0001")
    redaction.clear()


async def test_oauth2_refreshes_once_on_401() -> None:
    credentials = FakeCredentials(dt.timedelta(hours=1))
    auth = OAuth2ServiceAccount(
        credentials,
        request_factory=object,
        now=lambda: dt.datetime(2026, 5, 18, 12, 0, tzinfo=dt.UTC),
    )
    seen: list[httpx.Request] = []
    async with recording_client(auth, seen, statuses=[401, 200]) as client:
        connection = await client.get_connection("e", "i", "k")
    assert connection.bandwidth_mbps == 1000
    assert [r.headers["Authorization"] for r in seen] == ["Bearer tok-1", "Bearer tok-2"]


def _rsa_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def test_build_oauth2_from_service_account_json() -> None:
    info = {
        "type": "service_account",
        "client_email": "op@project.iam.gserviceaccount.com",
        "private_key": _rsa_pem(),
        "private_key_id": "k1",
        "token_uri": "https://oauth2.googleapis.com/token",
        "project_id": "p",
    }
    auth = build_auth("OAuth2", {"serviceAccountJson": json.dumps(info).encode(), "scopes": "a, b"})
    assert isinstance(auth, OAuth2ServiceAccount)
    assert "PRIVATE KEY" not in repr(auth)


async def test_sigv4_signs_method_url_and_body(monkeypatch: pytest.MonkeyPatch) -> None:
    import botocore.auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda *a, **k: FIXED)
    auth = SigV4(
        ("AKIDEXAMPLE", "secret-key", "session-tok"), region="eu-west-1", service="interconnect"
    )
    seen: list[httpx.Request] = []
    async with recording_client(auth, seen) as client:
        await client.create_connection("e", "i", "k", _connection(1000))
        await client.create_connection("e", "i", "k", _connection(2000))
    first, second = seen
    authorization = first.headers["Authorization"]
    assert authorization.startswith(
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260518/eu-west-1/interconnect/aws4_request, "
    )
    assert "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token" in authorization
    assert first.headers["X-Amz-Date"] == "20260518T120000Z"
    assert first.headers["X-Amz-Security-Token"] == "session-tok"
    # The body is part of the signature...
    assert _signature(first) != _signature(second)
    # ...and the signature is what botocore computes for the same request.
    expected = AWSRequest(
        method="POST",
        url=str(first.url),
        data=first.content,
        headers={"host": "peer.test", "content-type": "application/json"},
    )
    botocore.auth.SigV4Auth(
        Credentials("AKIDEXAMPLE", "secret-key", "session-tok"), "interconnect", "eu-west-1"
    ).add_auth(expected)
    assert expected.headers["Authorization"] == authorization
    assert "secret-key" not in repr(auth)


def _connection(bandwidth: int) -> Any:
    from interconnect_operator.api.models import Connection

    return Connection(bandwidth_mbps=bandwidth)


def _signature(request: httpx.Request) -> str:
    return request.headers["Authorization"].rsplit("Signature=", 1)[1]


def test_sigv4_needs_region() -> None:
    with pytest.raises(ValueError, match="region"):
        SigV4(("a", "b"), region="", service="s")


@pytest.fixture
def pki(tmp_path: Path) -> dict[str, Any]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "prov-a operator")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    (tmp_path / "tls.crt").write_text(cert_pem)
    (tmp_path / "tls.key").write_text(key_pem)
    return {
        "cert": str(tmp_path / "tls.crt"),
        "key": str(tmp_path / "tls.key"),
        "cert_pem": cert_pem,
        "key_pem": key_pem,
    }


def test_mtls_context_verifies_and_presents_a_certificate(pki: dict[str, Any]) -> None:
    auth = MutualTLS(pki["cert"], pki["key"], ca_file=pki["cert"])
    context = auth.ssl_context(True)
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname is True
    assert any("prov-a operator" in str(ca["subject"]) for ca in context.get_ca_certs())


def test_mtls_from_pem_settings(pki: dict[str, Any]) -> None:
    auth = build_auth(
        "mtls",
        {"tls.crt": pki["cert_pem"], "tls.key": pki["key_pem"].encode(), "ca.crt": pki["cert_pem"]},
    )
    context = auth.ssl_context(True)
    assert isinstance(context, ssl.SSLContext)
    assert len(context.get_ca_certs()) == 1  # only the given CA is trusted
    assert "PRIVATE" not in repr(auth)


def test_mtls_rejects_a_key_that_does_not_match(pki: dict[str, Any], tmp_path: Path) -> None:
    other = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    (tmp_path / "other.key").write_bytes(other)
    with pytest.raises(ssl.SSLError):
        MutualTLS(pki["cert"], str(tmp_path / "other.key")).ssl_context(True)


def test_tls_verification_is_on_by_default_and_custom_ca_supported(pki: dict[str, Any]) -> None:
    assert tls_context(True) is True
    context = tls_context(pki["cert"])
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED
    # The client accepts a CA path and builds a verifying context from it.
    client = ProviderClient("https://peer.test", "prov-a", verify=pki["cert"])
    assert repr(client).startswith("ProviderClient(")


@pytest.mark.parametrize(
    ("kind", "settings", "expected"),
    [
        ("None", {}, NoAuth),
        ("Bearer", {"token": SecretStr("t")}, BearerToken),
        ("SigV4", {"accessKeyId": "a", "secretAccessKey": "s", "region": "us-east-1"}, SigV4),
    ],
)
def test_build_auth_kinds(kind: str, settings: dict[str, Any], expected: type) -> None:
    assert isinstance(build_auth(kind, settings), expected)


def test_build_auth_errors_name_keys_not_values() -> None:
    with pytest.raises(ValueError, match="secretAccessKey") as caught:
        build_auth("SigV4", {"accessKeyId": "AKID-visible?", "region": "r"})
    assert "AKID-visible?" not in str(caught.value)
    with pytest.raises(ValueError, match="unknown auth kind"):
        build_auth("Kerberos", {})
    with pytest.raises(ValueError, match="not JSON"):
        build_auth("OAuth2", {"serviceAccountJson": "{"})
