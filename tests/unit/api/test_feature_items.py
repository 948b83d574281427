"""A bulk read validates ListFeatures pages into plain dicts (api.models ``ListFeaturesPage``).

The typed dicts must refuse exactly the bodies the models refuse, and the
record a bulk read converts from a dict (``FeatureRecord.of_item``) must be
the record ``FeatureRecord.of`` converts from the model of the same body:
checked field by field, and over random documents mixing wire (camelCase)
and Python names, wrong types, numeric strings, nulls and extra keys.
"""

from __future__ import annotations

import json
import typing
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from pydantic.alias_generators import to_camel

from interconnect_operator.api import models
from interconnect_operator.reconcile.records import FeatureRecord


@pytest.mark.parametrize("model", list(models.ITEM_MIRRORS))
def test_each_typed_dict_mirrors_its_model(model: type[models.WireModel]) -> None:
    item = models.ITEM_MIRRORS[model]
    hints = typing.get_type_hints(item, include_extras=True)
    assert set(hints) == set(model.model_fields)
    for name, hint in hints.items():
        if typing.get_origin(hint) is typing.Annotated:
            aliases = set(typing.get_args(hint)[1].validation_alias.choices)
        else:
            aliases = {name}
        assert aliases == {name, to_camel(name)}, name


SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(
        ["", "10.0.0.0", "10.0.0.8/29", "fd00::4", "bad", "30", "126", "1500", "providers/aws"]
    ),
    st.sampled_from(["2026-01-01T00:00:00Z", "2026-01-01T00:00:00", "yesterday"]),
)


def _keys(*names: str) -> st.SearchStrategy[str]:
    return st.sampled_from([*names, *(to_camel(n) for n in names), "extraKey"])


def _object(names: tuple[str, ...], values: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.dictionaries(_keys(*names), values, max_size=len(names) + 1), SCALARS, st.lists(SCALARS)
    )


BGP = _object(("provider", "asn", "host_ipv4", "host_ipv6"), SCALARS)
L3 = _object(
    (
        "ipv4_subnet",
        "ipv4_subnet_prefix_length",
        "ipv6_subnet",
        "ipv6_subnet_prefix_length",
        "mtu_bytes",
        "vlan_id",
        "md5_bgp_password",
    ),
    SCALARS,
).flatmap(
    lambda d: (
        st.lists(BGP, max_size=2).map(lambda ends: {**d, "providerBgpConfigs": ends})
        if isinstance(d, dict)
        else st.just(d)
    )
)
CONFIG = st.one_of(
    st.fixed_dictionaries(
        {"featureType": st.sampled_from(["FEATURE_TYPE_L3_BASE", 3])}, optional={"l3BaseConfig": L3}
    ),
    SCALARS,
)
FAILURE = _object(("code", "message", "retryable", "observed_at"), SCALARS)
FEATURE = st.fixed_dictionaries(
    {},
    optional={
        "name": st.one_of(
            st.just("providers/aws/environments/e/interconnects/ix/connections/c1/features/f"),
            SCALARS,
        ),
        "channel": st.one_of(
            st.just("providers/aws/environments/e/interconnects/ix/channels/ch1"), SCALARS
        ),
        "provisioningState": st.one_of(st.just("PROVISIONING_STATE_FINAL"), SCALARS),
        "provisioning_state": SCALARS,
        "featureConfig": CONFIG,
        "feature_config": CONFIG,
        "failureInfo": FAILURE,
        "extra": SCALARS,
    },
)


def _outcome(model: type[models.WireModel], body: bytes) -> tuple[bool, Any]:
    try:
        return True, model.model_validate_json(body)
    except ValidationError:
        return False, None


@settings(max_examples=400, deadline=None)
@given(st.lists(FEATURE, max_size=3), st.booleans())
def test_items_refuse_and_convert_as_the_models_do(features: list[Any], wrap: bool) -> None:
    body = json.dumps({"features": features} if wrap else features[:1] or {}).encode()
    full_ok, full = _outcome(models.ListFeaturesResponse, body)
    page_ok, page = _outcome(models.ListFeaturesPage, body)
    assert full_ok == page_ok, body
    if not full_ok:
        return
    wires = full.features or []
    items = page.features or []
    assert len(wires) == len(items)
    for wire, item in zip(wires, items, strict=True):
        assert FeatureRecord.of(wire) == FeatureRecord.of_item(item)


def test_a_full_feature_converts_alike() -> None:
    feature = {
        "name": "providers/aws/environments/e/interconnects/ix/connections/c1/features/f",
        "channel": "providers/aws/environments/e/interconnects/ix/channels/ch1",
        "provisioningState": "PROVISIONING_STATE_FAILED",
        "featureConfig": {
            "featureType": "FEATURE_TYPE_L3_BASE",
            "l3BaseConfig": {
                "ipv4Subnet": "169.254.0.0",
                "ipv4SubnetPrefixLength": 30,
                "ipv6Subnet": "fd00::/126",
                "mtuBytes": 9000,
                "vlanId": 7,
                "md5BgpPassword": "s3cret",
                "providerBgpConfigs": [
                    {"provider": "providers/aws", "asn": 64512, "hostIpv4": "169.254.0.1/30"},
                    {
                        "provider": "gcp",
                        "asn": 64513,
                        "hostIpv4": "169.254.0.2",
                        "hostIpv6": "fd00::2",
                    },
                ],
            },
        },
        "failureInfo": {
            "code": "VLAN_TAKEN",
            "message": "vlan 7 is taken",
            "retryable": True,
            "observedAt": "2026-01-01T00:00:00Z",
        },
    }
    body = json.dumps({"features": [feature]}).encode()
    wire = models.ListFeaturesResponse.model_validate_json(body).features
    item = models.ListFeaturesPage.model_validate_json(body).features
    assert wire is not None
    assert item is not None
    record = FeatureRecord.of_item(item[0])
    assert record == FeatureRecord.of(wire[0])
    assert record.vlan == 7
    assert record.mtu == 9000
    assert len(record.bgp) == 2
    assert record.failure is not None
    assert record.failure.retryable
    # The MD5 password stays masked in the dict, as in the model.
    assert "s3cret" not in repr(item[0])


_BASE_L3 = {"ipv4Subnet": "169.254.0.0", "vlanId": 7, "providerBgpConfigs": [{"asn": 1}]}
# (path to the field, a value of the wrong kind for it)
_WRONG = [
    (("name",), 3),
    (("channel",), ["x"]),
    (("provisioningState",), {"a": 1}),
    (("featureConfig",), "x"),
    (("featureConfig", "featureType"), 1.5),
    (("featureConfig", "l3BaseConfig"), []),
    (("featureConfig", "l3BaseConfig", "ipv4Subnet"), 10),
    (("featureConfig", "l3BaseConfig", "ipv4SubnetPrefixLength"), 1.5),
    (("featureConfig", "l3BaseConfig", "ipv6Subnet"), True),
    (("featureConfig", "l3BaseConfig", "ipv6SubnetPrefixLength"), "x"),
    (("featureConfig", "l3BaseConfig", "mtuBytes"), 1.5),
    (("featureConfig", "l3BaseConfig", "vlanId"), 7.5),
    (("featureConfig", "l3BaseConfig", "md5BgpPassword"), 5),
    (("featureConfig", "l3BaseConfig", "providerBgpConfigs"), {"asn": 1}),
    (("featureConfig", "l3BaseConfig", "providerBgpConfigs", 0, "asn"), 1.5),
    (("featureConfig", "l3BaseConfig", "providerBgpConfigs", 0, "provider"), 5),
    (("featureConfig", "l3BaseConfig", "providerBgpConfigs", 0, "hostIpv4"), []),
    (("featureConfig", "l3BaseConfig", "providerBgpConfigs", 0, "host_ipv6"), 6),
    (("failureInfo",), 1),
    (("failureInfo", "code"), 1),
    (("failureInfo", "message"), []),
    (("failureInfo", "retryable"), "perhaps"),
    (("failureInfo", "observedAt"), "yesterday"),
]


@pytest.mark.parametrize(("path", "value"), _WRONG)
def test_a_wrong_kind_is_refused_by_both(path: tuple[str | int, ...], value: Any) -> None:
    feature: dict[str, Any] = {
        "name": "n",
        "featureConfig": {"featureType": "L3", "l3BaseConfig": json.loads(json.dumps(_BASE_L3))},
        "failureInfo": {"code": "c"},
    }
    body = json.dumps({"features": [feature]}).encode()
    assert _outcome(models.ListFeaturesResponse, body)[0]
    assert _outcome(models.ListFeaturesPage, body)[0]
    held: Any = feature
    for step in path[:-1]:
        held = held[step]
    held[path[-1]] = value
    body = json.dumps({"features": [feature]}).encode()
    assert not _outcome(models.ListFeaturesResponse, body)[0]
    assert not _outcome(models.ListFeaturesPage, body)[0]
