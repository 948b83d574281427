"""sourceData on CreateConnection (upstream PR #50): a strict oneOf, read by the simulator."""

from __future__ import annotations

from typing import Any

from tests.integration.simulator.conftest import CALLER, ENV, Peer


def _source(interconnect: str, connection: str) -> str:
    environment = f"providers/{CALLER}/environments/{ENV}"
    return f"{environment}/interconnects/{interconnect}/connections/{connection}"


async def _create(peer: Peer, conn: str, source: Any, ix: str = "ix2") -> tuple[int, str]:
    response = await peer.create_connection(conn, ix=ix, sourceData=source)
    return response.status_code, response.text


async def test_source_data_is_exactly_one_of_its_kinds(peer: Peer) -> None:
    assert (await peer.create_connection("c1")).status_code == 200
    both = {"encodedKey": "a2V5", "sourceConnectionName": _source("ix1", "c1")}
    status, text = await _create(peer, "c1", both)
    assert (status, "exactly one" in text) == (400, True)
    assert (await _create(peer, "c1", {}))[0] == 400


async def test_migration_names_an_existing_connection_elsewhere(peer: Peer) -> None:
    assert (await peer.create_connection("c1")).status_code == 200
    assert (await _create(peer, "c1", {"sourceConnectionName": "c1"}))[0] == 400
    other_caller = _source("ix1", "c1").replace(f"providers/{CALLER}", "providers/someone")
    assert (await _create(peer, "c1", {"sourceConnectionName": other_caller}))[0] == 400
    assert (await _create(peer, "c1", {"sourceConnectionName": _source("ix1", "nope")}))[0] == 400
    same_ix = {"sourceConnectionName": _source("ix1", "c1")}
    assert (await _create(peer, "c9", same_ix, ix="ix1"))[0] == 400

    status, _ = await _create(peer, "c1", {"sourceConnectionName": _source("ix1", "c1")})

    assert status == 200
    moved = peer.sim.store.connections[(ENV, "ix2", "c1")]
    assert moved.migrated_from == "c1"


async def test_creation_with_an_encoded_key(peer: Peer) -> None:
    status, _ = await _create(peer, "c2", {"encodedKey": "a2V5"}, ix="ix1")
    assert status == 200
