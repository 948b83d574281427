"""kstatus itself judges the status the running operator writes.

Links in the states a GitOps tool must tell apart (Ready, a size the pool does
not sell, a pool that does not exist, paused, and the terminal reasons: a key
that does not decode, a key the responder refuses) and two pools (a healthy
one, one without credentials: terminal) are read back from
the real API server and classified by sigs.k8s.io/cli-utils' kstatus library
(hack/kstatus, the status reading of Flux and kpt) and by the Python rules of
tests/support/kstatus.py: the two must agree on every object, and the library
must see what the conditions say (Ready -> Current, Stalled -> Failed,
Reconciling -> InProgress).
"""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import pytest
import yaml

from tests.e2e.conftest import REPO, Stack
from tests.support.keys import issue_key, key_ref, key_secret
from tests.support.kstatus import KStatus, compute, compute_go
from tests.support.stack import condition, link_manifest, wait_for

pytestmark = pytest.mark.e2e


def _settled(obj: dict[str, Any] | None) -> bool:
    """The operator has written status for the object's current generation."""
    if not obj:
        return False
    status = obj.get("status") or {}
    return (
        status.get("observedGeneration") == obj["metadata"].get("generation")
        and condition(obj, "Ready") is not None
    )


def test_kstatus_library_and_python_rules_agree_on_the_operators_status(
    stack: Stack, namespace: str, secret_values: set[str]
) -> None:
    links = {
        "ready": link_manifest("ready", namespace, stack.pool, 1000),
        "size-not-sold": link_manifest("size-not-sold", namespace, stack.pool, 1234),
        "no-pool": link_manifest("no-pool", namespace, "no-such-pool", 1000),
        "paused": link_manifest("paused", namespace, stack.pool, 1000),
    }
    links["paused"]["metadata"]["annotations"] = {"interconnect.io/paused": "true"}
    # Terminal reasons (no retry without a spec change) must read Failed.
    links["bad-key"] = link_manifest(
        "bad-key", namespace, stack.pool, 1000, activationKey=key_ref("garbled")
    )
    links["refused-key"] = link_manifest(
        "refused-key", namespace, stack.pool, 1000, activationKey=key_ref("forged")
    )
    secret_values.add(forged := _forged_key(stack))
    stack.kube.apply(
        [
            key_secret("garbled", namespace, "bm90IGEga2V5"),
            key_secret("forged", namespace, forged),
            _credentialless_pool(pool_name := f"referee-{namespace}"[:60]),
            *links.values(),
        ]
    )

    def read_all() -> dict[str, dict[str, Any]] | None:
        objects = {name: stack.kube.try_get("mcl", name, namespace) for name in links}
        if not all(_settled(o) for o in objects.values()):
            return None
        ready = condition(objects["ready"], "Ready")
        if not ready or ready.get("status") != "True":
            return None
        return {name: o for name, o in objects.items() if o}

    objects = wait_for(read_all, 90, "every link's status for its generation")
    objects["pool"] = stack.kube.get("cpool", stack.pool, None)
    objects["credentialless-pool"] = wait_for(
        lambda: (o := stack.kube.try_get("cpool", pool_name)) and _settled(o) and o,
        60,
        "the credentialless pool's status",
    )
    for case, reason in (
        ("bad-key", "InvalidActivationKey"),
        ("refused-key", "KeyRefused"),
        ("credentialless-pool", "CredentialsRequired"),
    ):
        stalled = condition(objects[case], "Stalled")
        assert stalled is not None, case
        assert (stalled.get("status"), stalled.get("reason")) == ("True", reason), case

    verdicts = dict(zip(objects, compute_go(list(objects.values())), strict=True))
    for case, obj in objects.items():
        library = verdicts[case]
        assert compute(obj).status is library.status, (case, library, obj.get("status"))
        stalled = condition(obj, "Stalled")
        reconciling = condition(obj, "Reconciling")
        if stalled and stalled.get("status") == "True":
            assert library.status is KStatus.FAILED, case
        elif reconciling and reconciling.get("status") == "True":
            assert library.status is KStatus.IN_PROGRESS, case
    assert verdicts["ready"].status is KStatus.CURRENT
    assert verdicts["pool"].status is KStatus.CURRENT
    for case in ("bad-key", "refused-key", "credentialless-pool"):
        assert verdicts[case].status is KStatus.FAILED, case
    # Where the library sees nothing abnormal in an object that is not Ready
    # (kstatus has no rule for a custom resource's Ready), the strict reading
    # still waits: that is what the Python rules add.
    for case, obj in objects.items():
        if _not_ready(obj) and verdicts[case].status is KStatus.CURRENT:
            assert compute(obj, strict=True).status is KStatus.IN_PROGRESS, case
    for name in links:
        stack.kube.delete("mcl", name, namespace)
    stack.kube.delete("cpool", pool_name)


def _forged_key(stack: Stack) -> str:
    """A well-formed key the responder never issued (a fresh UUID): P3 refuses it."""
    issued = issue_key(stack.aws)
    payload = json.loads(base64.b64decode(issued["encodedKey"]))
    swapped = {
        k: (str(uuid.uuid4()) if v == issued["sharedConnectionUuid"] else v)
        for k, v in payload.items()
    }
    assert swapped != payload
    return base64.b64encode(json.dumps(swapped).encode()).decode()


def _credentialless_pool(name: str) -> dict[str, Any]:
    """A customer-API pool with no credentials at all: CredentialsRequired, never retried."""
    manifest: dict[str, Any] = yaml.safe_load(
        (REPO / "examples" / "customer" / "capacitypool.yaml").read_text()
    )
    manifest["metadata"] = {"name": name}
    for provider in manifest["spec"]["providers"]:
        provider["auth"] = {"type": "None"}
    return manifest


def _not_ready(obj: dict[str, Any]) -> bool:
    ready = condition(obj, "Ready")
    return bool(ready and ready.get("status") != "True")
