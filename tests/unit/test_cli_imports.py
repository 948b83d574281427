"""``interconnect-operator run`` imports only what the operator needs.

The conformance suite, the customer-API fakes and the simulator are other
subcommands: their modules are imported when they run (or when the whole
parser is built, for ``--help``), never on the operator's start.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from interconnect_operator import cli

OTHERS = (
    "interconnect_operator.conformance.cli",
    "interconnect_operator.fakes.cli",
    "interconnect_operator.simulator.cli",
)


def _modules_after(code: str) -> set[str]:
    script = f"import sys\n{code}\nprint('\\n'.join(sorted(sys.modules)))\n"
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    return set(result.stdout.split())


def test_the_run_parser_imports_none_of_the_other_subcommands() -> None:
    loaded = _modules_after(
        "from interconnect_operator.cli import build_parser, _command_of\n"
        "argv = ['run', '--kubeconfig', '/nowhere', '--workers', '4']\n"
        "args = build_parser(_command_of(argv)).parse_args(argv)\n"
        "assert args.handler.__module__ == 'interconnect_operator.k8s.main'\n"
        "assert args.workers == 4"
    )
    assert "interconnect_operator.k8s.main" in loaded
    assert not loaded & set(OTHERS)


def test_the_full_parser_still_knows_every_subcommand_and_its_flags() -> None:
    parser = cli.build_parser()
    args = parser.parse_args(["fake-aws", "--gateway", "g1", "--quota", "3"])
    assert args.handler.__name__ == "run_aws"
    args = parser.parse_args(["run", "--pool-selector", "shard=a"])
    assert args.pool_selector is not None
    text = parser.format_help()
    for name, _, _ in cli.COMMANDS:
        assert name in text


@pytest.mark.parametrize(
    ("argv", "command"),
    [(["run", "--workers", "2"], "run"), (["version"], "version"), (["--help"], None), ([], None)],
)
def test_the_subcommand_is_the_first_word(argv: list[str], command: str | None) -> None:
    assert cli._command_of(argv) == command


def test_a_subcommand_built_alone_still_lists_the_others(
    capsys: pytest.CaptureFixture[str],
) -> None:
    parser = cli.build_parser("version")
    assert parser.parse_args(["version"]).handler(None) == 0
    assert capsys.readouterr().out.startswith("interconnect-operator ")
    assert "conformance" in parser.format_help()
