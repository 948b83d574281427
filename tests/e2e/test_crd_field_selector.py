"""MulticloudLinks can be selected by pool on the server (CRD `selectableFields`).

`kubectl get mcl --field-selector spec.poolRef.name=...` is answered by the
real API server from the CRD's selectableFields; a field the CRD does not
declare is refused.
"""

from __future__ import annotations

import pytest

from tests.support.stack import Kube, link_manifest

pytestmark = pytest.mark.e2e


def test_links_are_selected_by_pool_on_the_server(kube: Kube, namespace: str) -> None:
    kube.apply(
        [
            link_manifest("on-east", namespace, "pool-east"),
            link_manifest("on-west", namespace, "pool-west"),
            link_manifest("also-east", namespace, "pool-east"),
        ]
    )
    names = kube.run(
        "get",
        "mcl",
        "-n",
        namespace,
        "--field-selector",
        "spec.poolRef.name=pool-east",
        "-o",
        "jsonpath={.items[*].metadata.name}",
    ).split()
    assert sorted(names) == ["also-east", "on-east"]
    with pytest.raises(RuntimeError, match="field label not supported"):
        kube.run("get", "mcl", "-n", namespace, "--field-selector", "spec.bandwidthMbps=1000")
    for name in ("on-east", "on-west", "also-east"):
        kube.run("delete", "mcl", name, "-n", namespace, "--wait=false")
