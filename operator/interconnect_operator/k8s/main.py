"""``interconnect-operator run``: kopf with the project's settings.

Everything the process needs is decided here, once: which namespaces to
watch, the metrics and liveness endpoints, leader election for active/standby
replicas, logging. The handlers themselves live in ``handlers.py``.
"""

from __future__ import annotations

import argparse
import logging
import os
from typing import Any

import kopf

from interconnect_operator.k8s.policy import parse_selector
from interconnect_operator.k8s.settings import OperatorOptions

logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``interconnect-operator run``."""
    scope = parser.add_mutually_exclusive_group()
    scope.add_argument(
        "--namespace",
        action="append",
        default=[],
        help="watch links only in this namespace (repeatable); pools are cluster-scoped",
    )
    scope.add_argument(
        "--all-namespaces", action="store_true", help="watch links in every namespace (default)"
    )
    parser.add_argument(
        "--operator-namespace",
        default=os.environ.get("POD_NAMESPACE", "interconnect-system"),
        help="namespace holding pool credentials (default: $POD_NAMESPACE or interconnect-system)",
    )
    parser.add_argument("--kubeconfig", default=None, help="kubeconfig path (default: $KUBECONFIG)")
    parser.add_argument(
        "--metrics-port", type=int, default=8080, help="Prometheus port (0 disables)"
    )
    parser.add_argument("--metrics-host", default="0.0.0.0", help="Prometheus bind address")
    parser.add_argument(
        "--per-link-metrics",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="export per-link series (labels namespace/name/pool)",
    )
    parser.add_argument(
        "--metrics-shared-uuid",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="add the shared connection UUID to interconnect_link_info (off: whoever "
        "scrapes the port would learn every link's UUID)",
    )
    parser.add_argument(
        "--liveness",
        default=None,
        help="liveness endpoint URL, e.g. http://0.0.0.0:8081/healthz",
    )
    parser.add_argument(
        "--leader-election",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="act only while holding a coordination.k8s.io Lease in the operator's "
        "namespace (active/standby replicas: a standby acts on nothing)",
    )
    parser.add_argument(
        "--leader-election-name",
        default="interconnect-operator",
        help="name of the Lease (default interconnect-operator)",
    )
    parser.add_argument(
        "--workers", type=int, default=32, help="concurrent link reconciles (default 32)"
    )
    parser.add_argument(
        "--provider-concurrency",
        type=int,
        default=64,
        help="concurrent requests per provider endpoint",
    )
    parser.add_argument(
        "--escalation-after",
        type=float,
        default=7200.0,
        metavar="SECONDS",
        help="a link whose features stay unfinished or whose connection stays unverified "
        "this long raises an issue with the responsible provider (default 7200: two hours)",
    )
    parser.add_argument(
        "--pool-selector",
        type=_selector,
        default=None,
        metavar="SELECTOR",
        help="shard: own only the CapacityPools matching this label selector "
        "(kubectl syntax, e.g. 'shard=a' or 'tier in (gold,silver)') and only their links; "
        "links of other pools are never touched (default: every pool)",
    )
    parser.add_argument("--log-level", default=os.environ.get("LOG_LEVEL", "INFO"))
    parser.add_argument(
        "--log-format", choices=("text", "json"), default=os.environ.get("LOG_FORMAT", "text")
    )


def _selector(text: str) -> dict[str, Any]:
    try:
        return parse_selector(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"--pool-selector: {exc}") from None


def options_from_args(args: argparse.Namespace) -> OperatorOptions:
    return OperatorOptions(
        namespaces=tuple(args.namespace),
        operator_namespace=args.operator_namespace,
        kubeconfig=args.kubeconfig,
        metrics_port=args.metrics_port,
        metrics_host=args.metrics_host,
        per_link_metrics=args.per_link_metrics,
        metrics_shared_uuid=args.metrics_shared_uuid,
        leader_election=args.leader_election,
        leader_election_name=args.leader_election_name,
        workers=args.workers,
        provider_concurrency=args.provider_concurrency,
        escalation_after_seconds=args.escalation_after,
        pool_selector=args.pool_selector,
    )


def run(args: argparse.Namespace) -> int:
    """Run the operator until SIGINT/SIGTERM; returns the exit code."""
    from interconnect_operator.k8s import handlers
    from interconnect_operator.logging_setup import configure_logging

    configure_logging(args.log_level, args.log_format == "json")
    options = options_from_args(args)
    if options.kubeconfig:
        # kopf's login handler reads $KUBECONFIG through the kubernetes client.
        os.environ["KUBECONFIG"] = options.kubeconfig
    handlers.configure(options)
    run_kwargs: dict[str, Any] = {
        "clusterwide": not options.namespaces,
        "namespaces": list(options.namespaces) or None,
        "liveness_endpoint": args.liveness,
    }
    # kopf only watches; which replica acts is the Lease's (k8s/leader.py), not
    # kopf peering: a paused kopf still runs the controller's own loops.
    run_kwargs["standalone"] = True
    if not run_kwargs["namespaces"]:
        del run_kwargs["namespaces"]
    logger.info(
        "starting interconnect-operator",
        extra={
            "namespaces": list(options.namespaces) or "*",
            "leader_election": options.leader_election,
            "pool_selector": options.pool_selector or "*",
        },
    )
    kopf.run(**run_kwargs)
    return 0
