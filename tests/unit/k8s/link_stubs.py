"""Stand-ins for the link reconciler and the pool runtime, for the k8s layer's unit tests.

The reconciler answers from a script and records what it was asked; the
runtime reports the errors a test sets. Their real counterparts are tested in
tests/integration/reconcile.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from interconnect_operator.protocol.types import Side
from interconnect_operator.reconcile.link import LinkRequest, LinkResult


@dataclass
class StubReconciler:
    """Answers reconcile requests from a script; records what it was asked."""

    results: list[LinkResult] = field(default_factory=list)
    requests: list[LinkRequest] = field(default_factory=list)
    forgotten: list[str] = field(default_factory=list)

    async def reconcile(self, request: LinkRequest) -> LinkResult:
        self.requests.append(request)
        return self.results.pop(0)

    def forget(self, shared_uuid: str) -> None:
        self.forgotten.append(shared_uuid)


@dataclass
class StubSnapshot:
    errors: dict[str, str]


@dataclass
class StubConfig:
    providers: dict[Side, str]


@dataclass
class StubRuntime:
    errors: dict[str, str] = field(default_factory=dict)
    config: StubConfig = field(
        default_factory=lambda: StubConfig({Side.NEGOTIATOR: "gcp", Side.RESPONDER: "aws"})
    )
    fresh_reads: int = 0

    @property
    def providers(self) -> dict[Side, str]:
        return self.config.providers

    async def aclose(self) -> None:
        """Nothing to close."""

    async def refresh(self, *, fresh: bool = False) -> StubSnapshot:
        self.fresh_reads += fresh
        return StubSnapshot(self.errors)
