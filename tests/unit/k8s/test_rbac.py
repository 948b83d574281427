"""The operator's RBAC: enough for kopf and the reconcilers, nothing more."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from interconnect_operator.k8s import rbac


def _allows(rules: list[dict[str, list[str]]], group: str, resource: str, verb: str) -> bool:
    return any(
        group in rule["apiGroups"] and resource in rule["resources"] and verb in rule["verbs"]
        for rule in rules
    )


def _by_kind(docs: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    kinds: dict[str, list[dict[str, Any]]] = {}
    for doc in docs:
        kinds.setdefault(doc["kind"], []).append(doc)
    return kinds


def test_cluster_rules_cover_what_kopf_and_the_reconcilers_need() -> None:
    rules = rbac.CLUSTER_RULES
    for resource in ("capacitypools", "multicloudlinks"):
        for verb in ("get", "list", "watch", "patch"):
            assert _allows(rules, "interconnect.io", resource, verb), (resource, verb)
        for verb in ("get", "patch"):
            assert _allows(rules, "interconnect.io", f"{resource}/status", verb)
        # Every write is a merge patch: no update, on the objects or their status.
        assert not _allows(rules, "interconnect.io", resource, "update")
        assert not _allows(rules, "interconnect.io", f"{resource}/status", "update")
    # Events only through events.k8s.io/v1 (create; patch for a series), never core/v1.
    assert _allows(rules, "events.k8s.io", "events", "create")
    assert _allows(rules, "events.k8s.io", "events", "patch")
    assert not _allows(rules, "", "events", "create")
    for verb in ("get", "list", "watch"):
        assert _allows(rules, "", "namespaces", verb)
        assert _allows(rules, "apiextensions.k8s.io", "customresourcedefinitions", verb)
    # Active/standby is a Lease in the operator's namespace, not kopf peering.
    assert not any("kopf.dev" in rule["apiGroups"] for rule in rules)


def test_cluster_rules_never_grant_secrets_deletes_or_wildcards() -> None:
    for rule in rbac.CLUSTER_RULES:
        assert "secrets" not in rule["resources"]
        assert "*" not in rule["verbs"] + rule["resources"] + rule["apiGroups"]
        assert "delete" not in rule["verbs"]
        assert "create" not in rule["verbs"] or rule["resources"] == ["events"]


def test_secrets_are_readable_only_in_the_operator_namespace() -> None:
    docs = rbac.render_rbac("interconnect-system", "ico")
    kinds = _by_kind(docs)
    (role,) = kinds["Role"]
    assert role["metadata"]["namespace"] == "interconnect-system"
    assert _allows(role["rules"], "", "secrets", "get")
    # watch: one watch per referenced name (field selector), for rotations; never list.
    assert _allows(role["rules"], "", "secrets", "watch")
    assert not _allows(role["rules"], "", "secrets", "list")
    # create: the inputsDigest signing key, once (k8s/digest_key.py); never change one.
    assert _allows(role["rules"], "", "secrets", "create")
    for verb in ("update", "patch", "delete"):
        assert not _allows(role["rules"], "", "secrets", verb)
    for verb in ("get", "create", "update"):
        assert _allows(role["rules"], "coordination.k8s.io", "leases", verb)
    for verb in ("list", "watch", "patch", "delete"):
        assert not _allows(role["rules"], "coordination.k8s.io", "leases", verb)
    for cluster_role in kinds["ClusterRole"]:
        assert not _allows(cluster_role["rules"], "", "secrets", "get")


def test_render_binds_everything_to_the_service_account() -> None:
    docs = rbac.render_rbac("interconnect-system", "ico", name="ico-op")
    kinds = _by_kind(docs)
    assert sorted(kinds) == [
        "ClusterRole",
        "ClusterRoleBinding",
        "Role",
        "RoleBinding",
        "ServiceAccount",
    ]
    (account,) = kinds["ServiceAccount"]
    assert account["metadata"] == {
        "name": "ico",
        "namespace": "interconnect-system",
        "labels": account["metadata"]["labels"],
    }
    subject = {"kind": "ServiceAccount", "name": "ico", "namespace": "interconnect-system"}
    (crb,) = kinds["ClusterRoleBinding"]
    assert crb["subjects"] == [subject]
    assert crb["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": "ico-op",
    }
    (rb,) = kinds["RoleBinding"]
    assert rb["subjects"] == [subject]
    assert rb["roleRef"]["kind"] == "Role"
    assert rb["metadata"]["namespace"] == "interconnect-system"


def test_link_secrets_are_granted_per_namespace_get_only() -> None:
    docs = rbac.render_rbac(
        "interconnect-system", "ico", link_secret_namespaces=["team-a", "team-b", "team-a"]
    )
    kinds = _by_kind(docs)
    secret_roles = [
        d for d in kinds["ClusterRole"] if d["metadata"]["name"].endswith("-link-secrets")
    ]
    (secret_role,) = secret_roles
    assert secret_role["rules"] == [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}]
    bindings = [d for d in kinds["RoleBinding"] if d["roleRef"]["kind"] == "ClusterRole"]
    assert [b["metadata"]["namespace"] for b in bindings] == ["team-a", "team-b"]
    assert len(kinds["ClusterRoleBinding"]) == 1


def test_link_secrets_cluster_wide_on_request() -> None:
    docs = rbac.render_rbac("ns", "sa", link_secret_namespaces=[rbac.ALL_NAMESPACES])
    bindings = _by_kind(docs)["ClusterRoleBinding"]
    assert [b["roleRef"]["name"] for b in bindings] == [
        "interconnect-operator",
        "interconnect-operator-link-secrets",
    ]


def test_rendered_rules_are_copies() -> None:
    docs = rbac.render_rbac("ns", "sa")
    _by_kind(docs)["ClusterRole"][0]["rules"][0]["verbs"].append("delete")
    assert "delete" not in rbac.CLUSTER_RULES[0]["verbs"]


def test_cli_writes_parsable_manifests(tmp_path: Path) -> None:
    out = tmp_path / "rbac.yaml"
    assert (
        rbac.main(["--namespace", "ops", "--out", str(out), "--link-secret-namespace", "team-a"])
        == 0
    )
    text = out.read_text()
    assert text.startswith("# generated by `python -m interconnect_operator.k8s.rbac`")
    docs = [d for d in yaml.safe_load_all(text) if d]
    assert docs == rbac.render_rbac("ops", link_secret_namespaces=["team-a"])


def test_links_not_pools_are_aggregated_into_the_built_in_roles() -> None:
    roles = {
        d["metadata"]["name"]: d for d in _by_kind(rbac.render_rbac("ns", "sa"))["ClusterRole"]
    }
    view, edit = (
        roles["interconnect-operator-links-view"],
        roles["interconnect-operator-links-edit"],
    )
    prefix = "rbac.authorization.k8s.io/aggregate-to-"
    assert {k for k in view["metadata"]["labels"] if k.startswith(prefix)} == {
        prefix + r for r in ("view", "edit", "admin")
    }
    assert {k for k in edit["metadata"]["labels"] if k.startswith(prefix)} == {
        prefix + r for r in ("edit", "admin")
    }
    assert _allows(edit["rules"], "interconnect.io", "multicloudlinks", "create")
    assert not _allows(view["rules"], "interconnect.io", "multicloudlinks", "create")
    for role in (view, edit):
        assert not _allows(role["rules"], "interconnect.io", "capacitypools", "get")
        assert not _allows(role["rules"], "interconnect.io", "multicloudlinks/status", "patch")
