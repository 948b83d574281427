"""Digested list pages (api.base_client ``_digested_pages``): the raw body of
each page is hashed before any parse, and a page whose digest the caller
already holds is reused without decoding or converting it again.

The counts come from spies on the page model's validation and on the
caller's conversion, so a reader that decoded an unchanged page would fail.
Every other property of a list call holds on this path too: typed errors,
P33 retries, the repeated-token guard and MAX_PAGES.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from interconnect_operator.api import models
from interconnect_operator.api.base_client import (
    MAX_PAGES,
    DigestedPage,
    page_digest,
)
from interconnect_operator.api.client import ProviderClient
from interconnect_operator.api.errors import Forbidden, InvalidResponse
from interconnect_operator.api.pages import CONVERT_SLICE
from tests.unit.api.conftest import Peer
from tests.unit.api.samples import IC

Pages = dict[bytes, DigestedPage[tuple[str, ...]]]


def _connection(n: int) -> dict[str, Any]:
    return {"name": f"{IC}/connections/c{n}", "bandwidthMbps": 1000}


def _body(items: list[int], token: str | None = None) -> bytes:
    document: dict[str, Any] = {"connections": [_connection(n) for n in items]}
    if token:
        document["nextPageToken"] = token
    return json.dumps(document).encode()


class Spies:
    """Counts page-model validations and conversions."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.validated = 0
        self.converted = 0
        original = models.ListConnectionsResponse.model_validate_json

        def counting(
            cls: type[models.ListConnectionsResponse], *args: Any, **kwargs: Any
        ) -> models.ListConnectionsResponse:
            self.validated += 1
            return original(*args, **kwargs)

        monkeypatch.setattr(
            models.ListConnectionsResponse, "model_validate_json", classmethod(counting)
        )

    def convert(self, page: models.ListConnectionsResponse) -> tuple[str, ...]:
        self.converted += 1
        return tuple(c.name or "" for c in page.connections or ())


async def _read(client: ProviderClient, spies: Spies, known: Pages) -> list[DigestedPage[Any]]:
    return [page async for page in client.connection_pages("e", "i", spies.convert, known)]


def _serve(peer: Peer, *bodies: bytes) -> None:
    for body in bodies:
        peer.replies.append(httpx.Response(200, content=body))


async def test_an_unchanged_page_is_neither_decoded_nor_converted_again(
    client: ProviderClient, peer: Peer, monkeypatch: pytest.MonkeyPatch
) -> None:
    spies = Spies(monkeypatch)
    first, second = _body([1, 2], "t1"), _body([3])
    _serve(peer, first, second)
    pages = await _read(client, spies, {})
    assert [p.items for p in pages] == [(f"{IC}/connections/c1", f"{IC}/connections/c2"),
                                        (f"{IC}/connections/c3",)]  # fmt: skip
    assert [p.digest for p in pages] == [page_digest(first), page_digest(second)]
    assert [p.next_page_token for p in pages] == ["t1", None]
    assert (spies.validated, spies.converted) == (2, 2)

    _serve(peer, first, second)
    again = await _read(client, spies, {p.digest: p for p in pages})
    assert again == pages
    assert all(a is b for a, b in zip(again, pages, strict=True))  # the held entries
    assert (spies.validated, spies.converted) == (2, 2)  # nothing decoded the second time
    # The cached token is still followed: page 2 was asked for with it.
    assert peer.requests[-1].url.params["pageToken"] == "t1"


async def test_a_changed_page_is_decoded_and_only_that_one(
    client: ProviderClient, peer: Peer, monkeypatch: pytest.MonkeyPatch
) -> None:
    spies = Spies(monkeypatch)
    _serve(peer, _body([1, 2], "t1"), _body([3]))
    pages = await _read(client, spies, {})
    _serve(peer, _body([1, 2], "t1"), _body([3, 4]))
    again = await _read(client, spies, {p.digest: p for p in pages})
    assert again[0] is pages[0]
    assert again[1].items == (f"{IC}/connections/c3", f"{IC}/connections/c4")
    assert (spies.validated, spies.converted) == (3, 3)


async def test_a_page_that_moved_to_another_position_and_token_is_reused(
    client: ProviderClient, peer: Peer, monkeypatch: pytest.MonkeyPatch
) -> None:
    spies = Spies(monkeypatch)
    p, q = _body([1, 2], "after-2"), _body([3])
    _serve(peer, p, q)
    pages = await _read(client, spies, {})
    # A new first page pushes P to the second position, reached with another token.
    n = _body([0], "after-0")
    _serve(peer, n, p, q)
    again = await _read(client, spies, {x.digest: x for x in pages})
    assert [x.items[0] for x in again] == [f"{IC}/connections/c{i}" for i in (0, 1, 3)]
    assert again[1] is pages[0]
    assert again[2] is pages[1]
    assert (spies.validated, spies.converted) == (3, 3)  # only the new page
    tokens = [r.url.params.get("pageToken") for r in peer.requests[-3:]]
    assert tokens == [None, "after-0", "after-2"]


async def test_an_unknown_page_that_does_not_parse_is_an_invalid_response(
    client: ProviderClient, peer: Peer, monkeypatch: pytest.MonkeyPatch
) -> None:
    spies = Spies(monkeypatch)
    _serve(peer, b"{not json")
    with pytest.raises(InvalidResponse, match="not JSON"):
        await _read(client, spies, {})
    assert spies.converted == 0


async def test_errors_and_retries_are_those_of_every_list(
    client: ProviderClient, peer: Peer, monkeypatch: pytest.MonkeyPatch
) -> None:
    spies = Spies(monkeypatch)
    body = _body([1])
    _serve(peer, body)
    known = {p.digest: p for p in await _read(client, spies, {})}
    # P33: a 503 on a read is retried; the answer after it is the held page.
    peer.reply(503, {"error": {"message": "busy"}})
    _serve(peer, body)
    again = await _read(client, spies, known)
    assert again == list(known.values())
    assert spies.validated == 1
    # A refusal is a typed error, even when the page would have been known.
    peer.reply(403, {"error": {"message": "no"}})
    with pytest.raises(Forbidden):
        await _read(client, spies, known)


async def test_a_held_page_that_repeats_its_token_is_cut_off(
    client: ProviderClient, peer: Peer, monkeypatch: pytest.MonkeyPatch
) -> None:
    spies = Spies(monkeypatch)
    looping = _body([1], "same")
    _serve(peer, looping)
    peer.replies.append(httpx.Response(200, content=_body([2])))
    known = {p.digest: p for p in await _read(client, spies, {})}
    _serve(peer, looping, looping)
    with pytest.raises(InvalidResponse, match="token repeated"):
        await _read(client, spies, known)


async def test_a_list_of_held_pages_that_never_ends_is_cut_off(
    make_client: Callable[..., ProviderClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    spies = Spies(monkeypatch)
    served = [0]

    def handler(request: httpx.Request) -> httpx.Response:
        served[0] += 1
        return httpx.Response(200, content=_body([], f"t{served[0]}"))

    async with make_client(transport=httpx.MockTransport(handler)) as client:
        with pytest.raises(InvalidResponse, match="pages"):
            await _read(client, spies, {})
    assert served[0] == MAX_PAGES


async def test_the_loop_gets_a_turn_between_pages(
    client: ProviderClient, peer: Peer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A scripted peer answers without ever suspending: only the reader's own
    yields let another task (a link step) run while the pages are read."""
    spies = Spies(monkeypatch)
    bodies = [_body([n], f"t{n}") for n in range(9)] + [_body([9])]
    _serve(peer, *bodies)
    seen: list[int] = []
    done = asyncio.Event()

    async def other_task() -> None:
        while not done.is_set():
            seen.append(spies.converted)
            await asyncio.sleep(0)

    ticker = asyncio.create_task(other_task())
    await asyncio.sleep(0)
    try:
        pages = await _read(client, spies, {})
    finally:
        done.set()
        await ticker
    assert len(pages) == 10
    # The other task ran while pages 1..9 were being read, not only before or after.
    assert len({n for n in seen if 0 < n < 10}) >= 8


async def test_the_loop_gets_turns_while_a_large_page_is_converted(
    client: ProviderClient, peer: Peer
) -> None:
    _serve(peer, _body(list(range(4 * CONVERT_SLICE))))
    converted: list[int] = [0]
    seen: list[int] = []
    done = asyncio.Event()

    def convert(page: models.ListConnectionsResponse) -> Iterator[str]:
        for connection in page.connections or ():
            converted[0] += 1
            yield connection.name or ""

    async def other_task() -> None:
        while not done.is_set():
            seen.append(converted[0])
            await asyncio.sleep(0)

    ticker = asyncio.create_task(other_task())
    await asyncio.sleep(0)
    try:
        pages = [page async for page in client.connection_pages("e", "i", convert, {})]
    finally:
        done.set()
        await ticker
    assert len(pages[0].items) == 4 * CONVERT_SLICE
    # Turns in the middle of the one page's conversion, not only around it.
    assert {n for n in seen if 0 < n < 4 * CONVERT_SLICE} == {
        CONVERT_SLICE,
        2 * CONVERT_SLICE,
        3 * CONVERT_SLICE,
    }
