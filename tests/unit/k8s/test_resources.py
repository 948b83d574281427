"""The spec/status models: the rules the CRD's CEL enforces hold in Python too.

Each CEL rule of `resources` has a pydantic twin; these tests pin the twins,
so the operator never accepts a spec the API server would refuse (or the
other way round). Admission itself is tested against a real API server in
tests/e2e/test_crds_admission.py.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from interconnect_operator.k8s import resources as r


def pool_spec(**overrides: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "environment": "aws-gcp-us-east",
        "providers": [
            {
                "name": "aws",
                "endpoint": "https://aws.example/interconnect",
                "role": "Responder",
                "auth": {"type": "SigV4", "secretRef": {"name": "aws"}, "region": "us-east-1"},
            },
            {
                "name": "gcp",
                "endpoint": "http://127.0.0.1:8082",
                "role": "Negotiator",
                "auth": {"type": "Bearer", "secretRef": {"name": "gcp", "key": "token"}},
            },
        ],
    }
    spec.update(overrides)
    return spec


def link_spec(**overrides: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "poolRef": {"name": "aws-gcp-us-east"},
        "bandwidthMbps": 1000,
        "destinationAccountId": "123456789012",
    }
    spec.update(overrides)
    return {k: v for k, v in spec.items() if v is not None}


# --- CapacityPool -----------------------------------------------------------------


def test_pool_defaults() -> None:
    spec = r.CapacityPoolSpec.model_validate(pool_spec())
    assert spec.refresh_interval == 30
    assert spec.macsec.rotate is False
    assert spec.macsec.rotation_interval_hours == 720
    assert spec.policy.headroom_mbps == 0
    assert spec.policy.namespace_selector is None
    assert all(p.tls.insecure_skip_verify is False for p in spec.providers)
    assert spec.providers[0].auth.type is r.AuthType.SIGV4


def test_pool_call_as_defaults_to_the_other_provider() -> None:
    spec = r.CapacityPoolSpec.model_validate(pool_spec())
    assert spec.call_as("aws") == "gcp"
    assert spec.call_as("gcp") == "aws"
    custom = pool_spec()
    custom["providers"][0]["callAs"] = "partner-gcp"
    assert r.CapacityPoolSpec.model_validate(custom).call_as("aws") == "partner-gcp"


def test_pool_provider_by_role() -> None:
    spec = r.CapacityPoolSpec.model_validate(pool_spec())
    assert spec.provider(r.ProviderRole.NEGOTIATOR).name == "gcp"
    assert spec.provider(r.ProviderRole.RESPONDER).name == "aws"


def test_pool_needs_exactly_two_providers() -> None:
    base = pool_spec()
    third = copy.deepcopy(base["providers"][1]) | {"name": "azure"}
    with pytest.raises(ValidationError):
        r.CapacityPoolSpec.model_validate(pool_spec(providers=[*base["providers"], third]))
    with pytest.raises(ValidationError):
        r.CapacityPoolSpec.model_validate(pool_spec(providers=base["providers"][:1]))


def test_pool_providers_need_distinct_names() -> None:
    spec = pool_spec()
    spec["providers"][1]["name"] = "aws"
    with pytest.raises(ValidationError, match="distinct names"):
        r.CapacityPoolSpec.model_validate(spec)


def test_pool_needs_one_negotiator_and_one_responder_p4() -> None:
    spec = pool_spec()
    spec["providers"][0]["role"] = "Negotiator"
    with pytest.raises(ValidationError, match="one Negotiator and one Responder"):
        r.CapacityPoolSpec.model_validate(spec)


@pytest.mark.parametrize(
    "endpoint",
    ["ftp://aws.example", "aws.example", "https://", "https://host with space", ""],
)
def test_pool_endpoint_must_be_an_http_url(endpoint: str) -> None:
    spec = pool_spec()
    spec["providers"][0]["endpoint"] = endpoint
    with pytest.raises(ValidationError):
        r.CapacityPoolSpec.model_validate(spec)


@pytest.mark.parametrize("name", ["AWS", "-aws", "a" * 64, "aws_1"])
def test_pool_provider_name_is_a_dns_label(name: str) -> None:
    spec = pool_spec()
    spec["providers"][0]["name"] = name
    with pytest.raises(ValidationError):
        r.CapacityPoolSpec.model_validate(spec)


def test_pool_auth_needs_a_secret_unless_none() -> None:
    spec = pool_spec()
    del spec["providers"][1]["auth"]["secretRef"]
    with pytest.raises(ValidationError, match="secretRef is required"):
        r.CapacityPoolSpec.model_validate(spec)
    spec["providers"][1]["auth"] = {"type": "None"}
    assert r.CapacityPoolSpec.model_validate(spec).providers[1].auth.secret_ref is None


def test_pool_sigv4_fields_only_with_sigv4() -> None:
    spec = pool_spec()
    spec["providers"][1]["auth"]["region"] = "us-east-1"
    with pytest.raises(ValidationError, match="SigV4"):
        r.CapacityPoolSpec.model_validate(spec)


@pytest.mark.parametrize("interval", [0, 4, 3601])
def test_pool_refresh_interval_bounds(interval: int) -> None:
    with pytest.raises(ValidationError):
        r.CapacityPoolSpec.model_validate(pool_spec(refreshInterval=interval))


def test_pool_selector_requirement_values_follow_the_operator() -> None:
    ok = {"matchExpressions": [{"key": "team", "operator": "In", "values": ["a"]}]}
    spec = r.CapacityPoolSpec.model_validate(pool_spec(policy={"namespaceSelector": ok}))
    assert spec.policy.namespace_selector is not None
    assert spec.policy.namespace_selector.match_expressions[0].operator is r.SelectorOperator.IN
    for bad in (
        {"key": "team", "operator": "In", "values": []},
        {"key": "team", "operator": "Exists", "values": ["a"]},
    ):
        with pytest.raises(ValidationError, match="values must be non-empty"):
            r.CapacityPoolSpec.model_validate(
                pool_spec(policy={"namespaceSelector": {"matchExpressions": [bad]}})
            )


def test_pool_spec_refuses_unknown_fields() -> None:
    with pytest.raises(ValidationError):
        r.CapacityPoolSpec.model_validate(pool_spec(refreshIntervall=10))


# --- MulticloudLink -----------------------------------------------------------------


def test_link_defaults() -> None:
    spec = r.MulticloudLinkSpec.model_validate(link_spec())
    assert spec.deletion_policy is r.DeletionPolicy.DELETE
    assert spec.ipv6 is False
    assert spec.mtu is None
    assert spec.bgp is None


def test_link_activation_key_ref_defaults_its_key() -> None:
    spec = r.MulticloudLinkSpec.model_validate(
        link_spec(destinationAccountId=None, activationKey={"secretRef": {"name": "k"}})
    )
    assert spec.activation_key is not None
    assert spec.activation_key.secret_ref.key == "activationKey"


@pytest.mark.parametrize(
    "overrides",
    [
        {"destinationAccountId": None},
        {"activationKey": {"secretRef": {"name": "k"}}},
    ],
    ids=["neither", "both"],
)
def test_link_needs_exactly_one_key_source(overrides: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match="exactly one of activationKey"):
        r.MulticloudLinkSpec.model_validate(link_spec(**overrides))


@pytest.mark.parametrize(
    "overrides",
    [
        {"bandwidthMbps": 0},
        {"bandwidthMbps": -1000},
        {"mtu": 575},
        {"mtu": 9217},
        {"bgp": {"asn": 0}},
        {"bgp": {"asn": 4294967296}},
        {"deletionPolicy": "Keep"},
        {"poolRef": {"name": "Not_A_Name"}},
    ],
)
def test_link_bounds(overrides: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        r.MulticloudLinkSpec.model_validate(link_spec(**overrides))


def test_link_accepts_the_edges() -> None:
    spec = r.MulticloudLinkSpec.model_validate(
        link_spec(mtu=9216, bgp={"asn": 4294967295, "md5SecretRef": {"name": "md5"}})
    )
    assert spec.bgp is not None
    assert spec.bgp.md5_secret_ref is not None
    assert spec.bgp.md5_secret_ref.key == "password"


def test_link_paused_annotation() -> None:
    assert r.PAUSED_ANNOTATION == "interconnect.io/paused"
    assert r.is_paused({"interconnect.io/paused": "true"})
    assert r.is_paused({"interconnect.io/paused": "True"})
    assert not r.is_paused({"interconnect.io/paused": "false"})
    assert not r.is_paused({"interconnect.io/paused": "yes"})
    assert not r.is_paused({})
    assert not r.is_paused(None)


def test_link_manifest_model_exposes_paused() -> None:
    doc = {
        "apiVersion": "interconnect.io/v1alpha1",
        "kind": "MulticloudLink",
        "metadata": {"name": "a", "namespace": "t", "annotations": {r.PAUSED_ANNOTATION: "true"}},
        "spec": link_spec(),
    }
    assert r.MulticloudLink.model_validate(doc).paused


def test_pool_manifest_is_cluster_scoped() -> None:
    doc = {
        "apiVersion": "interconnect.io/v1alpha1",
        "kind": "CapacityPool",
        "metadata": {"name": "p", "namespace": "team-a"},
        "spec": pool_spec(),
    }
    with pytest.raises(ValidationError, match="cluster-scoped"):
        r.CapacityPool.model_validate(doc)


# --- status ------------------------------------------------------------------------


def _condition(**overrides: Any) -> dict[str, Any]:
    condition = {
        "type": "Ready",
        "status": "True",
        "reason": "P14Verified",
        "lastTransitionTime": "2026-01-01T00:00:00Z",
    }
    condition.update(overrides)
    return condition


def test_status_dumps_camel_case_without_nones() -> None:
    status = r.MulticloudLinkStatus(
        observed_generation=2,
        phase=r.LinkPhase.READY,
        conditions=[r.Condition.model_validate(_condition())],
        shared_connection_uuid="0b6e6c2c-6f5e-4a51-9f7a-1d3f1c9b2a10",
        channels=[
            r.LinkChannelStatus(
                id="ch1",
                vlan=1100,
                ipv4_subnet="169.254.10.0/30",
                bgp=[r.BgpPeer(provider="aws", asn=64512, address="169.254.10.1/30")],
                provisioning=[r.ProvisioningState(provider="aws", state="FINAL")],
            )
        ],
        ready_time=datetime(2026, 1, 1, tzinfo=UTC),
    )
    body = status.model_dump(by_alias=True, mode="json", exclude_none=True)
    assert body["observedGeneration"] == 2
    assert body["phase"] == "Ready"
    assert body["sharedConnectionUuid"].startswith("0b6e")
    assert body["channels"][0]["ipv4Subnet"] == "169.254.10.0/30"
    assert body["channels"][0]["bgp"] == [
        {"provider": "aws", "asn": 64512, "address": "169.254.10.1/30"}
    ]
    assert body["conditions"][0]["lastTransitionTime"] == "2026-01-01T00:00:00Z"
    assert "ipv6Subnet" not in body["channels"][0]
    assert "issue" not in body


@pytest.mark.parametrize(
    "overrides",
    [
        {"reason": "not camel case"},
        {"reason": ""},
        {"status": "Yes"},
        {"type": "has space"},
        {"lastTransitionTime": "yesterday"},
    ],
)
def test_conditions_are_validated(overrides: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        r.Condition.model_validate(_condition(**overrides))


def test_status_tolerates_unknown_fields_from_newer_operators() -> None:
    status = r.CapacityPoolStatus.model_validate({"linkCount": 3, "futureField": {"x": 1}})
    assert status.link_count == 3


def test_pool_status_bounds_are_enforced_before_writing() -> None:
    with pytest.raises(ValidationError):
        r.CapacityPoolStatus(supported_sizes_mbps=list(range(65)))


def test_link_phase_values_fit_the_phase_pattern() -> None:
    field = r.MulticloudLinkStatus.model_fields["phase"]
    for phase in r.LinkPhase:
        r.MulticloudLinkStatus(phase=phase.value)
    assert field.description is not None
    assert all(phase.value in field.description for phase in r.LinkPhase)
