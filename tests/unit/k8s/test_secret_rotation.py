"""Pools follow their Secrets (k8s.pools + k8s.secret_watch): rotation without a spec change."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from interconnect_operator.k8s import pools as pools_mod
from interconnect_operator.k8s.credentials import Credentials
from interconnect_operator.k8s.index import LinkIndex
from interconnect_operator.k8s.kube import POOLS
from interconnect_operator.k8s.pool_entry import PoolEntry
from interconnect_operator.k8s.pools import PoolLoops
from interconnect_operator.k8s.settings import OperatorOptions
from interconnect_operator.metrics import OperatorMetrics
from tests.unit.k8s.fake_kube import FakeKube

OPTIONS = OperatorOptions()
NS = OPTIONS.operator_namespace


def _pool_body(name: str = "pool", secret: str = "creds") -> dict[str, Any]:
    auth = {"auth": {"type": "Bearer", "secretRef": {"name": secret, "key": "token"}}}
    # Port 9 on loopback: refreshes fail fast, the clients are what the tests look at.
    return {
        "metadata": {"name": name, "generation": 1},
        "spec": {
            "environment": "env",
            "refreshInterval": 3600,
            "providers": [
                {"name": "aws", "endpoint": "http://127.0.0.1:9", "role": "Responder", **auth},
                {"name": "gcp", "endpoint": "http://127.0.0.1:9", "role": "Negotiator"},
            ],
        },
    }


@pytest.fixture
async def pools(kube: FakeKube, metrics: OperatorMetrics) -> AsyncIterator[PoolLoops]:
    loops = PoolLoops(
        OPTIONS,
        kube,
        metrics,
        credentials=Credentials(kube, NS),
        index=LinkIndex(),
        wake_link=lambda key, priority: None,
        on_request=lambda record: None,
    )
    yield loops
    await loops.stop()


async def until(predicate: Callable[[], Any]) -> None:
    async def poll() -> None:
        while not predicate():
            await asyncio.sleep(0.01)

    await asyncio.wait_for(poll(), 10.0)


def _token(entry: PoolEntry) -> str:
    assert entry.runtime is not None
    config = entry.runtime.config  # type: ignore[attr-defined]
    return str(config.responder.auth._token.get_secret_value())


async def test_a_rotated_secret_rebuilds_the_pool_clients_without_a_spec_change(
    kube: FakeKube, pools: PoolLoops
) -> None:
    kube.add_secret(NS, "creds", {"token": "old-token"})
    await pools.on_event("ADDED", kube.add_object(POOLS, _pool_body()))
    entry = pools.get("pool")
    assert entry is not None
    await until(lambda: entry.runtime is not None and ("creds" in pools._secret_latest))
    first = entry.runtime
    assert _token(entry) == "old-token"

    kube.add_secret(NS, "creds", {"token": "new-token"})  # rotation: data changes
    await until(lambda: entry.runtime is not None and entry.runtime is not first)
    assert _token(entry) == "new-token"
    assert entry.generation == 1  # no spec change was involved


async def test_an_update_that_keeps_the_data_leaves_the_clients_alone(
    kube: FakeKube, pools: PoolLoops
) -> None:
    kube.add_secret(NS, "creds", {"token": "same"})
    await pools.on_event("ADDED", kube.add_object(POOLS, _pool_body()))
    entry = pools.get("pool")
    assert entry is not None
    await until(lambda: entry.runtime is not None and "creds" in pools._secret_latest)
    first = entry.runtime
    watches_before = len(kube.secret_watches[(NS, "creds")])
    kube.add_secret(NS, "creds", {"token": "same"})  # e.g. a label change or a re-apply
    kube.add_secret(NS, "other", {"token": "x"})  # a Secret no pool references
    await asyncio.sleep(0.1)
    assert entry.runtime is first
    assert (NS, "other") not in kube.secret_watches
    assert len(kube.secret_watches[(NS, "creds")]) == watches_before == 1


async def test_a_pool_waiting_for_its_secret_builds_as_soon_as_it_appears(
    kube: FakeKube, pools: PoolLoops, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The backoff alone would wait an hour: only the watch can end the wait.
    monkeypatch.setattr(pools_mod, "CONFIG_RETRY", (3600.0, 3600.0))
    await pools.on_event("ADDED", kube.add_object(POOLS, _pool_body()))
    entry = pools.get("pool")
    assert entry is not None
    await until(lambda: entry.error is not None)
    assert entry.error is not None
    assert entry.error[0] == "SecretNotFound"
    kube.add_secret(NS, "creds", {"token": "late"})
    await until(lambda: entry.runtime is not None)
    assert _token(entry) == "late"


async def test_watches_follow_the_referenced_names_only(kube: FakeKube, pools: PoolLoops) -> None:
    await pools.on_event("ADDED", kube.add_object(POOLS, _pool_body("a", "creds-a")))
    await pools.on_event("ADDED", kube.add_object(POOLS, _pool_body("b", "creds-b")))
    await until(lambda: set(kube.secret_watches) == {(NS, "creds-a"), (NS, "creds-b")})
    await pools.on_event("DELETED", kube.objects[(POOLS, None, "a")])
    await until(lambda: not kube.secret_watches.get((NS, "creds-a")))
    assert pools._secret_watches.names == {"creds-b"}
