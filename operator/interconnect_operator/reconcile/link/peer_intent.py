"""Peer intent (P19 from a provider's side): a settled connection that vanished at a provider.

The reconciler asks this part, on every reconcile, where each side holds the
link's connection settled, and whether one that was there is gone: a
deletion by that provider (the customer's intent there), reported and never
undone. Creates of the operator's own whose outcome is unknown (P33) are
never read as deletions, and are read back before a deletion finishes.
"""

from __future__ import annotations

from interconnect_operator.protocol.types import ProviderObservation, Side
from interconnect_operator.reconcile.pool import PoolRuntime

from .steps import StepRunner
from .types import LinkEvent, LinkMemory, LinkRequest

__all__ = ["PeerIntent"]


class PeerIntent:
    """Where the link's connection was seen settled, and what its absence means."""

    def __init__(self, pool: PoolRuntime, steps: StepRunner) -> None:
        self.pool = pool
        self._steps = steps

    def held_by_responder(self, uuid: str) -> bool:
        snapshot = self.pool.snapshot
        assert snapshot is not None
        return snapshot.observation(Side.RESPONDER, uuid, self.pool.config.providers).present

    async def observe(
        self, request: LinkRequest, uuid: str, memory: LinkMemory, events: list[LinkEvent]
    ) -> None:
        """Peer intent: a connection that existed at a provider and is gone was deleted
        by that provider (P19 from its side), unless the operator deleted it itself.

        Only a link whose connection was seen settled on both sides is judged
        (``note_existence``), only on a snapshot both providers answered, never
        while a create of the operator's on that side is in flight or of unknown
        outcome, and the absence is confirmed by a direct read (a paged list may
        miss an item, a list may have raced a create). A failed read concludes
        nothing: it ends the reconcile with a backoff.
        """
        snapshot = self.pool.snapshot
        assert snapshot is not None
        providers = self.pool.config.providers
        observations = self.note_existence(uuid, memory)
        if request.deleting or snapshot.errors or set(memory.existed_on) != set(Side):
            return
        for side, interconnect in sorted(memory.existed_on.items()):
            if observations[side].present or side in memory.deleted_by:
                continue
            if (side, interconnect) in memory.unsettled_creates:
                continue
            held = await self._steps.read_connection(side, interconnect, uuid)
            if held is not None:
                self.pool.record_connection(side, interconnect, uuid, held)
                continue
            memory.deleted_by[side] = f"{providers[side]} ({side.value}) on {interconnect}"
            memory.key_confirmed = False
            message = (
                f"P19: {memory.deleted_by[side]} deleted connection {uuid}, which the link "
                "had created; the customer's intent at that provider"
            )
            events.append(LinkEvent("Warning", f"DeletedBy{side.value.capitalize()}", message))

    async def settle_lost_creates(
        self, request: LinkRequest, uuid: str, memory: LinkMemory
    ) -> None:
        """Before a deletion: read back each create of unknown outcome (P33).

        A CreateConnection whose response was lost may have landed after the
        operator read it back and after the last bulk refresh; a deletion that
        trusted the snapshot would finish and leave that connection behind at
        the provider. What the read finds is deleted with the rest (P19); what
        it does not find is settled as never made. A failed read ends the
        reconcile with a backoff, so the deletion waits for an answer.
        """
        if not request.deleting or not memory.unsettled_creates:
            return
        for side, interconnect in sorted(memory.unsettled_creates):
            held = await self._steps.read_connection(side, interconnect, uuid)
            if held is not None:
                self.pool.record_connection(side, interconnect, uuid, held)
            memory.unsettled_creates.discard((side, interconnect))

    def note_existence(self, uuid: str, memory: LinkMemory) -> dict[Side, ProviderObservation]:
        """Record where each side holds the link's connection settled; both observations.

        Settled is VERIFIED as the provider reports it: never the placeholder the
        operator counts bandwidth with while its create is in flight, nor a
        connection whose create may still be lost or undone (P33). A VERIFIED
        connection also settles the outcome of the create that made it.
        """
        snapshot = self.pool.snapshot
        assert snapshot is not None
        providers = self.pool.config.providers
        observations = {s: snapshot.observation(s, uuid, providers) for s in Side}
        for side, obs in observations.items():
            settled = sorted(ix for ix, conn in obs.connections.items() if conn.verified)
            for ix in settled:
                memory.unsettled_creates.discard((side, ix))
            if settled and memory.existed_on.get(side) not in obs.connections:
                memory.existed_on[side] = settled[0]
        return observations
