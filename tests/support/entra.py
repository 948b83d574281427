"""A local stand-in for Microsoft Entra's token endpoint (client-credentials grant).

It checks the grant the way Entra does for Azure's partner API: the tenant in
the path, ``grant_type=client_credentials``, a known ``client_id``, the scope
``api://{app-id}/.default``, and either the client's secret or a federated
client assertion (a JWT whose ``aud`` is ``api://AzureADTokenExchange`` and
whose ``iss``/``sub`` match the registered federated credential, unexpired).
It answers an access token the test's simulator accepts as a bearer.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

EXCHANGE_AUDIENCE = "api://AzureADTokenExchange"
ASSERTION_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"


@dataclass
class EntraApp:
    """What the tenant knows: the partner app, its credentials, the API's app id."""

    tenant: str
    client_id: str
    api_app_id: str
    access_token: str
    client_secret: str | None = None
    federated_issuer: str | None = None
    federated_subject: str | None = None
    expires_in: int = 3599
    grants: list[str] = field(default_factory=list)
    """``secret`` / ``assertion`` per token issued."""
    refusals: list[str] = field(default_factory=list)


def unsigned_jwt(claims: dict[str, object]) -> str:
    """A JWT shape (header.payload.signature) for the assertion file; the stand-in
    checks claims, not signatures (Entra checks the issuer's keys too)."""

    def part(value: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}.sig"


def _claims(assertion: str) -> dict[str, object] | None:
    try:
        payload = assertion.split(".")[1]
        decoded = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        claims = json.loads(decoded)
    except (IndexError, ValueError):
        return None
    return claims if isinstance(claims, dict) else None


def _check(app: EntraApp, path: str, form: dict[str, str]) -> str | None:
    """Why the grant is refused (Entra's error code), or None."""
    if path != f"/{app.tenant}/oauth2/v2.0/token":
        return "invalid_tenant"
    if form.get("grant_type") != "client_credentials":
        return "unsupported_grant_type"
    if form.get("client_id") != app.client_id:
        return "unauthorized_client"
    if form.get("scope") != f"api://{app.api_app_id}/.default":
        return "invalid_scope"
    if "client_secret" in form:
        return None if form["client_secret"] == app.client_secret else "invalid_client"
    if form.get("client_assertion_type") != ASSERTION_TYPE:
        return "invalid_client"
    claims = _claims(form.get("client_assertion", ""))
    if (
        claims is None
        or claims.get("aud") != EXCHANGE_AUDIENCE
        or claims.get("iss") != app.federated_issuer
        or claims.get("sub") != app.federated_subject
        or not isinstance(claims.get("exp"), int | float)
        or float(claims["exp"]) < time.time()  # type: ignore[arg-type]
    ):
        return "invalid_client"
    return None


@contextmanager
def entra_endpoint(app: EntraApp) -> Iterator[str]:
    """Serve the stand-in on 127.0.0.1; yields its authority host URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
            error = _check(app, self.path, form)
            if error is None:
                app.grants.append("secret" if "client_secret" in form else "assertion")
                status, body = (
                    200,
                    {
                        "token_type": "Bearer",
                        "expires_in": app.expires_in,
                        "access_token": app.access_token,
                    },
                )
            else:
                app.refusals.append(error)
                status, body = (401 if error == "invalid_client" else 400), {"error": error}
            raw = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
