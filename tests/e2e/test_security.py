"""Security: no secret leaks, TLS verified by default, mTLS, token scoping, RBAC.

- Secret values handed out in a run (bearer tokens, an activation key, a BGP
  MD5 password, an mTLS private key) are searched afterwards in the
  operator's log, every link and pool object (status included), every Event
  and the metrics output: zero hits.
- A provider endpoint with a certificate from an unknown CA is refused (TLS
  verification is on by default) and the pool says why; with that CA in a
  Secret (``tls.caSecretRef``) the same pool works and a link comes up.
- mTLS: simulators that require client certificates, a pool with auth type
  MTLS (tls.crt/tls.key/ca.crt in a Secret): a link comes up; a client
  without a certificate is refused by the server.
- The simulator refuses calls without a valid token (401) and calls under a
  provider prefix the token does not cover (403, P34).
- RBAC (``kubectl auth can-i --as``): the operator's ServiceAccount may not
  list Secrets outside its namespace, and a user allowed to create links in
  a namespace may not read the pool credentials.
"""

from __future__ import annotations

import base64
import json
import os
import ssl
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Stack, release_links
from tests.e2e.faults.rig import record_summary
from tests.support.keys import LINK_SECRET_LABELS
from tests.support.stack import condition, is_ready, link_manifest, wait_for
from tests.support.tls_simulators import TlsSim, make_pki, start_tls_sim

pytestmark = pytest.mark.e2e

ENV = "aws-gcp-us-east"


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _secret(
    name: str, namespace: str, data: dict[str, str], labels: dict[str, str] | None = None
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace, "labels": labels or {}},
        "type": "Opaque",
        "data": {k: _b64(v) for k, v in data.items()},
    }


def _pool(name: str, aws: TlsSim, gcp: TlsSim, auth: dict[str, Any], tls: dict[str, Any]) -> Any:
    def provider(sim: TlsSim, role: str) -> dict[str, Any]:
        entry_auth = dict(auth)
        if "secretRef" in auth and auth["secretRef"].get("key") == "{token}":
            entry_auth = {
                **auth,
                "secretRef": {"name": auth["secretRef"]["name"], "key": f"{sim.provider_id}-token"},
            }
        return {
            "name": sim.provider_id,
            "endpoint": sim.url,
            "role": role,
            "auth": entry_auth,
            "tls": dict(tls),
        }

    return {
        "apiVersion": "interconnect.io/v1alpha1",
        "kind": "CapacityPool",
        "metadata": {"name": name},
        "spec": {
            "environment": ENV,
            "providers": [provider(aws, "Responder"), provider(gcp, "Negotiator")],
            "refreshInterval": 5,
        },
    }


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def handed_out() -> set[str]:
    """Every secret value this module hands out; checked for leaks at the end."""
    return set()


@pytest.fixture(scope="module")
def tls_dir(e2e_log_dir: Path) -> Path:
    path = e2e_log_dir / "security"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def cleanup(stack: Stack) -> Iterator[list[Any]]:
    """Things to tear down after a test: TlsSim processes and pool names."""
    items: list[Any] = []
    yield items
    for item in items:
        if isinstance(item, str):
            release_links(stack.kube, item)
            stack.kube.delete("cpool", item)
        else:
            item.stop()


# ---------------------------------------------------------------- tests


def test_untrusted_provider_certificate_is_refused_then_trusted_with_ca_secret(
    stack: Stack, namespace: str, tls_dir: Path, cleanup: list[Any], handed_out: set[str]
) -> None:
    pki = make_pki(tls_dir, "tls")
    tokens = {"aws": "tls-aws-" + os.urandom(12).hex(), "gcp": "tls-gcp-" + os.urandom(12).hex()}
    handed_out.update(tokens.values())
    aws = start_tls_sim("aws", pki, tls_dir, tokens={"gcp": tokens["aws"]}, mtls=False)
    cleanup.append(aws)
    gcp = start_tls_sim("gcp", pki, tls_dir, tokens={"aws": tokens["gcp"]}, mtls=False)
    cleanup.append(gcp)
    ops = stack.operator_namespace
    stack.kube.apply(
        [
            _secret(
                "tls-pool-tokens", ops, {"aws-token": tokens["aws"], "gcp-token": tokens["gcp"]}
            ),
            _secret("tls-pool-ca", ops, {"ca.crt": pki.ca_pem}),
        ]
    )
    auth = {"type": "Bearer", "secretRef": {"name": "tls-pool-tokens", "key": "{token}"}}
    pool = "tls-pool"
    cleanup.append(pool)
    # Verification is on by default: the unknown CA makes the providers unreachable.
    stack.kube.apply([_pool(pool, aws, gcp, auth, {})])

    def refused() -> Any:
        obj = stack.kube.try_get("cpool", pool)
        reach = condition(obj, "ProvidersReachable")
        if reach and reach.get("status") == "False" and reach.get("reason"):
            return obj
        return None

    obj = wait_for(refused, 60, "the pool refuses the untrusted certificate", 1.0)
    ready, reach = condition(obj, "Ready"), condition(obj, "ProvidersReachable")
    assert ready is not None
    assert reach is not None
    assert ready["status"] == "False"
    assert ready["reason"] == reach["reason"] == "ProviderUnreachable"
    # The message says why: certificate verification failed, for both providers.
    assert "CERTIFICATE_VERIFY_FAILED" in reach["message"], reach
    assert "aws:" in reach["message"], reach
    assert "gcp:" in reach["message"], reach

    # The CA in a Secret: the same endpoints are trusted, and a link comes up.
    stack.kube.apply(
        [_pool(pool, aws, gcp, auth, {"caSecretRef": {"name": "tls-pool-ca", "key": "ca.crt"}})]
    )
    wait_for(lambda: is_ready(stack.kube.try_get("cpool", pool)), 60, "TLS pool Ready", 1.0)
    stack.kube.apply([link_manifest("over-tls", namespace, pool, 1000)])
    wait_for(
        lambda: is_ready(stack.kube.try_get("mcl", "over-tls", namespace)),
        90,
        "link over verified TLS Ready",
        1.0,
    )


def test_mtls_pool_brings_a_link_up_and_clients_without_certificate_are_refused(
    stack: Stack, namespace: str, tls_dir: Path, cleanup: list[Any], handed_out: set[str]
) -> None:
    pki = make_pki(tls_dir, "mtls")
    handed_out.add(_key_body(pki.client_key_pem))
    aws = start_tls_sim("aws", pki, tls_dir, tokens={}, mtls=True)
    cleanup.append(aws)
    gcp = start_tls_sim("gcp", pki, tls_dir, tokens={}, mtls=True)
    cleanup.append(gcp)
    # Without a client certificate the server refuses the TLS handshake.
    no_cert = ssl.create_default_context(cadata=pki.ca_pem)
    with pytest.raises((ssl.SSLError, urllib.error.URLError, ConnectionError)):
        urllib.request.urlopen(f"{aws.url}/healthz", context=no_cert, timeout=5)

    ops = stack.operator_namespace
    stack.kube.apply(
        [
            _secret(
                "mtls-client",
                ops,
                {
                    "tls.crt": pki.client_cert_pem,
                    "tls.key": pki.client_key_pem,
                    "ca.crt": pki.ca_pem,
                },
            ),
            _secret("mtls-ca", ops, {"ca.crt": pki.ca_pem}),
        ]
    )
    pool = "mtls-pool"
    cleanup.append(pool)
    stack.kube.apply(
        [
            _pool(
                pool,
                aws,
                gcp,
                {"type": "MTLS", "secretRef": {"name": "mtls-client"}},
                {"caSecretRef": {"name": "mtls-ca"}},
            )
        ]
    )
    wait_for(lambda: is_ready(stack.kube.try_get("cpool", pool)), 60, "mTLS pool Ready", 1.0)
    stack.kube.apply([link_manifest("over-mtls", namespace, pool, 1000)])
    wait_for(
        lambda: is_ready(stack.kube.try_get("mcl", "over-mtls", namespace)),
        90,
        "link over mTLS Ready",
        1.0,
    )


def _key_body(pem: str) -> str:
    """A distinctive piece of a PEM private key (its first base64 line)."""
    return next(line for line in pem.splitlines() if line and not line.startswith("-----"))


def _call(url: str, token: str | None) -> int:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as err:
        return int(err.code)


def test_simulator_refuses_missing_wrong_and_out_of_scope_tokens_p34(stack: Stack) -> None:
    sim = stack.aws
    caller, token = next(iter(sim.tokens.items()))
    path = f"/providers/{{caller}}/environments/{ENV}/interconnects"
    ok = sim.url + path.format(caller=caller)
    assert _call(ok, token) == 200
    assert _call(ok, None) == 401
    assert _call(ok, "not-the-token") == 401
    # The token is valid, but only for calls made as `caller` (P34).
    assert _call(sim.url + path.format(caller="azure"), token) == 403


def _can_i(stack: Stack, who: str, *args: str) -> bool:
    out = stack.kube.run("auth", "can-i", *args, f"--as={who}", check=False)
    return out.strip() == "yes"


def test_rbac_operator_and_link_authors_cannot_read_foreign_or_pool_secrets(
    stack: Stack, namespace: str
) -> None:
    sa = f"system:serviceaccount:{stack.operator_namespace}:interconnect-operator"
    # Its own namespace: pool credentials.
    assert _can_i(stack, sa, "get", "secrets", "-n", stack.operator_namespace)
    # Elsewhere it may at most get the one Secret a link names, never list or watch.
    assert not _can_i(stack, sa, "list", "secrets", "-n", namespace)
    assert not _can_i(stack, sa, "watch", "secrets", "-n", namespace)
    assert not _can_i(stack, sa, "list", "secrets", "--all-namespaces")
    assert not _can_i(stack, sa, "create", "secrets", "-n", namespace)

    # A link author (the ClusterIssuer pattern): may create links, not read credentials.
    user = "link-author"
    stack.kube.apply(
        [
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "Role",
                "metadata": {"name": "link-author", "namespace": namespace},
                "rules": [
                    {
                        "apiGroups": ["interconnect.io"],
                        "resources": ["multicloudlinks"],
                        "verbs": ["create", "get", "list", "watch", "update", "patch", "delete"],
                    }
                ],
            },
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "RoleBinding",
                "metadata": {"name": "link-author", "namespace": namespace},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "Role",
                    "name": "link-author",
                },
                "subjects": [
                    {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}
                ],
            },
        ]
    )
    assert _can_i(stack, user, "create", "multicloudlinks.interconnect.io", "-n", namespace)
    assert not _can_i(stack, user, "get", "secrets", "-n", stack.operator_namespace)
    assert not _can_i(stack, user, "list", "secrets", "-n", stack.operator_namespace)
    assert not _can_i(stack, user, "get", "capacitypools.interconnect.io/status")
    assert not _can_i(stack, user, "patch", "capacitypools.interconnect.io")


def test_secret_values_appear_nowhere_operator_writes(
    stack: Stack, namespace: str, handed_out: set[str]
) -> None:
    """Runs last in this module: a link with an activation key and a BGP MD5
    password, then every secret of the run is searched for."""
    # An activation key issued by the responder (P1), kept in a Secret.
    request = urllib.request.Request(
        f"{stack.aws.url}/customer/v1/activationKeys",
        data=json.dumps(
            {"environment": ENV, "bandwidthMbps": 1000, "destinationAccountId": "123456789012"}
        ).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        key = json.loads(response.read())["encodedKey"]
    md5 = "md5-" + os.urandom(12).hex()
    handed_out.update({key, md5, *stack.aws.tokens.values(), *stack.gcp.tokens.values()})
    stack.kube.apply(
        [
            _secret("leak-key", namespace, {"activationKey": key}, LINK_SECRET_LABELS),
            _secret("leak-md5", namespace, {"password": md5}, LINK_SECRET_LABELS),
            link_manifest(
                "leak-check",
                namespace,
                stack.pool,
                1000,
                activationKey={"secretRef": {"name": "leak-key"}},
                bgp={"md5SecretRef": {"name": "leak-md5"}},
            ),
        ]
    )
    wait_for(
        lambda: is_ready(stack.kube.try_get("mcl", "leak-check", namespace)),
        90,
        "link with activation key and MD5 Ready",
        1.0,
    )
    places = {
        "operator log": stack.operator.log(),
        "links": stack.kube.run("get", "multicloudlinks", "-A", "-o", "json"),
        "pools": stack.kube.run("get", "capacitypools", "-o", "json"),
        "events": stack.kube.run("get", "events", "-A", "-o", "json"),
        "events.k8s.io": stack.kube.run("get", "events.events.k8s.io", "-A", "-o", "json"),
        "metrics": stack.operator.metrics(),
    }
    hits = [
        f"{where}: a secret of {len(value)} chars"
        for value in sorted(handed_out)
        for where, text in places.items()
        if value and value in text
    ]
    record_summary(
        "security: secret values searched",
        secrets=len(handed_out),
        places=len(places),
        bytes_searched=sum(len(t) for t in places.values()),
        hits=len(hits),
    )
    assert hits == []
    stack.kube.delete("mcl", "leak-check", namespace)
