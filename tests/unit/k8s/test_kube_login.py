"""The operator's own Kubernetes client logs in as kopf does, with or without `kubernetes`.

The ``kubernetes`` package is an optional extra: these tests hide it, read a
kubeconfig with kopf's own reader, talk to a real HTTP server on loopback, and
log in again when the server answers 401 (a rotated token).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml
from aiohttp import web

from interconnect_operator.k8s import kube


def write_token_kubeconfig(path: Path, server: str, token: str) -> None:
    """A kubeconfig with one cluster at ``server`` (no TLS) and a bearer ``token``."""
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "test",
                "contexts": [{"name": "test", "context": {"cluster": "c", "user": "u"}}],
                "clusters": [{"name": "c", "cluster": {"server": server}}],
                "users": [{"name": "u", "user": {"token": token}}],
            }
        )
    )


@pytest.fixture
async def api_server() -> AsyncIterator[tuple[str, list[str]]]:
    """A loopback HTTP server that accepts only `Bearer new-token` and records what it saw."""
    seen: list[str] = []

    async def secret(request: web.Request) -> web.Response:
        auth = request.headers.get("Authorization", "")
        seen.append(auth)
        if auth != "Bearer new-token":
            return web.json_response({"message": "Unauthorized"}, status=401)
        return web.json_response({"kind": "Secret", "metadata": {"name": "s", "namespace": "ns"}})

    app = web.Application()
    app.router.add_get("/api/v1/namespaces/ns/secrets/s", secret)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}", seen
    finally:
        await runner.cleanup()


async def test_kubeconfig_login_without_the_kubernetes_package_and_relogin_on_401(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    api_server: tuple[str, list[str]],
) -> None:
    server, seen = api_server
    kubeconfig = tmp_path / "kubeconfig"
    write_token_kubeconfig(kubeconfig, server, "old-token")
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    monkeypatch.setattr(kube, "_has_kubernetes_client", lambda: False)

    connection = kube.load_configuration()
    assert connection.server == server
    assert connection.token == "old-token"

    client = kube.KubeClient(connection)
    try:
        # The token is rotated in the kubeconfig: the first call gets 401,
        # the client logs in again and retries once with the new token.
        write_token_kubeconfig(kubeconfig, server, "new-token")
        secret = await client.get_secret("ns", "s")
    finally:
        await client.aclose()
    assert secret["kind"] == "Secret"
    assert seen == ["Bearer old-token", "Bearer new-token"]


async def test_a_401_after_relogin_is_reported_as_a_kube_error(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    api_server: tuple[str, list[str]],
) -> None:
    server, seen = api_server
    kubeconfig = tmp_path / "kubeconfig"
    write_token_kubeconfig(kubeconfig, server, "revoked")
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    monkeypatch.setattr(kube, "_has_kubernetes_client", lambda: False)
    client = kube.KubeClient(kube.load_configuration())
    try:
        with pytest.raises(kube.KubeError) as caught:
            await client.get_secret("ns", "s")
    finally:
        await client.aclose()
    assert caught.value.status == 401
    assert seen == ["Bearer revoked", "Bearer revoked"]


def test_no_kubeconfig_and_no_service_account_is_a_login_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(kube, "_has_kubernetes_client", lambda: False)
    with pytest.raises(Exception, match="kubeconfig") as caught:
        kube.load_configuration()
    assert type(caught.value).__name__ == "LoginError"


def test_the_operator_imports_and_runs_its_cli_without_the_kubernetes_package() -> None:
    # `None` in sys.modules makes `import kubernetes` raise ImportError, as in
    # an image built without the `kube` extra (or the simulator's packages).
    code = (
        "import sys\n"
        "for name in ('kubernetes', 'starlette', 'uvicorn'):\n"
        "    sys.modules[name] = None\n"
        "from interconnect_operator.k8s import handlers, kube\n"
        "from interconnect_operator.cli import main\n"
        "assert not kube._has_kubernetes_client()\n"
        "raise SystemExit(main(['version']))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("interconnect-operator ")


def test_simulate_without_the_simulator_extra_says_what_to_install() -> None:
    code = (
        "import sys\n"
        "sys.modules['starlette'] = None\n"
        "from interconnect_operator.cli import main\n"
        "raise SystemExit(main(['simulate']))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 2
    assert "interconnect-operator[simulator]" in result.stderr
