"""Counting and bounding the provider calls one link reconcile makes (``LinkResult.calls``).

The counter lives in a context variable, so the tasks of concurrent steps
(which copy the context) add to the same one. A reconcile has a hard budget
(``protocol.retry_discipline.CALL_BUDGET``): the call past it is not made, it
raises :class:`BudgetExhausted` and the loop backs off.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from interconnect_operator.api.client import ProviderClient
from interconnect_operator.protocol.retry_discipline import CALL_BUDGET
from interconnect_operator.protocol.types import Side
from interconnect_operator.reconcile.pool import PoolRuntime


@dataclass
class CallCounter:
    """Calls made so far in one reconcile, and how many it may make."""

    made: int = 0
    budget: int = CALL_BUDGET

    def __getitem__(self, index: int) -> int:  # ``counter[0]``, as callers read it
        return self.made


class BudgetExhausted(Exception):
    """The reconcile made as many provider calls as it may; the call was not made."""


_CALLS: contextvars.ContextVar[CallCounter] = contextvars.ContextVar("link_calls")


@contextmanager
def counting(budget: int = CALL_BUDGET) -> Iterator[CallCounter]:
    """Count (and bound) the calls made through :func:`client` inside the block."""
    counter = CallCounter(budget=budget)
    token = _CALLS.set(counter)
    try:
        yield counter
    finally:
        _CALLS.reset(token)


def client(pool: PoolRuntime, side: Side) -> ProviderClient:
    """The provider client of ``side``, counting one call for the link being reconciled.

    Raises :class:`BudgetExhausted` instead when the reconcile has used its budget.
    """
    counter = _CALLS.get(None)
    if counter is not None:
        if counter.made >= counter.budget:
            raise BudgetExhausted(f"{counter.budget} provider calls in one reconcile")
        counter.made += 1
    return pool.client(side)
