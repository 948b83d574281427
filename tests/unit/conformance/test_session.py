"""Safety of a run: prefixed ids, the ledger, cleanup that touches only what the run created."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from interconnect_operator.conformance.results import Outcome
from interconnect_operator.conformance.session import Created, KitConfig, Session

BASE = "/providers/gcp/environments/e/interconnects/ix1/connections"


def _session(handler: Callable[[httpx.Request], httpx.Response]) -> Session:
    config = KitConfig(endpoint="http://peer.test", caller="gcp", environment="e")
    return Session(config, transport=httpx.MockTransport(handler))


async def test_ids_carry_the_prefix_and_the_run() -> None:
    session = _session(lambda request: httpx.Response(200, json={}))
    try:
        assert session.new_id("conn") == f"icokit-{session.run_id}-conn"
        assert session.new_id("x").startswith(session.id_prefix)
        assert session.run_id != _session(lambda r: httpx.Response(200)).run_id
    finally:
        await session.aclose()


async def test_cleanup_deletes_the_ledger_and_never_a_foreign_object() -> None:
    deleted: list[str] = []
    state: dict[str, list[str]] = {"listed": []}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "DELETE":
            deleted.append(request.url.path)
            return httpx.Response(200, json={})
        if request.url.path == BASE:
            return httpx.Response(
                200, json={"connections": [{"name": f"{BASE}/{n}"} for n in state["listed"]]}
            )
        return httpx.Response(404, json={})

    session = _session(handler)
    ours = session.new_id("conn")
    lost = session.new_id("lost")  # created, but the run never wrote it down (answer lost)
    state["listed"] = ["customer-prod-1", lost, "icokit-otherrun-conn"]
    session.remember(Created("connection", "ix1", ours))
    session.remember(Created("feature", "ix1", ours, "f1"))
    try:
        left = await session.cleanup()
    finally:
        await session.aclose()
    assert left == []
    assert f"{BASE}/{ours}" in deleted
    assert f"{BASE}/{lost}" in deleted  # this run's prefix: swept
    assert not any("customer-prod-1" in path for path in deleted)
    assert not any("otherrun" in path for path in deleted)
    # The connection's deletion deletes its features (P19): no separate call.
    assert not any("/features/" in path for path in deleted)


async def test_an_object_that_stays_is_reported_left_behind() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "DELETE":
            return httpx.Response(409, json={"error": {"message": "busy"}})
        if request.url.path.endswith("/connections"):
            return httpx.Response(200, json={"connections": []})
        return httpx.Response(200, json={"name": request.url.path.strip("/")})

    session = _session(handler)
    stuck = session.new_id("conn")
    session.remember(Created("connection", "ix1", stuck))
    try:
        left = await session.cleanup()
    finally:
        await session.aclose()
    assert left == [f"interconnects/ix1/connections/{stuck}"]


async def test_a_404_on_delete_counts_as_gone() -> None:
    session = _session(lambda request: httpx.Response(404, json={}))
    session.remember(Created("connection", "ix1", session.new_id("conn")))
    try:
        assert await session.cleanup() == []
    finally:
        await session.aclose()


async def test_a_check_records_pass_fail_and_skip_with_its_exchanges() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(409 if request.method == "POST" else 200, json={})

    session = _session(handler)
    try:
        async with session.check("P6-duplicate-connection") as check:
            await check.expect(_post(session), {409}, "duplicate")
        async with session.check("P9-vlan-floor") as check:
            await check.expect(_post(session), {400}, "VLAN 1000")
        async with session.check("P7-over-capacity") as check:
            check.skip("every size fits")
    finally:
        await session.aclose()
    results = session.results
    assert results["P6-duplicate-connection"].outcome is Outcome.PASS
    assert len(results["P6-duplicate-connection"].exchanges) == 1
    assert results["P9-vlan-floor"].outcome is Outcome.FAIL
    assert "VLAN 1000 answered 409, expected 400" in results["P9-vlan-floor"].observed
    assert results["P7-over-capacity"].outcome is Outcome.SKIP
    assert results["P7-over-capacity"].observed == "every size fits"


async def _post(session: Session) -> object:
    from interconnect_operator.api.models import Connection

    return await session.client.create_connection("e", "ix1", "x", Connection(bandwidth_mbps=1))


@pytest.mark.parametrize("status", [500, 418])
async def test_an_unexpected_error_fails_the_check_and_blocks_its_scenario(status: int) -> None:
    from interconnect_operator.conformance.session import Blocked

    session = _session(lambda request: httpx.Response(status, json={}))
    try:
        with pytest.raises(Blocked):
            async with session.check("OBJ-environment"):
                await session.client.get_environment("e")
    finally:
        await session.aclose()
    result = session.results["OBJ-environment"]
    assert result.outcome is Outcome.FAIL
    assert "unexpected answer" in result.observed
