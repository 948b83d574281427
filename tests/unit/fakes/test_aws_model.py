"""The AWS fake's checks against botocore's own ``interconnect`` model.

The installed botocore must carry the service (>= 1.42.89); ParamValidator's
checks come through, and so do the ones it skips (enum, pattern, max), which
is why a Stubber-only test suite would not notice them. Messages never hold
the values (activation keys are ``sensitive`` in the model).
"""

from __future__ import annotations

import botocore
import pytest

from interconnect_operator.fakes import aws_model
from interconnect_operator.fakes.aws_service import aws_state
from interconnect_operator.fakes.handoff import Progress

GATEWAY = "5f0c6b8e-3a8f-4c1e-9d27-6b1d2e4f7a10"


def test_installed_botocore_has_the_service() -> None:
    major, minor, patch = (int(p) for p in botocore.__version__.split(".")[:3])
    assert (major, minor, patch) >= (1, 42, 89)
    model = aws_model.service_model()
    assert model.metadata["targetPrefix"] == "Interconnect"
    assert model.signing_name == "interconnect"
    assert set(model.operation_names) >= {
        "AcceptConnectionProposal",
        "CreateConnection",
        "DeleteConnection",
        "DescribeConnectionProposal",
        "GetConnection",
        "ListConnections",
        "UpdateConnection",
    }
    with pytest.raises(aws_model.UnknownOperation):
        aws_model.operation_model("CreateTransport")


def test_valid_requests_pass() -> None:
    assert (
        aws_model.validate_input(
            "CreateConnection",
            {
                "bandwidth": "10Gbps",
                "attachPoint": {"directConnectGateway": GATEWAY},
                "environmentId": "aws-gcp-us-east",
                "remoteAccount": {"identifier": "demo-project"},
                "clientToken": "t",
                "tags": {"team": "a"},
            },
        )
        == []
    )
    assert (
        aws_model.validate_input("ListConnections", {"state": "deleted", "maxResults": 100}) == []
    )


@pytest.mark.parametrize(
    ("operation", "params", "fragment"),
    [
        ("CreateConnection", {"bandwidth": "1Gbps", "environmentId": "e"}, "attachPoint"),
        ("GetConnection", {"identifier": "mcc-abcdefgh", "colour": "red"}, "Unknown parameter"),
        ("GetConnection", {"identifier": 7}, "Invalid type"),
        ("ListConnections", {"state": "sideways"}, "must be one of"),
        ("ListConnections", {"maxResults": 500}, "at most 100"),
        ("GetConnection", {"identifier": "conn-1"}, "pattern"),
        (
            "CreateConnection",
            {
                "bandwidth": "1Gbps",
                "environmentId": "e",
                "attachPoint": {"directConnectGateway": GATEWAY, "arn": "x"},
            },
            "exactly one member",
        ),
        (
            "CreateConnection",
            {
                "bandwidth": "fast",
                "environmentId": "e",
                "attachPoint": {"directConnectGateway": GATEWAY},
            },
            "pattern",
        ),
    ],
)
def test_invalid_requests_are_named(
    operation: str, params: dict[str, object], fragment: str
) -> None:
    problems = aws_model.validate_input(operation, params)
    assert any(fragment in p for p in problems), problems


def test_messages_never_hold_a_key() -> None:
    key = "K" * 3000  # over the model's max of 2048
    problems = aws_model.validate_input("DescribeConnectionProposal", {"activationKey": key})
    assert problems
    assert all(key[:20] not in p for p in problems)
    typed = aws_model.validate_input("DescribeConnectionProposal", {"activationKey": 12345})
    assert typed
    assert all("12345" not in p for p in typed)


def test_responses_are_checked_too() -> None:
    incomplete = {"connection": {"id": "mcc-abcdefgh", "state": "available"}}
    problems = aws_model.validate_output("GetConnection", incomplete)
    assert any("Missing required parameter" in p for p in problems)


def test_every_progress_maps_to_a_state_of_the_model() -> None:
    states = aws_model.service_model().shape_for("ConnectionState").enum
    assert {aws_state(p) for p in Progress} <= set(states)
    assert aws_state(Progress.KEY_ISSUED) == "requested"
    assert aws_state(Progress.READY) == "available"
