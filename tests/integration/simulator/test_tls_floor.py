"""TLS floor toward providers (upstream governance refresh: TLS 1.3 or newer):
the provider client refuses a server that stops at TLS 1.2 unless the floor is
explicitly lowered."""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from pydantic import ValidationError

from interconnect_operator.api.client import ProviderClient
from interconnect_operator.api.errors import ApiError
from interconnect_operator.api.retry import RetryPolicy
from interconnect_operator.k8s.pool_status import pool_tls
from interconnect_operator.k8s.resources import PoolProvider, TlsVersion
from interconnect_operator.reconcile.pool import PoolReport
from interconnect_operator.reconcile.reader import describe_error
from tests.support.pki import make_pki


class _Environments(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps({"environments": []}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture(scope="module")
def ca_and_servers(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Path, dict[str, str]]]:
    """Two HTTPS servers on 127.0.0.1: one capped at TLS 1.2, one allowing 1.3."""
    pki = make_pki(tmp_path_factory.mktemp("pki"), days=1)
    servers = {}
    urls = {}
    for label, maximum in (("tls12", ssl.TLSVersion.TLSv1_2), ("tls13", ssl.TLSVersion.TLSv1_3)):
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.maximum_version = maximum
        context.load_cert_chain(str(pki.serving_cert), str(pki.serving_key))
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Environments)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers[label] = server
        urls[label] = f"https://127.0.0.1:{server.server_address[1]}"
    try:
        yield pki.ca_cert, urls
    finally:
        for server in servers.values():
            server.shutdown()
            server.server_close()


async def _list(url: str, ca: Path, **kwargs: object) -> int:
    client = ProviderClient(
        url,
        "gcp",
        verify=str(ca),
        retry=RetryPolicy(max_attempts=1),
        **kwargs,  # type: ignore[arg-type]
    )
    try:
        return len(await client.list_environments_all())
    finally:
        await client.aclose()


async def test_tls13_server_is_reached_by_default(
    ca_and_servers: tuple[Path, dict[str, str]],
) -> None:
    ca, urls = ca_and_servers
    assert await _list(urls["tls13"], ca) == 0


async def test_tls12_only_server_is_refused_by_default(
    ca_and_servers: tuple[Path, dict[str, str]],
) -> None:
    ca, urls = ca_and_servers
    with pytest.raises((ApiError, OSError)):
        await _list(urls["tls12"], ca)


async def test_tls12_server_is_reached_only_when_the_floor_is_lowered(
    ca_and_servers: tuple[Path, dict[str, str]],
) -> None:
    ca, urls = ca_and_servers
    assert await _list(urls["tls12"], ca, min_tls_version=ssl.TLSVersion.TLSv1_2) == 0


def _report(errors: dict[str, str], floors: dict[str, str]) -> PoolReport:
    return PoolReport(
        reachable={p: p not in errors for p in floors},
        errors=errors,
        interconnects=(),
        supported_sizes_mbps=(),
        available_mbps=0,
        disagreements=(),
        taken_at=datetime.now(UTC),
        tls_floors=tuple(floors.items()),
    )


async def test_a_provider_below_the_floor_shows_in_the_pool_tls_condition(
    ca_and_servers: tuple[Path, dict[str, str]],
) -> None:
    """Per-pool TLS: the pool's TlsCompliant condition names a provider whose
    handshake fails for want of TLS 1.3, and a floor lowered to 1.2."""
    ca, urls = ca_and_servers
    with pytest.raises((ApiError, OSError)) as info:
        await _list(urls["tls12"], ca)
    refused = pool_tls(
        _report({"aws": describe_error(info.value)}, {"aws": "1.3", "gcp": "1.3"}), 1
    )
    assert (refused.status.value, refused.reason) == ("False", "TlsVersionRefused")
    assert "aws (floor TLS 1.3)" in refused.message

    lowered = pool_tls(_report({}, {"aws": "1.2", "gcp": "1.3"}), 1)
    assert (lowered.status.value, lowered.reason) == ("False", "TlsFloorLowered")
    assert "toward aws" in lowered.message
    compliant = pool_tls(_report({}, {"aws": "1.3", "gcp": "1.3"}), 1)
    assert (compliant.status.value, compliant.reason) == ("True", "Tls13")
    # A provider unreachable for another reason is not a TLS verdict.
    other = pool_tls(_report({"aws": "TransportError: ConnectError (refused)"}, {"aws": "1.3"}), 1)
    assert other.status.value == "True"


async def test_the_pool_field_sets_the_floor(tmp_path: Path) -> None:
    spec = {
        "name": "aws",
        "endpoint": "https://aws.example",
        "role": "Responder",
        "tls": {"minVersion": "1.2"},
    }
    provider = PoolProvider.model_validate(spec)
    assert provider.tls.min_version is TlsVersion.TLS_1_2
    assert PoolProvider.model_validate({**spec, "tls": {}}).tls.min_version is TlsVersion.TLS_1_3
    with pytest.raises(ValidationError):
        PoolProvider.model_validate({**spec, "tls": {"minVersion": "1.0"}})
