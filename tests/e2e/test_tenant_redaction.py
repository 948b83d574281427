"""A tenant's Secret masks nothing of other tenants (redaction is scoped).

Tenant ``evil`` puts a common phrase (the very name of another team's link)
in an opted-in MD5 Secret its own link uses, so the operator holds it for
redaction. The other team's link of that name still shows its name in the
operator's log lines, in its status and Events and in its metric series;
the phrase is masked only where it belongs to ``evil``.
"""

from __future__ import annotations

import json
import secrets

import pytest

from tests.e2e.conftest import Stack
from tests.support.keys import LINK_SECRET_LABELS
from tests.support.stack import is_ready, link_manifest, wait_for

pytestmark = pytest.mark.e2e


def test_a_common_phrase_in_a_tenant_secret_masks_no_other_tenant(
    stack: Stack, namespace: str
) -> None:
    phrase = f"orders-{secrets.token_hex(3)}-db"  # another team's link name
    evil = f"{namespace[:50]}-evil"
    stack.kube.run("create", "namespace", evil)
    stack.kube.apply(
        [
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "md5", "namespace": evil, "labels": LINK_SECRET_LABELS},
                "type": "Opaque",
                "stringData": {"password": phrase},
            },
            link_manifest(
                "poison",
                evil,
                stack.pool,
                1000,
                bgp={"md5SecretRef": {"name": "md5", "key": "password"}},
            ),
        ]
    )
    wait_for(lambda: is_ready(stack.kube.try_get("mcl", "poison", evil)), 90, "poison Ready")
    stack.kube.apply([link_manifest(phrase, namespace, stack.pool, 1000)])
    victim = wait_for(
        lambda: (o := stack.kube.try_get("mcl", phrase, namespace)) and is_ready(o) and o,
        90,
        "the other team's link Ready",
    )
    log = stack.operator.log()
    assert f"link {namespace}/{phrase}" in log
    assert f'name="{phrase}"' in stack.operator.metrics()
    events = json.loads(stack.kube.run("get", "events", "-n", namespace, "-o", "json"))
    own = [e for e in events["items"] if e["involvedObject"]["name"] == phrase]
    assert own, "the other team's link has Events"
    assert all("***" not in e["message"] for e in own)
    assert "***" not in json.dumps(victim["status"])
    assert victim["metadata"]["name"] == phrase
    # The phrase is still a secret where it is evil's: never in evil's own status.
    assert phrase not in json.dumps(stack.kube.get("mcl", "poison", evil)["status"])
    for name, ns in (("poison", evil), (phrase, namespace)):
        stack.kube.delete("mcl", name, ns)
