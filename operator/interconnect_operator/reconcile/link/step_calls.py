"""What the step kinds share when they call a provider: the client per side, one
requestId per logical create (P33), and the 409s a step met (P6, P10, P17).

A create whose outcome is unknown is read back, then sent again with the same
requestId and body; its id is forgotten once the outcome is known.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Awaitable, Callable
from typing import TypeVar

from interconnect_operator.api import models
from interconnect_operator.api.base_client import new_request_id
from interconnect_operator.api.client import ProviderClient
from interconnect_operator.api.errors import OutcomeUnknown
from interconnect_operator.protocol import link_state
from interconnect_operator.protocol.retry_discipline import step_key
from interconnect_operator.protocol.types import Side
from interconnect_operator.reconcile.pool import PoolRuntime

from . import calls
from .types import LinkMemory

__all__ = ["ProviderSteps", "count_conflict", "keyed_call", "request_id_for"]

T = TypeVar("T")


def request_id_for(
    memory: LinkMemory, *call: str, body: models.WireModel
) -> tuple[str, str, bytes]:
    """(memory key, requestId, body bytes) of one logical create: the id of an
    earlier attempt whose outcome is unknown when the call and its body are the
    same, else a new one.

    The body is part of the key: the draft answers 409 to a requestId reused with
    a different body, which a create would misread as "no room" (P6). The bytes
    keyed are the bytes sent (the client's ``encoded``): serialized once.
    """
    encoded = models.request_bytes(body)
    digest = hashlib.sha256(encoded)
    key = "|".join((*call, digest.hexdigest()[:32]))
    return key, memory.request_ids.setdefault(key, new_request_id()), encoded


async def keyed_call(memory: LinkMemory, key: str, call: Awaitable[T]) -> T:
    """Await a create sent with the requestId under ``key``: forget the id once the
    outcome is known; keep it when unknown (the retry after the read reuses it)."""
    try:
        result = await call
    except OutcomeUnknown:
        raise
    except BaseException:
        memory.request_ids.pop(key, None)
        raise
    memory.request_ids.pop(key, None)
    return result


def count_conflict(memory: LinkMemory, step: link_state.Step) -> None:
    key = step_key(step)
    memory.conflicts[key] = memory.conflicts.get(key, 0) + 1


class ProviderSteps:
    """A kind of step for the links of one pool: the pool, the clock, a client per side."""

    def __init__(self, pool: PoolRuntime, clock: Callable[[], dt.datetime]) -> None:
        self.pool = pool
        self._clock = clock

    @property
    def environment(self) -> str:
        return self.pool.config.environment

    def _client(self, side: Side) -> ProviderClient:
        return calls.client(self.pool, side)
