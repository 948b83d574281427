"""Link reconciliation: one MulticloudLink driven through the state machine against both providers.

``types`` (request, result, memory), ``keys`` (P1-P3), ``reconciler`` (the
observe -> decide -> act loop), ``decision`` (the facts a decision is made
on), ``peer_intent`` (P19 from a provider's side), ``refusals`` (what a 400
holds back), ``steps`` (each step to its kind: ``connection_steps``,
``feature_steps``, sharing ``step_calls`` and ``channel_blocks``),
``results`` (status of links the loop does not reach), ``calls`` (per-link
call counting).
"""

from __future__ import annotations

from .reconciler import LinkReconciler
from .types import LinkEvent, LinkMemory, LinkRequest, LinkResult, feature_id

__all__ = [
    "LinkEvent",
    "LinkMemory",
    "LinkReconciler",
    "LinkRequest",
    "LinkResult",
    "feature_id",
]
