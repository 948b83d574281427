"""The link roles for namespace users on a real API server, asked with `kubectl auth can-i`.

`render_rbac` ships ClusterRoles labelled for aggregation into the built-in
view/edit/admin roles. Aggregation itself is done by kube-controller-manager,
which the rig does not run, so each role is bound directly to a user here and
the API server's authorizer is asked what that user may do.
"""

from __future__ import annotations

import secrets
import subprocess

import pytest

from interconnect_operator.k8s import rbac
from tests.e2e.conftest import Stack

pytestmark = pytest.mark.e2e


def _can(stack: Stack, user: str, verb: str, resource: str, namespace: str) -> bool:
    plural, _, subresource = resource.partition("/")
    extra = ["--subresource", subresource] if subresource else []
    result = subprocess.run(
        [stack.kube.kubectl, "--kubeconfig", str(stack.kube.kubeconfig),
         "auth", "can-i", verb, plural, *extra, "-n", namespace, "--as", user],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    return result.stdout.strip() == "yes"


def test_link_view_and_edit_roles_grant_links_and_never_pools(stack: Stack, namespace: str) -> None:
    name = f"ico-roles-{secrets.token_hex(3)}"
    docs = [
        d
        for d in rbac.render_rbac(stack.operator_namespace, "unused", name=name)
        if d["kind"] == "ClusterRole" and d["metadata"]["name"].endswith(("-view", "-edit"))
    ]
    assert len(docs) == 2
    stack.kube.apply(docs)
    users = {"view": f"viewer-{name}", "edit": f"editor-{name}"}
    stack.kube.apply(
        [
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "RoleBinding",
                "metadata": {"name": f"{name}-{role}", "namespace": namespace},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "ClusterRole",
                    "name": f"{name}-links-{role}",
                },
                "subjects": [{"kind": "User", "name": user}],
            }
            for role, user in users.items()
        ]
    )
    links, pools = "multicloudlinks.interconnect.io", "capacitypools.interconnect.io"
    assert _can(stack, users["view"], "list", links, namespace)
    assert not _can(stack, users["view"], "create", links, namespace)
    assert _can(stack, users["edit"], "create", links, namespace)
    assert _can(stack, users["edit"], "delete", links, namespace)
    for user in users.values():
        assert not _can(stack, user, "get", pools, namespace)
        assert not _can(stack, user, "patch", f"{links}/status", namespace)
        assert not _can(stack, user, "list", links, stack.operator_namespace)
    for doc in docs:
        stack.kube.delete("clusterrole", doc["metadata"]["name"])
