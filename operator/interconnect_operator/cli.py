"""Command line entry point: ``interconnect-operator run|simulate|conformance|fake-*|version``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from interconnect_operator import __version__


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser; each subcommand owns its flags."""
    from interconnect_operator.conformance import cli as conformance_cli
    from interconnect_operator.k8s import main as operator_main

    parser = argparse.ArgumentParser(
        prog="interconnect-operator",
        description="Kubernetes operator for private cross-cloud links "
        "(Connection Coordinator API).",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the operator against the current kube context")
    operator_main.add_arguments(run)
    run.set_defaults(handler=operator_main.run)
    simulate = sub.add_parser("simulate", help="serve a reference provider (simulator)")
    try:
        from interconnect_operator.simulator import cli as simulator_cli
    except ImportError as exc:
        # The operator image leaves the simulator's web stack out (the
        # `simulator` extra): say so instead of failing on every command.
        missing = exc.name or "a simulator dependency"
        simulate.set_defaults(handler=lambda _: _simulator_missing(missing))
    else:
        simulator_cli.add_arguments(simulate)
        simulate.set_defaults(handler=simulator_cli.run)
    conformance = sub.add_parser(
        "conformance", help="check a provider endpoint against the protocol's rules"
    )
    conformance_cli.add_arguments(conformance)
    conformance.set_defaults(handler=conformance_cli.run)
    _add_fakes(sub)
    version = sub.add_parser("version", help="print the version")
    version.set_defaults(handler=_version)
    return parser


def _add_fakes(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``fake-aws`` and ``fake-gcp``: the customer-API fakes (docs/customer-apis.md)."""
    from interconnect_operator.fakes import cli as fakes_cli

    fake_aws = sub.add_parser("fake-aws", help="serve a fake AWS interconnect customer API")
    fakes_cli.add_aws_arguments(fake_aws)
    fake_aws.set_defaults(handler=fakes_cli.run_aws)
    fake_gcp = sub.add_parser("fake-gcp", help="serve a fake Google transports customer API")
    fakes_cli.add_gcp_arguments(fake_gcp)
    fake_gcp.set_defaults(handler=fakes_cli.run_gcp)


def _simulator_missing(module: str) -> int:
    sys.stderr.write(f"simulate needs {module}: pip install 'interconnect-operator[simulator]'\n")
    return 2


def _version(_: argparse.Namespace) -> int:
    sys.stdout.write(f"interconnect-operator {__version__}\n")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and dispatch to the subcommand; returns the exit code."""
    args = build_parser().parse_args(argv)
    handler = args.handler
    code: int = handler(args)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
