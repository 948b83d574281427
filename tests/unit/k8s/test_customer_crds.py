"""The CRD fields of customer pools and links: models, schema, examples, and the link target."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest
import yaml
from pydantic import ValidationError

from interconnect_operator.k8s import crdgen
from interconnect_operator.k8s import resources as r
from interconnect_operator.k8s.customer_pools import customer_target

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "customer"


def _docs() -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for path in sorted(EXAMPLES.glob("*.yaml")):
        if path.name != "kustomization.yaml":
            docs.extend(d for d in yaml.safe_load_all(path.read_text()) if d)
    return docs


def _schema(kind: str) -> dict[str, Any]:
    crd = crdgen.capacitypool_crd() if kind == "CapacityPool" else crdgen.multicloudlink_crd()
    schema: dict[str, Any] = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema


def test_kustomization_lists_every_customer_example() -> None:
    listed = set(yaml.safe_load((EXAMPLES / "kustomization.yaml").read_text())["resources"])
    assert listed == {p.name for p in EXAMPLES.glob("*.yaml")} - {"kustomization.yaml"}


@pytest.mark.parametrize(
    "doc", [d for d in _docs() if d["kind"] != "Secret"], ids=lambda d: d["metadata"]["name"]
)
def test_examples_validate_with_model_and_schema(doc: dict[str, Any]) -> None:
    model = r.CapacityPool if doc["kind"] == "CapacityPool" else r.MulticloudLink
    model.model_validate(doc)
    jsonschema.validate(doc, _schema(doc["kind"]))


def test_the_example_pool_is_a_customer_pool() -> None:
    (pool_doc,) = [d for d in _docs() if d["kind"] == "CapacityPool"]
    pool = r.CapacityPool.model_validate(pool_doc)
    assert pool.spec.customer
    apis = {p.name: p.api.type for p in pool.spec.providers}
    assert apis == {
        "aws": r.ProviderApiType.AWS_INTERCONNECT,
        "gcp": r.ProviderApiType.GOOGLE_TRANSPORTS,
    }
    symmetric = r.CapacityPool.model_validate(
        yaml.safe_load((EXAMPLES.parent / "capacitypool.yaml").read_text())
    )
    assert not symmetric.spec.customer


def test_model_refuses_mixed_pools_and_keyed_customer_links() -> None:
    (pool_doc,) = [d for d in _docs() if d["kind"] == "CapacityPool"]
    mixed = {
        **pool_doc["spec"],
        "providers": [
            pool_doc["spec"]["providers"][0],
            {**pool_doc["spec"]["providers"][1], "api": {}},
        ],
    }
    with pytest.raises(ValidationError, match="both providers speak"):
        r.CapacityPoolSpec.model_validate(mixed)
    link = next(d for d in _docs() if d["metadata"]["name"] == "google-first")
    with pytest.raises(ValidationError, match="customer link"):
        r.MulticloudLinkSpec.model_validate({**link["spec"], "mtu": 1500})
    with pytest.raises(ValidationError, match="connectionType Test needs the symmetric API"):
        r.MulticloudLinkSpec.model_validate({**link["spec"], "connectionType": "Test"})
    schema = _schema("link")["properties"]["spec"]
    rules = [v["rule"] for v in schema["x-kubernetes-validations"]]
    assert r.CEL_TEST_NOT_CUSTOMER["rule"] in rules
    with pytest.raises(ValidationError, match="network and hub"):
        r.MulticloudLinkSpec.model_validate(
            {**link["spec"], "customer": {**link["spec"]["customer"], "google": {}}}
        )


def test_a_link_becomes_the_drivers_target() -> None:
    doc = next(d for d in _docs() if d["metadata"]["name"] == "aws-first")
    body = {**doc, "metadata": {**doc["metadata"], "uid": "7d1b1e9e-2f0a-4e55-9f44-5a0c1d2e3f40"}}
    spec = r.MulticloudLinkSpec.model_validate(doc["spec"])
    target = customer_target(body, spec)
    assert target is not None
    assert target.uid == "7d1b1e9e-2f0a-4e55-9f44-5a0c1d2e3f40"
    assert target.initiator is None  # the pool's Responder
    assert target.attachment.gateway == "5f0c6b8e-3a8f-4c1e-9d27-6b1d2e4f7a10"
    assert target.attachment.advertised_routes == ("10.20.0.0/16",)
    assert target.attachment.ipv6
    plain = r.MulticloudLinkSpec.model_validate(
        {"poolRef": {"name": "p"}, "bandwidthMbps": 1000, "destinationAccountId": "1"}
    )
    assert customer_target(body, plain) is None
