"""The chart on a real API server: server-side dry run, helm install, RBAC as its ServiceAccount.

Uses the control plane rig (tests/conftest.py: ``kubeconfig``, ``namespace``).
There are no nodes, so pods never run: these tests check that every object
is accepted and that the ServiceAccount the chart creates may do what the
operator needs and nothing it must not (``kubectl auth can-i --as``).
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
import yaml

from tests.chart.conftest import CHART, REPO, load_manifests, run_helm
from tests.support.cluster import kubectl_path

pytestmark = [pytest.mark.e2e, pytest.mark.chart]


def kubectl(
    kubeconfig: Path, *args: str, stdin: str | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [str(kubectl_path()), "--kubeconfig", str(kubeconfig), *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    if check:
        assert proc.returncode == 0, f"kubectl {' '.join(args)}:\n{proc.stderr}"
    return proc


def dry_run_apply(kubeconfig: Path, manifests: Sequence[dict[str, object]]) -> str:
    proc = kubectl(
        kubeconfig,
        "apply",
        "--server-side",
        "--dry-run=server",
        "--force-conflicts",
        "--field-manager=chart-test",
        "-f",
        "-",
        stdin=yaml.safe_dump_all(manifests),
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.fixture
def other_namespace(kubeconfig: Path) -> Iterator[str]:
    name = f"chart-other-{uuid.uuid4().hex[:6]}"
    kubectl(kubeconfig, "create", "namespace", name)
    yield name
    kubectl(kubeconfig, "delete", "namespace", name, "--wait=false", check=False)


def test_rendered_chart_is_accepted_by_the_api_server(
    render_text: Callable[..., str], kubeconfig: Path, namespace: str, other_namespace: str
) -> None:
    text = render_text(
        namespace=namespace,
        release=f"dry-{uuid.uuid4().hex[:6]}",
        sets=["replicaCount=2", "grafanaDashboard.enabled=true"],
        set_json=[f'rbac.linkSecretNamespaces=["{other_namespace}"]'],
    )
    manifests = load_manifests(text)
    kinds = {m["kind"] for m in manifests}
    assert {"CustomResourceDefinition", "Deployment", "PodDisruptionBudget", "Role"} <= kinds
    out = dry_run_apply(kubeconfig, manifests)
    for manifest in manifests:
        name = manifest["metadata"]["name"]
        assert f"/{name} serverside-applied (server dry run)" in out, (name, out)


def test_api_server_dry_run_rejects_a_broken_object(
    render_text: Callable[..., str], kubeconfig: Path, namespace: str
) -> None:
    # Control for the test above: the dry run does validate.
    manifests = load_manifests(render_text(namespace=namespace))
    (deployment,) = [m for m in manifests if m["kind"] == "Deployment"]
    deployment["spec"]["template"]["spec"]["containers"][0]["securityContext"]["runAsUser"] = (
        "nobody"
    )
    proc = kubectl(
        kubeconfig,
        "apply",
        "--server-side",
        "--dry-run=server",
        "-f",
        "-",
        stdin=yaml.safe_dump(deployment),
        check=False,
    )
    assert proc.returncode != 0
    assert "runAsUser" in proc.stderr


def _exists(kubeconfig: Path, *what: str) -> bool:
    return kubectl(kubeconfig, "get", *what, check=False).returncode == 0


def can_i(kubeconfig: Path, user: str, verb: str, resource: str, namespace: str) -> bool:
    args = ["auth", "can-i", verb, resource, "-n", namespace, f"--as={user}"]
    if "/" in resource:
        base, sub = resource.split("/", 1)
        args[3] = base
        args.append(f"--subresource={sub}")
    proc = kubectl(kubeconfig, *args, check=False)
    answer = proc.stdout.strip()
    assert answer in ("yes", "no"), proc.stderr
    return answer == "yes"


def test_helm_install_and_service_account_rbac(
    helm: Path, kubeconfig: Path, namespace: str, other_namespace: str
) -> None:
    release = f"ico-{uuid.uuid4().hex[:6]}"
    fullname = f"{release}-interconnect-operator"
    link_namespace = other_namespace
    secret_free_namespace = f"{namespace}-nosecrets"
    # The project CRDs are cluster-wide and may already be there (other e2e
    # tests apply crds/); the chart's copy of them is checked by the dry run.
    kubectl(kubeconfig, "apply", "--server-side", "--force-conflicts", "-f", str(REPO / "crds"))
    kubectl(kubeconfig, "create", "namespace", secret_free_namespace)
    try:
        proc = run_helm(
            helm,
            "install",
            release,
            str(CHART),
            "--kubeconfig",
            str(kubeconfig),
            "--namespace",
            namespace,
            "--set",
            "crds.enabled=false",
            "--set",
            "replicaCount=2",
            "--set-json",
            f'rbac.linkSecretNamespaces=["{link_namespace}"]',
        )
        assert proc.returncode == 0, proc.stderr
        assert "STATUS: deployed" in proc.stdout
        # NOTES.txt
        assert (
            f'Leader election (Lease "{fullname}") is on: one of 2 replica(s) acts' in proc.stdout
        )
        assert "CRDs are not managed by this release" in proc.stdout

        for kind in ("deployment", "serviceaccount", "role", "rolebinding", "pdb"):
            assert _exists(kubeconfig, kind, fullname, "-n", namespace), kind
        assert _exists(kubeconfig, "service", f"{fullname}-metrics", "-n", namespace)
        assert _exists(kubeconfig, "clusterrole", fullname)

        sa = f"system:serviceaccount:{namespace}:{fullname}"
        # what the operator needs
        assert can_i(
            kubeconfig, sa, "patch", "multicloudlinks.interconnect.io/status", link_namespace
        )
        assert can_i(kubeconfig, sa, "watch", "multicloudlinks.interconnect.io", link_namespace)
        assert can_i(kubeconfig, sa, "patch", "capacitypools.interconnect.io/status", "default")
        # Events through events.k8s.io/v1 only (create, patch for a repeat's series)
        assert can_i(kubeconfig, sa, "create", "events.events.k8s.io", link_namespace)
        assert can_i(kubeconfig, sa, "patch", "events.events.k8s.io", link_namespace)
        assert not can_i(kubeconfig, sa, "create", "events", link_namespace)
        # leader election: its Lease in the release namespace, nothing more
        for verb in ("get", "create", "update"):
            assert can_i(kubeconfig, sa, verb, "leases.coordination.k8s.io", namespace)
        assert not can_i(kubeconfig, sa, "delete", "leases.coordination.k8s.io", namespace)
        assert not can_i(kubeconfig, sa, "update", "leases.coordination.k8s.io", "default")
        # pool credentials: Secrets of the release namespace only
        assert can_i(kubeconfig, sa, "get", "secrets", namespace)
        assert not can_i(kubeconfig, sa, "list", "secrets", namespace)
        # watch by name in the release namespace only (pool credential rotation)
        assert can_i(kubeconfig, sa, "watch", "secrets", namespace)
        assert not can_i(kubeconfig, sa, "watch", "secrets", link_namespace)
        assert not can_i(kubeconfig, sa, "get", "secrets", secret_free_namespace)
        assert not can_i(kubeconfig, sa, "list", "secrets", secret_free_namespace)
        # link Secrets: get (never list) where the chart was told links keep them
        assert can_i(kubeconfig, sa, "get", "secrets", link_namespace)
        assert not can_i(kubeconfig, sa, "list", "secrets", link_namespace)
        # least privilege: no deleting what users own, no writing Secrets
        assert not can_i(
            kubeconfig, sa, "delete", "multicloudlinks.interconnect.io", link_namespace
        )
        assert not can_i(kubeconfig, sa, "create", "capacitypools.interconnect.io", "default")
        assert not can_i(kubeconfig, sa, "update", "secrets", namespace)
        assert not can_i(kubeconfig, sa, "create", "pods", namespace)
    finally:
        run_helm(helm, "uninstall", release, "--kubeconfig", str(kubeconfig), "-n", namespace)
        kubectl(
            kubeconfig, "delete", "namespace", secret_free_namespace, "--wait=false", check=False
        )


def test_argocd_health_configmap_is_accepted(kubeconfig: Path, namespace: str) -> None:
    # Argo CD's own CRDs are not on this API server; its ConfigMap is plain core.
    configmap = yaml.safe_load((REPO / "examples/gitops/argocd/health-checks.yaml").read_text())
    configmap["metadata"]["namespace"] = namespace
    out = dry_run_apply(kubeconfig, [configmap])
    assert "configmap/argocd-cm serverside-applied (server dry run)" in out
