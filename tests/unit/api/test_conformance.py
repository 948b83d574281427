"""Conformance of the api layer with the pinned spec.

(a) Coverage: every operationId has a client method and an OPERATIONS entry
    with the spec's method and path; every schema has a model whose aliases
    are exactly the schema's properties, with readOnly and required matching;
    every enum's values are known constants.
(b) Every request the client sends in these unit tests is validated against
    the spec by the ``peer`` fixture (conftest); the tests below make sure that
    check has teeth, and that the models' wire output validates as responses.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from openapi_core.validation.request.exceptions import RequestValidationError

from interconnect_operator.api.client import OPERATIONS, ProviderClient
from interconnect_operator.api.models import (
    SCHEMA_ENUMS,
    SCHEMA_MODELS,
    Channel,
    Connection,
    Environment,
    Feature,
    GenerateFeatureGuidanceResponse,
    Interconnect,
    Issue,
    MacSecKey,
    is_output_only,
    to_wire,
    upstream_source,
)
from tests.support.spec import spec_operations, spec_schemas, validate_request, validate_response
from tests.unit.api import samples
from tests.unit.api.operation_cases import CASES


def snake(operation_id: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", operation_id).lower()


def test_spec_has_33_operations() -> None:
    assert len(spec_operations()) == 33


@pytest.mark.parametrize("operation_id", sorted(spec_operations()))
def test_every_operation_has_a_client_method(operation_id: str) -> None:
    spec_op = spec_operations()[operation_id]
    ours = OPERATIONS[operation_id]
    assert (ours.method, ours.path) == (spec_op.method, spec_op.path)
    assert callable(getattr(ProviderClient, snake(operation_id), None))


def test_no_client_operation_outside_the_spec() -> None:
    assert set(OPERATIONS) == set(spec_operations())


def test_operation_table_covers_every_operation() -> None:
    assert {case.operation_id for case in CASES} == set(spec_operations())


@pytest.mark.parametrize("case", CASES, ids=[c.operation_id for c in CASES])
def test_required_query_parameters_are_sent(case: Any) -> None:
    query = spec_operations()[case.operation_id].query_parameters
    required = {name for name, p in query.items() if p.get("required")}
    assert required <= set(case.query) <= set(query)


def _object_schemas() -> dict[str, dict[str, Any]]:
    return {name: schema for name, schema in spec_schemas().items() if "enum" not in schema}


def test_every_schema_has_a_model_or_enum() -> None:
    schemas = spec_schemas()
    enums = {name for name, schema in schemas.items() if "enum" in schema}
    assert enums == set(SCHEMA_ENUMS)
    assert set(schemas) - enums == set(SCHEMA_MODELS)


@pytest.mark.parametrize("name", sorted(SCHEMA_ENUMS))
def test_enum_values_are_known(name: str) -> None:
    assert {e.value for e in SCHEMA_ENUMS[name]} == set(spec_schemas()[name]["enum"])


@pytest.mark.parametrize("name", sorted(_object_schemas()))
def test_model_fields_match_schema_properties(name: str) -> None:
    schema = _object_schemas()[name]
    model = SCHEMA_MODELS[name]
    properties = schema.get("properties", {})
    aliases = {
        field.alias or key: field
        for key, field in model.model_fields.items()
        if upstream_source(field) is None
    }
    assert set(aliases) == set(properties)
    for prop, prop_schema in properties.items():
        assert is_output_only(aliases[prop]) == bool(prop_schema.get("readOnly")), prop
    required = set(schema.get("required", []))
    assert {a for a, f in aliases.items() if f.is_required()} == required


def test_upstream_fields_are_optional_and_absent_from_the_pinned_spec() -> None:
    found = {
        (name, field.alias or key)
        for name, model in SCHEMA_MODELS.items()
        for key, field in model.model_fields.items()
        if upstream_source(field) is not None
    }
    assert ("Connection", "connectionType") in found
    for name, alias in found:
        assert alias not in _object_schemas()[name].get("properties", {})
        field = next(
            f for k, f in SCHEMA_MODELS[name].model_fields.items() if (f.alias or k) == alias
        )
        assert not field.is_required()


def test_request_validation_has_teeth() -> None:
    path = "/providers/prov-a/environments/e/interconnects/i/connections"
    validate_request("POST", path, {"connectionId": "k"}, {"bandwidthMbps": 1000})
    with pytest.raises(RequestValidationError):  # readOnly field in a request
        validate_request("POST", path, {"connectionId": "k"}, {"adminState": "ADMIN_STATE_ENABLED"})
    with pytest.raises(RequestValidationError):  # required connectionId missing
        validate_request("POST", path, {}, {"bandwidthMbps": 1000})
    with pytest.raises(RequestValidationError):  # wrong type
        validate_request("POST", path, {"connectionId": "k"}, {"bandwidthMbps": "big"})


def test_response_validation_has_teeth() -> None:
    path = "/providers/prov-a/environments/e/interconnects/i"
    with pytest.raises(Exception, match=r"(?i)valid"):
        validate_response("GET", path, 200, {"maxBandwidthMbps": "lots"})
    # Mended defect 3: an error body is checked against the error schema.
    validate_response("GET", path, 404, {"error": {"code": 404, "message": "no such"}})


def test_mended_uint32_accepts_four_byte_asns() -> None:
    schema = spec_schemas()["ASNRange"]["properties"]["stop"]
    assert schema["type"] == "integer"
    assert schema["maximum"] == 2**32 - 1


@pytest.mark.parametrize(
    ("model", "sample", "path"),
    [
        (Environment, samples.ENVIRONMENT, "/providers/prov-a/environments/env-1"),
        (Interconnect, samples.INTERCONNECT, "/providers/prov-a/environments/e/interconnects/i"),
        (Channel, samples.CHANNEL, "/providers/prov-a/environments/e/interconnects/i/channels/c"),
        (
            Connection,
            samples.CONNECTION,
            "/providers/prov-a/environments/e/interconnects/i/connections/k",
        ),
        (
            Feature,
            samples.FEATURE,
            "/providers/prov-a/environments/e/interconnects/i/connections/k/features/f",
        ),
        (
            MacSecKey,
            samples.MAC_SEC_KEY,
            "/providers/prov-a/environments/e/interconnects/i/channels/c/macSecKeys/m",
        ),
        (Issue, samples.ISSUE, "/providers/prov-a/issues/n"),
    ],
)
def test_models_round_trip_and_serve_valid_responses(
    model: Any, sample: dict[str, Any], path: str
) -> None:
    wire = to_wire(model.model_validate(sample))
    assert wire == sample
    validate_response("GET", path, 200, wire)


def test_guidance_round_trips() -> None:
    wire = to_wire(GenerateFeatureGuidanceResponse.model_validate(samples.GUIDANCE))
    assert wire == samples.GUIDANCE
