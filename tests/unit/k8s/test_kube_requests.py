"""The operator's Kubernetes requests, sent without an httpx Request (k8s/kube.py).

``KubeClient`` builds a request's URL from the server's parts parsed once and
the path as written, and its header pairs once per login and content type.
A raw TCP server records every request head and body byte for byte: the
same calls made with the httpx path (``_direct`` off) and without it must
arrive identical. A path with anything to quote or a dot segment takes the
httpx path (it parses and normalizes).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import kopf
import pytest

from interconnect_operator.k8s.kube import LINKS, KubeClient, KubeError, _lines
from tests.support.raw_http import read_request


class Recorder:
    def __init__(self) -> None:
        self.requests: list[bytes] = []
        self.status = b"200 OK"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while (request := await read_request(reader)) is not None:
                head, body = request
                self.requests.append(head + body)
                answer = b'{"kind": "Thing", "message": "nope"}'
                writer.write(
                    b"HTTP/1.1 %s\r\nContent-Type: application/json\r\n"
                    b"Content-Length: %d\r\n\r\n%s" % (self.status, len(answer), answer)
                )
                await writer.drain()
        finally:
            writer.close()


@pytest.fixture
async def server() -> AsyncIterator[tuple[Recorder, str]]:
    recorder = Recorder()
    listener = await asyncio.start_server(recorder.handle, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    try:
        yield recorder, f"http://127.0.0.1:{port}"
    finally:
        listener.close()
        await listener.wait_closed()


async def _calls(client: KubeClient) -> None:
    await client.patch_status(LINKS, "ns-1", "link-1", {"phase": "Ready", "x": [1, None]})
    await client.patch_metadata(LINKS, "ns-1", "link-1", {"finalizers": ["a/b"]}, "42")
    await client.get_object(LINKS, None, "link-1")
    await client.list_page(
        "/apis/g/v1/multicloudlinks", {"limit": "500", "continue": "a+b/c==", "x": "é ü"}
    )
    await client.create_configmap("ns-1", {"metadata": {"name": "c"}})
    await client.create_lease("ns-1", {"metadata": {"name": "l"}})
    await client.replace_lease("ns-1", "l", {"metadata": {"name": "l"}})
    await client.delete_configmap("ns-1", "c")
    await client.get_namespace("a b")  # quoted by httpx: the httpx path
    await client.get_namespace("..")  # a dot segment: the httpx path


@pytest.mark.parametrize("base_path", ["", "/prefix"])
async def test_requests_arrive_as_the_httpx_path_sends_them(
    server: tuple[Recorder, str], base_path: str
) -> None:
    recorder, base = server
    connection = kopf.ConnectionInfo(server=base + base_path, token="tok-1")
    client = KubeClient(connection)
    try:
        assert client._direct
        await _calls(client)
        direct = list(recorder.requests)
        recorder.requests.clear()
        client._direct = False
        await _calls(client)
    finally:
        await client.aclose()
    assert direct == recorder.requests
    assert len(direct) == 10
    assert direct[0].startswith(f"PATCH {base_path}/apis/".encode())
    assert b"/namespaces/ns-1/multicloudlinks/link-1/status HTTP/1.1" in direct[0]
    assert b"Authorization: Bearer tok-1\r\n" in direct[0]
    assert b"Content-Type: application/merge-patch+json\r\n" in direct[0]
    assert direct[0].endswith(b'{"status": {"phase": "Ready", "x": [1, null]}}')
    assert direct[7].split(b"\r\n")[1].startswith(b"Host: 127.0.0.1:")  # first, as httpx puts it
    assert client.writes == 2 * 6


def test_only_plain_paths_are_built_without_a_parse() -> None:
    client = KubeClient(kopf.ConnectionInfo(server="https://10.0.0.1:6443", token="t"))
    url = client._url("/api/v1/namespaces/ns/configmaps?labelSelector=a%3Db&limit=500")
    assert url is not None
    assert (
        str(url)
        == "https://10.0.0.1:6443/api/v1/namespaces/ns/configmaps?labelSelector=a%3Db&limit=500"
    )
    for path in ("/api/v1/namespaces/a b", "/api/v1/x/../y", "/api/v1/%zz", "/api/v1/é"):
        assert client._url(path) is None
    ipv6 = KubeClient(kopf.ConnectionInfo(server="https://[::1]:6443", token="t"))
    assert ipv6._url("/api/v1/namespaces") is None


async def test_an_error_status_is_a_kube_error_on_the_direct_path(
    server: tuple[Recorder, str],
) -> None:
    recorder, base = server
    recorder.status = b"409 Conflict"
    client = KubeClient(kopf.ConnectionInfo(server=base, token="t"))
    try:
        with pytest.raises(KubeError, match="409: nope") as error:
            await client.patch_status(LINKS, "ns", "l", {"phase": "Ready"})
    finally:
        await client.aclose()
    assert error.value.status == 409


async def test_a_server_that_cannot_be_reached_is_a_transport_kube_error() -> None:
    listener = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    listener.close()
    await listener.wait_closed()
    client = KubeClient(kopf.ConnectionInfo(server=f"http://127.0.0.1:{port}", token="t"))
    try:
        with pytest.raises(KubeError) as error:
            await client.get_object(LINKS, "ns", "l")
    finally:
        await client.aclose()
    assert error.value.status == 0


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, 240.0), ("", 240.0), ("6", 6.0), ("2.5", 2.5), ("0", 240.0), ("abc", 240.0)],
)
def test_the_watch_timeout_comes_from_the_environment_when_sensible(
    value: str | None, expected: float
) -> None:
    from interconnect_operator.k8s.kube import WATCH_SECONDS_ENV, watch_seconds

    environ = {} if value is None else {WATCH_SECONDS_ENV: value}
    assert watch_seconds(environ) == expected


@pytest.mark.parametrize(
    "chunks",
    [
        [b'{"a": 1}\n{"b": 2}\n'],
        [b'{"a"', b": 1}\n", b'{"b": 2}\n'],
        [b'{"a": 1}\n{"b"', b"", b": 2}"],
        [b"{", b'"a"', b": 1}", b"\n", b'{"b": 2}\n'],
    ],
)
async def test_watch_lines_are_joined_across_chunks(chunks: list[bytes]) -> None:
    async def source() -> AsyncIterator[bytes]:
        for chunk in chunks:
            yield chunk

    assert [line async for line in _lines(source())] == [b'{"a": 1}', b'{"b": 2}']
