"""Resource names: build, parse, re-prefix."""

from __future__ import annotations

import pytest

from interconnect_operator.api.names import (
    InvalidResourceName,
    ResourceName,
    channel_name,
    connection_name,
    environment_name,
    feature_name,
    interconnect_name,
    issue_name,
    last_id,
    mac_sec_key_name,
    parse_name,
    provider_name,
    provider_ref_id,
    with_provider,
)


def test_build_names() -> None:
    assert provider_name("a") == "providers/a"
    assert environment_name("a", "e") == "providers/a/environments/e"
    assert interconnect_name("a", "e", "i") == "providers/a/environments/e/interconnects/i"
    assert channel_name("a", "e", "i", "c").endswith("/interconnects/i/channels/c")
    assert mac_sec_key_name("a", "e", "i", "c", "m").endswith("/channels/c/macSecKeys/m")
    assert connection_name("a", "e", "i", "k").endswith("/interconnects/i/connections/k")
    assert feature_name("a", "e", "i", "k", "f") == (
        "providers/a/environments/e/interconnects/i/connections/k/features/f"
    )
    assert issue_name("a", "n") == "providers/a/issues/n"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("providers/a", ResourceName("a")),
        ("providers/a/issues/n", ResourceName("a", issue="n")),
        (
            "providers/a/environments/e/interconnects/i/connections/k/features/f",
            ResourceName("a", "e", "i", connection="k", feature="f"),
        ),
        (
            "providers/a/environments/e/interconnects/i/channels/c/macSecKeys/m",
            ResourceName("a", "e", "i", channel="c", mac_sec_key="m"),
        ),
    ],
)
def test_parse_names(name: str, expected: ResourceName) -> None:
    assert parse_name(name) == expected


def test_kind() -> None:
    assert parse_name("providers/a/environments/e").kind == "environment"
    assert parse_name(feature_name("a", "e", "i", "k", "f")).kind == "feature"
    assert parse_name("providers/a").kind == "provider"


@pytest.mark.parametrize(
    "name",
    [
        "",
        "providers",
        "provider/a",
        "providers/a/environments",
        "providers/a/features/f",
        "providers/a/environments/e/channels/c",
        "providers/a/environments//interconnects/i",
        "providers/a/widgets/w",
    ],
)
def test_parse_rejects_malformed(name: str) -> None:
    with pytest.raises(InvalidResourceName):
        parse_name(name)


def test_ids_must_be_single_segments() -> None:
    with pytest.raises(InvalidResourceName):
        connection_name("a", "e", "i", "k/../x")
    with pytest.raises(InvalidResourceName):
        environment_name("a", "")


def test_with_provider_and_last_id() -> None:
    name = feature_name("a", "e", "i", "k", "f")
    assert with_provider(name, "b") == feature_name("b", "e", "i", "k", "f")
    assert with_provider("providers/a", "b") == "providers/b"
    assert last_id(name) == "f"


@pytest.mark.parametrize(
    ("reference", "expected"),
    [("providers/gcp", "gcp"), ("gcp", "gcp"), ("", ""), (None, "")],
    ids=["spec-form", "bare-id-of-an-older-peer", "empty", "absent"],
)
def test_provider_ref_id_reads_both_forms(reference: str | None, expected: str) -> None:
    assert provider_ref_id(reference) == expected
    if expected:  # only the spec form is ever written
        assert provider_name(expected) == "providers/gcp"


def test_last_id_is_one_shared_copy_of_each_id() -> None:
    # The snapshot keys records by these ids: equal ids are one string.
    uuid = "2c12f4c9-3ee3-48e2-9991-200573e59096"
    a = last_id("providers/aws/environments/e/interconnects/ix1/connections/" + uuid)
    b = last_id("providers/gcp/environments/e/interconnects/ix2/connections/" + uuid)
    assert a == uuid
    assert a is b
