"""The spec validator: found at run time, catches what the schemas forbid, SKIPs without it."""

from __future__ import annotations

from pathlib import Path

import pytest

from interconnect_operator.conformance.catalog import schema_check_id
from interconnect_operator.conformance.checks.sweeps import run_sweeps
from interconnect_operator.conformance.results import Outcome
from interconnect_operator.conformance.session import KitConfig, Session
from interconnect_operator.conformance.spec import SpecUnavailable, SpecValidator, find_spec_dir
from tests.support.spec import spec_dir


@pytest.fixture(scope="module")
def validator() -> SpecValidator:
    return SpecValidator(spec_dir())


def test_every_operation_of_the_spec_has_a_response_schema(validator: SpecValidator) -> None:
    assert len(validator.operations) == 33


def test_a_valid_interconnect_passes(validator: SpecValidator) -> None:
    document = {
        "name": "providers/gcp/environments/e/interconnects/ix1",
        "state": "INTERCONNECT_STATE_ACTIVE",
        "maxBandwidthMbps": 100000,
        "futureField": {"anything": True},
    }
    assert validator.validate("GetInterconnect", document) == []


def test_wrong_types_and_enum_values_are_reported(validator: SpecValidator) -> None:
    problems = validator.validate(
        "GetInterconnect", {"maxBandwidthMbps": "100000", "state": "OPEN"}
    )
    assert any("maxBandwidthMbps: expected integer" in p for p in problems)
    assert any("state: 'OPEN' is not one of" in p for p in problems)


def test_nested_values_and_uint32_bounds_are_checked(validator: SpecValidator) -> None:
    document = {
        "features": [
            {
                "featureConfig": {
                    "l3BaseConfig": {"vlanId": 2**40, "providerBgpConfigs": [{"asn": -1}]}
                }
            }
        ]
    }
    problems = validator.validate("ListFeatures", document)
    assert any("vlanId" in p and "int32" in p for p in problems)
    assert any("asn: -1 is outside uint32" in p for p in problems)


def test_a_missing_spec_is_an_error_naming_the_directory(tmp_path: Path) -> None:
    with pytest.raises(SpecUnavailable, match=str(tmp_path)):
        SpecValidator(tmp_path)


def test_the_flag_wins_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INTERCONNECT_SPEC_DIR", "/from/env")
    assert find_spec_dir("/from/flag") == Path("/from/flag")
    assert find_spec_dir(None) == Path("/from/env")
    monkeypatch.delenv("INTERCONNECT_SPEC_DIR")
    assert find_spec_dir(None) is None


async def test_without_a_spec_every_schema_check_skips_with_the_reason(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("INTERCONNECT_SPEC_DIR", raising=False)
    session = Session(KitConfig(endpoint="http://peer.test", caller="gcp", environment="e"))
    try:
        run_sweeps(session)
    finally:
        await session.aclose()
    result = session.results[schema_check_id("GetInterconnect")]
    assert result.outcome is Outcome.SKIP
    assert "INTERCONNECT_SPEC_DIR" in result.observed
