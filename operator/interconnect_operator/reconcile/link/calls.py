"""Counting the provider calls one link reconcile makes (for ``LinkResult.calls``).

The counter lives in a context variable, so the tasks of concurrent steps
(which copy the context) add to the same list.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager

from interconnect_operator.api.client import ProviderClient
from interconnect_operator.protocol.types import Side
from interconnect_operator.reconcile.pool import PoolRuntime

_CALLS: contextvars.ContextVar[list[int]] = contextvars.ContextVar("link_calls")


@contextmanager
def counting() -> Iterator[list[int]]:
    """Count the calls made through :func:`client` inside the block (``counter[0]``)."""
    counter = [0]
    token = _CALLS.set(counter)
    try:
        yield counter
    finally:
        _CALLS.reset(token)


def client(pool: PoolRuntime, side: Side) -> ProviderClient:
    """The provider client of ``side``, counting one call for the link being reconciled."""
    counter = _CALLS.get(None)
    if counter is not None:
        counter[0] += 1
    return pool.client(side)
