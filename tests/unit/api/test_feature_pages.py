"""A changed ListFeatures page is validated item by item (api.feature_pages).

Only the items whose bytes the previous read did not hold are validated and
converted; validation stays exactly as strict as ``ListFeaturesPage``'s: a
changed item with a bad field refuses the page, and whatever the item-wise
path accepts, the whole-page validation accepts alike (and the reverse).
"""

from __future__ import annotations

import gc
import json
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from interconnect_operator.api import feature_pages, models
from interconnect_operator.api.base_client import DigestedPage
from interconnect_operator.api.client import ProviderClient
from interconnect_operator.api.errors import InvalidResponse
from interconnect_operator.api.feature_pages import FeatureEntry
from tests.unit.api.test_feature_items import FEATURE

BASE = "providers/aws/environments/e/interconnects/ix"


def _feature(n: int, state: str = "PROVISIONING_STATE_FINAL", vlan: Any = 100) -> dict[str, Any]:
    return {
        "name": f"{BASE}/connections/c{n}/features/f",
        "channel": f"{BASE}/channels/ch1",
        "provisioningState": state,
        "featureConfig": {"l3BaseConfig": {"vlanId": vlan, "ipv4Subnet": "169.254.0.0/30"}},
    }


class Provider:
    """Serves one page of features; counts what the client validates."""

    def __init__(self, features: list[dict[str, Any]]) -> None:
        self.features = features

    def handle(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=json.dumps({"features": self.features}).encode())


class Spy:
    """Counts features validated (by ListFeaturesPage) and converted."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.validated: list[str] = []
        self.converted: list[str] = []
        original = models.ListFeaturesPage.model_validate_json

        def counting(cls: Any, body: Any, *args: Any, **kw: Any) -> Any:
            page = original(body, *args, **kw)
            self.validated += [f.get("name") or "" for f in page.features or []]
            return page

        monkeypatch.setattr(models.ListFeaturesPage, "model_validate_json", classmethod(counting))

    def convert(self, item: models.FeatureItem) -> str | None:
        self.converted.append(item.get("name") or "")
        return f"{item.get('name')}={item.get('provisioning_state')}"


Pages = dict[bytes, DigestedPage[FeatureEntry[str]]]


async def _read(provider: Provider, spy: Spy, known: Pages) -> tuple[Pages, list[str | None]]:
    client = ProviderClient(
        "https://aws.test", "gcp", transport=httpx.MockTransport(provider.handle)
    )
    async with client:
        pages: Pages = {}
        values: list[str | None] = []
        async for page in client.feature_pages("e", "ix", "-", spy.convert, known):
            pages[page.digest] = page
            values += [value for _, value in page.items]
    return pages, values


async def test_only_changed_items_are_validated_and_converted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    spy = Spy(monkeypatch)
    provider = Provider([_feature(n) for n in range(5)])
    first, _ = await _read(provider, spy, {})
    assert len(spy.validated) == len(spy.converted) == 5
    # A first read keeps no item digests: the page's first change validates all.
    provider.features[4] = _feature(4, "PROVISIONING_STATE_PROVISIONING")
    spy.validated.clear()
    known, values = await _read(provider, spy, first)
    assert len(spy.validated) == 5
    provider.features[2] = _feature(2, "PROVISIONING_STATE_PROVISIONING")
    spy.validated.clear()
    spy.converted.clear()
    _, after = await _read(provider, spy, known)
    # The page changed; of its items only the third is validated and converted again.
    assert spy.validated == spy.converted == [f"{BASE}/connections/c2/features/f"]
    assert after[:2] == values[:2]
    assert after[3:] == values[3:]
    assert after[2] == f"{BASE}/connections/c2/features/f=PROVISIONING_STATE_PROVISIONING"
    assert after[4] == f"{BASE}/connections/c4/features/f=PROVISIONING_STATE_PROVISIONING"


async def _digested(provider: Provider, spy: Spy) -> Pages:
    """Pages read once, then once more after a change: their items digested."""
    first, _ = await _read(provider, spy, {})
    provider.features.append(_feature(99))
    known, _ = await _read(provider, spy, first)
    assert all(d for page in known.values() for d, _ in page.items)
    spy.validated.clear()
    spy.converted.clear()
    return known


async def test_an_item_with_unchanged_bytes_is_not_validated_again_even_moved(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    spy = Spy(monkeypatch)
    provider = Provider([_feature(n) for n in range(4)])
    known = await _digested(provider, spy)
    provider.features.insert(0, _feature(9))  # every item shifts one place
    await _read(provider, spy, known)
    assert spy.validated == [f"{BASE}/connections/c9/features/f"]


async def test_a_changed_item_with_a_bad_field_refuses_the_page(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    spy = Spy(monkeypatch)
    provider = Provider([_feature(n) for n in range(4)])
    known = await _digested(provider, spy)
    provider.features[3] = _feature(3, vlan="not-a-vlan")
    with pytest.raises(InvalidResponse) as refused:
        await _read(provider, spy, known)
    # The item's place in the page, not in the batch of changed items; no value.
    assert "features.3.featureConfig.l3BaseConfig.vlanId" in str(refused.value)
    assert "not-a-vlan" not in str(refused.value)
    # The whole-page validation refuses the same page.
    with pytest.raises(ValidationError):
        models.ListFeaturesPage.model_validate_json(json.dumps({"features": provider.features}))


async def test_a_page_that_is_not_json_or_not_a_list_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    spy = Spy(monkeypatch)

    class Raw(Provider):
        def __init__(self, body: bytes) -> None:
            self.body = body

        def handle(self, request: httpx.Request) -> httpx.Response:
            return httpx.Response(200, content=self.body)

    with pytest.raises(InvalidResponse, match="body is not JSON"):
        await _read(Raw(b'{"features": ['), spy, {})
    with pytest.raises(InvalidResponse, match="unexpected body shape at features"):
        await _read(Raw(b'{"features": {"a": 1}}'), spy, {})
    with pytest.raises(InvalidResponse, match="unexpected body shape at nextPageToken"):
        await _read(Raw(b'{"features": [], "nextPageToken": 7}'), spy, {})
    assert spy.converted == []


def _item_wise(body: bytes) -> list[models.FeatureItem]:
    """Every item new: what the item-wise path validates a page into."""
    envelope = feature_pages.parse_envelope(httpx.Response(200, content=body))
    blobs = feature_pages._compact(envelope.features or (), 200)
    return feature_pages.validate_items(blobs, range(len(blobs)), 200)


@settings(max_examples=300, deadline=None)
@given(st.lists(FEATURE, max_size=3))
def test_items_are_refused_and_accepted_as_the_whole_page_is(features: list[Any]) -> None:
    body = json.dumps({"features": features}).encode()
    try:
        whole = models.ListFeaturesPage.model_validate_json(body).features or []
    except ValidationError:
        with pytest.raises(InvalidResponse):
            _item_wise(body)
        return
    assert _item_wise(body) == whole


async def test_a_first_read_refuses_a_bad_item_as_before(monkeypatch: pytest.MonkeyPatch) -> None:
    spy = Spy(monkeypatch)
    provider = Provider([_feature(0), _feature(1, vlan=[1])])
    with pytest.raises(InvalidResponse, match=r"features\.1\.featureConfig"):
        await _read(provider, spy, {})
    assert spy.converted == []


async def test_items_are_converted_in_slices_with_the_collector_paused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each slice of CONVERT_SLICE items is converted whole with the cyclic
    collector paused; it runs again between slices (when the walk turns the
    loop) and after a conversion that fails."""
    spy = Spy(monkeypatch)
    count = feature_pages.CONVERT_SLICE + 3
    provider = Provider([_feature(n) for n in range(count)])
    seen: list[bool] = []
    original = spy.convert

    def convert(item: models.FeatureItem) -> str | None:
        seen.append(gc.isenabled())
        return original(item)

    spy.convert = convert  # type: ignore[method-assign]
    _, values = await _read(provider, spy, {})
    assert seen == [False] * count
    assert gc.isenabled()
    assert values == [
        f"{BASE}/connections/c{n}/features/f=PROVISIONING_STATE_FINAL" for n in range(count)
    ]

    def failing(item: models.FeatureItem) -> str | None:
        raise RuntimeError("conversion failed")

    spy.convert = failing  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        await _read(provider, spy, {})
    assert gc.isenabled()


async def test_a_first_read_validates_its_page_with_the_collector_paused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    states: list[bool] = []
    original = models.ListFeaturesPage.model_validate_json

    def validate(cls: Any, body: Any, *args: Any, **kw: Any) -> Any:
        states.append(gc.isenabled())
        return original(body, *args, **kw)

    monkeypatch.setattr(models.ListFeaturesPage, "model_validate_json", classmethod(validate))
    spy = Spy.__new__(Spy)
    spy.converted = []
    _, values = await _read(Provider([_feature(n) for n in range(3)]), spy, {})
    assert states == [False]
    assert gc.isenabled()
    assert len(values) == 3
    # a page that fails validation resumes the collector too
    with pytest.raises(InvalidResponse):
        await _read(Provider([_feature(0, vlan="x")]), spy, {})
    assert states == [False, False]
    assert gc.isenabled()
