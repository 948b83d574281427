"""Bulk reads yield to per-link calls: a bound on list pages in flight per provider.

A pool's refresh lists every interconnect's connections and features at once
(``reconcile.reader``: one list per interconnect and kind, all concurrently).
A provider answers a link's call after whatever it was asked before it, so
with every list of a 10,000-link pool in flight, each call of a link applied
meanwhile waited behind up to ten pages of 1,000 features on each side, and a
bring-up is a dozen such calls in sequence. Bulk reads are marked (a context
variable that the tasks a reader starts inherit) and each client lets at
most ``BULK_IN_FLIGHT`` of their requests be in flight; the other calls are
not counted against it. A refresh still pipelines its pages (the next is
asked for while one is decoded), and a provider serves one request at a time
per worker either way, so the bound costs a refresh little wall time.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar

__all__ = ["BULK_IN_FLIGHT", "bulk_reads", "in_bulk_read"]

BULK_IN_FLIGHT = 2
"""List requests of bulk reads in flight at once, per provider client."""

_BULK: ContextVar[bool] = ContextVar("interconnect_bulk_read", default=False)


@contextlib.contextmanager
def bulk_reads() -> Iterator[None]:
    """Mark the calls made in the block (and in tasks started from it) as a bulk read's."""
    token = _BULK.set(True)
    try:
        yield
    finally:
        _BULK.reset(token)


def in_bulk_read() -> bool:
    """Whether the running call belongs to a bulk read."""
    return _BULK.get()
