"""The inputsDigest signing key (k8s.digest_key): created once, shared, never trusted when bad."""

from __future__ import annotations

import base64
import logging

import pytest

from interconnect_operator.k8s import digest_key
from interconnect_operator.k8s.digest_key import KEY_SECRET, DigestKey, parse_key
from interconnect_operator.k8s.kube import KubeError
from tests.unit.k8s.fake_kube import FakeKube

NS = "operator-ns"


async def test_the_first_start_creates_the_key_and_later_ones_read_it(kube: FakeKube) -> None:
    first = await DigestKey(kube, NS).get()
    assert first is not None
    assert len(first) == digest_key.KEY_BYTES
    assert (NS, KEY_SECRET) in kube.secrets
    again = await DigestKey(kube, NS).get()  # another process of the same installation
    assert again == first


async def test_a_replica_that_created_it_first_wins(kube: FakeKube) -> None:
    """Both read 404; the other replica's create lands first: this one reads it back."""
    kube.add_secret(NS, KEY_SECRET, {"key": b"w" * 32})
    kube.failures["get_secret"] = [KubeError(404, "not yet")]
    assert await DigestKey(kube, NS).get() == b"w" * 32


@pytest.mark.parametrize("value", [b"short", None], ids=["too-short", "no-key-field"])
async def test_a_malformed_key_is_no_key(kube: FakeKube, value: bytes | None) -> None:
    kube.add_secret(NS, KEY_SECRET, {"key": value} if value else {"other": b"x" * 32})
    assert await DigestKey(kube, NS).get() is None
    assert kube.secrets[(NS, KEY_SECRET)]["data"].get("key") == (
        base64.b64encode(value).decode() if value else None
    )  # never overwritten


def test_a_key_that_is_not_base64_is_no_key() -> None:
    assert parse_key({"data": {"key": "not base64!"}}) is None


async def test_an_unreadable_key_is_retried_after_a_while(
    kube: FakeKube, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    kube.failures["get_secret"] = [KubeError(403, "forbidden")]
    key = DigestKey(kube, NS)
    with caplog.at_level(logging.WARNING):
        assert await key.get() is None
    assert "full reconcile" in caplog.text
    assert await key.get() is None  # within RETRY_SECONDS: no second read
    assert (NS, KEY_SECRET) not in kube.secrets
    monkeypatch.setattr(digest_key, "RETRY_SECONDS", 0.0)
    created = await key.get()
    assert created is not None
    assert base64.b64encode(created).decode() not in caplog.text
