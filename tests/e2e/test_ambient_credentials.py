"""Ambient credentials on a real API server: chosen in the pool, never a fallback.

The session's operator runs with an ambient Google identity (a metadata
server, as GKE Workload Identity serves it) and no AWS identity:

- a pool whose providers say ``auth: {type: OAuth2, source: Ambient}`` gets
  its bearer tokens from the metadata server and becomes Ready (the
  simulators accept only that token);
- a pool whose Responder says ``auth: {type: SigV4, source: Ambient}`` is not
  Ready, with reason AmbientIdentityUnavailable and a message saying why;
- the session pool (Secret-sourced) never touched the identity before.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

import pytest

from tests.e2e.conftest import Stack
from tests.support.stack import Simulator, condition, is_ready, start_simulator, wait_for

pytestmark = pytest.mark.e2e

TOKEN_PATH = "/computeMetadata/v1/instance/service-accounts/default/token"


def _pool(
    name: str,
    responder: Simulator,
    negotiator: Simulator,
    *,
    responder_auth: dict[str, Any],
    negotiator_auth: dict[str, Any],
) -> dict[str, Any]:
    def provider(sim: Simulator, role: str, auth: dict[str, Any]) -> dict[str, Any]:
        return {"name": sim.provider_id, "endpoint": sim.url, "role": role, "auth": auth}

    return {
        "apiVersion": "interconnect.io/v1alpha1",
        "kind": "CapacityPool",
        "metadata": {"name": name},
        "spec": {
            "environment": "aws-gcp-us-east",
            "refreshInterval": 5,
            "providers": [
                provider(responder, "Responder", responder_auth),
                provider(negotiator, "Negotiator", negotiator_auth),
            ],
        },
    }


def test_a_pool_that_chooses_ambient_credentials_uses_the_pods_identity(
    stack: Stack, secret_values: set[str]
) -> None:
    kube = stack.kube
    google = stack.google_identity
    assert google is not None
    # Nothing so far asked for the ambient identity: no pool chose it.
    assert [r for r in google.requests if r.path.startswith(TOKEN_PATH)] == []
    secret_values.add(google.access_token)
    # Each simulator accepts only the metadata server's token from its caller.
    aws = start_simulator("aws", log_dir=stack.log_dir, tokens={"gcp": google.access_token})
    gcp = start_simulator("gcp", log_dir=stack.log_dir, tokens={"aws": google.access_token})
    name = f"ambient-{secrets.token_hex(2)}"
    try:
        kube.apply(
            [
                _pool(
                    name,
                    aws,
                    gcp,
                    responder_auth={"type": "OAuth2", "source": "Ambient"},
                    negotiator_auth={"type": "OAuth2", "source": "Ambient"},
                )
            ]
        )
        try:
            body = wait_for(
                lambda: (o := kube.try_get("cpool", name)) and is_ready(o) and o,
                60,
                "the ambient pool Ready",
            )
        except AssertionError as exc:
            raise AssertionError(f"{exc}: {kube.try_get('cpool', name).get('status')}") from None
        assert body["spec"]["providers"][0]["auth"] == {"type": "OAuth2", "source": "Ambient"}
        token_calls = [r for r in google.requests if r.path.startswith(TOKEN_PATH)]
        assert token_calls
        assert all(r.headers.get("metadata-flavor") == "Google" for r in token_calls)
    finally:
        kube.delete("cpool", name)
        aws.stop()
        gcp.stop()


def test_ambient_without_an_identity_says_so(stack: Stack) -> None:
    kube = stack.kube
    name = f"no-identity-{secrets.token_hex(2)}"
    sigv4 = {"type": "SigV4", "source": "Ambient", "region": "us-east-1"}
    kube.apply(
        [_pool(name, stack.aws, stack.gcp, responder_auth=sigv4, negotiator_auth={"type": "None"})]
    )
    try:
        ready = wait_for(
            lambda: (
                (c := condition(kube.try_get("cpool", name), "Ready"))
                and c.get("reason") == "AmbientIdentityUnavailable"
                and c
            ),
            60,
            "AmbientIdentityUnavailable",
        )
        assert ready["status"] == "False"
        assert ready["message"].startswith("aws: no AWS identity in the operator's environment")
        events = kube.run("get", "events", "-A", "-o", "json")
        assert "AmbientIdentityUnavailable" in events
    finally:
        kube.delete("cpool", name)


def test_admission_refuses_ambient_where_it_has_no_meaning(stack: Stack) -> None:
    name = f"bad-ambient-{secrets.token_hex(2)}"
    bearer = {"type": "Bearer", "source": "Ambient"}
    with pytest.raises(
        RuntimeError, match=re.escape("auth.source Ambient applies to auth.type SigV4 or OAuth2")
    ):
        stack.kube.apply(
            [
                _pool(
                    name,
                    stack.aws,
                    stack.gcp,
                    responder_auth=bearer,
                    negotiator_auth={"type": "None"},
                )
            ]
        )
    assert stack.kube.try_get("cpool", name) is None
