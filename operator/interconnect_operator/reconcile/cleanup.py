"""P21 leftovers of one pool: find them in the snapshot, delete them at the providers.

:func:`leftovers` lists the connections of the pool's latest snapshot whose
shared UUID no link holds, per UUID and interconnect, with the sides that
list them and the sides where they are VERIFIED. :func:`delete_leftover`
deletes one at every provider that lists it (DeleteConnection implies its
features, P19; a 404 means already gone) and forgets it in the snapshot.
Which leftovers qualify is :func:`interconnect_operator.protocol.cleanup.decide_cleanup`'s
call; no Kubernetes here.
"""

from __future__ import annotations

import contextlib
from collections.abc import Container

from interconnect_operator.api.errors import NotFound
from interconnect_operator.protocol.cleanup import Leftover
from interconnect_operator.protocol.types import Side, VerificationState
from interconnect_operator.reconcile.pool import PoolRuntime

__all__ = ["delete_leftover", "leftovers"]


def leftovers(runtime: PoolRuntime, held: Container[str]) -> list[Leftover]:
    """Connections of the snapshot under a UUID not in ``held``; none while a side is unread."""
    snapshot = runtime.snapshot
    if snapshot is None or snapshot.errors:
        return []
    found: dict[tuple[str, str], tuple[set[Side], set[Side]]] = {}
    for side in Side:
        for interconnect, by_uuid in snapshot.side(side).connections.items():
            for uuid, connection in by_uuid.items():
                if uuid in held:
                    continue
                sides, verified = found.setdefault((uuid, interconnect), (set(), set()))
                sides.add(side)
                if connection.verification_state == VerificationState.VERIFIED.value:
                    verified.add(side)
    return [
        Leftover(uuid, interconnect, frozenset(sides), frozenset(verified))
        for (uuid, interconnect), (sides, verified) in sorted(found.items())
    ]


async def delete_leftover(runtime: PoolRuntime, leftover: Leftover) -> list[str]:
    """DeleteConnection at each provider listing it; the providers where it is gone now."""
    gone: list[str] = []
    environment = runtime.config.environment
    # The responder first, as a link's own deletion does (P19).
    for side in sorted(leftover.sides, key=lambda s: s is not Side.RESPONDER):
        with contextlib.suppress(NotFound):  # already gone
            await runtime.client(side).delete_connection(
                environment, leftover.interconnect, leftover.uuid
            )
        runtime.forget_connection(side, leftover.interconnect, leftover.uuid)
        gone.append(runtime.providers[side])
    return gone
