"""Proof that the e2e rig is a real Kubernetes API server.

Namespaces and ConfigMaps persist; a CRD gets structural validation, CEL
rules, the status subresource and printer columns; RBAC denies a
ServiceAccount until a RoleBinding allows it; watches deliver events;
kubectl and helm talk to it and the server reports the pinned version.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config, watch
from kubernetes.client import ApiClient
from kubernetes.client.exceptions import ApiException

from tests.support.cluster import Binaries, ClusterHandle, ensure_binaries, pinned_k8s_version

pytestmark = pytest.mark.e2e

GROUP = "rigtest.interconnect.io"
VERSION = "v1"
PLURAL = "widgets"
CRD_NAME = f"{PLURAL}.{GROUP}"
CEL_MESSAGE = "maxSize must be at least minSize"

WIDGET_CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": CRD_NAME},
    "spec": {
        "group": GROUP,
        "scope": "Namespaced",
        "names": {
            "plural": PLURAL,
            "singular": "widget",
            "kind": "Widget",
            "listKind": "WidgetList",
            "shortNames": ["wdg"],
        },
        "versions": [
            {
                "name": VERSION,
                "served": True,
                "storage": True,
                "subresources": {"status": {}},
                "additionalPrinterColumns": [
                    {"name": "MinSize", "type": "integer", "jsonPath": ".spec.minSize"},
                    {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
                    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
                ],
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "required": ["minSize", "maxSize"],
                                "properties": {
                                    "minSize": {"type": "integer", "minimum": 0},
                                    "maxSize": {"type": "integer"},
                                },
                                "x-kubernetes-validations": [
                                    {"rule": "self.maxSize >= self.minSize", "message": CEL_MESSAGE}
                                ],
                            },
                            "status": {
                                "type": "object",
                                "properties": {"phase": {"type": "string"}},
                            },
                        },
                    }
                },
            }
        ],
    },
}


def as_dict(obj: object) -> dict[str, Any]:
    """Custom-object calls are typed as returning ``object``; they return dicts."""
    assert isinstance(obj, dict)
    return obj


def new_client(kubeconfig: Path) -> ApiClient:
    api: ApiClient = config.new_client_from_config(  # type: ignore[no-untyped-call]
        config_file=str(kubeconfig)
    )
    return api


def widget(name: str, min_size: int, max_size: int) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Widget",
        "metadata": {"name": name},
        "spec": {"minSize": min_size, "maxSize": max_size},
    }


@pytest.fixture(scope="module")
def binaries() -> Binaries:
    return ensure_binaries(quiet=True)


@pytest.fixture(scope="module")
def widget_crd(k8s_api: ApiClient) -> Iterator[str]:
    # Any: the generated client takes a plain dict body at run time.
    ext: Any = client.ApiextensionsV1Api(k8s_api)
    try:
        ext.create_custom_resource_definition(WIDGET_CRD)
    except ApiException as err:
        if err.status != 409:
            raise
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        crd = ext.read_custom_resource_definition(CRD_NAME)
        conds = {c.type: c.status for c in (crd.status.conditions or [])}
        if conds.get("Established") == "True":
            break
        time.sleep(0.2)
    else:
        pytest.fail(f"CRD {CRD_NAME} not Established")
    # Discovery catches up a little after Established.
    custom = client.CustomObjectsApi(k8s_api)
    deadline = time.monotonic() + 30
    while True:
        try:
            custom.list_cluster_custom_object(GROUP, VERSION, PLURAL)
            break
        except ApiException:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    yield CRD_NAME
    with contextlib.suppress(ApiException):
        ext.delete_custom_resource_definition(CRD_NAME)


def kubectl(bins: Binaries, kubeconfig: Path, *args: str) -> str:
    return subprocess.run(
        [str(bins.kubectl), "--kubeconfig", str(kubeconfig), *args],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout


def test_namespace_and_configmap(k8s_api: ApiClient, namespace: str) -> None:
    core: Any = client.CoreV1Api(k8s_api)
    assert core.read_namespace(namespace).status.phase == "Active"
    core.create_namespaced_config_map(
        namespace,
        client.V1ConfigMap(metadata=client.V1ObjectMeta(name="cm"), data={"k": "v"}),
    )
    got = core.read_namespaced_config_map("cm", namespace)
    assert got.data == {"k": "v"}
    assert got.metadata.uid
    got.data["k"] = "v2"
    core.replace_namespaced_config_map("cm", namespace, got)
    assert core.read_namespaced_config_map("cm", namespace).data == {"k": "v2"}


def test_crd_cel_rule_rejects_bad_object(
    widget_crd: str, k8s_api: ApiClient, namespace: str
) -> None:
    custom = client.CustomObjectsApi(k8s_api)
    with pytest.raises(ApiException) as info:
        custom.create_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURAL, widget("bad", 5, 1)
        )
    assert info.value.status == 422
    assert CEL_MESSAGE in str(info.value.body)
    # Structural schema: a negative minSize is rejected too.
    with pytest.raises(ApiException) as info2:
        custom.create_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURAL, widget("neg", -1, 1)
        )
    assert info2.value.status == 422


def test_crd_status_subresource_and_printer_columns(
    widget_crd: str,
    k8s_api: ApiClient,
    namespace: str,
    kubeconfig: Path,
    binaries: Binaries,
) -> None:
    custom = client.CustomObjectsApi(k8s_api)
    body = widget("good", 1, 3)
    body["status"] = {"phase": "Ignored"}
    created = as_dict(
        custom.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, body)
    )
    assert "status" not in created or created["status"].get("phase") != "Ignored"
    generation = created["metadata"]["generation"]

    # A status update through the subresource changes status only.
    obj = as_dict(custom.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "good"))
    obj["status"] = {"phase": "Ready"}
    obj["spec"]["maxSize"] = 99
    updated = as_dict(
        custom.replace_namespaced_custom_object_status(
            GROUP, VERSION, namespace, PLURAL, "good", obj
        )
    )
    assert updated["status"]["phase"] == "Ready"
    assert updated["spec"]["maxSize"] == 3
    assert updated["metadata"]["generation"] == generation

    # A main-resource update changes spec only (and bumps generation).
    obj = as_dict(custom.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "good"))
    obj["spec"]["maxSize"] = 4
    obj["status"] = {"phase": "Hacked"}
    updated = as_dict(
        custom.replace_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "good", obj)
    )
    assert updated["spec"]["maxSize"] == 4
    assert updated["status"]["phase"] == "Ready"
    assert updated["metadata"]["generation"] == generation + 1

    # Printer columns, as kubectl shows them (short name resolves via discovery).
    out = kubectl(binaries, kubeconfig, "get", "wdg", "-n", namespace)
    header, row = out.splitlines()[:2]
    assert header.split() == ["NAME", "MINSIZE", "PHASE", "AGE"]
    assert row.split()[:3] == ["good", "1", "Ready"]


def _can_list_configmaps(api: client.CoreV1Api, namespace: str) -> bool:
    try:
        api.list_namespaced_config_map(namespace)
    except ApiException as err:
        if err.status == 403:
            return False
        raise
    return True


def test_rbac_enforced_for_service_account(
    control_plane: ClusterHandle, k8s_api: ApiClient, namespace: str, tmp_path: Path
) -> None:
    sa_kubeconfig = control_plane.make_sa_kubeconfig(
        namespace, "rig-sa", tmp_path / "sa.kubeconfig"
    )
    sa_client = new_client(sa_kubeconfig)
    try:
        sa_core = client.CoreV1Api(sa_client)
        assert not _can_list_configmaps(sa_core, namespace)
        # Authenticated as the ServiceAccount, not as admin:
        with pytest.raises(ApiException) as info:
            sa_core.list_namespace()
        assert info.value.status == 403
        assert f"system:serviceaccount:{namespace}:rig-sa" in str(info.value.body)

        rbac: Any = client.RbacAuthorizationV1Api(k8s_api)
        rbac.create_namespaced_role(
            namespace,
            {
                "metadata": {"name": "cm-reader"},
                "rules": [
                    {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]}
                ],
            },
        )
        rbac.create_namespaced_role_binding(
            namespace,
            {
                "metadata": {"name": "cm-reader"},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "Role",
                    "name": "cm-reader",
                },
                "subjects": [{"kind": "ServiceAccount", "name": "rig-sa", "namespace": namespace}],
            },
        )
        deadline = time.monotonic() + 15
        while not _can_list_configmaps(sa_core, namespace):
            assert time.monotonic() < deadline, "RoleBinding never took effect"
            time.sleep(0.2)
        # Still only what the Role grants.
        with pytest.raises(ApiException) as info3:
            sa_core.create_namespaced_config_map(
                namespace, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="nope"))
            )
        assert info3.value.status == 403
    finally:
        sa_client.close()  # type: ignore[no-untyped-call]


def test_watch_receives_event(k8s_api: ApiClient, namespace: str) -> None:
    core: Any = client.CoreV1Api(k8s_api)
    rv = core.list_namespaced_config_map(namespace).metadata.resource_version
    core.create_namespaced_config_map(
        namespace, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="watched"))
    )
    w: Any = watch.Watch()  # type: ignore[no-untyped-call]
    seen: list[tuple[str, str]] = []
    for event in w.stream(
        core.list_namespaced_config_map,
        namespace,
        resource_version=rv,
        timeout_seconds=15,
    ):
        seen.append((event["type"], event["object"].metadata.name))
        if seen[-1] == ("ADDED", "watched"):
            w.stop()
    assert ("ADDED", "watched") in seen


def test_kubectl_version_matches_pin(
    control_plane: ClusterHandle, kubeconfig: Path, binaries: Binaries
) -> None:
    out = json.loads(kubectl(binaries, kubeconfig, "version", "-o", "json"))
    server = out["serverVersion"]["gitVersion"]
    pin = pinned_k8s_version()
    assert binaries.k8s_version == pin
    assert out["clientVersion"]["gitVersion"] == pin
    if control_plane.existing:
        # e.g. kind: same minor as the pin.
        assert server.split(".")[:2] == pin.split(".")[:2], server
    else:
        assert server == pin


def test_helm_version_and_install(
    binaries: Binaries, kubeconfig: Path, namespace: str, k8s_api: ApiClient, tmp_path: Path
) -> None:
    out = subprocess.run(
        [str(binaries.helm), "version", "--short"],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout.strip()
    assert out.startswith(binaries.helm_version), out

    chart = tmp_path / "rigchart"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text(
        "apiVersion: v2\nname: rigchart\nversion: 0.1.0\nkubeVersion: '>=1.30.0-0'\n"
    )
    (chart / "templates" / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-cm\n"
        "data:\n  kube: {{ .Capabilities.KubeVersion.Version | quote }}\n"
    )
    env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "KUBECONFIG": str(kubeconfig)}
    subprocess.run(
        [str(binaries.helm), "install", "rig", str(chart), "-n", namespace],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    core: Any = client.CoreV1Api(k8s_api)
    cm = core.read_namespaced_config_map("rig-cm", namespace)
    assert cm.data["kube"].startswith("v1.")
