"""Authentication plugins of the provider client (P34).

Each provider authenticates its partners its own way: AWS with SigV4-signed
requests, others with OAuth2 bearer tokens or mutual TLS. A plugin is an
``httpx.Auth`` (it sees each request, and for OAuth2 the response, so it can
refresh on 401) that may also contribute to the TLS context (mutual TLS).

Credentials are held as ``SecretStr`` or inside library objects and never
appear in ``repr``. TLS verification stays on unless a caller explicitly
passes ``verify=False``; a custom CA bundle is supported.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import ssl
import tempfile
from collections.abc import AsyncGenerator, Callable, Generator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from pydantic import SecretStr

from interconnect_operator import redaction

__all__ = [
    "AUTH_KINDS",
    "DEFAULT_MIN_TLS",
    "Auth",
    "BearerToken",
    "MutualTLS",
    "NoAuth",
    "OAuth2ServiceAccount",
    "SigV4",
    "Verify",
    "build_auth",
    "tls_context",
    "with_min_tls",
]

log = logging.getLogger(__name__)

Verify = bool | str | ssl.SSLContext
"""TLS verification: True (system CAs), False (off), a CA bundle path, or a context."""

DEFAULT_OAUTH2_SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)


def tls_context(verify: Verify) -> ssl.SSLContext | bool:
    """An SSL context for ``verify`` (a CA path becomes a context that trusts it).

    Building the context here, rather than passing a path to httpx, keeps one
    code path for custom CAs and client certificates.
    """
    if isinstance(verify, ssl.SSLContext):
        return verify
    if isinstance(verify, str):
        return ssl.create_default_context(cafile=verify)
    return verify


DEFAULT_MIN_TLS = ssl.TLSVersion.TLSv1_3
"""TLS floor toward providers: the governance refresh upstream asks for TLS 1.3."""


def with_min_tls(
    context: ssl.SSLContext | bool, minimum: ssl.TLSVersion = DEFAULT_MIN_TLS
) -> ssl.SSLContext:
    """``context`` (or the default one ``True``/``False`` stand for) with ``minimum``
    as the lowest TLS version it negotiates; ``False`` keeps verification off."""
    if isinstance(context, ssl.SSLContext):
        result = context
    else:
        result = ssl.create_default_context()
        if context is False:
            result.check_hostname = False
            result.verify_mode = ssl.CERT_NONE
    result.minimum_version = minimum
    return result


class Auth(httpx.Auth):
    """Base of the plugins: an httpx auth flow plus an optional TLS part."""

    kind = "None"

    def ssl_context(self, verify: Verify) -> ssl.SSLContext | bool:
        """TLS settings for the client given the requested verification."""
        return tls_context(verify)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        yield request

    def static_headers(self) -> Mapping[str, str] | None:
        """The headers this plugin adds to every request, when that is all it does.

        The client then builds them into its headers once and sends each
        request without running the flow (a flow per call costs CPU on every
        provider call). None, the default: the flow runs for every request
        (signing, tokens that expire, a resend after a 401).
        """
        return None

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class NoAuth(Auth):
    """No credentials (tests, simulators, or a peer that trusts the network)."""

    def static_headers(self) -> Mapping[str, str] | None:
        return {}


class BearerToken(Auth):
    """A static bearer token in the Authorization header."""

    kind = "Bearer"

    def __init__(self, token: SecretStr | str) -> None:
        self._token = token if isinstance(token, SecretStr) else SecretStr(token)
        if not self._token.get_secret_value():
            raise ValueError("empty bearer token")

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._token.get_secret_value()}"
        yield request

    def static_headers(self) -> Mapping[str, str] | None:
        # A fixed token: the same header on every request, built into the
        # client's headers once (httpx masks it in a Headers' repr).
        return {"Authorization": f"Bearer {self._token.get_secret_value()}"}


class TokenRefreshFailed(Exception):
    """The credentials could not produce a token (e.g. google-auth's RefreshError).

    Carries the error's type name only: a token endpoint's answer may echo
    what it was sent. The client turns it into an ``Unauthorized`` (P34).
    """


class OAuth2ServiceAccount(Auth):
    """OAuth2 access tokens from google-auth credentials (e.g. a service account).

    The token is cached until shortly before expiry; refreshing (a blocking
    HTTP call inside google-auth) runs in a worker thread so the event loop
    never blocks. A 401 forces one refresh and one resend.
    """

    kind = "OAuth2"

    def __init__(
        self,
        credentials: Any,
        *,
        refresh_margin_s: float = 60.0,
        request_factory: Callable[[], Any] | None = None,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self._credentials = credentials
        self._margin = timedelta(seconds=refresh_margin_s)
        self._request_factory = request_factory or _google_request
        self._now = now or (lambda: datetime.now(UTC))
        self._lock: asyncio.Lock | None = None

    @classmethod
    def from_service_account_info(
        cls, info: Mapping[str, Any], scopes: Sequence[str] = DEFAULT_OAUTH2_SCOPES
    ) -> OAuth2ServiceAccount:
        """Build from the parsed JSON of a service account key."""
        from google.oauth2 import service_account

        credentials = service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
            dict(info), scopes=list(scopes)
        )
        return cls(credentials)

    def _fresh(self) -> bool:
        token = getattr(self._credentials, "token", None)
        expiry = getattr(self._credentials, "expiry", None)
        if not token:
            return False
        if expiry is None:
            return True
        # google-auth keeps expiry as a naive UTC datetime.
        if expiry.tzinfo is None:
            expiry = expiry.replace(tzinfo=UTC)
        return bool(self._now() + self._margin < expiry)

    async def _token(self, *, force: bool = False) -> str:
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if force or not self._fresh():
                try:
                    await asyncio.to_thread(self._credentials.refresh, self._request_factory())
                except Exception as exc:  # any plugin failure is a failed refresh
                    raise TokenRefreshFailed(
                        f"token refresh failed ({type(exc).__name__})"
                    ) from exc
            token = getattr(self._credentials, "token", None)
        if not token:
            raise RuntimeError("OAuth2 credentials produced no access token")
        # The operator's own secret: masked everywhere (the previous token is let go).
        redaction.hold(f"oauth-token/{id(self)}", [str(token)])
        return str(token)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        raise RuntimeError("OAuth2ServiceAccount works only with the async client")

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        request.headers["Authorization"] = f"Bearer {await self._token()}"
        response = yield request
        if response.status_code == httpx.codes.UNAUTHORIZED:
            # The token may have been revoked or rotated early: one retry.
            request.headers["Authorization"] = f"Bearer {await self._token(force=True)}"
            yield request


def _google_request() -> Any:
    from google.auth.transport.requests import Request

    return Request()


class SigV4(Auth):
    """AWS Signature Version 4 over method, URL, selected headers and body.

    ``credentials`` is a botocore ``Credentials`` (static or refreshable) or
    an ``(access_key, secret_key[, session_token])`` tuple. Each send (and so
    each retry) is signed afresh with the current time.
    """

    kind = "SigV4"
    requires_request_body = True

    # Headers included in the signature: the ones a proxy will not rewrite.
    _SIGNED_HEADERS = ("host", "content-type")

    def __init__(self, credentials: Any, region: str, service: str) -> None:
        from botocore.credentials import Credentials

        if isinstance(credentials, tuple):
            credentials = Credentials(*credentials)
        if not region or not service:
            raise ValueError("SigV4 needs a region and a service name")
        self._credentials = credentials
        self.region = region
        self.service = service
        # botocore logs the canonical request at DEBUG, which includes the
        # session token header once signed: keep that logger above DEBUG so
        # enabling debug logging never leaks a credential (P31 spirit).
        signer_log = logging.getLogger("botocore.auth")
        if signer_log.getEffectiveLevel() < logging.INFO:
            signer_log.setLevel(logging.INFO)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        credentials = self._credentials
        if hasattr(credentials, "get_frozen_credentials"):
            credentials = credentials.get_frozen_credentials()
        self._sign(request, credentials)
        yield request

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        credentials = self._credentials
        if hasattr(credentials, "get_frozen_credentials"):
            # Refreshable (ambient) credentials fetch new keys with blocking I/O
            # (STS, the container endpoint): off the event loop when that is due.
            refresh_needed = getattr(credentials, "refresh_needed", None)
            if callable(refresh_needed) and refresh_needed():
                credentials = await asyncio.to_thread(credentials.get_frozen_credentials)
            else:
                credentials = credentials.get_frozen_credentials()
        self._sign(request, credentials)
        yield request

    def _sign(self, request: httpx.Request, credentials: Any) -> None:
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest

        headers = {
            name: value
            for name, value in request.headers.items()
            if name.lower() in self._SIGNED_HEADERS or name.lower().startswith("x-amz-")
        }
        aws_request = AWSRequest(
            method=request.method, url=str(request.url), data=request.content, headers=headers
        )
        SigV4Auth(credentials, self.service, self.region).add_auth(aws_request)
        for name in ("Authorization", "X-Amz-Date", "X-Amz-Security-Token"):
            value = aws_request.headers.get(name)
            if value is not None:
                request.headers[name] = value

    def __repr__(self) -> str:
        return f"SigV4(region={self.region!r}, service={self.service!r})"


class MutualTLS(Auth):
    """Client certificate authentication; adds no headers.

    ``ca_file`` (optional) replaces the system trust store for the peer's
    certificate, which is the usual setup between two providers.
    """

    kind = "MTLS"

    def __init__(
        self,
        cert_file: str,
        key_file: str,
        *,
        ca_file: str | None = None,
        key_password: SecretStr | None = None,
    ) -> None:
        self.cert_file = cert_file
        self.key_file = key_file
        self.ca_file = ca_file
        self._key_password = key_password

    def ssl_context(self, verify: Verify) -> ssl.SSLContext:
        if isinstance(verify, ssl.SSLContext):
            context = verify
        else:
            cafile = self.ca_file or (verify if isinstance(verify, str) else None)
            context = ssl.create_default_context(cafile=cafile)
            if verify is False:
                # Only on explicit request: verification is on by default (P34).
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
        password = self._key_password.get_secret_value() if self._key_password else None
        context.load_cert_chain(self.cert_file, self.key_file, password=password)
        return context

    def __repr__(self) -> str:
        return f"MutualTLS(cert_file={self.cert_file!r}, ca_file={self.ca_file!r})"


AUTH_KINDS = ("None", "Bearer", "OAuth2", "SigV4", "MTLS", "EntraToken")


def _text(settings: Mapping[str, Any], *names: str, required: bool = True) -> str | None:
    for name in names:
        value = settings.get(name)
        if value is None:
            continue
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if isinstance(value, bytes):
            value = value.decode("utf-8")
        return str(value)
    if required:
        # Name the keys, never the values.
        raise ValueError(f"auth settings lack {' or '.join(names)}")
    return None


@contextlib.contextmanager
def _pem_files(*contents: str) -> Generator[list[str], None, None]:
    """Write PEM contents to private temporary files for ssl's file-only API."""
    with tempfile.TemporaryDirectory(prefix="icop-tls-") as directory:
        os.chmod(directory, 0o700)
        paths: list[str] = []
        for index, content in enumerate(contents):
            path = os.path.join(directory, f"{index}.pem")
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "w") as handle:
                handle.write(content)
            paths.append(path)
        yield paths


class _LoadedMutualTLS(MutualTLS):
    """Mutual TLS whose material came as PEM text (e.g. a Kubernetes Secret).

    The context is built once, while the temporary files exist.
    """

    def __init__(self, cert_pem: str, key_pem: str, ca_pem: str | None) -> None:
        super().__init__("<pem>", "<pem>", ca_file="<pem>" if ca_pem else None)
        self._pems = (cert_pem, key_pem, ca_pem)

    def ssl_context(self, verify: Verify) -> ssl.SSLContext:
        cert_pem, key_pem, ca_pem = self._pems
        if ca_pem is not None and not isinstance(verify, ssl.SSLContext):
            context = ssl.create_default_context(cadata=ca_pem)
        elif isinstance(verify, ssl.SSLContext):
            context = verify
        else:
            context = ssl.create_default_context(cafile=verify if isinstance(verify, str) else None)
            if verify is False:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
        with _pem_files(cert_pem, key_pem) as (cert_path, key_path):
            context.load_cert_chain(cert_path, key_path)
        return context


def build_auth(kind: str, settings: Mapping[str, Any] | None = None) -> Auth:
    """Build the plugin for a CapacityPool's ``auth.type`` from Secret data.

    Settings keys (values str, bytes or SecretStr):

    - ``None``: nothing.
    - ``Bearer``: ``token``.
    - ``OAuth2``: ``serviceAccountJson`` (or ``service-account.json``), optional
      ``scopes`` (comma separated).
    - ``SigV4``: ``accessKeyId``, ``secretAccessKey``, optional
      ``sessionToken``, ``region``, optional ``service`` (default
      ``interconnect``).
    - ``MTLS``: ``tls.crt`` and ``tls.key`` (PEM), optional ``ca.crt``; or
      ``certFile``, ``keyFile``, optional ``caFile`` (paths).
    - ``EntraToken`` (Azure): ``tenantId``, ``clientId``, ``scope`` (or ``appId``:
      the scope is then ``api://{appId}/.default``), and ``clientSecret`` or
      ``federatedTokenFile`` (Workload Identity Federation); optional
      ``authorityHost``.
    """
    values: Mapping[str, Any] = settings or {}
    normalized = kind.strip().lower()
    if normalized in ("none", ""):
        return NoAuth()
    if normalized == "bearer":
        return BearerToken(SecretStr(_text(values, "token") or ""))
    if normalized == "oauth2":
        raw = _text(values, "serviceAccountJson", "service-account.json") or ""
        try:
            info = json.loads(raw)
        except json.JSONDecodeError:
            raise ValueError("serviceAccountJson is not JSON") from None
        scopes_text = _text(values, "scopes", required=False)
        scopes = (
            tuple(s.strip() for s in scopes_text.split(",") if s.strip())
            if scopes_text
            else DEFAULT_OAUTH2_SCOPES
        )
        return OAuth2ServiceAccount.from_service_account_info(info, scopes)
    if normalized == "sigv4":
        credentials = (
            _text(values, "accessKeyId"),
            _text(values, "secretAccessKey"),
            _text(values, "sessionToken", required=False),
        )
        return SigV4(
            credentials,
            region=_text(values, "region") or "",
            service=_text(values, "service", required=False) or "interconnect",
        )
    if normalized == "mtls":
        cert_pem = _text(values, "tls.crt", required=False)
        if cert_pem is not None:
            return _LoadedMutualTLS(
                cert_pem,
                _text(values, "tls.key") or "",
                _text(values, "ca.crt", required=False),
            )
        return MutualTLS(
            _text(values, "certFile") or "",
            _text(values, "keyFile") or "",
            ca_file=_text(values, "caFile", required=False),
        )
    if normalized == "entratoken":
        return _entra(values)
    raise ValueError(f"unknown auth kind {kind!r}; expected one of {', '.join(AUTH_KINDS)}")


def _entra(values: Mapping[str, Any]) -> Auth:
    from interconnect_operator.api.entra import DEFAULT_AUTHORITY, EntraCredentials, EntraToken

    scope = _text(values, "scope", required=False)
    if scope is None:
        scope = f"api://{_text(values, 'appId')}/.default"
    secret = _text(values, "clientSecret", required=False)
    return EntraToken(
        EntraCredentials(
            tenant_id=_text(values, "tenantId") or "",
            client_id=_text(values, "clientId") or "",
            scope=scope,
            client_secret=SecretStr(secret) if secret is not None else None,
            federated_token_file=_text(values, "federatedTokenFile", required=False),
            authority=_text(values, "authorityHost", required=False) or DEFAULT_AUTHORITY,
        )
    )
