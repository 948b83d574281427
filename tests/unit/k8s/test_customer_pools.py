"""A customer pool's spec and Secrets -> its clients and driver (k8s.customer_pools)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from interconnect_operator.api.auth import BearerToken
from interconnect_operator.k8s import pool_status
from interconnect_operator.k8s.config_error import ConfigError
from interconnect_operator.k8s.credentials import Credentials
from interconnect_operator.k8s.customer_pools import customer_driver
from interconnect_operator.k8s.resources import CapacityPoolSpec
from interconnect_operator.protocol.customer_link import Cloud
from interconnect_operator.protocol.types import Side
from interconnect_operator.reconcile.pool import PoolReport
from tests.unit.k8s.fake_kube import FakeKube

NS = "interconnect-system"


def _body(aws_auth: dict[str, Any], gcp_auth: dict[str, Any]) -> dict[str, Any]:
    return {
        "metadata": {"name": "pool"},
        "spec": {
            "environment": "aws-gcp-us-east",
            "providers": [
                {
                    "name": "aws",
                    "endpoint": "http://127.0.0.1:8091",
                    "role": "Responder",
                    "api": {
                        "type": "AwsInterconnect",
                        "aws": {
                            "region": "us-east-1",
                            "accountId": "111122223333",
                            "environmentId": "aws-gcp-us-east",
                        },
                    },
                    "auth": aws_auth,
                },
                {
                    "name": "gcp",
                    "endpoint": "http://127.0.0.1:8092",
                    "role": "Negotiator",
                    "api": {
                        "type": "GoogleTransports",
                        "google": {
                            "project": "demo-project",
                            "location": "us-east4",
                            "remoteProfile": "aws-us-east-1",
                        },
                    },
                    "auth": gcp_auth,
                },
            ],
        },
    }


async def _driver(kube: FakeKube, body: dict[str, Any]) -> Any:
    credentials = Credentials(kube, NS)
    config = await credentials.pool_config("pool", body)
    spec = CapacityPoolSpec.model_validate(body["spec"])
    return await customer_driver(credentials, NS, spec, config)


async def test_keys_and_token_from_the_pools_secret(kube: FakeKube) -> None:
    kube.add_secret(
        NS, "creds", {"accessKeyId": "AKID", "secretAccessKey": "shh", "gcp-token": "tok"}
    )
    sigv4 = {
        "type": "SigV4",
        "secretRef": {"name": "creds"},
        "region": "us-east-1",
        "service": "interconnect",
    }
    bearer = {"type": "Bearer", "secretRef": {"name": "creds", "key": "gcp-token"}}
    pool, driver = await _driver(kube, _body(sigv4, bearer))
    try:
        creds = pool.aws.botocore_client._request_signer._credentials
        assert (creds.access_key, creds.secret_key) == ("AKID", "shh")
        assert pool.aws.endpoint_url == "http://127.0.0.1:8091"
        assert pool.google.parent == "projects/demo-project/locations/us-east4"
        assert isinstance(pool.google._http.auth, BearerToken)
        assert pool.sides == {Cloud.AWS: Side.RESPONDER, Cloud.GOOGLE: Side.NEGOTIATOR}
        assert pool.providers == {Side.RESPONDER: "aws", Side.NEGOTIATOR: "gcp"}
        assert driver.environment == "aws-gcp-us-east"
    finally:
        await pool.aclose()


async def test_no_auth_on_a_customer_pool_is_an_error_not_a_silent_fallback(
    kube: FakeKube, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    # Even with an identity in the environment, None does not mean "use it".
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDFROMTHEPOD")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "pod-secret")
    with pytest.raises(ConfigError) as raised:
        await _driver(kube, _body({"type": "None"}, {"type": "None"}))
    assert raised.value.reason == "CredentialsRequired"
    assert "source Ambient" in raised.value.message


async def test_ambient_aws_uses_botocores_chain_when_chosen(
    kube: FakeKube, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDFROMTHEPOD")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "pod-secret")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    kube.add_secret(NS, "creds", {"token": "t"})
    sigv4 = {"type": "SigV4", "source": "Ambient", "region": "us-east-1", "service": "interconnect"}
    bearer = {"type": "Bearer", "secretRef": {"name": "creds", "key": "token"}}
    pool, _ = await _driver(kube, _body(sigv4, bearer))
    try:
        creds = pool.aws.botocore_client._request_signer._credentials
        assert creds.access_key == "AKIDFROMTHEPOD"
    finally:
        await pool.aclose()


async def test_a_secret_without_aws_keys_is_a_config_error(kube: FakeKube) -> None:
    kube.add_secret(NS, "creds", {"accessKeyId": "AKID", "secretAccessKey": "s", "token": "t"})
    kube.add_secret(NS, "half", {"somethingElse": "x"})
    sigv4 = {
        "type": "SigV4",
        "secretRef": {"name": "creds"},
        "region": "us-east-1",
        "service": "interconnect",
    }
    bearer = {"type": "Bearer", "secretRef": {"name": "creds", "key": "token"}}
    pool, _ = await _driver(kube, _body(sigv4, bearer))
    await pool.aclose()
    credentials = Credentials(kube, NS)
    body = _body(
        {
            "type": "SigV4",
            "secretRef": {"name": "half"},
            "region": "us-east-1",
            "service": "interconnect",
        },
        bearer,
    )
    with pytest.raises(ConfigError):
        await credentials.pool_config("pool", body)


def _report(sizes: tuple[int, ...], errors: dict[str, str]) -> PoolReport:
    return PoolReport(
        reachable={"aws": "aws" not in errors, "gcp": "gcp" not in errors},
        errors=errors,
        interconnects=(),
        supported_sizes_mbps=sizes,
        available_mbps=0,
        disagreements=(),
        taken_at=dt.datetime(2026, 12, 1, tzinfo=dt.UTC),
        customer=True,
    )


@pytest.mark.parametrize(
    ("sizes", "errors", "ready", "reason"),
    [
        ((1000, 2000), {}, True, "Ready"),
        ((), {}, False, "NoCommonBandwidth"),
        ((1000,), {"gcp": "Throttled"}, False, "ProviderUnreachable"),
    ],
)
def test_a_customer_pool_is_ready_when_both_clouds_answer_and_share_a_size(
    sizes: tuple[int, ...], errors: dict[str, str], ready: bool, reason: str
) -> None:
    (ready_condition, *_) = pool_status.pool_conditions(_report(sizes, errors), 3)
    assert ready_condition.type == "Ready"
    assert ready_condition.is_true is ready
    assert ready_condition.reason == reason


async def test_a_terminal_setup_error_is_stalled_and_not_retried(
    kube: FakeKube, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    from interconnect_operator.k8s import pools as pools_mod
    from interconnect_operator.k8s.index import LinkIndex
    from interconnect_operator.k8s.kube import POOLS
    from interconnect_operator.k8s.settings import OperatorOptions
    from interconnect_operator.metrics import OperatorMetrics

    # A retried reason would come back within milliseconds at this backoff.
    monkeypatch.setattr(pools_mod, "CONFIG_RETRY", (0.01, 0.01))
    credentials = Credentials(kube, NS)
    attempts: list[str] = []
    original = credentials.pool_config

    async def counting(name: str, body: Any) -> Any:
        attempts.append(name)
        return await original(name, body)

    monkeypatch.setattr(credentials, "pool_config", counting)
    options = OperatorOptions(operator_namespace=NS)
    loops = pools_mod.PoolLoops(
        options,
        kube,
        OperatorMetrics(),
        credentials=credentials,
        index=LinkIndex(),
        wake_link=lambda key, priority: None,
        on_request=lambda record: None,
    )
    body = _body({"type": "None"}, {"type": "None"})
    body["metadata"] = {"name": "pool", "generation": 1}
    await loops.on_event("ADDED", kube.add_object(POOLS, body))
    try:
        for _ in range(500):
            if kube.status_patches:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.2)
        assert attempts == ["pool"]
        conditions = {c["type"]: c for c in kube.status_patches[-1][1]["conditions"]}
        assert conditions["Stalled"]["status"] == "True"
        assert conditions["Stalled"]["reason"] == "CredentialsRequired"
    finally:
        await loops.stop()
