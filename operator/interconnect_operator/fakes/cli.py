"""``interconnect-operator fake-aws`` and ``fake-gcp``: serve a customer-API fake.

Each fake fronts one simulator and reaches the other cloud's simulator as a
provider would (docs/customer-apis.md)::

    interconnect-operator simulate --provider-id aws --port 8081
    interconnect-operator simulate --provider-id gcp --port 8082
    interconnect-operator fake-aws --port 8091 \\
        --simulator http://127.0.0.1:8081 --peer-simulator http://127.0.0.1:8082
    interconnect-operator fake-gcp --port 8092 \\
        --simulator http://127.0.0.1:8082 --peer-simulator http://127.0.0.1:8081

Simulator bearer tokens, when the simulators require them, come from the
environment (``FAKE_SIMULATOR_TOKEN``, ``FAKE_PEER_SIMULATOR_TOKEN``) so they
stay out of the process list; so do the Google fake's accepted token
(``FAKE_GCP_TOKEN``) and the AWS fake's secret keys, whose signatures it then
verifies (``FAKE_AWS_SECRET_KEYS=AKID=SECRET,...``).
"""

from __future__ import annotations

import argparse
import logging
import os

from pydantic import SecretStr

from interconnect_operator.fakes.handoff import SimulatorEndpoint

__all__ = ["add_aws_arguments", "add_gcp_arguments", "run_aws", "run_gcp"]

log = logging.getLogger(__name__)


def _common(parser: argparse.ArgumentParser, *, port: int, own: str, peer: str, sim: int) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to bind")
    parser.add_argument("--port", type=int, default=port, help="port to bind")
    parser.add_argument("--provider-id", default=own, help="the provider of the fronted simulator")
    parser.add_argument("--peer-id", default=peer, help="the other cloud's provider id")
    parser.add_argument(
        "--simulator", default=f"http://127.0.0.1:{sim}", help="URL of the fronted simulator"
    )
    parser.add_argument(
        "--peer-simulator",
        default=f"http://127.0.0.1:{sim + 1 if own == 'aws' else sim - 1}",
        help="URL of the other cloud's simulator",
    )
    parser.add_argument(
        "--poll-interval",
        type=float,
        default=1.0,
        metavar="SECONDS",
        help="how often links driven by the other side are read from the simulator",
    )
    parser.add_argument(
        "--drive-timeout",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="a bring-up, update or deletion not done by then fails",
    )
    parser.add_argument("--access-log", action="store_true", help="log every request")
    parser.add_argument("--log-level", default="INFO", help="logging level")


def add_aws_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``fake-aws``."""
    _common(parser, port=8091, own="aws", peer="gcp", sim=8081)
    parser.add_argument("--account", default="111122223333", help="the fake AWS account id")
    parser.add_argument("--region", default="us-east-1", help="the region this endpoint serves")
    parser.add_argument(
        "--gateway",
        action="append",
        default=[],
        metavar="UUID",
        help="a Direct Connect gateway id of the account (repeatable)",
    )
    parser.add_argument(
        "--quota", type=int, default=50, help="connections per account (402 past it)"
    )
    parser.add_argument(
        "--access-key",
        action="append",
        default=[],
        metavar="AKID",
        help="accepted access key id (repeatable; default: any)",
    )


def add_gcp_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``fake-gcp``."""
    _common(parser, port=8092, own="gcp", peer="aws", sim=8082)
    parser.add_argument("--project", default="demo-project", help="the fake Google project")
    parser.add_argument("--location", default="us-east4", help="the location this endpoint serves")


def _endpoints(args: argparse.Namespace) -> tuple[SimulatorEndpoint, SimulatorEndpoint]:
    own = SimulatorEndpoint(
        args.provider_id, args.simulator, os.environ.get("FAKE_SIMULATOR_TOKEN") or None
    )
    peer = SimulatorEndpoint(
        args.peer_id, args.peer_simulator, os.environ.get("FAKE_PEER_SIMULATOR_TOKEN") or None
    )
    return own, peer


def _logging(args: argparse.Namespace) -> None:
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=str(args.log_level).upper(),
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        )


def _serve(app: object, args: argparse.Namespace) -> int:
    import uvicorn

    uvicorn.Server(
        uvicorn.Config(
            app,  # type: ignore[arg-type]
            host=args.host,
            port=args.port,
            access_log=args.access_log,
            lifespan="on",
            log_config=None,
        )
    ).run()
    return 0


def _secret_keys(text: str) -> dict[str, SecretStr]:
    """``AKID=SECRET,AKID2=SECRET2`` -> {AKID: SECRET, ...}."""
    pairs = (item.partition("=") for item in text.split(",") if item.strip())
    return {
        key.strip(): SecretStr(secret.strip())
        for key, _, secret in pairs
        if key.strip() and secret.strip()
    }


def run_aws(args: argparse.Namespace) -> int:
    """Serve the AWS fake until interrupted."""
    from interconnect_operator.fakes.aws_app import create_app
    from interconnect_operator.fakes.aws_service import DEFAULT_GATEWAY, AwsFakeConfig

    _logging(args)
    own, peer = _endpoints(args)
    config = AwsFakeConfig(
        own=own,
        peer=peer,
        account=args.account,
        region=args.region,
        gateways=tuple(args.gateway) or (DEFAULT_GATEWAY,),
        connection_quota=args.quota,
        access_keys=frozenset(args.access_key),
        secret_keys=_secret_keys(os.environ.get("FAKE_AWS_SECRET_KEYS", "")),
        poll_interval=args.poll_interval,
        drive_timeout=args.drive_timeout,
    )
    log.info(
        "fake AWS interconnect for account %s in %s on %s:%d, fronting %s at %s",
        config.account,
        config.region,
        args.host,
        args.port,
        own.provider,
        own.url,
    )
    return _serve(create_app(config), args)


def run_gcp(args: argparse.Namespace) -> int:
    """Serve the Google fake until interrupted."""
    from interconnect_operator.fakes.gcp_app import create_app
    from interconnect_operator.fakes.gcp_service import GcpFakeConfig

    _logging(args)
    own, peer = _endpoints(args)
    config = GcpFakeConfig(
        own=own,
        peer=peer,
        project=args.project,
        location=args.location,
        token=os.environ.get("FAKE_GCP_TOKEN") or None,
        poll_interval=args.poll_interval,
        drive_timeout=args.drive_timeout,
    )
    log.info(
        "fake Network Connectivity for %s/%s on %s:%d, fronting %s at %s",
        config.project,
        config.location,
        args.host,
        args.port,
        own.provider,
        own.url,
    )
    return _serve(create_app(config), args)
