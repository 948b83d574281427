"""Fixtures of the operator e2e tier: two simulator processes, the operator as a process.

The operator runs under the ServiceAccount and RBAC the chart ships
(``k8s/rbac.py``), never as cluster admin, against the real kube-apiserver of
the rig (tests/conftest.py).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.cluster import ClusterHandle
from tests.support.identity_fakes import GoogleFake
from tests.support.stack import (
    Kube,
    OperatorProcess,
    Simulator,
    operator_kubeconfig,
    pool_manifests,
    start_operator,
    start_simulator,
)

REPO = Path(__file__).resolve().parents[2]
OPERATOR_POD = "interconnect-operator-6b7c9d-e2e01"
CRDS = REPO / "crds"


@dataclass
class Stack:
    """What an operator e2e test works with."""

    kube: Kube
    aws: Simulator
    gcp: Simulator
    operator: OperatorProcess
    operator_namespace: str
    pool: str
    log_dir: Path
    google_identity: GoogleFake | None = None
    """The operator pod's ambient Google identity (a metadata server, as GKE Workload
    Identity serves it); only pools with ``auth.source: Ambient`` may use it."""


@pytest.fixture(scope="session")
def kube(control_plane: ClusterHandle) -> Kube:
    k = Kube(control_plane.kubeconfig)
    k.run("apply", "--server-side", "--force-conflicts", "-f", str(CRDS))
    k.run("wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")
    return k


@pytest.fixture(scope="session")
def e2e_log_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = os.environ.get("ICO_E2E_LOG_DIR")
    path = Path(base) if base else tmp_path_factory.mktemp("stack")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def stack(kube: Kube, e2e_log_dir: Path) -> Iterator[Stack]:
    """Two simulators (aws responder, gcp negotiator), a pool over them, the operator."""
    tokens = {"aws": secrets.token_hex(16), "gcp": secrets.token_hex(16)}
    # Each server accepts the token of the caller it serves: aws is called as gcp.
    aws = start_simulator(
        "aws", log_dir=e2e_log_dir, tokens={"gcp": tokens["aws"]}, provisioning_delay=0.5
    )
    gcp = start_simulator(
        "gcp", log_dir=e2e_log_dir, tokens={"aws": tokens["gcp"]}, provisioning_delay=0.5
    )
    operator_namespace = "interconnect-e2e"
    identity = operator_kubeconfig(
        kube,
        operator_namespace=operator_namespace,
        path=e2e_log_dir / "operator.kubeconfig",
        link_secret_namespaces=["*"],
    )
    pool = "e2e-pool"
    kube.apply(
        pool_manifests(
            pool,
            negotiator=gcp,
            responder=aws,
            operator_namespace=operator_namespace,
            refresh_interval=5,
        )
    )
    # An ambient Google identity (metadata server) and no AWS one (IMDS off).
    google_identity = GoogleFake(access_token=secrets.token_hex(16))
    metadata_host = f"127.0.0.1:{google_identity.port}"
    ambient_env = {
        "GCE_METADATA_HOST": metadata_host,
        "GCE_METADATA_IP": metadata_host,
        "AWS_EC2_METADATA_DISABLED": "true",
        # What the chart's downward API gives the pod: Events name it as reportingInstance.
        "POD_NAME": OPERATOR_POD,
    }
    operator = start_operator(
        identity, log_dir=e2e_log_dir, operator_namespace=operator_namespace, env=ambient_env
    )
    try:
        yield Stack(
            kube, aws, gcp, operator, operator_namespace, pool, e2e_log_dir, google_identity
        )
    finally:
        google_identity.stop()
        operator.stop()
        aws.stop()
        gcp.stop()


# ---------------------------------------------------------------- operator e2e tier helpers


@pytest.fixture(scope="session")
def secret_values(stack: Stack) -> set[str]:
    """Every secret value the e2e tests handed out (tokens, activation keys, MD5
    passwords); ``test_operator_secrets`` checks none of them shows up anywhere."""
    return {*stack.aws.tokens.values(), *stack.gcp.tokens.values()}


@dataclass
class ExtraPool:
    """A CapacityPool over its own two simulators (special inventory, delay or policy)."""

    name: str
    aws: Simulator
    gcp: Simulator


def release_links(kube: Kube, pool: str) -> None:
    """Remove every link of ``pool`` without the operator (its providers are going away)."""
    for link in kube.get("mcl")["items"]:
        meta = link["metadata"]
        if (link.get("spec") or {}).get("poolRef", {}).get("name") != pool:
            continue
        kube.run(
            "patch",
            "mcl",
            meta["name"],
            "-n",
            meta["namespace"],
            "--type=merge",
            "-p",
            '{"metadata":{"finalizers":null}}',
            check=False,
        )
        kube.delete("mcl", meta["name"], meta["namespace"])


@pytest.fixture
def make_pool(stack: Stack, e2e_log_dir: Path, request: pytest.FixtureRequest) -> Iterator[Any]:
    """Factory: ``make_pool(inventory=..., policy=..., provisioning_delay=...)`` -> ExtraPool.

    Two new simulator processes (same inventory on both ends) and a pool over
    them, served by the session's operator; torn down after the test.
    """
    made: list[ExtraPool] = []
    counter = [0]

    def make(
        *,
        inventory: Mapping[str, Any] | None = None,
        policy: Mapping[str, Any] | None = None,
        provisioning_delay: float = 0.5,
        refresh_interval: int = 5,
    ) -> ExtraPool:
        counter[0] += 1
        base = request.node.name.lower().replace("_", "-")[:30].strip("-")
        name = f"{base}-{counter[0]}-{secrets.token_hex(2)}"
        extra: list[str] = []
        if inventory is not None:
            path = e2e_log_dir / f"{name}-inventory.yaml"
            path.write_text(yaml.safe_dump(dict(inventory)))
            extra = ["--inventory", str(path)]
        tokens = {"aws": secrets.token_hex(16), "gcp": secrets.token_hex(16)}
        aws = start_simulator(
            "aws",
            log_dir=e2e_log_dir,
            tokens={"gcp": tokens["aws"]},
            provisioning_delay=provisioning_delay,
            extra_args=extra,
        )
        gcp = start_simulator(
            "gcp",
            log_dir=e2e_log_dir,
            tokens={"aws": tokens["gcp"]},
            provisioning_delay=provisioning_delay,
            extra_args=extra,
        )
        pool = ExtraPool(name, aws, gcp)
        made.append(pool)
        stack.kube.apply(
            pool_manifests(
                name,
                negotiator=gcp,
                responder=aws,
                operator_namespace=stack.operator_namespace,
                refresh_interval=refresh_interval,
                policy=policy,
            )
        )
        return pool

    yield make
    for pool in made:
        release_links(stack.kube, pool.name)
        stack.kube.delete("cpool", pool.name)
        pool.aws.stop()
        pool.gcp.stop()


def sim_connections(sim: Simulator, uuid: str) -> list[dict[str, Any]]:
    """The connections ``sim`` holds with id ``uuid`` (one per interconnect it is on)."""
    return [c for c in sim.state()["connections"] if c["connection"] == uuid]


def sim_features(sim: Simulator, uuid: str) -> list[dict[str, Any]]:
    return [f for f in sim.state()["features"] if f["connection"] == uuid]


def api_features(sim: Simulator, environment: str, interconnect: str, uuid: str) -> Any:
    """The features of ``uuid`` through the provider API itself (the admin dump has no BGP)."""
    import json
    import urllib.request

    caller, token = next(iter(sim.tokens.items()))
    url = (
        f"{sim.url}/providers/{caller}/environments/{environment}/interconnects/"
        f"{interconnect}/connections/{uuid}/features"
    )
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=10) as response:
        return json.loads(response.read())["features"]


def mutating_calls(sim: Simulator) -> dict[str, int]:
    """Calls per operation that change something (reads of the pool refresh excluded)."""
    by_op = sim.stats().get("byOperation") or {}
    return {
        op: int(v.get("total", 0)) for op, v in by_op.items() if not op.startswith(("Get", "List"))
    }


def link(kube: Kube, namespace: str, name: str) -> dict[str, Any] | None:
    obj: dict[str, Any] | None = kube.try_get("mcl", name, namespace)
    return obj
