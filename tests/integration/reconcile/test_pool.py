"""The pool runtime: capacity report, change detection, an unreadable provider."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import httpx

from tests.integration.reconcile.conftest import Rig, calls_by_operation, link_request


class Forbidden(httpx.AsyncBaseTransport):
    """A provider that refuses the operator's credentials (P34)."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(403, json={"error": {"code": 403, "message": "not allowed"}})


async def test_report_matches_both_providers(rig: Rig) -> None:
    op = rig.operator()
    result, request = await rig.drive(op, link_request(bandwidth=5000, account="acct-1"))
    assert result.status is not None
    await op.runtime.refresh()
    assert request.shared_uuid in op.runtime.changed  # new since the refresh before it
    filler = await rig.fill("ix2", 20000)
    await op.runtime.refresh()

    report = op.runtime.report()

    assert report.reachable == {"gcp": True, "aws": True}
    assert report.errors == {}
    assert report.disagreements == ()
    assert report.supported_sizes_mbps[0] == 1000
    by_id = {ix.id: ix for ix in report.interconnects}
    for state in await rig.states():
        for ix in state["interconnects"]:
            assert by_id[ix["interconnect"]].allocated_mbps == ix["allocatedMbps"]
            assert by_id[ix["interconnect"]].max_mbps == ix["maxBandwidthMbps"]
    assert sum(ix.allocated_mbps for ix in report.interconnects) == 25000
    assert report.available_mbps == 200000 - 25000
    assert [c[0] for c in by_id["ix1"].channels] == ["ch1", "ch2", "ch3", "ch4"]
    # The refresh saw the filler appear: only that UUID changed.
    assert op.runtime.changed == {filler}
    assert request.shared_uuid not in op.runtime.changed


async def test_unreadable_provider_is_reported_and_nothing_is_reissued(rig: Rig) -> None:
    op = rig.operator()
    request = link_request(account="acct-1")
    ahead = await op.reconciler.reconcile(request)
    assert ahead.persist_uuid is not None
    request = replace(request, shared_uuid=ahead.persist_uuid)
    keys_before = (await rig.aws.state())["activationKeys"]
    # A restarted operator whose credentials both providers refuse.
    broken = rig.operator(wrap=lambda _: Forbidden())
    snapshot = await broken.runtime.refresh()
    assert set(snapshot.errors) == {"gcp", "aws"}
    report = broken.runtime.report()
    assert report.reachable == {"gcp": False, "aws": False}

    result = await broken.reconciler.reconcile(request)

    # It cannot tell whether the link exists, so it does not ask for a new key.
    assert result.persist_uuid is None
    assert (await rig.aws.state())["activationKeys"] == keys_before


async def test_fresh_reads_requested_together_share_one_bulk_read(rig: Rig) -> None:
    """Deleting N links at once (a namespace teardown) costs a couple of bulk reads, not N."""
    op = rig.operator()
    await op.runtime.refresh()
    await rig.aws.reset_stats()

    snapshots = await asyncio.gather(*(op.runtime.refresh(fresh=True) for _ in range(20)))

    reads = calls_by_operation(await rig.aws.stats())["ListConnections"]
    per_read = 2  # interconnects ix1 and ix2
    assert reads <= 2 * per_read  # the one in flight, then one shared by the others
    assert snapshots[-1] is op.runtime.snapshot
