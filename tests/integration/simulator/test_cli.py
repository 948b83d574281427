"""The ``simulate`` CLI: option parsing, and one real server process over HTTP."""

from __future__ import annotations

import argparse
import subprocess
from pathlib import Path

import httpx
import pytest

from interconnect_operator.simulator.cli import add_arguments, build_config, parse_token
from tests.support import simulator_process
from tests.support.ports import free_port


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(argv)


def test_tokens_from_options_and_file(tmp_path: Path) -> None:
    token_file = tmp_path / "tokens"
    token_file.write_text("# partner tokens\ngcp,azure=file-token\n")
    config = build_config(_args("--token", "gcp=abc==", "--token-file", str(token_file)))
    assert config.tokens == {
        "abc==": frozenset({"gcp"}),
        "file-token": frozenset({"gcp", "azure"}),
    }
    assert "abc" not in repr(config)  # tokens never show in reprs


@pytest.mark.parametrize("text", ["nosep", "=token", "gcp=", " , =x"])
def test_bad_token_option_does_not_echo_it(text: str) -> None:
    with pytest.raises(ValueError, match="PROVIDER_IDS=TOKEN") as error:
        parse_token(text)
    assert "token" not in str(error.value).replace("TOKEN", "")


def test_config_from_options(tmp_path: Path) -> None:
    config = build_config(
        _args(
            "--provider-id",
            "gcp",
            "--port",
            "9000",
            "--provisioning-delay",
            "2.5",
            "--bake-time",
            "5",
            "--state",
            str(tmp_path / "s.db"),
            "--fault",
            "*:error_rate=0.1",
            "--fault-seed",
            "7",
        )
    )
    assert (config.provider_id, config.port, config.provisioning_delay, config.bake_time) == (
        "gcp",
        9000,
        2.5,
        5.0,
    )
    assert config.inventory is not None
    assert config.inventory.environments[0].peer == "aws"
    assert config.faults is not None
    assert config.faults.seed == 7
    assert config.faults.operations["*"].error_rate == 0.1
    with pytest.raises(ValueError, match="tls"):
        build_config(_args("--tls-cert", "c.pem"))


def _start(port: int, state: Path) -> subprocess.Popen[bytes]:
    return simulator_process.start(
        [
            "--provider-id", "gcp", "--port", str(port),
            "--state", str(state), "--token", "aws=cli-secret",
        ]
    )  # fmt: skip


def test_real_server_process_serves_over_http_and_keeps_state(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    state = tmp_path / "gcp.sqlite"
    auth = {"Authorization": "Bearer cli-secret"}
    env_url = f"{base}/providers/aws/environments/aws-gcp-us-east"
    process = _start(port, state)
    try:
        assert simulator_process.wait_ready(f"{base}/healthz", process).status_code == 200
        assert httpx.get(env_url).status_code == 401
        listed = httpx.get(f"{base}/providers/aws/environments", headers=auth)
        assert listed.status_code == 200
        assert (
            listed.json()["environments"][0]["name"] == "providers/aws/environments/aws-gcp-us-east"
        )
        created = httpx.post(
            f"{env_url}/interconnects/ix2/connections",
            params={"connectionId": "c1"},
            json={"bandwidthMbps": 2000},
            headers=auth,
        )
        assert created.status_code == 200
        # An after-commit drop closes the connection without a response.
        httpx.post(
            f"{base}/admin/faults",
            json={
                "operations": {"DeleteConnection": {"timeout_after_commit_rate": 1}},
                "hang_seconds": 0,
            },
        )
        with pytest.raises(httpx.TransportError):
            httpx.delete(f"{env_url}/interconnects/ix2/connections/c1", headers=auth)
        httpx.post(f"{base}/admin/faults", json={})
        assert (
            httpx.get(f"{env_url}/interconnects/ix2/connections/c1", headers=auth).status_code
            == 404
        )
        created = httpx.post(
            f"{env_url}/interconnects/ix2/connections",
            params={"connectionId": "c2"},
            json={"bandwidthMbps": 5000},
            headers=auth,
        )
        assert created.status_code == 200
    finally:
        assert simulator_process.stop(process)

    process = _start(port, state)
    try:
        assert simulator_process.wait_ready(f"{base}/healthz", process).status_code == 200
        got = httpx.get(f"{env_url}/interconnects/ix2/connections/c2", headers=auth)
        assert got.status_code == 200
        assert got.json()["bandwidthMbps"] == 5000
    finally:
        assert simulator_process.stop(process)
