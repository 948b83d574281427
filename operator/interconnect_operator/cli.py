"""Command line entry point: ``interconnect-operator run|simulate|conformance|fake-*|version``.

Each subcommand's module is imported only when that subcommand runs (or when
the whole parser is built, for ``--help`` and the tests): ``run`` does not
pay for the conformance suite, the customer-API fakes or the simulator
(their imports were ~0.3-1 s of the operator's start, measured with
``python -X importtime``; a restart's time to live, bench ``restart``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any

from interconnect_operator import __version__

#: A subcommand's flags and handler, from its own module.
Wiring = tuple[Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]


def _run() -> Wiring:
    from interconnect_operator.k8s import main as operator_main

    return operator_main.add_arguments, operator_main.run


def _simulate() -> Wiring:
    try:
        from interconnect_operator.simulator import cli as simulator_cli
    except ImportError as exc:
        # The operator image leaves the simulator's web stack out (the
        # `simulator` extra): say so instead of failing on every command.
        missing = exc.name or "a simulator dependency"
        return (lambda _: None), (lambda _: _simulator_missing(missing))
    return simulator_cli.add_arguments, simulator_cli.run


def _conformance() -> Wiring:
    from interconnect_operator.conformance import cli as conformance_cli

    return conformance_cli.add_arguments, conformance_cli.run


def _fake_aws() -> Wiring:
    """``fake-aws`` and ``fake-gcp``: the customer-API fakes (docs/customer-apis.md)."""
    from interconnect_operator.fakes import cli as fakes_cli

    return fakes_cli.add_aws_arguments, fakes_cli.run_aws


def _fake_gcp() -> Wiring:
    from interconnect_operator.fakes import cli as fakes_cli

    return fakes_cli.add_gcp_arguments, fakes_cli.run_gcp


def _version_wiring() -> Wiring:
    return (lambda _: None), _version


#: Subcommands in the order ``--help`` lists them: name, help, wiring.
COMMANDS: tuple[tuple[str, str, Callable[[], Wiring]], ...] = (
    ("run", "run the operator against the current kube context", _run),
    ("simulate", "serve a reference provider (simulator)", _simulate),
    ("conformance", "check a provider endpoint against the protocol's rules", _conformance),
    ("fake-aws", "serve a fake AWS interconnect customer API", _fake_aws),
    ("fake-gcp", "serve a fake Google transports customer API", _fake_gcp),
    ("version", "print the version", _version_wiring),
)


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The top-level parser; each subcommand owns its flags.

    ``only``: wire (import) just that subcommand; the others are listed with
    their help but take no flags (argv names ``only``, so they never parse).
    """
    parser = argparse.ArgumentParser(
        prog="interconnect-operator",
        description="Kubernetes operator for private cross-cloud links "
        "(Connection Coordinator API).",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name, help_text, wiring in COMMANDS:
        command = sub.add_parser(name, help=help_text)
        if only is not None and name != only:
            continue
        add_arguments, handler = wiring()
        add_arguments(command)
        command.set_defaults(handler=handler)
    return parser


def _command_of(argv: Sequence[str]) -> str | None:
    """The subcommand ``argv`` names (its first word, the top level having no
    flags of its own but ``--help``), if it is one."""
    names = {name for name, _, _ in COMMANDS}
    first = argv[0] if argv else None
    return first if first in names else None


def _simulator_missing(module: str) -> int:
    sys.stderr.write(f"simulate needs {module}: pip install 'interconnect-operator[simulator]'\n")
    return 2


def _version(_: argparse.Namespace) -> int:
    sys.stdout.write(f"interconnect-operator {__version__}\n")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and dispatch to the subcommand; returns the exit code."""
    words = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(_command_of(words)).parse_args(words)
    handler: Any = args.handler
    code: int = handler(args)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
