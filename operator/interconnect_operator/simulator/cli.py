"""``interconnect-operator simulate``: run one simulated provider.

Examples (the demo's pair)::

    interconnect-operator simulate --provider-id aws --port 8081
    interconnect-operator simulate --provider-id gcp --port 8082

Tokens: ``--token gcp=SECRET`` lets the holder of SECRET call with the
``providers/gcp`` prefix (several ids: ``gcp,azure=SECRET``; any: ``*=SECRET``).
``--token-file`` reads the same ``IDS=TOKEN`` lines (``#`` comments), which
keeps secrets out of the process list. Faults: ``--fault
'CreateConnection:error_rate=0.2,latency_ms=50'`` (repeatable; ``*`` for
every operation), seeded with ``--fault-seed``.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from pathlib import Path

from interconnect_operator.simulator.config import SimulatorConfig
from interconnect_operator.simulator.faults import FaultConfig, FaultRule, parse_fault_option
from interconnect_operator.simulator.inventory import (
    Inventory,
    InventoryError,
    default_inventory,
    load_inventory,
)

__all__ = ["add_arguments", "build_config", "main", "parse_token", "run"]

log = logging.getLogger(__name__)


def parse_token(text: str) -> tuple[str, frozenset[str]]:
    """``IDS=TOKEN`` -> (token, allowed provider ids); raise ValueError if bad."""
    ids, sep, token = text.partition("=")
    allowed = frozenset(part.strip() for part in ids.split(",") if part.strip())
    if not sep or not token.strip() or not allowed:
        # Never echo the text: it holds the token.
        raise ValueError("expected PROVIDER_IDS=TOKEN (e.g. gcp=SECRET)")
    return token.strip(), allowed


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``simulate`` options to ``parser``."""
    parser.add_argument("--provider-id", default="aws", help="the provider this server is")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind")
    parser.add_argument("--port", type=int, default=8081, help="port to bind")
    parser.add_argument("--inventory", metavar="FILE", help="YAML inventory (docs/simulator.md)")
    parser.add_argument("--state", metavar="FILE", help="SQLite file: state survives restarts")
    parser.add_argument(
        "--provisioning-delay",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="time a feature stays PENDING before FINAL (P13)",
    )
    parser.add_argument(
        "--bake-time",
        type=float,
        default=7200.0,
        metavar="SECONDS",
        help="minimum time between MACsec rotations of an interconnect (P29)",
    )
    parser.add_argument(
        "--token",
        action="append",
        default=[],
        metavar="IDS=TOKEN",
        help="accept bearer TOKEN for these provider ids (repeatable)",
    )
    parser.add_argument("--token-file", metavar="FILE", help="IDS=TOKEN lines")
    parser.add_argument("--tls-cert", metavar="FILE", help="serve HTTPS with this certificate")
    parser.add_argument("--tls-key", metavar="FILE", help="private key of --tls-cert")
    parser.add_argument("--client-ca", metavar="FILE", help="require client certificates (mTLS)")
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="OP:key=value,...",
        help="fault rule for an operationId or '*' (repeatable)",
    )
    parser.add_argument("--fault-seed", type=int, help="seed of the fault RNG")
    parser.add_argument(
        "--fault-hang-seconds",
        type=float,
        default=10.0,
        help="how long dropped requests hang before the connection closes",
    )
    parser.add_argument("--access-log", action="store_true", help="log every request")
    parser.add_argument(
        "--keep-alive-seconds",
        type=int,
        default=75,
        help="how long an idle client connection is kept open",
    )
    parser.add_argument("--log-level", default="INFO", help="logging level")


def build_config(args: argparse.Namespace) -> SimulatorConfig:
    """A :class:`SimulatorConfig` from parsed arguments; ValueError if invalid."""
    inventory: Inventory = (
        load_inventory(args.inventory, args.provider_id)
        if args.inventory
        else default_inventory(args.provider_id)
    )
    tokens: dict[str, frozenset[str]] = {}
    lines = list(args.token)
    if args.token_file:
        text = Path(args.token_file).read_text(encoding="utf-8")
        lines += [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
    for line in lines:
        token, allowed = parse_token(line)
        tokens[token] = tokens.get(token, frozenset()) | allowed
    if bool(args.tls_cert) != bool(args.tls_key):
        raise ValueError("--tls-cert and --tls-key go together")
    if args.client_ca and not args.tls_cert:
        raise ValueError("--client-ca needs --tls-cert and --tls-key")
    operations: dict[str, FaultRule] = {}
    for option in args.fault:
        operation, rule = parse_fault_option(option)
        operations[operation] = rule
    return SimulatorConfig(
        provider_id=args.provider_id,
        host=args.host,
        port=args.port,
        inventory=inventory,
        state_path=args.state,
        provisioning_delay=args.provisioning_delay,
        bake_time=args.bake_time,
        tokens=tokens,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        client_ca=args.client_ca,
        faults=FaultConfig(
            operations=operations, seed=args.fault_seed, hang_seconds=args.fault_hang_seconds
        ),
        access_log=args.access_log,
        keep_alive_seconds=args.keep_alive_seconds,
    )


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted; 0 on a clean stop, 2 on a configuration error."""
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=str(args.log_level).upper(),
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        )
    try:
        config = build_config(args)
    except (ValueError, InventoryError, OSError) as error:
        log.error("simulate: %s", error)
        return 2
    from interconnect_operator.simulator.server import serve

    log.info(
        "simulating provider %s on %s:%d (%d environments, auth %s)",
        config.provider_id,
        config.host,
        config.port,
        len(config.inventory.environments) if config.inventory else 0,
        "on" if config.tokens else "off",
    )
    serve(config)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: ``python -m interconnect_operator.simulator.cli ...``."""
    parser = argparse.ArgumentParser(
        prog="interconnect-operator simulate", description="Run a simulated provider."
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
