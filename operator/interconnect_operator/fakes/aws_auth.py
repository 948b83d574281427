"""SigV4 on the AWS fake: the credential scope always, the signature when the secret is known.

A request must carry ``Authorization: AWS4-HMAC-SHA256 Credential=AKID/DATE/
REGION/interconnect/aws4_request, SignedHeaders=..., Signature=...``. The
scope must name this service and the fake's region, and the access key id
one the fake accepts. For access keys whose secret the fake was given, the
signature is recomputed with botocore's own signer over the headers the
client signed, and the request date must be within SigV4's 15 minutes.
"""

from __future__ import annotations

import datetime as dt
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from pydantic import SecretStr

__all__ = ["Signed", "SigningPolicy", "auth_problem"]

ALGORITHM = "AWS4-HMAC-SHA256 "
_MAX_SKEW_S = 15 * 60


@dataclass(frozen=True)
class SigningPolicy:
    """What the fake accepts: its service and region, and which access keys."""

    service: str
    region: str
    access_keys: frozenset[str] = frozenset()
    """Accepted by scope only."""
    secret_keys: Mapping[str, SecretStr] = field(default_factory=dict, repr=False)
    """Accepted when the signature verifies. With neither set, any key id is accepted."""


@dataclass(frozen=True)
class Signed:
    """One received request, as the signature covers it."""

    method: str
    path: str
    headers: Mapping[str, str]
    """Lower-case names."""
    body: bytes


def auth_problem(request: Signed, policy: SigningPolicy) -> str | None:
    """Why the request is not authorized (a message for a 403), or None."""
    header = request.headers.get("authorization", "")
    if not header.startswith(ALGORITHM):
        return "requests must be signed with SigV4"
    fields = dict(
        part.strip().split("=", 1) for part in header[len(ALGORITHM) :].split(",") if "=" in part
    )
    scope = fields.get("Credential", "").split("/")
    if len(scope) != 5 or scope[4] != "aws4_request" or "Signature" not in fields:
        return "malformed SigV4 authorization"
    access_key, _, region, service, _ = scope
    problem = _scope_problem(access_key, region, service, policy)
    if problem is not None:
        return problem
    secret = policy.secret_keys.get(access_key)
    if secret is None:
        return None
    return _signature_problem(request, fields, access_key, secret, policy)


def _scope_problem(access_key: str, region: str, service: str, policy: SigningPolicy) -> str | None:
    if service != policy.service:
        return f"credential scope names service {service}, expected {policy.service}"
    if region != policy.region:
        return f"credential scope names region {region}, this endpoint is {policy.region}"
    known = policy.access_keys | policy.secret_keys.keys()
    if known and access_key not in known:
        return "the security token included in the request is invalid"
    return None


def _signature_problem(
    request: Signed,
    fields: Mapping[str, str],
    access_key: str,
    secret: SecretStr,
    policy: SigningPolicy,
) -> str | None:
    amz_date = request.headers.get("x-amz-date", "")
    try:
        signed_at = dt.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
    except ValueError:
        return "X-Amz-Date is missing or malformed"
    if abs((dt.datetime.now(dt.UTC) - signed_at).total_seconds()) > _MAX_SKEW_S:
        return "signature expired: X-Amz-Date is too far from the server's time"
    signed = fields.get("SignedHeaders", "").split(";")
    if "host" not in signed or any(h not in request.headers for h in signed):
        return "the signed headers are not all present"
    copy = AWSRequest(
        method=request.method,
        url=f"http://{request.headers['host']}{request.path}",
        data=request.body,
        headers={h: request.headers[h] for h in signed},
    )
    copy.context["timestamp"] = amz_date
    signer = SigV4Auth(
        Credentials(access_key, secret.get_secret_value()), policy.service, policy.region
    )
    expected = signer.signature(signer.string_to_sign(copy, signer.canonical_request(copy)), copy)
    if not hmac.compare_digest(expected, fields["Signature"]):
        return "the request signature we calculated does not match the signature you provided"
    return None
