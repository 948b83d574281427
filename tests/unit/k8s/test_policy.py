"""Namespace policy: label selectors (k8s.policy) and pool admission (k8s.namespaces)."""

from __future__ import annotations

from typing import Any

import pytest

from interconnect_operator.k8s.kube import KubeError
from interconnect_operator.k8s.namespaces import NamespacePolicy
from interconnect_operator.k8s.policy import selector_matches
from tests.unit.k8s.fake_kube import FakeKube

LABELS = {"team": "a", "tier": "prod"}


@pytest.mark.parametrize(
    ("selector", "matches"),
    [
        ({}, True),
        ({"matchLabels": {"team": "a"}}, True),
        ({"matchLabels": {"team": "b"}}, False),
        ({"matchLabels": {"team": "a", "tier": "dev"}}, False),
        ({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["prod"]}]}, True),
        ({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["dev"]}]}, False),
        ({"matchExpressions": [{"key": "zone", "operator": "In", "values": ["x"]}]}, False),
        ({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["prod"]}]}, False),
        ({"matchExpressions": [{"key": "zone", "operator": "NotIn", "values": ["x"]}]}, True),
        ({"matchExpressions": [{"key": "team", "operator": "Exists"}]}, True),
        ({"matchExpressions": [{"key": "zone", "operator": "Exists"}]}, False),
        ({"matchExpressions": [{"key": "zone", "operator": "DoesNotExist"}]}, True),
        ({"matchExpressions": [{"key": "team", "operator": "DoesNotExist"}]}, False),
        (
            {
                "matchLabels": {"team": "a"},
                "matchExpressions": [{"key": "tier", "operator": "In", "values": ["dev"]}],
            },
            False,
        ),
    ],
)
def test_selector_matches(selector: dict[str, Any], matches: bool) -> None:
    assert selector_matches(selector, LABELS) is matches


def _pool(selector: dict[str, Any] | None) -> dict[str, Any]:
    policy = {"namespaceSelector": selector} if selector is not None else {}
    return {"metadata": {"name": "pool"}, "spec": {"policy": policy}}


async def test_a_pool_without_selector_admits_every_namespace_without_reading(
    kube: FakeKube,
) -> None:
    policy = NamespacePolicy(kube)
    assert await policy.denial("pool", _pool(None), "team-a") is None
    assert kube.reads == []


async def test_denial_names_namespace_and_pool(kube: FakeKube) -> None:
    kube.add_namespace("team-a", {"links": "yes"})
    kube.add_namespace("team-b", {})
    policy = NamespacePolicy(kube)
    pool = _pool({"matchLabels": {"links": "yes"}})
    assert await policy.denial("pool", pool, "team-a") is None
    denied = await policy.denial("pool", pool, "team-b")
    assert denied == "namespace team-b is not allowed to draw from pool pool (namespaceSelector)"


async def test_namespace_labels_are_cached(kube: FakeKube) -> None:
    kube.add_namespace("team-a", {"links": "yes"})
    policy = NamespacePolicy(kube)
    pool = _pool({"matchLabels": {"links": "yes"}})
    for _ in range(3):
        assert await policy.denial("pool", pool, "team-a") is None
    assert kube.reads == ["namespaces/team-a"]


async def test_an_unreadable_namespace_is_no_denial_but_an_error_to_retry(
    kube: FakeKube,
) -> None:
    kube.add_namespace("team-a", {"links": "yes"})
    kube.fail("get_namespace", 503)
    policy = NamespacePolicy(kube)
    with pytest.raises(KubeError):
        await policy.denial("pool", _pool({"matchLabels": {"links": "yes"}}), "team-a")
