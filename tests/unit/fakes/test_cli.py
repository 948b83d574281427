"""The ``fake-aws`` and ``fake-gcp`` commands: their options and defaults."""

from __future__ import annotations

import pytest

from interconnect_operator import cli
from interconnect_operator.fakes import cli as fakes_cli


def test_fake_commands_and_their_defaults() -> None:
    parser = cli.build_parser()
    aws = parser.parse_args(["fake-aws"])
    assert (aws.port, aws.provider_id, aws.peer_id) == (8091, "aws", "gcp")
    assert (aws.simulator, aws.peer_simulator) == ("http://127.0.0.1:8081", "http://127.0.0.1:8082")
    assert aws.handler is fakes_cli.run_aws
    gcp = parser.parse_args(["fake-gcp", "--project", "p", "--location", "europe-west2"])
    assert (gcp.port, gcp.provider_id, gcp.peer_id) == (8092, "gcp", "aws")
    assert (gcp.simulator, gcp.peer_simulator) == ("http://127.0.0.1:8082", "http://127.0.0.1:8081")
    assert (gcp.project, gcp.location) == ("p", "europe-west2")
    assert gcp.handler is fakes_cli.run_gcp


def test_repeatable_gateways_and_access_keys() -> None:
    args = cli.build_parser().parse_args(
        ["fake-aws", "--gateway", "g1", "--gateway", "g2", "--access-key", "AKID", "--quota", "3"]
    )
    assert (args.gateway, args.access_key, args.quota) == (["g1", "g2"], ["AKID"], 3)


def test_secret_keys_come_from_the_environment_format() -> None:
    keys = fakes_cli._secret_keys("AKID1=one, AKID2=two,broken,=x")
    assert {k: v.get_secret_value() for k, v in keys.items()} == {"AKID1": "one", "AKID2": "two"}
    assert "one" not in repr(keys)


def test_unknown_options_are_refused() -> None:
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["fake-gcp", "--account", "1"])
