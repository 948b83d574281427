"""Ambient credentials resolved by botocore's and google-auth's own resolvers, over real HTTP.

Each case runs the resolution in a fresh interpreter with a controlled
environment, as the operator's pod would have it (both libraries read some
variables at import), against the fakes in ``tests/support/identity_fakes``:

- IRSA: ``AWS_ROLE_ARN`` + ``AWS_WEB_IDENTITY_TOKEN_FILE`` -> STS
  ``AssumeRoleWithWebIdentity`` (``AWS_ENDPOINT_URL_STS`` points at the fake)
  -> SigV4 signatures with the temporary keys and session token;
- Google ADC from a file (``GOOGLE_APPLICATION_CREDENTIALS``, an
  ``external_account`` file: workload identity federation through Google's
  STS) and from the metadata server (GKE Workload Identity, GCE) -> bearer
  tokens;
- no identity at all, or a refused one -> ``AmbientUnavailable``, no secret in
  the message.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from tests.support.identity_fakes import GoogleFake, StsFake
from tests.support.ports import free_port

ROLE = "arn:aws:iam::111122223333:role/interconnect-operator"
WEB_TOKEN = "eyJhbGciOiJSUzI1NiJ9.projected-service-account-token.sig"

AWS_SCRIPT = """
import json, httpx
from interconnect_operator.api.ambient import AmbientUnavailable, aws_ambient_auth
try:
    auth = aws_ambient_auth("us-east-1", "interconnect")
except AmbientUnavailable as exc:
    print(json.dumps({"unavailable": str(exc)}))
else:
    signed = next(auth.sync_auth_flow(httpx.Request("GET", "https://aws.example/x")))
    print(json.dumps({"authorization": signed.headers["Authorization"],
                      "token": signed.headers.get("X-Amz-Security-Token")}))
"""

GOOGLE_SCRIPT = """
import asyncio, json, httpx
from interconnect_operator.api.ambient import AmbientUnavailable, google_ambient_auth
async def main():
    try:
        auth = google_ambient_auth()
    except AmbientUnavailable as exc:
        return {"unavailable": str(exc)}
    flow = auth.async_auth_flow(httpx.Request("GET", "https://gcp.example/x"))
    request = await flow.__anext__()
    return {"authorization": request.headers["Authorization"]}
print(json.dumps(asyncio.run(main())))
"""


@pytest.fixture
def clean_env(tmp_path: Path) -> dict[str, str]:
    """No identity of any kind: no keys, no files, no metadata server (a closed port)."""
    closed = f"127.0.0.1:{free_port()}"
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "GOOGLE_", "GCE_"))}
    return {
        **keep,
        "HOME": str(tmp_path),
        "AWS_CONFIG_FILE": str(tmp_path / "aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "aws-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "CLOUDSDK_CONFIG": str(tmp_path / "gcloud"),
        "GCE_METADATA_HOST": closed,
        "GCE_METADATA_IP": closed,
        "GCE_METADATA_DETECT_RETRIES": "1",
    }


def resolve(script: str, env: Mapping[str, str]) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@pytest.fixture
def sts() -> Iterator[StsFake]:
    fake = StsFake(
        role_arn=ROLE,
        accepted_token=WEB_TOKEN,
        access_key_id="ASIAEXAMPLEWEBIDENTITY",
        secret_access_key="web-identity-secret-key",
        session_token="web-identity-session-token",
    )
    yield fake
    fake.stop()


def _irsa_env(
    clean_env: dict[str, str], sts: StsFake, tmp_path: Path, token: str
) -> dict[str, str]:
    token_file = tmp_path / "token"
    token_file.write_text(token)
    return {
        **clean_env,
        "AWS_ROLE_ARN": ROLE,
        "AWS_WEB_IDENTITY_TOKEN_FILE": str(token_file),
        "AWS_ENDPOINT_URL_STS": sts.url,
        "AWS_REGION": "us-east-1",
    }


def test_irsa_web_identity_becomes_sigv4_with_the_temporary_keys(
    clean_env: dict[str, str], sts: StsFake, tmp_path: Path
) -> None:
    result = resolve(AWS_SCRIPT, _irsa_env(clean_env, sts, tmp_path, WEB_TOKEN))
    assert "Credential=ASIAEXAMPLEWEBIDENTITY/" in result["authorization"]
    assert "/us-east-1/interconnect/aws4_request" in result["authorization"]
    assert result["token"] == "web-identity-session-token"
    (call,) = sts.requests
    assert call.form["Action"] == "AssumeRoleWithWebIdentity"
    assert call.form["RoleArn"] == ROLE
    assert call.form["WebIdentityToken"] == WEB_TOKEN  # read from the projected token file
    assert "authorization" not in call.headers


def test_a_refused_web_identity_is_reported_without_the_token(
    clean_env: dict[str, str], sts: StsFake, tmp_path: Path
) -> None:
    result = resolve(AWS_SCRIPT, _irsa_env(clean_env, sts, tmp_path, "not-the-right-token"))
    assert "InvalidIdentityToken" in result["unavailable"]
    assert "not-the-right-token" not in result["unavailable"]


def test_no_aws_identity_is_unavailable(clean_env: dict[str, str]) -> None:
    result = resolve(AWS_SCRIPT, clean_env)
    assert result["unavailable"].startswith("no AWS identity")


@pytest.fixture
def google() -> Iterator[GoogleFake]:
    fake = GoogleFake(access_token="ya29.ambient-access-token")
    yield fake
    fake.stop()


def test_google_adc_file_with_workload_identity_federation_gives_bearer_tokens(
    clean_env: dict[str, str], google: GoogleFake, tmp_path: Path
) -> None:
    google.metadata = False  # only the file may be the source
    subject = tmp_path / "subject-token"
    subject.write_text(google.subject_token)
    adc = tmp_path / "adc.json"
    adc.write_text(json.dumps(google.adc_file(str(subject))))
    env = {**clean_env, "GOOGLE_APPLICATION_CREDENTIALS": str(adc)}
    # Without a project google-auth asks Cloud Resource Manager (unreachable here).
    unreachable = resolve(GOOGLE_SCRIPT, env)
    assert "set GOOGLE_CLOUD_PROJECT" in unreachable["unavailable"]
    result = resolve(GOOGLE_SCRIPT, {**env, "GOOGLE_CLOUD_PROJECT": "demo-project"})
    assert result["authorization"] == "Bearer ya29.ambient-access-token"
    call = [r for r in google.requests if r.method == "POST"][-1]
    assert call.form["subject_token"] == google.subject_token  # read from the file
    assert call.form["scope"] == "https://www.googleapis.com/auth/cloud-platform"


def test_workload_identity_through_the_metadata_server(
    clean_env: dict[str, str], google: GoogleFake
) -> None:
    host = f"127.0.0.1:{google.port}"
    env = {**clean_env, "GCE_METADATA_HOST": host, "GCE_METADATA_IP": host}
    result = resolve(GOOGLE_SCRIPT, env)
    assert result["authorization"] == "Bearer ya29.ambient-access-token"
    paths = [r.path.split("?")[0] for r in google.requests]
    assert "/computeMetadata/v1/instance/service-accounts/default/token" in paths
    assert all(r.headers.get("metadata-flavor") == "Google" for r in google.requests)


def test_no_google_identity_is_unavailable(clean_env: dict[str, str]) -> None:
    result = resolve(GOOGLE_SCRIPT, clean_env)
    assert result["unavailable"].startswith("no Google Application Default Credentials")
