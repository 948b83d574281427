"""The client's watches (``watch``, ``watch_secret``) share one streamed request.

A real HTTP server on loopback answers the watch paths: event lines are
decoded (blank and broken lines skipped), a 401 logs in again once and the
watch resumes with the new token, and an error status is a `KubeError`
carrying the server's message, exactly as a plain request's is.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from interconnect_operator.k8s import kube
from tests.unit.k8s.test_kube_login import write_token_kubeconfig

LINKS = "/apis/interconnect.io/v1alpha1/multicloudlinks"


class Server:
    """Records each request's token and query; answers as told."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, dict[str, str]]] = []
        self.accept = "Bearer new-token"
        self.fail_with: int | None = None
        self.url = ""

    async def handle(self, request: web.Request) -> web.StreamResponse:
        auth = request.headers.get("Authorization", "")
        self.seen.append((auth, dict(request.query)))
        if auth != self.accept:
            return web.json_response({"message": "Unauthorized"}, status=401)
        if self.fail_with is not None:
            return web.json_response(
                {"kind": "Status", "message": "too old resource version"}, status=self.fail_with
            )
        response = web.StreamResponse()
        await response.prepare(request)
        lines = [
            {"type": "ADDED", "object": {"metadata": {"name": "a"}}},
            "",
            "not json",
            ["a", "list"],
            {"type": "MODIFIED", "object": "not an object"},
            {"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "7"}}},
        ]
        for line in lines:
            text = line if isinstance(line, str) else json.dumps(line)
            await response.write(text.encode() + b"\n")
        await response.write_eof()
        return response

    async def secret(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization", "") != self.accept:
            return web.json_response({"message": "Unauthorized"}, status=401)
        return web.json_response(SECRET)


#: A Secret whose data dict and values no link body holds.
SECRET = {
    "kind": "Secret",
    "metadata": {"name": "creds", "namespace": "ns"},
    "data": {"activationKey": "c2VjcmV0LW5ldmVyLXNoYXJlZC0xMjM0NQ==", "kind": "b3BhcXVl"},
}


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    srv = Server()
    app = web.Application()
    app.router.add_get(LINKS, srv.handle)
    app.router.add_get("/api/v1/namespaces/ns/secrets", srv.handle)
    app.router.add_get("/api/v1/namespaces/ns/secrets/creds", srv.secret)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    srv.url = f"http://127.0.0.1:{port}"
    try:
        yield srv
    finally:
        await runner.cleanup()


@pytest.fixture
def client_for(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, server: Server) -> kube.KubeClient:
    kubeconfig = tmp_path / "kubeconfig"
    write_token_kubeconfig(kubeconfig, server.url, "old-token")
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    monkeypatch.setattr(kube, "_has_kubernetes_client", lambda: False)
    client = kube.KubeClient(kube.load_configuration())
    # The token rotates after the login: the first request of each watch gets 401.
    write_token_kubeconfig(kubeconfig, server.url, "new-token")
    return client


async def test_watch_logs_in_again_on_401_and_yields_only_event_objects(
    server: Server, client_for: kube.KubeClient
) -> None:
    try:
        events = [e async for e in client_for.watch(LINKS, {"resourceVersion": "5"})]
    finally:
        await client_for.aclose()
    assert events == [
        ("ADDED", {"metadata": {"name": "a"}}),
        ("MODIFIED", {}),
        ("BOOKMARK", {"metadata": {"resourceVersion": "7"}}),
    ]
    assert [auth for auth, _ in server.seen] == ["Bearer old-token", "Bearer new-token"]
    assert server.seen[-1][1] == {"resourceVersion": "5", "watch": "1"}


async def test_watch_secret_asks_for_one_secret_through_the_same_stream(
    server: Server, client_for: kube.KubeClient
) -> None:
    try:
        events = [e async for e in client_for.watch_secret("ns", "creds")]
    finally:
        await client_for.aclose()
    assert [t for t, _ in events] == ["ADDED", "MODIFIED", "BOOKMARK"]
    query = server.seen[-1][1]
    assert query["fieldSelector"] == "metadata.name=creds"
    assert query["watch"] == "1"
    assert [auth for auth, _ in server.seen] == ["Bearer old-token", "Bearer new-token"]


async def _error_of(client: kube.KubeClient, events: AsyncIterator[object]) -> kube.KubeError:
    """The `KubeError` that ends ``events`` (the test fails if none does)."""
    try:
        with pytest.raises(kube.KubeError) as caught:
            async for _ in events:
                pass
    finally:
        await client.aclose()
    return caught.value


async def test_a_watch_error_status_is_a_kube_error_with_the_servers_message(
    server: Server, client_for: kube.KubeClient
) -> None:
    server.fail_with = 410
    error = await _error_of(client_for, client_for.watch(LINKS, {}))
    assert error.status == 410
    assert "too old resource version" in str(error)


async def test_a_watch_still_refused_after_logging_in_again_is_a_401(
    server: Server, client_for: kube.KubeClient
) -> None:
    server.accept = "Bearer nobody-has-this"
    error = await _error_of(client_for, client_for.watch_secret("ns", "creds"))
    assert error.status == 401
    assert [auth for auth, _ in server.seen] == ["Bearer old-token", "Bearer new-token"]


async def test_a_watch_the_server_cannot_be_reached_for_is_a_transport_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    write_token_kubeconfig(kubeconfig, "http://127.0.0.1:9", "t")
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    monkeypatch.setattr(kube, "_has_kubernetes_client", lambda: False)
    client = kube.KubeClient(kube.load_configuration())
    assert (await _error_of(client, client.watch(LINKS, {}))).status == 0


async def test_secrets_read_or_watched_stay_out_of_the_shared_table(
    server: Server, client_for: kube.KubeClient
) -> None:
    """A Secret's data is never hash-consed with link bodies (``bodies.decode``):
    nothing of it enters the process-wide table a link's body shares from."""
    from interconnect_operator.k8s import bodies

    before = bodies.canonical_entries()
    try:
        got = await client_for.get_secret("ns", "creds")
        events = [e async for e in client_for.watch_secret("ns", "creds")]
    finally:
        await client_for.aclose()
    assert got["data"] == SECRET["data"]
    assert len(events) == 3
    assert bodies.canonical_entries() == before
    # The same JSON decoded as a link body is shared (what the flag avoids).
    bodies.decode(json.dumps({"spec": SECRET["data"]}))
    assert bodies.canonical_entries() > before
