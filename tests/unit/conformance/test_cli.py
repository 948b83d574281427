"""The ``conformance`` subcommand: flags, credentials from files, usage errors."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from interconnect_operator.api.auth import BearerToken, NoAuth
from interconnect_operator.cli import build_parser, main
from interconnect_operator.conformance.cli import build_config


def _args(*extra: str) -> argparse.Namespace:
    return build_parser().parse_args(
        [
            "conformance",
            "--endpoint",
            "https://p.test",
            "--caller",
            "gcp",
            "--environment",
            "e",
            *extra,
        ]
    )


def test_defaults_are_safe_and_complete() -> None:
    config = build_config(_args())
    assert isinstance(config.auth, NoAuth)
    assert config.verify is True
    assert config.prefix == "icokit-"
    assert not config.read_only
    assert not config.allow_channel_effects
    assert not config.allow_issues


def test_a_bearer_token_comes_from_a_file(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("s3cret\n")
    config = build_config(_args("--auth", "Bearer", "--token-file", str(token), "--read-only"))
    assert isinstance(config.auth, BearerToken)
    assert "s3cret" not in repr(config.auth)
    assert config.read_only


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("--prefix", "Prod"), "--prefix"),
        (("--prefix", "x"), "--prefix"),
        (("--auth", "Bearer"), "--token-file"),
        (("--auth", "OAuth2"), "--service-account-file"),
        (("--activation-key-file", "/nonexistent/key"), "--activation-key-file"),
        (("--other-caller", "azure"), "go together"),
    ],
)
def test_bad_invocations_are_refused(extra: tuple[str, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build_config(_args(*extra))


def test_a_bad_invocation_exits_2_without_calling_anything(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["conformance", "--endpoint", "https://p.test"]) == 2
    assert "missing --caller, --environment" in capsys.readouterr().err


def test_list_checks_prints_the_catalog(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["conformance", "--list-checks"]) == 0
    out = capsys.readouterr().out
    assert "| `P9-vlan-floor` | P9 |" in out
    assert "SCHEMA-<operationId>" in out
