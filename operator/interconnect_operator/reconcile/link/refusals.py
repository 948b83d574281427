"""Retry discipline per link, the parts read from the pool's snapshot (P32, P33).

A provider's 400 holds a step until the link's provider data or spec change
(a fingerprint of both sides' observations); a bring-up's progress is the
number of features on both sides. The reconciler ends a reconcile with a
backoff (``LinkReconciler._back_off``); these say what is held and why.
"""

from __future__ import annotations

from interconnect_operator.protocol import link_state
from interconnect_operator.protocol.retry_discipline import (
    Refusal,
    observation_fingerprint,
    step_key,
)
from interconnect_operator.protocol.types import Side
from interconnect_operator.reconcile.pool import PoolRuntime

from .types import LinkMemory, LinkRequest

__all__ = ["feature_count", "observed_state", "refusal_message", "unrefused"]


def feature_count(pool: PoolRuntime, uuid: str) -> int:
    """Features of the link at both sides: what a bring-up adds as it progresses."""
    snapshot = pool.snapshot
    assert snapshot is not None
    providers = pool.config.providers
    return sum(
        len(conn.features)
        for side in (Side.NEGOTIATOR, Side.RESPONDER)
        for conn in snapshot.observation(side, uuid, providers).connections.values()
    )


def observed_state(pool: PoolRuntime, request: LinkRequest, uuid: str) -> str:
    snapshot = pool.snapshot
    assert snapshot is not None
    providers = pool.config.providers
    return observation_fingerprint(
        request.spec.generation,
        snapshot.observation(Side.NEGOTIATOR, uuid, providers),
        snapshot.observation(Side.RESPONDER, uuid, providers),
    )


def unrefused(
    pool: PoolRuntime,
    request: LinkRequest,
    uuid: str,
    memory: LinkMemory,
    steps: tuple[link_state.Step, ...],
) -> tuple[tuple[link_state.Step, ...], list[Refusal]]:
    """The steps still worth trying, and the refusals (P32 400) that hold the others."""
    if not memory.refusals:
        return steps, []
    current = observed_state(pool, request, uuid)
    todo: list[link_state.Step] = []
    held: list[Refusal] = []
    for step in steps:
        refusal = memory.refusals.get(step_key(step))
        if refusal is not None and refusal.holds(current):
            held.append(refusal)
            continue
        memory.refusals.pop(step_key(step), None)
        todo.append(step)
    return tuple(todo), held


def refusal_message(pool: PoolRuntime, refusal: Refusal) -> str:
    provider = pool.config.providers[refusal.side]
    return (
        f"P32: {provider} ({refusal.side.value}) refused {refusal.step}: {refusal.message}; "
        "not retried until the spec or the provider's data changes"
    )
