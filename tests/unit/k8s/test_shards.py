"""Shards (--pool-selector): the selector string, which pools an instance owns, and
that a link of another shard's pool gets neither a write nor a provider call."""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator
from typing import Any

import pytest

from interconnect_operator.k8s.credentials import Credentials
from interconnect_operator.k8s.index import LinkIndex
from interconnect_operator.k8s.kube import LINKS, POOLS
from interconnect_operator.k8s.links import STARTUP_GRACE_SECONDS, LinkWorkers
from interconnect_operator.k8s.main import add_arguments, options_from_args
from interconnect_operator.k8s.meta import LinkMetadata
from interconnect_operator.k8s.namespaces import NamespacePolicy
from interconnect_operator.k8s.ownership import UuidOwnership
from interconnect_operator.k8s.policy import parse_selector, selector_matches
from interconnect_operator.k8s.pools import PoolLoops
from interconnect_operator.k8s.publish import Publisher
from interconnect_operator.k8s.settings import FINALIZER, OperatorOptions
from interconnect_operator.metrics import OperatorMetrics
from tests.unit.k8s.fake_kube import FakeKube

# ---------------------------------------------------------------- selector strings


@pytest.mark.parametrize(
    ("text", "labels", "matches"),
    [
        ("shard=a", {"shard": "a"}, True),
        ("shard=a", {"shard": "b"}, False),
        ("shard==a", {"shard": "a"}, True),
        ("shard!=a", {}, True),
        ("shard!=a", {"shard": "a"}, False),
        ("tier in (gold, silver)", {"tier": "silver"}, True),
        ("tier in (gold,silver)", {"tier": "bronze"}, False),
        ("tier notin (gold,silver),shard=a", {"shard": "a", "tier": "bronze"}, True),
        ("tier notin (gold,silver),shard=a", {"shard": "a", "tier": "gold"}, False),
        ("example.com/shard", {"example.com/shard": ""}, True),
        ("!legacy", {"legacy": "x"}, False),
        ("!legacy, shard", {"shard": "b"}, True),
    ],
)
def test_selector_strings_mean_what_kubectl_means(
    text: str, labels: dict[str, str], matches: bool
) -> None:
    assert selector_matches(parse_selector(text), labels) is matches


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("", "empty label selector"),
        ("shard=a,", "empty requirement"),
        ("tier in (gold", "unbalanced '('"),
        ("tier in gold)", "unbalanced ')'"),
        ("tier in (gold,)", "empty value"),
        ("sh@rd=a", "invalid label key 'sh@rd'"),
        ("shard=a b", "invalid label"),
        ("shard=" + "x" * 64, "invalid label value"),
    ],
)
def test_a_bad_selector_is_refused_naming_the_bad_part(text: str, names: str) -> None:
    with pytest.raises(ValueError, match=names.replace("(", r"\(").replace(")", r"\)")):
        parse_selector(text)


def test_the_command_line_refuses_a_bad_selector_before_starting() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    with pytest.raises(SystemExit):
        parser.parse_args(["--pool-selector", "tier in (gold"])
    options = options_from_args(parser.parse_args(["--pool-selector", "shard=a"]))
    assert options.pool_selector == parse_selector("shard=a")
    assert options_from_args(parser.parse_args([])).pool_selector is None


# ---------------------------------------------------------------- ownership of pools

OPTIONS = OperatorOptions(workers=1, pool_selector=parse_selector("shard=a"))


def _pool(labels: dict[str, str], generation: int = 1) -> dict[str, Any]:
    return {
        "metadata": {"name": "pool-b", "generation": generation, "labels": labels},
        "spec": {"environment": "env", "providers": []},
    }


class Shard:
    def __init__(self, kube: FakeKube, metrics: OperatorMetrics) -> None:
        self.kube = kube
        self.index = LinkIndex()
        publisher = Publisher(kube, metrics)
        credentials = Credentials(kube, OPTIONS.operator_namespace)
        self.woken: list[tuple[str, str]] = []
        self.pools = PoolLoops(
            OPTIONS,
            kube,
            metrics,
            credentials=credentials,
            index=self.index,
            wake_link=lambda key, priority: self.woken.append(key),
            on_request=publisher.on_request,
        )
        self.workers = LinkWorkers(
            OPTIONS,
            kube,
            metrics,
            index=self.index,
            pools=self.pools,
            credentials=credentials,
            meta=LinkMetadata(kube, self.index),
            namespaces=NamespacePolicy(kube),
            publisher=publisher,
            owners=UuidOwnership(kube, OPTIONS.operator_namespace),
        )
        self.workers._started -= STARTUP_GRACE_SECONDS + 1

    def link(self, **meta: Any) -> dict[str, Any]:
        body = {
            "metadata": {"namespace": "team-b", "name": "link", **meta},
            "spec": {
                "poolRef": {"name": "pool-b"},
                "bandwidthMbps": 1000,
                "destinationAccountId": "acct-1",
            },
        }
        stored = self.kube.add_object(LINKS, body)
        self.index.observe(stored)
        return self.index.links[("team-b", "link")]


@pytest.fixture
async def shard(kube: FakeKube, metrics: OperatorMetrics) -> AsyncIterator[Shard]:
    rig = Shard(kube, metrics)
    yield rig
    await rig.pools.stop()


async def test_another_shards_pool_gets_no_loop(shard: Shard) -> None:
    await shard.pools.on_event("ADDED", _pool({"shard": "b"}))
    assert shard.pools.get("pool-b") is None
    assert shard.pools.unowned == {"pool-b"}
    assert shard.kube.status_patches == []


async def test_a_link_of_another_shards_pool_is_never_written(shard: Shard) -> None:
    await shard.pools.on_event("ADDED", _pool({"shard": "b"}))
    for meta in ({}, {"deletionTimestamp": "2026-01-01T00:00:00Z", "finalizers": [FINALIZER]}):
        body = shard.link(**meta)
        assert await shard.workers.reconcile(("team-b", "link"), body) is None
    assert shard.kube.status_patches == []
    assert shard.kube.meta_patches == []
    assert shard.kube.events == []
    assert shard.kube.configmaps == {}
    assert shard.workers.state == {}


async def test_a_pool_relabelled_away_is_dropped_and_back_is_taken_up(shard: Shard) -> None:
    shard.kube.add_object(POOLS, _pool({"shard": "a"}))
    shard.link()
    await shard.pools.on_event("ADDED", _pool({"shard": "a"}))
    assert shard.pools.get("pool-b") is not None
    await shard.pools.on_event("MODIFIED", _pool({"shard": "b"}, generation=1))
    assert shard.pools.get("pool-b") is None
    assert ("team-b", "link") in shard.woken  # the gate forgets it
    shard.woken.clear()
    await shard.pools.on_event("MODIFIED", _pool({"shard": "a"}, generation=1))
    entry = shard.pools.get("pool-b")
    assert entry is not None
    assert entry.task is not None
    assert shard.woken == [("team-b", "link")]
    assert shard.pools.unowned == set()


async def test_a_deleted_unowned_pool_is_forgotten(shard: Shard) -> None:
    await shard.pools.on_event("ADDED", _pool({"shard": "b"}))
    await shard.pools.on_event("DELETED", _pool({"shard": "b"}))
    assert shard.pools.unowned == set()
