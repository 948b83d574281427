"""Checks over all exchanges: names under the prefix asked with, status codes of P32."""

from __future__ import annotations

import pytest

from interconnect_operator.conformance.checks.sweeps import run_sweeps
from interconnect_operator.conformance.results import Exchange, Outcome
from interconnect_operator.conformance.session import KitConfig, Session

IX = "/providers/gcp/environments/e/interconnects/ix1"


def _exchange(path: str, status: int, document: object, operation: str) -> Exchange:
    return Exchange(
        operation=operation,
        method="GET",
        path=path,
        query="",
        request_body="",
        status=status,
        response_body="",
        response_json=document,
    )


async def _sweep(*exchanges: Exchange) -> Session:
    session = Session(KitConfig(endpoint="http://peer.test", caller="gcp", environment="e"))
    session.exchanges.extend(exchanges)
    run_sweeps(session)
    await session.aclose()
    return session


@pytest.mark.parametrize(
    ("name", "outcome"),
    [
        (IX.strip("/"), Outcome.PASS),
        ("ix1", Outcome.FAIL),  # a bare id
        ("providers/aws/environments/e/interconnects/ix1", Outcome.FAIL),  # another prefix
        ("providers/gcp/environments/e/interconnects/ix2", Outcome.FAIL),  # another object
        ("providers/gcp/environments/e/widgets/ix1", Outcome.FAIL),  # not the spec's keywords
    ],
)
async def test_names_are_full_and_name_what_was_asked(name: str, outcome: Outcome) -> None:
    session = await _sweep(_exchange(IX, 200, {"name": name}, "GetInterconnect"))
    assert session.results["OBJ-names"].outcome is outcome


async def test_a_second_providers_view_is_judged_under_its_own_prefix() -> None:
    path = "/providers/azure/environments/e/interconnects"
    document = {"interconnects": [{"name": "providers/azure/environments/e/interconnects/ix1"}]}
    session = await _sweep(_exchange(path, 200, document, "ListInterconnects"))
    assert session.results["OBJ-names"].outcome is Outcome.PASS


@pytest.mark.parametrize(
    ("status", "outcome"), [(409, Outcome.PASS), (201, Outcome.FAIL), (500, Outcome.FAIL)]
)
async def test_only_the_protocols_status_codes_pass(status: int, outcome: Outcome) -> None:
    session = await _sweep(_exchange(IX, status, {}, "GetInterconnect"))
    result = session.results["P32-status-codes"]
    assert result.outcome is outcome
    if outcome is Outcome.FAIL:
        assert f"GetInterconnect answered {status}" in result.observed
