"""The Google fake's checks against the discovery document of google-api-python-client."""

from __future__ import annotations

import pytest

from interconnect_operator.fakes import gcp_discovery
from interconnect_operator.fakes.gcp_service import transport_state
from interconnect_operator.fakes.handoff import Progress

API = "networkconnectivity.projects.locations"


def test_the_document_has_transports_and_profiles() -> None:
    document = gcp_discovery.discovery()
    assert document["version"] == "v1"
    for method in (
        "transports.create",
        "transports.get",
        "transports.list",
        "transports.patch",
        "transports.delete",
        "remoteTransportProfiles.get",
        "remoteTransportProfiles.list",
        "operations.get",
    ):
        assert gcp_discovery.method(f"{API}.{method}")["id"] == f"{API}.{method}"
    states = gcp_discovery.schema("Transport")["properties"]["state"]["enum"]
    assert {"CREATING", "PENDING_KEY", "ACTIVE", "DEPROVISIONED", "SUSPENDED"} <= set(states)


def test_a_good_transport_passes() -> None:
    body = {
        "remoteProfile": "projects/p/locations/l/remoteTransportProfiles/aws-us-east-1",
        "bandwidth": "BPS_1G",
        "network": "projects/p/global/networks/default",
        "advertisedRoutes": ["10.0.0.0/8"],
        "labels": {"team": "a"},
        "stackType": "IPV4_IPV6",
    }
    assert gcp_discovery.validate_body("Transport", body, request=True) == []


@pytest.mark.parametrize(
    ("body", "field", "fragment"),
    [
        ({"colour": "red"}, "colour", "Cannot find field"),
        ({"state": "ACTIVE"}, "state", "output only"),
        ({"generatedActivationKey": "k"}, "generatedActivationKey", "output only"),
        ({"bandwidth": "BPS_3G"}, "bandwidth", "invalid value"),
        ({"advertisedRoutes": "10.0.0.0/8"}, "advertisedRoutes", "expected a list"),
        ({"labels": {"a": 1}}, "labels.a", "expected a string"),
        ({"autoAccept": "yes"}, "autoAccept", "expected a boolean"),
    ],
)
def test_request_violations(body: dict[str, object], field: str, fragment: str) -> None:
    problems = gcp_discovery.validate_body("Transport", body, request=True)
    assert any(f == field and fragment in why for f, why in problems), problems


def test_responses_may_carry_output_fields_but_of_the_right_type() -> None:
    good = {"name": "n", "state": "ACTIVE", "mtuLimit": 1500, "createTime": "2026-12-01T00:00:00Z"}
    assert gcp_discovery.validate_body("Transport", good, request=False) == []
    bad = {"mtuLimit": "1500", "createTime": "yesterday"}
    fields = {f for f, _ in gcp_discovery.validate_body("Transport", bad, request=False)}
    assert fields == {"mtuLimit", "createTime"}


def test_query_parameters() -> None:
    create = f"{API}.transports.create"
    assert gcp_discovery.validate_query(create, {"transportId": ["t"], "requestId": ["r"]}) == []
    problems = gcp_discovery.validate_query(create, {"transportid": ["t"]})
    assert problems == [("transportid", "Cannot bind query parameter: no such field")]
    listing = f"{API}.transports.list"
    assert gcp_discovery.validate_query(listing, {"pageSize": ["ten"]}) == [
        ("pageSize", "expected an integer")
    ]


def test_every_progress_maps_to_a_state_of_the_document() -> None:
    states = gcp_discovery.schema("Transport")["properties"]["state"]["enum"]
    assert {transport_state(p) for p in Progress} <= set(states)
    assert transport_state(Progress.KEY_ISSUED) == "PENDING_KEY"
    assert transport_state(Progress.REMOTE_DELETED) == "DEPROVISIONED"
