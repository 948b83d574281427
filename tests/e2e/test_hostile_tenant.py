"""A hostile tenant against the real API server: foreign UUIDs, oversize links, admission.

A tenant who learned another team's shared connection UUID creates a link
carrying it (with the operator's finalizer), from a namespace the pool
admits and from one it refuses, then deletes it: the victim's connections at
both simulators stay exactly as they were and the victim stays Ready. An
allowed link patched above the pool's per-link maximum is refused and not
resized. Once the chart's ValidatingAdmissionPolicy is installed, the tenant
cannot set the UUID annotation at all. A link naming a Secret of its
namespace that did not opt in (a database password) is refused with the
same message as a link naming no Secret at all, and the value reaches no
provider. A Ready status a tenant forged (granted ``*/status`` by a careless
cluster) is not trusted by a restarted operator.
"""

from __future__ import annotations

import base64
import json
import secrets
import subprocess
from typing import Any

import pytest

from interconnect_operator.k8s import confirm
from tests.chart.conftest import CHART, find_helm, run_helm
from tests.e2e.conftest import Stack
from tests.support.stack import condition, is_ready, link_manifest, wait_for

pytestmark = pytest.mark.e2e

UUID_ANNOTATION = "interconnect.io/shared-connection-uuid"
FINALIZER = "interconnect.io/finalizer"


def _connections(pool: Any, uuid: str) -> list[list[dict[str, Any]]]:
    return [
        sorted(
            (c for c in sim.state()["connections"] if c["connection"] == uuid),
            key=str,
        )
        for sim in (pool.aws, pool.gcp)
    ]


def _stalled_reason(stack: Stack, name: str, namespace: str) -> str | None:
    stalled = condition(stack.kube.try_get("mcl", name, namespace), "Stalled")
    return None if stalled is None or stalled["status"] != "True" else str(stalled["reason"])


def _namespace(stack: Stack, name: str, labels: dict[str, str]) -> str:
    stack.kube.run("create", "namespace", name)
    for key, value in labels.items():
        stack.kube.run("label", "namespace", name, f"{key}={value}")
    return name


def test_a_foreign_uuid_link_touches_nothing_and_an_oversize_update_is_refused(
    stack: Stack, namespace: str, make_pool: Any
) -> None:
    label = f"links-{secrets.token_hex(3)}"
    pool = make_pool(
        policy={
            "namespaceSelector": {"matchLabels": {label: "true"}},
            "maxBandwidthMbpsPerLink": 2000,
        }
    )
    stack.kube.run("label", "namespace", namespace, f"{label}=true")
    stack.kube.apply([link_manifest("victim", namespace, pool.name, 1000)])
    victim = wait_for(
        lambda: (v := stack.kube.try_get("mcl", "victim", namespace)) and is_ready(v) and v,
        90,
        "victim Ready",
    )
    uuid = victim["status"]["sharedConnectionUuid"]
    before = _connections(pool, uuid)
    assert all(before)
    allowed = _namespace(stack, f"{namespace[:48]}-evil", {label: "true"})
    refused = _namespace(stack, f"{namespace[:48]}-deny", {})
    for ns in (allowed, refused):
        thief = link_manifest("thief", ns, pool.name, 1000)
        thief["metadata"]["annotations"] = {UUID_ANNOTATION: uuid}
        thief["metadata"]["finalizers"] = [FINALIZER]
        stack.kube.apply([thief])
    wait_for(
        lambda: _stalled_reason(stack, "thief", allowed) == "UuidNotOwned", 45, "thief refused"
    )
    message = condition(stack.kube.get("mcl", "thief", allowed), "Stalled")["message"]
    assert namespace not in message
    assert uuid not in message
    for ns in (allowed, refused):
        stack.kube.delete("mcl", "thief", ns)
        wait_for(lambda ns=ns: stack.kube.try_get("mcl", "thief", ns) is None, 45, "thief gone")
    assert _connections(pool, uuid) == before
    assert is_ready(stack.kube.get("mcl", "victim", namespace))

    # An allowed link patched above the per-link maximum is refused, not resized.
    stack.kube.run(
        "patch", "mcl", "victim", "-n", namespace, "--type=merge",
        "-p", '{"spec": {"bandwidthMbps": 10000}}',
    )  # fmt: skip
    wait_for(
        lambda: _stalled_reason(stack, "victim", namespace) == "PolicyDenied",
        45,
        "oversize update refused",
    )
    after = _connections(pool, uuid)
    assert [[c.get("bandwidthMbps") for c in side] for side in after] == [
        [c.get("bandwidthMbps") for c in side] for side in before
    ]


def _reason_and_message(stack: Stack, name: str, namespace: str) -> tuple[str, str] | None:
    ready = condition(stack.kube.try_get("mcl", name, namespace), "Ready")
    if ready is None or ready.get("reason") != "LinkSecretRefused":
        return None
    return str(ready["reason"]), str(ready["message"])


def test_a_secret_that_did_not_opt_in_is_never_read_nor_sent(stack: Stack, namespace: str) -> None:
    password = "db-" + secrets.token_hex(12)
    stack.kube.apply(
        [
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "database", "namespace": namespace},
                "type": "Opaque",
                "stringData": {"password": password},
            },
            *(
                link_manifest(
                    name,
                    namespace,
                    stack.pool,
                    1000,
                    bgp={"md5SecretRef": {"name": secret, "key": "password"}},
                )
                for name, secret in (("exfil", "database"), ("nothing", "no-such-secret"))
            ),
        ]
    )
    seen = {
        name: wait_for(
            lambda name=name: _reason_and_message(stack, name, namespace),
            45,
            f"{name} refused",
        )
        for name in ("exfil", "nothing")
    }
    # One reason and one message, whether or not the Secret exists.
    assert seen["exfil"][1].replace("exfil", "L").replace("database", "S") == seen["nothing"][
        1
    ].replace("nothing", "L").replace("no-such-secret", "S")
    assert "interconnect.io/link-secret" in seen["exfil"][1]
    events = stack.kube.run("get", "events", "-n", namespace, "-o", "json")
    assert "LinkSecretRefused" in events
    for sim in (stack.aws, stack.gcp):
        assert password not in str(sim.state())
    assert password not in stack.operator.log()
    for name in ("exfil", "nothing"):
        stack.kube.delete("mcl", name, namespace)


def test_the_admission_policy_stops_a_tenant_setting_the_uuid(stack: Stack, namespace: str) -> None:
    helm = find_helm()
    if helm is None:
        pytest.skip("helm not found: run `make tools`")
    release = f"vap-{secrets.token_hex(3)}"
    rendered = run_helm(
        helm, "template", release, str(CHART),
        "--namespace", stack.operator_namespace,
        "--set", "serviceAccount.name=interconnect-operator",
        "--kube-version", "1.35.0",
        "-s", "templates/admission-policy.yaml",
    )  # fmt: skip
    assert rendered.returncode == 0, rendered.stderr
    stack.kube.apply(rendered.stdout)
    tenant = f"tenant-{secrets.token_hex(3)}"
    stack.kube.apply(
        [
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "Role",
                "metadata": {"name": tenant, "namespace": namespace},
                "rules": [
                    {
                        "apiGroups": ["interconnect.io"],
                        "resources": ["multicloudlinks"],
                        "verbs": ["get", "list", "create", "update", "patch", "delete"],
                    }
                ],
            },
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "RoleBinding",
                "metadata": {"name": tenant, "namespace": namespace},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "Role",
                    "name": tenant,
                },
                "subjects": [{"kind": "User", "name": tenant}],
            },
        ]
    )
    try:
        claimed = link_manifest("claims", namespace, "no-such-pool", 1000)
        claimed["metadata"]["annotations"] = {
            UUID_ANNOTATION: "0f0e0d0c-aaaa-bbbb-cccc-000000000001"
        }

        def attempt(doc: dict[str, Any]) -> subprocess.CompletedProcess[str]:
            import yaml

            return subprocess.run(
                [stack.kube.kubectl, "--kubeconfig", str(stack.kube.kubeconfig),
                 "--as", tenant, "create", "-f", "-"],
                input=yaml.safe_dump(doc), capture_output=True, text=True, check=False,
            )  # fmt: skip

        # The policy binding takes effect asynchronously: retry until it denies.
        denied = wait_for(
            lambda: (r := attempt(claimed)).returncode != 0 and "only the interconnect" in r.stderr,
            30,
            "UUID annotation refused at admission",
            interval=1.0,
        )
        assert denied
        finalized = link_manifest("finalized", namespace, "no-such-pool", 1000)
        finalized["metadata"]["finalizers"] = [FINALIZER]
        assert "only the interconnect" in attempt(finalized).stderr
        plain = attempt(link_manifest("plain", namespace, "no-such-pool", 1000))
        assert plain.returncode == 0, plain.stderr
    finally:
        policy = f"{release}-interconnect-operator-link-ownership"
        stack.kube.delete("validatingadmissionpolicybinding", policy)
        stack.kube.delete("validatingadmissionpolicy", policy)


def test_a_forged_ready_status_is_not_trusted_after_a_restart(stack: Stack, namespace: str) -> None:
    """A careless cluster grants a tenant ``*/status``: the tenant rewrites its Ready
    link's status (its message) and keeps the stored ``inputsDigest``, or puts
    an unsigned digest of its own. The digest is a MAC under the installation's key
    (a Secret in the operator's namespace the tenant cannot read) over the inputs and
    the status as written, so the restarted operator reconciles the forged links in
    full and writes their true status back, while an untouched link is confirmed
    from its status with no write."""
    names = ("forged", "unsigned", "untouched")
    stack.kube.apply([link_manifest(n, namespace, stack.pool, 1000) for n in names])

    def ready(name: str) -> Any:
        link = stack.kube.try_get("mcl", name, namespace)
        return link if is_ready(link) and (link["status"].get("inputsDigest")) else None

    links = {n: wait_for(lambda n=n: ready(n), 90, f"{n} Ready") for n in names}
    key = stack.kube.get("secret", "interconnect-operator-digest-key", stack.operator_namespace)
    kid = confirm.key_id(base64.b64decode(key["data"]["key"]))
    digests = {n: link["status"]["inputsDigest"] for n, link in links.items()}
    assert {d.partition(".")[0] for d in digests.values()} == {kid}
    truth = {n: link["status"]["message"] for n, link in links.items()}

    stack.operator.stop()
    forged = {"message": "all good, nothing to see", "inputsDigest": digests["forged"]}
    unsigned = {"message": "all good, nothing to see", "inputsDigest": "0" * 32}
    for name, status in (("forged", forged), ("unsigned", unsigned)):
        stack.kube.run(
            "patch", "mcl", name, "-n", namespace, "--subresource=status", "--type=merge",
            "-p", json.dumps({"status": status}),
        )  # fmt: skip
    untouched = stack.kube.get("mcl", "untouched", namespace)["metadata"]["resourceVersion"]
    stack.operator.restart()

    # Without the MAC a forged Ready status stands until the link's first recheck
    # (POLL_SLOW, 300 s); with it the first look after the restart is a full one.
    for name in ("forged", "unsigned"):
        wait_for(
            lambda name=name: (
                stack.kube.get("mcl", name, namespace)["status"]["message"] == truth[name]
            ),
            90,
            f"{name}: true status written back",
        )
        # The same inputs and status under the same key: the same digest as before.
        status = stack.kube.get("mcl", name, namespace)["status"]
        assert status["inputsDigest"] == digests[name]
    assert stack.kube.get("mcl", "untouched", namespace)["metadata"]["resourceVersion"] == (
        untouched
    )
