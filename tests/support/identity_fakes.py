"""Platform identity endpoints as small HTTP servers: AWS STS and Google's token services.

Each is a strict reading of the vendor's wire format, independent of the
operator's code:

- :class:`StsFake`: STS ``AssumeRoleWithWebIdentity`` (query protocol: a form
  POST with ``Action`` and ``Version=2011-06-15``; unsigned, as botocore's
  service model marks it ``noAuth``), answering the XML of
  ``AssumeRoleWithWebIdentityResponse`` / ``...Result`` with ``Credentials``
  (the model's required members) or an ``ErrorResponse``
  (``InvalidIdentityToken``) for a token it does not know.
- :class:`GoogleFake`: Google's STS an ``external_account`` ADC file names
  (RFC 8693 token exchange: workload identity federation) and the GCE
  metadata server (``Metadata-Flavor: Google`` required both ways: the ping at
  ``/``, ``instance/service-accounts/default/?recursive=true`` and
  ``instance/service-accounts/default/token``).

Every request is recorded for the tests to inspect.
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

STS_VERSION = "2011-06-15"
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
JWT_TYPE = "urn:ietf:params:oauth:token-type:jwt"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"
STS_NS = "https://sts.amazonaws.com/doc/2011-06-15/"


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    """Header names in lower case."""
    form: dict[str, str] = field(default_factory=dict)


def _lower(headers: Any) -> dict[str, str]:
    return {str(k).lower(): str(v) for k, v in headers.items()}


class _Server:
    """A ThreadingHTTPServer on a free loopback port, run in a daemon thread."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.requests: list[Recorded] = []
        outer = self

        class Handler(handler):  # type: ignore[valid-type,misc]
            fake = outer

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _reply(
    handler: BaseHTTPRequestHandler, status: int, body: bytes, ctype: str, **headers: str
) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", ctype)
    handler.send_header("Content-Length", str(len(body)))
    for name, value in headers.items():
        handler.send_header(name.replace("_", "-"), value)
    handler.end_headers()
    handler.wfile.write(body)


class _StsHandler(BaseHTTPRequestHandler):
    fake: StsFake

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode()
        form = {k: v[0] for k, v in urllib.parse.parse_qs(raw, keep_blank_values=True).items()}
        self.fake.requests.append(Recorded("POST", self.path, _lower(self.headers), form))
        if (
            self.headers.get("Content-Type", "").split(";")[0]
            != "application/x-www-form-urlencoded"
            or form.get("Action") != "AssumeRoleWithWebIdentity"
            or form.get("Version") != STS_VERSION
        ):
            self._error(400, "InvalidAction", "unsupported action or version")
            return
        if "Authorization" in self.headers:
            # noAuth in the model: a signed call would mean static keys were used.
            self._error(400, "InvalidRequest", "AssumeRoleWithWebIdentity is not signed")
            return
        role, session, token = (
            form.get(k, "") for k in ("RoleArn", "RoleSessionName", "WebIdentityToken")
        )
        if len(role) < 20 or len(session) < 2 or len(token) < 4:
            self._error(
                400, "ValidationError", "RoleArn, RoleSessionName and WebIdentityToken are required"
            )
            return
        if token != self.fake.accepted_token or role != self.fake.role_arn:
            self._error(400, "InvalidIdentityToken", "the web identity token was not accepted")
            return
        expiration = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        body = f"""<AssumeRoleWithWebIdentityResponse xmlns="{STS_NS}">
  <AssumeRoleWithWebIdentityResult>
    <SubjectFromWebIdentityToken>system:serviceaccount:interconnect-system:interconnect-operator</SubjectFromWebIdentityToken>
    <Audience>sts.amazonaws.com</Audience>
    <AssumedRoleUser>
      <Arn>{role.replace(":role/", ":assumed-role/")}/{session}</Arn>
      <AssumedRoleId>AROAEXAMPLEROLEID:{session}</AssumedRoleId>
    </AssumedRoleUser>
    <Credentials>
      <AccessKeyId>{self.fake.access_key_id}</AccessKeyId>
      <SecretAccessKey>{self.fake.secret_access_key}</SecretAccessKey>
      <SessionToken>{self.fake.session_token}</SessionToken>
      <Expiration>{expiration}</Expiration>
    </Credentials>
    <Provider>oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE</Provider>
  </AssumeRoleWithWebIdentityResult>
  <ResponseMetadata><RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId></ResponseMetadata>
</AssumeRoleWithWebIdentityResponse>"""
        _reply(self, 200, body.encode(), "text/xml")

    def _error(self, status: int, code: str, message: str) -> None:
        body = (
            f'<ErrorResponse xmlns="{STS_NS}"><Error><Type>Sender</Type><Code>{code}</Code>'
            f"<Message>{message}</Message></Error><RequestId>0</RequestId></ErrorResponse>"
        )
        _reply(self, status, body.encode(), "text/xml")


class StsFake(_Server):
    """STS accepting one web identity token for one role."""

    def __init__(
        self,
        *,
        role_arn: str,
        accepted_token: str,
        access_key_id: str,
        secret_access_key: str,
        session_token: str,
    ) -> None:
        self.role_arn = role_arn
        self.accepted_token = accepted_token
        self.access_key_id = access_key_id
        self.secret_access_key = secret_access_key
        self.session_token = session_token
        super().__init__(_StsHandler)


class _GoogleHandler(BaseHTTPRequestHandler):
    fake: GoogleFake

    def _record(self, form: dict[str, str] | None = None) -> None:
        self.fake.requests.append(
            Recorded(self.command, self.path, _lower(self.headers), form or {})
        )

    def do_GET(self) -> None:
        self._record()
        url = urllib.parse.urlsplit(self.path)
        if self.headers.get("Metadata-Flavor") != "Google":
            _reply(self, 403, b"Missing Metadata-Flavor:Google header.", "text/html")
            return
        flavor = {"Metadata_Flavor": "Google"}
        if not self.fake.metadata:
            _reply(self, 404, b"not a metadata server", "text/html")
        elif url.path == "/":
            _reply(self, 200, b"computeMetadata/\n", "application/text", **flavor)
        elif url.path == "/computeMetadata/v1/instance/service-accounts/default/":
            info = {
                "aliases": ["default"],
                "email": self.fake.email,
                "scopes": ["https://www.googleapis.com/auth/cloud-platform"],
            }
            _reply(self, 200, json.dumps(info).encode(), "application/json", **flavor)
        elif url.path == "/computeMetadata/v1/instance/service-accounts/default/token":
            self._token(flavor)
        elif url.path == "/computeMetadata/v1/project/project-id":
            _reply(self, 200, b"demo-project", "application/text", **flavor)
        else:
            _reply(self, 404, b"not found", "text/html", **flavor)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode()
        form = {k: v[0] for k, v in urllib.parse.parse_qs(raw).items()}
        self._record(form)
        if self.path != "/v1/token":
            _reply(self, 404, b"not found", "text/html")
            return
        # RFC 8693 token exchange, as Google's STS takes it for workload identity federation.
        if (
            form.get("grant_type") != TOKEN_EXCHANGE
            or form.get("subject_token") != self.fake.subject_token
            or form.get("subject_token_type") != JWT_TYPE
            or form.get("audience") != self.fake.audience
            or form.get("requested_token_type") != ACCESS_TOKEN_TYPE
        ):
            body = {"error": "invalid_grant", "error_description": "Bad Request"}
            _reply(self, 400, json.dumps(body).encode(), "application/json")
            return
        token = {
            "access_token": self.fake.access_token,
            "issued_token_type": ACCESS_TOKEN_TYPE,
            "token_type": "Bearer",
            "expires_in": 3599,
        }
        _reply(self, 200, json.dumps(token).encode(), "application/json")

    def _token(self, headers: dict[str, str]) -> None:
        body = {"access_token": self.fake.access_token, "expires_in": 3599, "token_type": "Bearer"}
        _reply(self, 200, json.dumps(body).encode(), "application/json", **headers)


class GoogleFake(_Server):
    """Google STS (``/v1/token``, token exchange); with ``metadata``, a GCE metadata server."""

    def __init__(
        self,
        *,
        access_token: str,
        subject_token: str = "eyJhbGciOiJSUzI1NiJ9.federated-subject.sig",
        audience: str = (
            "//iam.googleapis.com/projects/123456/locations/global/"
            "workloadIdentityPools/interconnect/providers/operator"
        ),
        email: str = "operator@demo-project.iam.gserviceaccount.com",
        metadata: bool = True,
    ) -> None:
        self.access_token = access_token
        self.subject_token = subject_token
        self.audience = audience
        self.email = email
        self.metadata = metadata
        super().__init__(_GoogleHandler)

    def adc_file(self, subject_token_file: str) -> dict[str, Any]:
        """An ``external_account`` ADC file (workload identity federation) using this STS."""
        return {
            "type": "external_account",
            "audience": self.audience,
            "subject_token_type": JWT_TYPE,
            "token_url": f"{self.url}/v1/token",
            "credential_source": {"file": subject_token_file},
        }
