"""The operator's process-wide options, parsed once from the command line."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from interconnect_operator.k8s.resources import GROUP

FINALIZER = f"{GROUP}/finalizer"
KOPF_FINALIZER = f"{GROUP}/kopf"
ANNOTATION_PREFIX = GROUP
UUID_ANNOTATION = f"{GROUP}/shared-connection-uuid"


@dataclass(frozen=True)
class OperatorOptions:
    """What ``interconnect-operator run`` was asked to do."""

    namespaces: tuple[str, ...] = ()
    operator_namespace: str = "interconnect-system"
    kubeconfig: str | None = None
    metrics_port: int = 8080
    metrics_host: str = "0.0.0.0"
    per_link_metrics: bool = True
    metrics_shared_uuid: bool = False
    leader_election: bool = False
    leader_election_name: str = "interconnect-operator"
    workers: int = 32
    provider_concurrency: int = 64
    #: A link stuck this long (features not FINAL, verification missing) raises an issue.
    escalation_after_seconds: float = 7200.0
    #: LabelSelector of the CapacityPools this instance owns (a shard); None: all pools.
    pool_selector: dict[str, Any] | None = None
