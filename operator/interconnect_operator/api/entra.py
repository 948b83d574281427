"""Microsoft Entra access tokens for Azure's partner endpoint (upstream commit 710efaf).

Azure's "ExpressRoute MultiCloud API" takes ``Authorization: Bearer`` Entra
access tokens, obtained with the OAuth2 client-credentials grant at
``{authority}/{tenant}/oauth2/v2.0/token`` with ``scope =
api://{MSFT-app-id}/.default``, authenticated either with a client secret or
with Workload Identity Federation: a JWT from the caller's own identity
provider (audience ``api://AzureADTokenExchange``) sent as a client assertion.

The grant is a plain form POST, made here with httpx (no SDK): the token is
cached until shortly before it expires, one request refreshes it for all
concurrent calls, and a 401 from the provider forces one refresh and one
resend. A failed refresh raises :class:`~.auth.TokenRefreshFailed` naming
only the status (a token endpoint's answer may echo what it was sent).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Callable, Generator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from pydantic import SecretStr

from interconnect_operator.api.auth import Auth, TokenRefreshFailed

__all__ = ["ASSERTION_TYPE", "DEFAULT_AUTHORITY", "EntraCredentials", "EntraToken"]

DEFAULT_AUTHORITY = "https://login.microsoftonline.com"
ASSERTION_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"
#: A token is refreshed this long before it expires.
REFRESH_MARGIN_S = 120.0


@dataclass(frozen=True)
class EntraCredentials:
    """The client-credentials grant: a client secret, or a federated token file (WIF)."""

    tenant_id: str
    client_id: str
    scope: str
    client_secret: SecretStr | None = field(default=None, repr=False)
    federated_token_file: str | None = None
    authority: str = DEFAULT_AUTHORITY

    def __post_init__(self) -> None:
        for label, value in (("tenantId", self.tenant_id), ("clientId", self.client_id)):
            if not value or "/" in value or any(c.isspace() for c in value):
                raise ValueError(f"{label} must be a single id")
        if (self.client_secret is None) == (self.federated_token_file is None):
            raise ValueError("set exactly one of clientSecret and federatedTokenFile")
        if not self.scope.endswith("/.default"):
            raise ValueError("scope must be api://{app-id}/.default (client credentials)")
        if not self.authority.startswith(("https://", "http://127.0.0.1", "http://localhost")):
            raise ValueError("authorityHost must be https (plain http only on loopback)")

    @property
    def token_url(self) -> str:
        return f"{self.authority.rstrip('/')}/{self.tenant_id}/oauth2/v2.0/token"

    def form(self) -> dict[str, str]:
        """The grant's form fields; the federated token is read at each refresh (it rotates)."""
        fields = {
            "grant_type": "client_credentials",
            "client_id": self.client_id,
            "scope": self.scope,
        }
        if self.client_secret is not None:
            fields["client_secret"] = self.client_secret.get_secret_value()
        else:
            assert self.federated_token_file is not None
            fields["client_assertion_type"] = ASSERTION_TYPE
            fields["client_assertion"] = Path(self.federated_token_file).read_text().strip()
        return fields


class EntraToken(Auth):
    """Bearer tokens from Microsoft Entra (client credentials), cached until near expiry."""

    kind = "EntraToken"

    def __init__(
        self,
        credentials: EntraCredentials,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._credentials = credentials
        self._transport = transport
        self._clock = clock
        self._token: SecretStr | None = None
        self._expires_at = 0.0
        self._lock: asyncio.Lock | None = None

    def __repr__(self) -> str:
        return f"EntraToken(tenant={self._credentials.tenant_id!r})"

    async def token(self, *, force: bool = False) -> str:
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if force or self._token is None or self._clock() >= self._expires_at:
                await self._refresh()
            assert self._token is not None
            return self._token.get_secret_value()

    async def _refresh(self) -> None:
        try:
            form = self._credentials.form()
        except OSError as exc:
            raise TokenRefreshFailed(f"federated token unreadable ({type(exc).__name__})") from None
        try:
            async with httpx.AsyncClient(transport=self._transport, timeout=10.0) as client:
                response = await client.post(self._credentials.token_url, data=form)
        except httpx.HTTPError as exc:
            raise TokenRefreshFailed(f"token endpoint unreachable ({type(exc).__name__})") from None
        if response.status_code != httpx.codes.OK:
            raise TokenRefreshFailed(f"token endpoint answered {response.status_code}")
        try:
            document = response.json()
            token = str(document["access_token"])
            lifetime = float(document.get("expires_in", 3599))
        except (ValueError, KeyError, TypeError):
            raise TokenRefreshFailed("token endpoint answered no access_token") from None
        if not token or document.get("token_type", "Bearer").lower() != "bearer":
            raise TokenRefreshFailed("token endpoint answered no bearer token")
        self._token = SecretStr(token)
        self._expires_at = self._clock() + max(0.0, lifetime - REFRESH_MARGIN_S)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        raise RuntimeError("EntraToken works only with the async client")

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        request.headers["Authorization"] = f"Bearer {await self.token()}"
        response = yield request
        if response.status_code == httpx.codes.UNAUTHORIZED:
            # Revoked or rotated early: one refresh, one resend.
            request.headers["Authorization"] = f"Bearer {await self.token(force=True)}"
            yield request
