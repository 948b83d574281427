"""Ambient credentials: the identity the platform gives the operator's pod.

Used only when a pool asks for it (``auth.source: Ambient``); there is no
fallback to whatever the pod happens to have. Two platforms:

- AWS, for SigV4: botocore's default credential chain: environment keys, web
  identity (IRSA: ``AWS_ROLE_ARN`` + ``AWS_WEB_IDENTITY_TOKEN_FILE``, exchanged
  at STS with ``AssumeRoleWithWebIdentity``), container credentials (EKS Pod
  Identity), shared config, the instance profile. The credentials refresh
  themselves before they expire; the first set is fetched here, so a missing
  or refused identity is reported at once.
- Google, for OAuth2: Application Default Credentials (``google.auth.default``):
  ``GOOGLE_APPLICATION_CREDENTIALS`` (a key, an authorized user, or an
  external-account / workload identity federation file), gcloud's ADC file,
  or the metadata server (GKE Workload Identity, GCE). A first token is
  fetched here for the same reason. google-auth looks up the project of an
  external-account file at Cloud Resource Manager unless
  ``GOOGLE_CLOUD_PROJECT`` is set; the chart sets it from a value.

Both resolve with blocking I/O: callers run them in a thread. Failures are
:class:`AmbientUnavailable` with a message that names the platform and the
error type, never a credential.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from interconnect_operator.api.auth import DEFAULT_OAUTH2_SCOPES, OAuth2ServiceAccount, SigV4

__all__ = [
    "AmbientUnavailable",
    "aws_ambient_auth",
    "aws_ambient_credentials",
    "google_ambient_auth",
]


class AmbientUnavailable(Exception):
    """The platform offers no usable identity of the kind the pool asked for."""


def aws_ambient_credentials(region: str | None = None) -> Any:
    """botocore's default chain, resolved and checked (a first set of keys fetched)."""
    import botocore.exceptions
    import botocore.session

    session = botocore.session.Session()
    if region:
        session.set_config_variable("region", region)
    try:
        credentials = session.get_credentials()
        if credentials is None:
            raise AmbientUnavailable(
                "no AWS identity in the operator's environment (no web identity token, "
                "no container or instance credentials, no keys)"
            )
        frozen = credentials.get_frozen_credentials()
    except AmbientUnavailable:
        raise
    except botocore.exceptions.BotoCoreError as exc:
        raise AmbientUnavailable(
            f"the AWS identity could not be used ({type(exc).__name__})"
        ) from exc
    except botocore.exceptions.ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "error")
        raise AmbientUnavailable(f"STS refused the AWS identity ({code})") from exc
    if not frozen.access_key or not frozen.secret_key:
        raise AmbientUnavailable("the AWS credential chain produced no keys")
    return credentials


def aws_ambient_auth(region: str, service: str) -> SigV4:
    """SigV4 signing with the ambient AWS identity (refreshing itself)."""
    return SigV4(aws_ambient_credentials(region), region=region, service=service)


def google_ambient_auth(scopes: Sequence[str] = DEFAULT_OAUTH2_SCOPES) -> OAuth2ServiceAccount:
    """OAuth2 tokens from Application Default Credentials, a first token fetched."""
    import google.auth
    import google.auth.exceptions
    from google.auth.transport.requests import Request

    try:
        credentials, _ = google.auth.default(scopes=list(scopes))
    except google.auth.exceptions.DefaultCredentialsError as exc:
        raise AmbientUnavailable(
            "no Google Application Default Credentials in the operator's environment "
            "(no GOOGLE_APPLICATION_CREDENTIALS, no gcloud ADC file, no metadata server)"
        ) from exc
    except Exception as exc:  # e.g. an external-account file looking up its project
        raise AmbientUnavailable(
            f"Google Application Default Credentials could not be loaded ({type(exc).__name__}; "
            "with an external_account file, set GOOGLE_CLOUD_PROJECT)"
        ) from exc
    try:
        credentials.refresh(Request())  # type: ignore[no-untyped-call]
    except Exception as exc:  # google-auth's RefreshError, TransportError and friends
        raise AmbientUnavailable(
            f"the Google identity could not produce a token ({type(exc).__name__})"
        ) from exc
    return OAuth2ServiceAccount(credentials)
