"""Every operation of the client: method, path, query, body, parsed result.

The table has one row per operationId of the spec (test_conformance checks
that it covers them all). Requests are also validated against the spec by the
``peer`` fixture, and each canned response against the response schema.
"""

from __future__ import annotations

import json
import uuid

import pytest

from interconnect_operator.api.client import ProviderClient
from interconnect_operator.api.models import (
    Connection,
)
from interconnect_operator.api.operations import OPERATIONS
from interconnect_operator.api.wire import mutating
from tests.support.spec import validate_response
from tests.unit.api import samples
from tests.unit.api.conftest import Peer, request_body
from tests.unit.api.operation_cases import CASES, IC, Case, E, K


@pytest.mark.parametrize("case", CASES, ids=[c.operation_id for c in CASES])
async def test_operation_on_the_wire(case: Case, peer: Peer, client: ProviderClient) -> None:
    peer.reply(200, case.response)
    result = await case.call(client)
    assert len(peer.requests) == 1
    request = peer.last
    assert request.method == case.method
    assert request.url.path == case.path
    params = dict(request.url.params)
    # Feature-recovery draft: every mutating call carries a requestId (a UUID).
    request_id = params.pop("requestId", None)
    assert (request_id is not None) == mutating(OPERATIONS[case.operation_id])
    if request_id is not None:
        assert uuid.UUID(request_id).version == 4
    assert params == case.query
    assert request_body(request) == case.body
    if case.body is not None:
        assert request.headers["content-type"] == "application/json"
    assert case.check(result)


@pytest.mark.parametrize("case", CASES, ids=[c.operation_id for c in CASES])
def test_sample_response_conforms_to_spec(case: Case) -> None:
    validate_response(case.method, case.path, 200, case.response, case.query)


async def test_ids_are_quoted_as_single_path_segments(peer: Peer, client: ProviderClient) -> None:
    peer.reply(200, samples.CONNECTION)
    await client.get_connection(E, IC, "a b/../c")
    assert peer.last.url.raw_path.decode().endswith("/connections/a%20b%2F..%2Fc")


async def test_get_provider_other_id(peer: Peer, client: ProviderClient) -> None:
    peer.reply(200, {"name": "providers/prov-c"})
    provider = await client.get_provider("prov-c")
    assert peer.last.url.path == "/providers/prov-c"
    assert provider.name == "providers/prov-c"


async def test_list_providers_reads_the_documented_name_too(
    peer: Peer, client: ProviderClient
) -> None:
    # Spec defect: the schema says `environments`, the example `providers`.
    peer.reply(200, {"providers": [{"name": "providers/x"}]})
    assert [p.name for p in await client.list_providers_all()] == ["providers/x"]


async def test_request_body_is_compact_json(peer: Peer, client: ProviderClient) -> None:
    await client.update_connection(E, IC, K, Connection(bandwidth_mbps=5))
    assert json.loads(peer.last.content) == {"bandwidthMbps": 5}
    assert "updateMask" not in peer.last.url.params


async def test_request_id_is_kept_across_retries_and_can_be_given(
    peer: Peer, client: ProviderClient
) -> None:
    """One logical call, one requestId: the client's own retries (a 503 first) resend it."""
    peer.reply(503, {"error": {"code": 503, "message": "busy"}})
    peer.reply(200, samples.CONNECTION)
    await client.create_connection(E, IC, "c1", Connection(bandwidth_mbps=1000))
    first, second = peer.requests[-2:]
    assert first.url.params["requestId"] == second.url.params["requestId"]
    peer.reply(200, samples.CONNECTION)
    await client.create_connection(
        E, IC, "c1", Connection(bandwidth_mbps=1000), request_id="kept-from-before"
    )
    assert peer.last.url.params["requestId"] == "kept-from-before"
    peer.reply(200, samples.CONNECTION)
    await client.get_connection(E, IC, "c1")
    assert "requestId" not in peer.last.url.params
