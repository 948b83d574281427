"""The operator's process-wide options, parsed once from the command line."""

from __future__ import annotations

from dataclasses import dataclass

FINALIZER = "interconnect.io/finalizer"
KOPF_FINALIZER = "interconnect.io/kopf"
ANNOTATION_PREFIX = "interconnect.io"
PAUSED_ANNOTATION = "interconnect.io/paused"
UUID_ANNOTATION = "interconnect.io/shared-connection-uuid"


@dataclass(frozen=True)
class OperatorOptions:
    """What ``interconnect-operator run`` was asked to do."""

    namespaces: tuple[str, ...] = ()
    operator_namespace: str = "interconnect-system"
    kubeconfig: str | None = None
    metrics_port: int = 8080
    metrics_host: str = "0.0.0.0"
    per_link_metrics: bool = True
    workers: int = 32
    provider_concurrency: int = 64
