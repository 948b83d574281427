"""The runner: every catalog check gets a result, whatever the provider does.

A scripted provider (httpx.MockTransport) that serves the environment but
fails the interconnect list: the run must not crash, must say why the rest
was not reached, and must not write anything in read-only mode.
"""

from __future__ import annotations

import httpx

from interconnect_operator.conformance.catalog import CATALOG
from interconnect_operator.conformance.results import Outcome
from interconnect_operator.conformance.runner import run_conformance
from interconnect_operator.conformance.session import KitConfig

ENV = "/providers/gcp/environments/e"


def _provider(requests: list[httpx.Request]) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        path = request.url.path
        if path == ENV:
            return httpx.Response(
                200,
                json={
                    "name": ENV.strip("/"),
                    "supportedConnectionSizeMbps": [1000],
                    "providerSites": [
                        {"providerId": "providers/aws"},
                        {"providerId": "providers/gcp"},
                    ],
                },
            )
        if path == "/providers/gcp/environments":
            return httpx.Response(200, json={"environments": [{"name": ENV.strip("/")}]})
        if path == "/providers/gcp":
            return httpx.Response(200, json={"name": "providers/gcp"})
        if path == "/providers":
            return httpx.Response(200, json={"providers": [{"name": "providers/gcp"}]})
        if path.endswith("/ConfirmActivationKey"):
            return httpx.Response(200, json={"keyValid": False})
        return httpx.Response(503, json={"error": {"message": "down"}})

    return httpx.MockTransport(handler)


async def test_a_failing_read_leaves_a_complete_report_with_reasons() -> None:
    requests: list[httpx.Request] = []
    config = KitConfig(endpoint="http://peer.test", caller="gcp", environment="e", spec_dir=None)
    report = await run_conformance(config, transport=_provider(requests))
    results = report.by_id()
    assert list(results) == list(CATALOG)
    assert results["OBJ-environment"].outcome is Outcome.PASS
    assert results["OBJ-channels"].outcome is Outcome.SKIP
    assert "not reached" in results["OBJ-channels"].observed
    assert results["P6-create-connection"].outcome is Outcome.SKIP
    assert "no usable interconnect" in results["P6-create-connection"].observed
    assert results["P3-malformed-key"].outcome is Outcome.PASS  # its own scenario went on
    assert report.leftovers == []
    assert not report.interrupted


async def test_read_only_sends_no_write() -> None:
    requests: list[httpx.Request] = []
    config = KitConfig(endpoint="http://peer.test", caller="gcp", environment="e", read_only=True)
    report = await run_conformance(config, transport=_provider(requests))
    writes = [
        f"{r.method} {r.url.path}"
        for r in requests
        if r.method != "GET" and not r.url.path.endswith("/ConfirmActivationKey")
    ]
    assert writes == []
    result = report.by_id()["P9-vlan-floor"]
    assert result.outcome is Outcome.SKIP
    assert result.observed == "read-only run"
