"""Wire models: camelCase, tolerance, output-only fields, secrets."""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import BaseModel, SecretStr

from interconnect_operator.api.models import (
    SCHEMA_MODELS,
    AdminState,
    Channel,
    Connection,
    Environment,
    Feature,
    FeatureGuidance,
    GenerateFeatureGuidanceResponse,
    Interconnect,
    Issue,
    ListConnectionsResponse,
    ListFeaturesResponse,
    ListIssuesResponse,
    ListProvidersResponse,
    MacSecKey,
    Provider,
    ProvisioningState,
    from_wire,
    is_output_only,
    output_only_exclusions,
    request_bytes,
    to_request,
    to_wire,
    to_wire_json,
)
from tests.unit.api import samples


def test_camel_case_on_the_wire_snake_case_in_python() -> None:
    connection = Connection(bandwidth_mbps=1000, defer_provisioning=True)
    assert to_wire(connection) == {"bandwidthMbps": 1000, "deferProvisioning": True}
    assert Connection.model_validate({"bandwidthMbps": 5}).bandwidth_mbps == 5
    assert Connection.model_validate({"bandwidth_mbps": 5}).bandwidth_mbps == 5


def test_none_fields_are_omitted_but_false_and_zero_kept() -> None:
    assert to_wire(Connection(defer_provisioning=False, bandwidth_mbps=0)) == {
        "deferProvisioning": False,
        "bandwidthMbps": 0,
    }


def test_unknown_fields_round_trip() -> None:
    document = {**samples.CHANNEL, "futureThing": {"a": [1, 2]}, "anotherOne": "x"}
    channel = from_wire(Channel, document)
    assert to_wire(channel) == document


def test_unknown_enum_values_are_kept() -> None:
    feature = Feature.model_validate(
        {
            "provisioningState": "PROVISIONING_STATE_ROLLING_BACK",
            "featureConfig": {"featureType": "FEATURE_TYPE_L2"},
        }
    )
    assert feature.provisioning_state == "PROVISIONING_STATE_ROLLING_BACK"
    assert feature.provisioning_state not in set(ProvisioningState)
    assert feature.feature_config is not None
    assert feature.feature_config.feature_type == "FEATURE_TYPE_L2"


def test_known_enum_values_compare_with_constants() -> None:
    channel = Channel.model_validate(samples.CHANNEL)
    assert channel.admin_state == AdminState.ENABLED
    assert to_wire(Channel(admin_state=AdminState.DISABLED))["adminState"] == "ADMIN_STATE_DISABLED"


def test_to_request_drops_output_only_fields_at_every_level() -> None:
    response = GenerateFeatureGuidanceResponse.model_validate(samples.GUIDANCE)
    assert to_request(response) == {}  # featureGuidance itself is readOnly
    guidance = FeatureGuidance.model_validate(samples.GUIDANCE["featureGuidance"][0])
    request = to_request(guidance)
    assert "channelAdminState" not in request
    assert request["l3BaseGuidance"]["vlanRanges"] == [{"start": 1025, "stop": 4094}]
    issue = Issue.model_validate(samples.ISSUE)
    request = to_request(issue)
    for output_only in ("createTime", "localIssueId", "state"):
        assert output_only not in request
    assert request["connectionContexts"] == [{"name": samples.CONN}]
    assert to_wire(issue)["state"] == "STATE_OPEN"


@pytest.mark.parametrize(
    ("model", "sample"),
    [
        (Feature, samples.FEATURE),
        (MacSecKey, samples.MAC_SEC_KEY),
        (Connection, samples.CONNECTION),
        (Issue, samples.ISSUE),
        (FeatureGuidance, samples.GUIDANCE["featureGuidance"][0]),
    ],
)
def test_request_bytes_are_the_request_document(model: Any, sample: dict[str, Any]) -> None:
    # The bytes sent (and digested into a create's requestId key) are to_request's
    # document: output-only fields dropped, secrets revealed, Nones absent.
    parsed = model.model_validate(sample)
    assert json.loads(request_bytes(parsed)) == to_request(parsed)


def test_secrets_are_masked_everywhere_but_the_wire(caplog: pytest.LogCaptureFixture) -> None:
    feature = Feature.model_validate(samples.FEATURE)
    key = MacSecKey.model_validate(samples.MAC_SEC_KEY)
    connection = Connection.model_validate(samples.CONNECTION)
    secrets = [
        "bgp-md5-secret",
        samples.MAC_SEC_KEY["cak"],
        samples.MAC_SEC_KEY["ckn"],
        samples.CONNECTION["activationKey"],
    ]
    caplog.set_level(logging.INFO)
    logging.getLogger("t").info("%s %r %s", feature, key, connection)
    rendered = " ".join(
        [
            repr(feature),
            str(key),
            repr(connection),
            json.dumps(feature.model_dump(mode="json")),
            feature.model_dump_json(by_alias=True),
            key.model_dump_json(),
            connection.model_dump_json(),
            caplog.text,
        ]
    )
    for secret in secrets:
        assert secret not in rendered
    assert to_wire(feature)["featureConfig"]["l3BaseConfig"]["md5BgpPassword"] == "bgp-md5-secret"
    assert to_request(key)["cak"] == samples.MAC_SEC_KEY["cak"]
    assert to_wire(connection)["activationKey"] == samples.CONNECTION["activationKey"]


def test_secret_fields_are_secretstr() -> None:
    key = MacSecKey(cak="plain", ckn=SecretStr("wrapped"))
    assert isinstance(key.cak, SecretStr)
    assert key.cak.get_secret_value() == "plain"
    assert isinstance(key.ckn, SecretStr)


def test_datetimes_parse_and_serialize_as_rfc3339() -> None:
    key = MacSecKey.model_validate({"startTime": "2000-01-23T04:56:07.000+00:00"})
    assert key.start_time == datetime(2000, 1, 23, 4, 56, 7, tzinfo=UTC)
    assert to_wire(key)["startTime"] == "2000-01-23T04:56:07Z"


def test_list_providers_response_reads_both_names() -> None:
    assert [
        p.name
        for p in ListProvidersResponse.model_validate(
            {"environments": [{"name": "providers/a"}]}
        ).items
    ] == ["providers/a"]
    assert [
        p.name
        for p in ListProvidersResponse.model_validate(
            {"providers": [{"name": "providers/b"}]}
        ).items
    ] == ["providers/b"]


def test_required_fields_of_the_spec_are_required() -> None:
    with pytest.raises(ValueError, match="title"):
        Issue.model_validate({"body": "no title"})


def test_provider_output_only_display_name() -> None:
    assert to_request(Provider(name="providers/a", display_name="A")) == {"name": "providers/a"}


def _without_output_only(model: BaseModel, wire: Any) -> Any:
    """``wire`` (``to_wire(model)``) less each nested model's output-only fields,
    found from the instance at every level (what the request serializer drops)."""
    kept = dict(wire)
    for name, field in type(model).model_fields.items():
        alias = field.alias or name
        if alias not in kept:
            continue
        if is_output_only(field):
            del kept[alias]
            continue
        value = getattr(model, name)
        if isinstance(value, BaseModel):
            kept[alias] = _without_output_only(value, kept[alias])
        elif isinstance(value, list):
            kept[alias] = [
                _without_output_only(v, w) if isinstance(v, BaseModel) else w
                for v, w in zip(value, kept[alias], strict=True)
            ]
    return kept


@pytest.mark.parametrize(
    ("model", "sample"),
    [
        (Feature, samples.FEATURE),
        (MacSecKey, samples.MAC_SEC_KEY),
        (Connection, samples.CONNECTION),
        (Issue, samples.ISSUE),
        (GenerateFeatureGuidanceResponse, samples.GUIDANCE),
        (FeatureGuidance, samples.GUIDANCE["featureGuidance"][0]),
        (ListFeaturesResponse, {"features": [samples.FEATURE, samples.FEATURE]}),
        (ListConnectionsResponse, {"connections": [samples.CONNECTION]}),
        (ListIssuesResponse, {"issues": [samples.ISSUE]}),
        (Environment, samples.ENVIRONMENT),
        (Interconnect, samples.INTERCONNECT),
        (Channel, samples.CHANNEL),
        (Provider, samples.PROVIDER),
    ],
)
def test_request_body_drops_every_nested_output_only_field(
    model: type[BaseModel], sample: dict[str, Any]
) -> None:
    """The class-level exclusions drop what a walk of the instance finds output-only,
    at every level, and keep everything else (secrets revealed, extras kept)."""
    instance = model.model_validate({**sample, "futureField": {"x": 1}})
    expected = _without_output_only(instance, to_wire(instance))
    assert json.loads(request_bytes(instance)) == expected
    assert to_request(instance) == expected
    assert expected["futureField"] == {"x": 1}


def test_every_nested_model_with_output_only_fields_is_in_the_exclusions() -> None:
    """A model field holding (a list of) models with output-only fields is named in
    its class's exclusions: none is reached only through an unrecognised annotation."""
    for model in SCHEMA_MODELS.values():
        spec = output_only_exclusions(model)
        for name, field in model.model_fields.items():
            if is_output_only(field):
                assert spec.get(name) is True, (model, name)
                continue
            for nested in _models_named(field.annotation):
                if output_only_exclusions(nested):
                    assert name in spec, (model, name)


def _models_named(annotation: Any) -> list[type[BaseModel]]:
    text = repr(annotation)
    return [m for m in SCHEMA_MODELS.values() if re.search(rf"\b{m.__name__}\b", text)]


@pytest.mark.parametrize(
    ("model", "document"),
    [
        (ListFeaturesResponse, {"features": [samples.FEATURE] * 3, "nextPageToken": "t"}),
        (ListConnectionsResponse, {"connections": [samples.CONNECTION] * 2}),
        (Feature, samples.FEATURE),
    ],
)
def test_wire_json_is_the_wire_dict_serialized(model: type[BaseModel], document: Any) -> None:
    """The simulator's list pages are serialized in one pass (``to_wire_json``):
    the same document as ``to_wire``, secrets revealed, None fields absent."""
    parsed = from_wire(model, document)
    assert json.loads(to_wire_json(parsed)) == to_wire(parsed) == document
    assert b"bgp-md5-secret" in to_wire_json(from_wire(Feature, samples.FEATURE))
