"""The chart grants exactly the rules of interconnect_operator.k8s.rbac, no more."""

from __future__ import annotations

from typing import Any

import pytest

from interconnect_operator.k8s.rbac import render_rbac
from tests.chart.conftest import ALL_ON, Manifest, Render, by_kind, one

NAMESPACE = "interconnect-system"


def _rules_by_kind(docs: list[dict[str, Any]]) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for doc in docs:
        if doc["kind"] in ("ClusterRole", "Role"):
            out.setdefault(f"{doc['kind']}/{doc['metadata']['name']}", []).extend(doc["rules"])
    return out


def _grants_secrets(rules: list[dict[str, Any]]) -> bool:
    return any(
        "" in r.get("apiGroups", []) and {"secrets", "*"} & set(r.get("resources", []))
        for r in rules
    )


@pytest.fixture(scope="module")
def defaults(render: Render) -> list[Manifest]:
    return render(namespace=NAMESPACE)


def test_chart_rbac_equals_the_operator_rbac_module(defaults: list[Manifest]) -> None:
    reference = render_rbac(
        NAMESPACE, "ico-interconnect-operator", name="ico-interconnect-operator"
    )
    assert _rules_by_kind(defaults) == _rules_by_kind(reference)


def test_chart_binds_its_service_account(defaults: list[Manifest]) -> None:
    account = one(defaults, "ServiceAccount")
    subject = {
        "kind": "ServiceAccount",
        "name": account["metadata"]["name"],
        "namespace": NAMESPACE,
    }
    for kind in ("ClusterRoleBinding", "RoleBinding"):
        binding = one(defaults, kind)
        assert binding["subjects"] == [subject]
    assert one(defaults, "RoleBinding")["roleRef"]["kind"] == "Role"
    assert one(defaults, "Role")["metadata"]["namespace"] == NAMESPACE


def test_secrets_are_readable_only_in_the_release_namespace(defaults: list[Manifest]) -> None:
    # Pool credentials: a Role in the release namespace, never a ClusterRole.
    assert _grants_secrets(one(defaults, "Role")["rules"])
    for role in by_kind(defaults, "ClusterRole"):
        assert not _grants_secrets(role["rules"]), role["metadata"]["name"]


def test_link_secret_namespaces_get_a_get_only_rolebinding_each(render: Render) -> None:
    manifests = render(namespace=NAMESPACE, values=[ALL_ON])
    reference = render_rbac(
        NAMESPACE, "x", name="ico-interconnect-operator", link_secret_namespaces=["team-a"]
    )
    assert _rules_by_kind(manifests) == _rules_by_kind(reference)
    link_role = one(manifests, "ClusterRole", "-link-secrets")
    assert link_role["rules"] == [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}]
    bindings = [
        b
        for b in by_kind(manifests, "RoleBinding")
        if b["metadata"]["name"].endswith("-link-secrets")
    ]
    assert sorted(b["metadata"]["namespace"] for b in bindings) == ["team-a", "team-b"]
    assert all(b["roleRef"]["kind"] == "ClusterRole" for b in bindings)
    # ... and no cluster-wide binding of it
    assert not [
        b
        for b in by_kind(manifests, "ClusterRoleBinding")
        if b["roleRef"]["name"].endswith("-link-secrets")
    ]


def test_link_secrets_cluster_wide_only_when_asked_with_star(render: Render) -> None:
    manifests = render(namespace=NAMESPACE, set_json=['rbac.linkSecretNamespaces=["*"]'])
    binding = one(manifests, "ClusterRoleBinding", "-link-secrets")
    assert binding["roleRef"]["name"].endswith("-link-secrets")
    assert not [
        b
        for b in by_kind(manifests, "RoleBinding")
        if b["metadata"]["name"].endswith("-link-secrets")
    ]


def test_rbac_create_false_renders_no_rbac(render: Render) -> None:
    manifests = render(sets=["rbac.create=false"])
    kinds = {m["kind"] for m in manifests}
    assert not kinds & {"ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"}
