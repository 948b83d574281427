"""The seam between the link lifecycle and the API a pool speaks.

The k8s layer runs every link the same way (gate, prepare, reconcile,
persist) and every pool the same way (a refresh loop, a status), whatever
the pool speaks. Behind this seam:

- the symmetric driver: :class:`~interconnect_operator.reconcile.pool.PoolRuntime`
  and :class:`~interconnect_operator.reconcile.link.LinkReconciler`, the
  Connection Coordinator API with the operator as coordinator;
- the customer driver: :class:`~interconnect_operator.reconcile.customer_pool.CustomerPool`
  and :class:`~interconnect_operator.reconcile.customer.CustomerDriver`, the
  clouds' customer APIs (AWS Interconnect, Google transports) with the
  operator as the customer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from interconnect_operator.protocol.types import Side
from interconnect_operator.reconcile.link import LinkRequest, LinkResult
from interconnect_operator.reconcile.pool import PoolReport

__all__ = ["LinkDriver", "PoolView", "RefreshView"]


class RefreshView(Protocol):
    """What a refresh tells: the providers that could not be read (name -> why)."""

    @property
    def errors(self) -> Mapping[str, str]: ...


class PoolView(Protocol):
    """One pool's live side: bulk reads of both providers on the pool's timer."""

    @property
    def changed(self) -> set[str]: ...

    @property
    def providers(self) -> Mapping[Side, str]: ...

    @property
    def refresh_interval(self) -> float: ...

    async def refresh(self, *, fresh: bool = False) -> RefreshView: ...

    def report(self) -> PoolReport: ...

    async def aclose(self) -> None: ...


class LinkDriver(Protocol):
    """Drives one link as far as it can go now; never raises for provider errors."""

    async def reconcile(self, request: LinkRequest) -> LinkResult: ...

    def forget(self, shared_uuid: str) -> None:
        """Drop what is kept for ``shared_uuid`` (its link is gone without a release)."""
        ...
