"""Secret values never leave their Secrets: not in status, Events, logs or metrics.

Runs after the other operator e2e files (alphabetical order) so that it also
sweeps what they left behind; ``secret_values`` holds every token, key and
password the session handed out.
"""

from __future__ import annotations

import json
import secrets

import pytest

from tests.e2e.conftest import Stack, api_features
from tests.support.keys import LINK_SECRET_LABELS, issue_key, key_ref, key_secret
from tests.support.stack import is_ready, link_manifest, wait_for

pytestmark = pytest.mark.e2e


def test_secret_values_appear_in_no_status_event_log_or_metric(
    stack: Stack, namespace: str, secret_values: set[str]
) -> None:
    kube = stack.kube
    key = issue_key(stack.aws)["encodedKey"]
    md5 = "md5-" + secrets.token_hex(10)
    secret_values.update({key, md5})
    kube.apply(
        [
            key_secret("link-key", namespace, key),
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {
                    "name": "bgp-md5",
                    "namespace": namespace,
                    "labels": dict(LINK_SECRET_LABELS),
                },
                "type": "Opaque",
                "stringData": {"password": md5},
            },
            link_manifest(
                "secretive",
                namespace,
                stack.pool,
                1000,
                activationKey=key_ref("link-key"),
                bgp={"md5SecretRef": {"name": "bgp-md5", "key": "password"}},
            ),
        ]
    )
    link = wait_for(
        lambda: (o := kube.try_get("mcl", "secretive", namespace)) and is_ready(o) and o,
        60,
        "secretive Ready",
    )
    # The password did reach the providers (so it was really in play) ...
    status = link["status"]
    features = api_features(
        stack.gcp, status["environment"], status["interconnect"], status["sharedConnectionUuid"]
    )
    assert {f["featureConfig"]["l3BaseConfig"].get("md5BgpPassword") for f in features} == {md5}

    # ... and shows up nowhere the operator writes or exposes.
    places: dict[str, str] = {
        "links": json.dumps(kube.get("mcl")),
        "pools": json.dumps(kube.get("cpool")),
        "events": kube.run("get", "events", "-A", "-o", "json"),
        "operator log": stack.operator.log(),
        "metrics": stack.operator.metrics(),
    }
    assert len(places["events"]) > 1000
    assert "secretive" in places["events"]
    leaks = [
        (where, value[:6] + "...")
        for where, text in places.items()
        for value in secret_values
        if value and value in text
    ]
    assert leaks == []
    kube.delete("mcl", "secretive", namespace)
    wait_for(lambda: kube.try_get("mcl", "secretive", namespace) is None, 60, "secretive gone")
