"""Resource names inside bodies (P9, P11): the operator writes
``ProviderBgpConfig.provider`` as the spec formats it (``providers/{p}``), reads
both that and an older peer's bare id, and a repaired feature keeps both BGP ends."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx

from interconnect_operator.protocol.link_state import Phase
from tests.integration.reconcile.conftest import (
    Rig,
    SimHandle,
    assert_ready_on_both,
    is_phase,
    link_objects,
    link_request,
)


async def _bgp_ends(sim: SimHandle, interconnect: str, uuid: str) -> dict[str, list[Any]]:
    """Channel -> providerBgpConfigs of every feature ``sim`` holds for the link."""
    response = await sim.as_peer(
        "GET", f"/interconnects/{interconnect}/connections/{uuid}/features"
    )
    assert response.status_code == 200, response.text
    return {
        f["channel"].rsplit("/", 1)[-1]: f["featureConfig"]["l3BaseConfig"]["providerBgpConfigs"]
        for f in response.json().get("features", [])
    }


def _sim(rig: Rig, provider: str) -> SimHandle:
    return rig.gcp if provider == "gcp" else rig.aws


def _assert_spec_form(ends: dict[str, list[Any]]) -> None:
    assert sorted(ends) == ["ch1", "ch2", "ch3", "ch4"]
    for channel, configs in ends.items():
        assert sorted(c["provider"] for c in configs) == ["providers/aws", "providers/gcp"], channel
        assert len({int(c["asn"]) for c in configs}) == 2, (channel, "distinct ASNs")
        assert all(c.get("hostIpv4") for c in configs), channel


async def test_p11_bgp_ends_are_written_in_spec_form_and_survive_a_repair(rig: Rig) -> None:
    op = rig.operator()
    ready, request = await rig.drive(op, link_request(account="acct-1"))
    uuid = request.shared_uuid
    assert uuid is not None
    assert ready.status is not None
    interconnect = ready.status.interconnect or ""
    before = {p: await _bgp_ends(_sim(rig, p), interconnect, uuid) for p in ("gcp", "aws")}
    for ends in before.values():
        _assert_spec_form(ends)

    # The responder loses one feature; the repair re-creates it from what is read back.
    _, features = link_objects(await rig.aws.state(), uuid)
    lost = next(f for f in features if f["channel"] == "ch3")
    await rig.aws.lose_feature(
        f"providers/gcp/environments/{lost['environment']}/interconnects/{interconnect}"
        f"/connections/{uuid}/features/{lost['feature']}"
    )
    await op.runtime.refresh()
    result, _ = await rig.drive(op, request, until=is_phase(Phase.READY), rounds=3)

    assert result.status is not None
    assert result.status.ready
    neg, res = await rig.states()
    assert_ready_on_both(neg, res, uuid, bandwidth=1000, interconnect=interconnect)
    after = {p: await _bgp_ends(_sim(rig, p), interconnect, uuid) for p in ("gcp", "aws")}
    for ends in after.values():
        _assert_spec_form(ends)

    def by_provider(configs: list[Any]) -> dict[str, tuple[int, str]]:
        return {c["provider"]: (int(c["asn"]), c["hostIpv4"]) for c in configs}

    # Both BGP ends of the re-created feature are the ones the negotiator still holds.
    assert by_provider(after["aws"]["ch3"]) == by_provider(before["aws"]["ch3"])
    assert by_provider(after["aws"]["ch3"]) == by_provider(after["gcp"]["ch3"])


_SPEC_FORM = re.compile(rb'"provider":\s*"providers/([^"/]+)"')


class OlderPeer(httpx.AsyncBaseTransport):
    """Answers as a peer that still writes bare provider ids in BGP ends."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.rewritten = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        body = await response.aread()
        new, count = _SPEC_FORM.subn(rb'"provider":"\1"', body)
        self.rewritten += count
        if count:
            json.loads(new)  # still a valid document
        headers = [(k, v) for k, v in response.headers.items() if k.lower() != "content-length"]
        return httpx.Response(response.status_code, headers=headers, content=new)


async def test_p11_bare_provider_ids_from_an_older_peer_are_read_and_repaired(
    rig: Rig,
) -> None:
    op = rig.operator()
    ready, request = await rig.drive(op, link_request(account="acct-1"))
    uuid = request.shared_uuid
    assert uuid is not None
    assert ready.status is not None
    interconnect = ready.status.interconnect or ""
    before = await _bgp_ends(rig.gcp, interconnect, uuid)
    _, features = link_objects(await rig.aws.state(), uuid)
    lost = next(f for f in features if f["channel"] == "ch2")
    await rig.aws.lose_feature(
        f"providers/gcp/environments/{lost['environment']}/interconnects/{interconnect}"
        f"/connections/{uuid}/features/{lost['feature']}"
    )

    peers: list[OlderPeer] = []

    def older(inner: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
        peers.append(OlderPeer(inner))
        return peers[-1]

    # A fresh operator whose peers answer with bare ids repairs the lost feature.
    reader = rig.operator(wrap=older)
    await reader.runtime.refresh()
    result, _ = await rig.drive(reader, request, until=is_phase(Phase.READY), rounds=3)

    assert sum(p.rewritten for p in peers) > 0  # the bare form was really served
    assert result.status is not None
    assert result.status.ready
    after = await _bgp_ends(rig.aws, interconnect, uuid)
    _assert_spec_form(after)
    assert {c["provider"]: (int(c["asn"]), c["hostIpv4"]) for c in after["ch2"]} == {
        c["provider"]: (int(c["asn"]), c["hostIpv4"]) for c in before["ch2"]
    }
