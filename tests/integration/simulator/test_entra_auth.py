"""Azure partner authentication (upstream commit 710efaf): Entra access tokens from the
client-credentials grant, with a client secret or Workload Identity Federation, checked
by a local token endpoint the way Entra does; the simulator verifies the bearer."""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from interconnect_operator.api.auth import build_auth
from interconnect_operator.api.client import ProviderClient
from interconnect_operator.api.errors import Unauthorized
from interconnect_operator.api.retry import RetryPolicy
from interconnect_operator.simulator import SimulatorConfig, create_app
from tests.support.entra import EXCHANGE_AUDIENCE, EntraApp, entra_endpoint, unsigned_jwt

TENANT = "0b6e4b2e-1111-4c3d-9a6f-2f1e0c9d8b7a"
PARTNER_APP = "5f2c8d1e-2222-4b6a-8e3f-1a2b3c4d5e6f"
MSFT_APP = "9a8b7c6d-3333-4e5f-8a9b-0c1d2e3f4a5b"


@pytest.fixture
def app() -> EntraApp:
    return EntraApp(
        tenant=TENANT,
        client_id=PARTNER_APP,
        api_app_id=MSFT_APP,
        access_token=secrets.token_urlsafe(32),
        client_secret=secrets.token_urlsafe(24),
        federated_issuer="https://oidc.eks.example/id/ABC",
        federated_subject="system:serviceaccount:interconnect-system:interconnect-operator",
    )


@pytest.fixture
async def azure(app: EntraApp) -> AsyncIterator[httpx.AsyncBaseTransport]:
    """The simulated Azure endpoint: it accepts only the token Entra issues, as gcp."""
    sim_app = create_app(
        SimulatorConfig(provider_id="azure", tokens={app.access_token: frozenset({"gcp"})})
    )
    yield httpx.ASGITransport(app=sim_app)
    sim_app.state.simulator.close()


async def _environments(transport: httpx.AsyncBaseTransport, settings: dict[str, str]) -> int:
    client = ProviderClient(
        "http://azure.sim",
        "gcp",
        auth=build_auth("EntraToken", settings),
        transport=transport,
        retry=RetryPolicy(max_attempts=1),
    )
    try:
        for _ in range(3):
            environments = await client.list_environments_all()
        return len(environments)
    finally:
        await client.aclose()


async def test_client_secret_grant_reaches_azure_and_the_token_is_cached(
    app: EntraApp, azure: httpx.AsyncBaseTransport
) -> None:
    with entra_endpoint(app) as authority:
        settings = {
            "tenantId": TENANT,
            "clientId": PARTNER_APP,
            "appId": MSFT_APP,
            "clientSecret": app.client_secret or "",
            "authorityHost": authority,
        }
        assert await _environments(azure, settings) >= 1
    assert app.grants == ["secret"]  # three calls, one token


async def test_workload_identity_federation_grant(
    app: EntraApp, azure: httpx.AsyncBaseTransport, tmp_path: Path
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(
        unsigned_jwt(
            {
                "iss": app.federated_issuer,
                "sub": app.federated_subject,
                "aud": EXCHANGE_AUDIENCE,
                "exp": int(time.time()) + 600,
            }
        )
    )
    with entra_endpoint(app) as authority:
        settings = {
            "tenantId": TENANT,
            "clientId": PARTNER_APP,
            "scope": f"api://{MSFT_APP}/.default",
            "federatedTokenFile": str(token_file),
            "authorityHost": authority,
        }
        assert await _environments(azure, settings) >= 1
    assert app.grants == ["assertion"]


async def test_refused_grants_are_unauthorized_without_leaking(
    app: EntraApp, azure: httpx.AsyncBaseTransport, tmp_path: Path
) -> None:
    wrong_audience = tmp_path / "token"
    wrong_audience.write_text(
        unsigned_jwt(
            {
                "iss": app.federated_issuer,
                "sub": app.federated_subject,
                "aud": "api://somewhere-else",
                "exp": int(time.time()) + 600,
            }
        )
    )
    base = {"tenantId": TENANT, "clientId": PARTNER_APP, "appId": MSFT_APP}
    with entra_endpoint(app) as authority:
        for extra in (
            {"clientSecret": "not-the-secret"},
            {"federatedTokenFile": str(wrong_audience)},
        ):
            with pytest.raises(Unauthorized) as info:
                await _environments(azure, {**base, **extra, "authorityHost": authority})
            assert "not-the-secret" not in str(info.value)
    assert app.refusals == ["invalid_client", "invalid_client"]
    assert app.grants == []


def test_settings_are_checked() -> None:
    base = {"tenantId": TENANT, "clientId": PARTNER_APP, "appId": MSFT_APP}
    with pytest.raises(ValueError, match="exactly one"):
        build_auth("EntraToken", base)
    with pytest.raises(ValueError, match="https"):
        build_auth("EntraToken", {**base, "clientSecret": "s", "authorityHost": "http://evil"})
    with pytest.raises(ValueError, match="default"):
        build_auth("EntraToken", {**base, "clientSecret": "s", "scope": "api://x"})
    auth = build_auth("EntraToken", {**base, "clientSecret": "s3cr3t-value"})
    assert "s3cr3t-value" not in repr(auth)
