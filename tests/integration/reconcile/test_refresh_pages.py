"""Pool refreshes against the simulators reuse the pages that did not change.

The simulators serve what a conforming provider serves: a steady pool lists
the same bytes again, so a refresh decodes no page; a change at one
interconnect decodes that interconnect's pages only, and the snapshot shows
the change (reconcile.reader, the digested pages of api.base_client).
"""

from __future__ import annotations

from interconnect_operator.protocol.types import Side
from tests.integration.reconcile.conftest import Rig, link_request


async def test_a_steady_refresh_decodes_nothing_and_a_change_only_its_pages(rig: Rig) -> None:
    op = rig.operator()
    result, request = await rig.drive(op, link_request(bandwidth=5000, account="acct-1"))
    assert result.status is not None
    uuid = request.shared_uuid
    assert uuid is not None
    await op.runtime.refresh()
    before = await op.runtime.refresh()
    decoded, reused = op.runtime.page_counts()

    after = await op.runtime.refresh()
    decoded_now, reused_now = op.runtime.page_counts()
    assert decoded_now == decoded  # nothing changed, nothing decoded
    assert reused_now > reused
    for side in Side:
        assert after.observation(side, uuid, op.runtime.providers) == before.observation(
            side, uuid, op.runtime.providers
        )

    working = next(
        ix for ix, by_id in after.side(Side.NEGOTIATOR).connections.items() if uuid in by_id
    )
    other = next(ix for ix in after.side(Side.NEGOTIATOR).interconnects if ix != working)
    filler = await rig.fill(other, 1000)
    changed = await op.runtime.refresh()
    decoded_last, _ = op.runtime.page_counts()
    # The other interconnect's connections page changed on both sides (features
    # unchanged: the filler has none); the link's pages were reused.
    assert decoded_last - decoded_now == 2
    for side in Side:
        assert filler in changed.side(side).connections[other]
        assert uuid in changed.side(side).connections[working]
