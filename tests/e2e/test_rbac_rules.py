"""The operator's RBAC rules on a real API server: allowed what it needs, no more.

Applies `render_rbac` output and asks the API server (a SubjectAccessReview)
what the operator's ServiceAccount may do.
"""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import pytest
from kubernetes import client
from kubernetes.client import ApiClient

from interconnect_operator.k8s import rbac
from tests.support.cluster import kubectl_path

pytestmark = pytest.mark.e2e


def _kubectl(
    kubeconfig: Path, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(kubectl_path()), "--kubeconfig", str(kubeconfig), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture(scope="module")
def operator_sa(kubeconfig: Path) -> tuple[str, str]:
    """(namespace, service account) with the rendered RBAC applied; unique names."""
    suffix = uuid.uuid4().hex[:6]
    namespace, link_namespace = f"ico-system-{suffix}", f"ico-team-{suffix}"
    for ns in (namespace, link_namespace):
        assert _kubectl(kubeconfig, "create", "namespace", ns).returncode == 0
    docs = rbac.render_rbac(
        namespace, "operator", name=f"ico-{suffix}", link_secret_namespaces=[link_namespace]
    )
    applied = _kubectl(kubeconfig, "apply", "-f", "-", stdin=rbac.render_yaml(docs))
    assert applied.returncode == 0, applied.stderr
    return namespace, link_namespace


def _can(api: ApiClient, sa: str, verb: str, resource: str, namespace: str | None) -> bool:
    """Ask the API server's authorizer (SubjectAccessReview), no discovery involved.

    `resource` is `plural[.group][/subresource]`, like `kubectl auth can-i`.
    """
    plural_group, _, subresource = resource.partition("/")
    plural, _, group = plural_group.partition(".")
    review = client.V1SubjectAccessReview(
        spec=client.V1SubjectAccessReviewSpec(
            user=sa,
            groups=["system:serviceaccounts", f"system:serviceaccounts:{sa.split(':')[2]}"],
            resource_attributes=client.V1ResourceAttributes(
                verb=verb,
                group=group,
                resource=plural,
                subresource=subresource or None,
                namespace=namespace,
            ),
        )
    )
    answer = client.AuthorizationV1Api(api).create_subject_access_review(review)
    assert answer.status is not None
    return bool(answer.status.allowed)


@pytest.mark.parametrize(
    ("verb", "resource"),
    [
        ("watch", "multicloudlinks.interconnect.io"),
        ("patch", "multicloudlinks.interconnect.io"),
        ("list", "capacitypools.interconnect.io"),
        ("patch", "multicloudlinks.interconnect.io/status"),
        ("patch", "capacitypools.interconnect.io/status"),
        ("create", "events.events.k8s.io"),
        ("patch", "events.events.k8s.io"),
        ("watch", "namespaces"),
        ("list", "customresourcedefinitions.apiextensions.k8s.io"),
    ],
)
def test_operator_may_do_its_job_cluster_wide(
    k8s_api: ApiClient, operator_sa: tuple[str, str], verb: str, resource: str
) -> None:
    namespace, _ = operator_sa
    sa = f"system:serviceaccount:{namespace}:operator"
    assert _can(k8s_api, sa, verb, resource, None)


def test_secrets_only_where_the_operator_needs_them(
    k8s_api: ApiClient, operator_sa: tuple[str, str]
) -> None:
    namespace, link_namespace = operator_sa
    sa = f"system:serviceaccount:{namespace}:operator"
    assert _can(k8s_api, sa, "get", "secrets", namespace)
    # Watch (by name, for credential rotation) in its own namespace only; never list.
    assert _can(k8s_api, sa, "watch", "secrets", namespace)
    assert not _can(k8s_api, sa, "list", "secrets", namespace)
    assert not _can(k8s_api, sa, "watch", "secrets", link_namespace)
    assert _can(k8s_api, sa, "get", "secrets", link_namespace)
    assert not _can(k8s_api, sa, "watch", "secrets", link_namespace)
    assert not _can(k8s_api, sa, "list", "secrets", link_namespace)
    assert not _can(k8s_api, sa, "get", "secrets", "kube-system")
    assert not _can(k8s_api, sa, "get", "secrets", None)
    # Create (once: the inputsDigest signing key) only in its own namespace; never
    # change or delete a Secret anywhere.
    assert _can(k8s_api, sa, "create", "secrets", namespace)
    assert not _can(k8s_api, sa, "create", "secrets", link_namespace)
    assert not _can(k8s_api, sa, "create", "secrets", None)
    for verb in ("update", "patch", "delete"):
        assert not _can(k8s_api, sa, verb, "secrets", namespace)


@pytest.mark.parametrize(
    ("verb", "resource"),
    [
        ("update", "multicloudlinks.interconnect.io"),
        ("update", "capacitypools.interconnect.io/status"),
        ("create", "events"),
    ],
)
def test_operator_has_no_unused_verbs(
    k8s_api: ApiClient, operator_sa: tuple[str, str], verb: str, resource: str
) -> None:
    namespace, _ = operator_sa
    sa = f"system:serviceaccount:{namespace}:operator"
    assert not _can(k8s_api, sa, verb, resource, None)


def test_operator_may_not_delete_or_create_links(
    k8s_api: ApiClient, operator_sa: tuple[str, str]
) -> None:
    namespace, _ = operator_sa
    sa = f"system:serviceaccount:{namespace}:operator"
    assert not _can(k8s_api, sa, "delete", "multicloudlinks.interconnect.io", None)
    assert not _can(k8s_api, sa, "create", "capacitypools.interconnect.io", None)
    assert not _can(k8s_api, sa, "delete", "namespaces", None)
