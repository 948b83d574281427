"""Activation keys for end-to-end tests: issued by a simulator, handed to links as Secrets."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from tests.support.stack import Simulator


def issue_key(
    sim: Simulator, bandwidth_mbps: int = 1000, environment: str = "aws-gcp-us-east"
) -> dict[str, Any]:
    """A real activation key from the responder's customer endpoint (P1)."""
    body = json.dumps(
        {
            "environment": environment,
            "bandwidthMbps": bandwidth_mbps,
            "destinationAccountId": "123456789012",
        }
    ).encode()
    request = urllib.request.Request(
        f"{sim.url}/customer/v1/activationKeys",
        data=body,
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        issued: dict[str, Any] = json.loads(response.read())
    return issued


#: The label a Secret must carry before links may use it (the opt-in).
LINK_SECRET_LABELS = {"interconnect.io/link-secret": "true"}


def key_secret(name: str, namespace: str, value: str) -> dict[str, Any]:
    """A link Secret (opted in) holding an activation key under ``activationKey``."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(LINK_SECRET_LABELS)},
        "type": "Opaque",
        "stringData": {"activationKey": value},
    }


def key_ref(secret: str) -> dict[str, Any]:
    """A link's ``spec.activationKey`` pointing at :func:`key_secret`'s Secret."""
    return {"secretRef": {"name": secret, "key": "activationKey"}}
