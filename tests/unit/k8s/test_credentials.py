"""Pool credential resolution (k8s.credentials): pool spec + Secrets -> provider configs."""

from __future__ import annotations

import ssl
from typing import Any

import pytest

from interconnect_operator.api.auth import BearerToken, NoAuth
from interconnect_operator.k8s.config_error import ConfigError
from interconnect_operator.k8s.credentials import Credentials
from interconnect_operator.k8s.resources import MulticloudLinkSpec
from interconnect_operator.k8s.secret_refs import LINK_SECRET_LABEL
from interconnect_operator.protocol.types import Side
from tests.unit.k8s.fake_kube import FakeKube

NS = "interconnect-system"
LINK_SECRET = {LINK_SECRET_LABEL: "true"}


def _provider(name: str, role: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "endpoint": f"https://{name}.example", "role": role, **extra}


def _pool(aws: dict[str, Any] | None = None, gcp: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "metadata": {"name": "pool"},
        "spec": {
            "environment": "aws-gcp-us-east",
            "providers": [
                _provider("aws", "Responder", **(aws or {})),
                _provider("gcp", "Negotiator", **(gcp or {})),
            ],
        },
    }


def _bearer(name: str, key: str) -> dict[str, Any]:
    return {"auth": {"type": "Bearer", "secretRef": {"name": name, "key": key}}}


async def _resolve(kube: FakeKube, body: dict[str, Any]) -> Any:
    return await Credentials(kube, NS).pool_config("pool", body)


async def _error(kube: FakeKube, body: dict[str, Any]) -> ConfigError:
    with pytest.raises(ConfigError) as raised:
        await _resolve(kube, body)
    return raised.value


async def test_bearer_tokens_from_one_secret_and_call_as_defaults(kube: FakeKube) -> None:
    kube.add_secret(NS, "creds", {"aws-token": "t-aws", "gcp-token": "t-gcp"})
    config = await _resolve(
        kube, _pool(_bearer("creds", "aws-token"), _bearer("creds", "gcp-token"))
    )
    assert config.negotiator.name == "gcp"
    assert config.negotiator.side is Side.NEGOTIATOR
    assert config.negotiator.call_as == "aws"
    assert config.responder.call_as == "gcp"
    assert isinstance(config.responder.auth, BearerToken)
    assert config.responder.verify is True
    assert config.responder.fingerprint != ""
    assert kube.reads == [f"secrets/{NS}/creds", f"secrets/{NS}/creds"]


async def test_no_auth_reads_no_secret(kube: FakeKube) -> None:
    config = await _resolve(kube, _pool())
    assert isinstance(config.negotiator.auth, NoAuth)
    assert config.negotiator.fingerprint == ""
    assert kube.reads == []


async def test_a_fingerprint_follows_the_secret_content(kube: FakeKube) -> None:
    body = _pool(_bearer("creds", "aws-token"))
    kube.add_secret(NS, "creds", {"aws-token": "one"})
    first = (await _resolve(kube, body)).responder.fingerprint
    kube.add_secret(NS, "creds", {"aws-token": "two"})
    second = (await _resolve(kube, body)).responder.fingerprint
    assert first != second


@pytest.mark.parametrize(
    ("status", "reason"),
    [(404, "SecretNotFound"), (403, "SecretForbidden"), (500, "SecretUnavailable")],
)
async def test_secret_read_failures(kube: FakeKube, status: int, reason: str) -> None:
    kube.add_secret(NS, "creds", {"aws-token": "t"})
    if status != 404:
        kube.fail("get_secret", status)
    body = _pool(_bearer("creds" if status != 404 else "absent", "aws-token"))
    error = await _error(kube, body)
    assert error.reason == reason
    assert "aws" in error.message


async def test_a_missing_key_is_named_and_no_value_leaks(kube: FakeKube) -> None:
    kube.add_secret(NS, "creds", {"other": "s3cr3t-value"})
    error = await _error(kube, _pool(_bearer("creds", "aws-token")))
    assert error.reason == "SecretKeyMissing"
    assert "'aws-token'" in error.message
    assert "s3cr3t-value" not in error.message


async def test_a_value_that_is_not_utf8_is_malformed(kube: FakeKube) -> None:
    kube.add_secret(NS, "creds", {"aws-token": b"\xff\xfe"})
    error = await _error(kube, _pool(_bearer("creds", "aws-token")))
    assert error.reason == "SecretMalformed"


async def test_credentials_build_auth_rejects_are_invalid_credentials(kube: FakeKube) -> None:
    kube.add_secret(NS, "creds", {"aws-token": ""})
    error = await _error(kube, _pool(_bearer("creds", "aws-token")))
    assert error.reason == "InvalidCredentials"


async def test_a_pool_needs_both_roles(kube: FakeKube) -> None:
    body = _pool()
    body["spec"]["providers"][1]["role"] = "Responder"
    error = await _error(kube, body)
    assert error.reason == "InvalidSpec"
    assert "P4" in error.message


async def test_an_invalid_spec_names_the_field(kube: FakeKube) -> None:
    body = _pool()
    del body["spec"]["environment"]
    error = await _error(kube, body)
    assert error.reason == "InvalidSpec"
    assert "environment" in error.message


async def test_ca_from_a_secret_and_an_unusable_ca(kube: FakeKube) -> None:
    tls = {"tls": {"caSecretRef": {"name": "ca"}}}
    kube.add_secret(NS, "ca", {"ca.crt": "not a certificate"})
    error = await _error(kube, _pool(tls))
    assert error.reason == "InvalidCA"
    kube.add_secret(NS, "ca", {"other": "x"})
    error = await _error(kube, _pool(tls))
    assert error.reason == "SecretKeyMissing"
    assert "'ca.crt'" in error.message


async def test_insecure_skip_verify_turns_verification_off(kube: FakeKube) -> None:
    config = await _resolve(kube, _pool({"tls": {"insecureSkipVerify": True}}))
    assert config.responder.verify is False
    assert not isinstance(config.responder.verify, ssl.SSLContext)


def _link_spec(**extra: Any) -> MulticloudLinkSpec:
    return MulticloudLinkSpec.model_validate(
        {"poolRef": {"name": "pool"}, "bandwidthMbps": 1000, **extra}
    )


async def test_link_secrets_read_from_the_links_namespace(kube: FakeKube) -> None:
    kube.add_secret("team-a", "key", {"activationKey": "  the-key\n"}, labels=LINK_SECRET)
    kube.add_secret("team-a", "bgp", {"md5": "m"}, labels=LINK_SECRET)
    spec = _link_spec(
        activationKey={"secretRef": {"name": "key", "key": "activationKey"}},
        bgp={"asn": 65000, "md5SecretRef": {"name": "bgp", "key": "md5"}},
    )
    credentials = Credentials(kube, NS)
    key, md5 = await credentials.link_secrets(("team-a", "l"), spec, deleting=False)
    assert key is not None
    assert md5 is not None
    assert key.reveal() == "the-key"
    assert md5.reveal() == "m"
    kube.reads.clear()
    assert await credentials.link_secrets(("team-a", "l"), spec, deleting=True) == (None, None)
    assert kube.reads == []


async def test_an_empty_activation_key_is_missing(kube: FakeKube) -> None:
    kube.add_secret("team-a", "key", {"activationKey": "   "}, labels=LINK_SECRET)
    spec = _link_spec(activationKey={"secretRef": {"name": "key", "key": "activationKey"}})
    with pytest.raises(ConfigError) as raised:
        await Credentials(kube, NS).link_secrets(("team-a", "l"), spec, deleting=False)
    assert raised.value.reason == "SecretKeyMissing"
    assert raised.value.message == "secret team-a/key has no key 'activationKey'"


@pytest.mark.parametrize(
    "present", ["missing", "forbidden", "unlabelled", "labelled-false"], ids=str
)
async def test_a_link_secret_must_opt_in_and_the_refusal_is_the_same_whatever_the_cause(
    kube: FakeKube, present: str
) -> None:
    if present == "unlabelled":
        kube.add_secret("team-a", "db", {"password": "database-password"})
    elif present == "labelled-false":
        kube.add_secret("team-a", "db", {"password": "x"}, labels={LINK_SECRET_LABEL: "false"})
    elif present == "forbidden":
        kube.fail("get_secret", 403)
    spec = _link_spec(
        destinationAccountId="a",
        bgp={"asn": 65000, "md5SecretRef": {"name": "db", "key": "password"}},
    )
    with pytest.raises(ConfigError) as raised:
        await Credentials(kube, NS).link_secrets(("team-a", "l"), spec, deleting=False)
    assert raised.value.reason == "LinkSecretRefused"
    assert raised.value.message == (
        "link team-a/l: secret team-a/db is not usable by links: it must exist and carry "
        'the label interconnect.io/link-secret: "true"'
    )


async def test_only_the_referenced_key_of_a_link_secret_is_decoded(kube: FakeKube) -> None:
    kube.add_secret(
        "team-a", "bgp", {"md5": "bgp-password", "blob": b"\xff\xfe"}, labels=LINK_SECRET
    )
    spec = _link_spec(
        destinationAccountId="a",
        bgp={"asn": 65000, "md5SecretRef": {"name": "bgp", "key": "md5"}},
    )
    _, md5 = await Credentials(kube, NS).link_secrets(("team-a", "l"), spec, deleting=False)
    assert md5 is not None
    assert md5.reveal() == "bgp-password"


async def test_ambient_identity_is_used_only_when_the_pool_chooses_it(
    kube: FakeKube, monkeypatch: pytest.MonkeyPatch
) -> None:
    from interconnect_operator.api.auth import OAuth2ServiceAccount
    from interconnect_operator.k8s import credentials as credentials_mod

    calls: list[str] = []

    def google() -> OAuth2ServiceAccount:
        calls.append("google")
        return OAuth2ServiceAccount(object())

    monkeypatch.setattr(credentials_mod, "google_ambient_auth", google)
    kube.add_secret(NS, "creds", {"t": "tok"})
    ambient = {"auth": {"type": "OAuth2", "source": "Ambient"}}
    config = await Credentials(kube, NS).pool_config("pool", _pool(_bearer("creds", "t"), ambient))
    assert isinstance(config.negotiator.auth, OAuth2ServiceAccount)
    assert isinstance(config.responder.auth, BearerToken)  # the Secret side stays a Secret
    assert calls == ["google"]
    assert kube.reads == [f"secrets/{NS}/creds"]  # nothing read for the ambient side


async def test_no_ambient_identity_is_a_clear_condition(
    kube: FakeKube, monkeypatch: pytest.MonkeyPatch
) -> None:
    from interconnect_operator.api.ambient import AmbientUnavailable
    from interconnect_operator.k8s import credentials as credentials_mod

    def none(region: str, service: str) -> Any:
        raise AmbientUnavailable("no AWS identity in the operator's environment")

    monkeypatch.setattr(credentials_mod, "aws_ambient_auth", none)
    sigv4 = {"auth": {"type": "SigV4", "source": "Ambient", "region": "us-east-1"}}
    with pytest.raises(ConfigError) as raised:
        await Credentials(kube, NS).pool_config("pool", _pool(sigv4, None))
    assert raised.value.reason == "AmbientIdentityUnavailable"
    assert raised.value.message == "aws: no AWS identity in the operator's environment"


@pytest.mark.parametrize(
    "auth",
    [
        {"type": "Bearer", "source": "Ambient"},
        {"type": "MTLS", "source": "Ambient"},
        {"type": "OAuth2", "source": "Ambient", "secretRef": {"name": "creds"}},
    ],
)
async def test_ambient_is_refused_where_it_has_no_meaning(
    kube: FakeKube, auth: dict[str, Any]
) -> None:
    with pytest.raises(ConfigError) as raised:
        await Credentials(kube, NS).pool_config("pool", _pool({"auth": auth}, None))
    assert raised.value.reason == "InvalidSpec"
    assert "auth.source Ambient applies to auth.type SigV4 or OAuth2" in raised.value.message


async def test_the_tls_floor_is_per_provider_and_13_by_default(kube: FakeKube) -> None:
    config = await _resolve(kube, _pool(aws={"tls": {"minVersion": "1.2"}}))
    assert config.responder.min_tls_version is ssl.TLSVersion.TLSv1_2
    assert config.negotiator.min_tls_version is ssl.TLSVersion.TLSv1_3
