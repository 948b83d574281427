"""Activation keys of one link: decode and check (P1-P2), issue (P1), recover, confirm (P3).

The verdicts are the protocol's (``protocol.keys``); this module reads the
key and the pool snapshot, calls the responder, and turns a verdict into a
:class:`~.types.LinkResult`.
"""

from __future__ import annotations

import logging

from interconnect_operator import redaction
from interconnect_operator.api.activation_key import InvalidActivationKey, decode
from interconnect_operator.api.customer import request_activation_key
from interconnect_operator.api.errors import ApiError, AuthError, InvalidRequest
from interconnect_operator.protocol import keys, placement
from interconnect_operator.protocol.types import Secret, Side
from interconnect_operator.reconcile import views
from interconnect_operator.reconcile.pool import PoolRuntime

from . import calls, results
from .types import LinkMemory, LinkRequest, LinkResult, StepFailed

logger = logging.getLogger(__name__)


def key_uuid(request: LinkRequest, environment: str) -> str | LinkResult:
    """P2: the key is well formed and for this pool's environment; its shared UUID."""
    assert request.activation_key is not None
    try:
        key = decode(request.activation_key.reveal())
    except InvalidActivationKey as exc:
        return results.failed(request, None, environment, "InvalidActivationKey", f"P2: {exc}")
    problem = keys.environment_mismatch(key.destination_environment_uri, environment)
    if problem is not None:
        return results.failed(
            request, key.shared_connection_uuid, environment, problem.reason, problem.message
        )
    return key.shared_connection_uuid


def size_mismatch(
    request: LinkRequest, uuid: str, pool: PoolRuntime, memory: LinkMemory | None
) -> LinkResult | None:
    """P2: the key's size against the link's, while the link is not placed yet."""
    assert request.activation_key is not None
    size = decode(request.activation_key.reveal()).connection_size_mbps
    snapshot = pool.snapshot
    placed: bool | None
    if (memory is not None and memory.interconnect is not None) or (
        snapshot is not None and views.held_anywhere(snapshot, uuid)
    ):
        placed = True
    elif snapshot is None or snapshot.errors:
        placed = None  # a side we cannot read may hold it
    else:
        placed = False
    problem = keys.size_mismatch(size, request.spec.bandwidth_mbps, placed=placed)
    if problem is None:
        return None
    environment = pool.config.environment
    outcome = results.transient if problem.transient else results.failed
    return outcome(request, uuid, environment, problem.reason, problem.message)


def policy_refusal(request: LinkRequest, pool: PoolRuntime) -> keys.KeyProblem | None:
    """P1 and pool policy, for a link that asks for a new key."""
    config = pool.config
    snapshot = pool.snapshot
    sizes: tuple[int, ...] = ()
    pool_cap = None
    if snapshot is not None:
        sizes = views.offered_sizes(snapshot)
        pool_cap = placement.pool_capacity(
            snapshot.interconnect_views(Side.NEGOTIATOR),
            snapshot.interconnect_views(Side.RESPONDER),
        )
    policy = placement.PlacementPolicy(config.max_bandwidth_mbps_per_link, config.headroom_mbps)
    return keys.bandwidth_refusal(
        request.spec.bandwidth_mbps, sizes, policy, pool_cap, test=request.spec.test_connection
    )


def key_owner(uuid: str) -> str:
    """The redaction owner of a key the operator obtained (issued or recovered) for ``uuid``."""
    return f"activation-key/{uuid}"


async def issue_key(
    request: LinkRequest, pool: PoolRuntime, memories: dict[str, LinkMemory]
) -> LinkResult:
    """P1 for a destination account: the responder issues the key; persist the UUID first."""
    assert request.destination_account_id is not None
    environment = pool.config.environment
    if pool.snapshot is None:
        await pool.refresh()
    refusal = policy_refusal(request, pool)
    if refusal is not None:
        return results.failed(request, None, environment, refusal.reason, refusal.message)
    try:
        issued = await request_activation_key(
            calls.client(pool, Side.RESPONDER),
            environment,
            request.spec.bandwidth_mbps,
            request.destination_account_id,
            test=request.spec.test_connection,
        )
    except ApiError as exc:
        return results.transient(request, None, environment, "KeyRequestFailed", str(exc))
    memory = memories.setdefault(issued.shared_connection_uuid, LinkMemory())
    memory.key = Secret(issued.encoded_key.get_secret_value())
    redaction.hold(key_owner(issued.shared_connection_uuid), [memory.key.reveal()])
    # Write-ahead: the k8s layer stores the UUID before anything else is created,
    # so a restart finds the link's objects again.
    return LinkResult(
        status=None,
        shared_uuid=issued.shared_connection_uuid,
        environment=environment,
        requeue_after=0.0,
        persist_uuid=issued.shared_connection_uuid,
    )


def lost_before_use(request: LinkRequest, uuid: str, pool: PoolRuntime, memory: LinkMemory) -> bool:
    """Recover the key from the snapshot; True when it is gone and nothing used it.

    The key issued for a destination account lives only in the memory of the
    process that asked for it; when that process is gone and nothing was
    created with it, a new key is needed (P3 refuses reuse anyway).
    """
    if memory.key is not None or request.deleting:
        return False
    snapshot = pool.snapshot
    assert snapshot is not None
    memory.key = views.creation_key(snapshot, uuid)
    if memory.key is not None:
        redaction.hold(key_owner(uuid), [memory.key.reveal()])
    return (
        memory.key is None
        and request.destination_account_id is not None
        and not snapshot.errors  # a side we cannot read may hold it
        and not views.held_anywhere(snapshot, uuid)
    )


async def confirm_key(pool: PoolRuntime, memory: LinkMemory) -> None:
    """P3: the responder confirms the key; anything but keyValid stops the flow."""
    if memory.key is None:
        memory.key_refused = "the activation key is no longer known; re-issue required"
        return
    client = calls.client(pool, Side.RESPONDER)
    try:
        answer = await client.confirm_activation_key(pool.config.environment, memory.key.reveal())
    except InvalidRequest as exc:
        memory.key_refused = f"responder refused the key: {exc.message}"
        return
    except AuthError as exc:
        raise StepFailed("ProviderAuthFailed", str(exc)) from exc
    if answer.key_valid:
        memory.key_confirmed = True
    else:
        memory.key_refused = "the responder answered keyValid=false (unknown, used or mismatched)"
