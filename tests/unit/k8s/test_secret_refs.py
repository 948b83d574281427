"""secret_refs: the Secrets pools and links name, the referrer index, the content digest."""

from __future__ import annotations

from interconnect_operator.k8s.secret_refs import (
    SecretReferrers,
    data_digest,
    link_secret_refs,
    pool_secret_names,
)


def test_a_pool_names_its_auth_and_ca_secrets_and_nothing_else() -> None:
    spec = {
        "providers": [
            {
                "name": "aws",
                "auth": {"type": "Bearer", "secretRef": {"name": "aws-creds", "key": "t"}},
                "tls": {"caSecretRef": {"name": "aws-ca"}},
            },
            {"name": "gcp", "auth": {"type": "None"}},
        ]
    }
    assert pool_secret_names(spec) == {"aws-creds", "aws-ca"}


def test_malformed_pool_specs_reference_nothing_instead_of_failing() -> None:
    assert pool_secret_names(None) == frozenset()
    assert pool_secret_names({"providers": "nonsense"}) == frozenset()
    assert pool_secret_names({"providers": [{"auth": {"secretRef": {"name": ""}}}, 7]}) == set()


def test_a_link_names_its_key_and_md5_secrets_in_its_own_namespace() -> None:
    spec = {
        "activationKey": {"secretRef": {"name": "key", "key": "k"}},
        "bgp": {"md5SecretRef": {"name": "md5", "key": "password"}},
    }
    assert link_secret_refs("team-a", spec) == {("team-a", "key"), ("team-a", "md5")}
    assert link_secret_refs("team-a", {"destinationAccountId": "123"}) == frozenset()


def test_the_digest_moves_with_content_only() -> None:
    base = data_digest({"token": "YQ==", "other": "Yg=="})
    assert data_digest({"other": "Yg==", "token": "YQ=="}) == base
    assert data_digest({"token": "Yw==", "other": "Yg=="}) != base
    # Keys and values are delimited: moving a character across the boundary is a change.
    assert data_digest({"ab": "c"}) != data_digest({"a": "bc"})
    assert data_digest(None) == data_digest({})


def test_the_index_follows_references_both_ways() -> None:
    index: SecretReferrers[str, str] = SecretReferrers()
    index.set("pool-a", {"shared", "a-only"})
    index.set("pool-b", {"shared"})
    assert index.referrers("shared") == {"pool-a", "pool-b"}
    assert index.secrets() == {"shared", "a-only"}
    index.set("pool-a", {"shared"})  # a spec change drops a reference
    assert index.referrers("a-only") == frozenset()
    assert index.secrets() == {"shared"}
    index.drop("pool-b")
    assert index.referrers("shared") == {"pool-a"}
    index.drop("pool-a")
    assert len(index) == 0
    assert index.secrets_of("pool-a") == frozenset()
