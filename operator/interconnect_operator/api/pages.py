"""List pages: how a list walk is bounded and what a bulk reader keeps of a page.

A walk starts with the page size and follows ``nextPageToken`` until the
peer ends the list; a repeated token or more than MAX_PAGES pages is an
InvalidResponse. A bulk reader keeps each page as a ``DigestedPage``: the
digest of its raw body and its converted items, so a page served again with
the same bytes is neither decoded nor converted again. ``digested_pages`` is
that walk, for every bulk list alike; what differs per list is how a page
whose digest is new is decoded and converted (``base_client``'s
``_digested_pages``: the whole page into its model; ``feature_pages``: item
by item).
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

import httpx

from interconnect_operator.api.errors import InvalidResponse
from interconnect_operator.api.lanes import bulk_turn

ItemT = TypeVar("ItemT")
ConvertedT = TypeVar("ConvertedT")
DecodedT = TypeVar("DecodedT")

CONVERT_SLICE = 250
"""Items converted between two turns of the event loop while a page is converted."""


def page_digest(body: bytes) -> bytes:
    """The digest of a raw response body (SHA-256, 32 bytes): equal bodies,
    equal pages. Computed on the bytes as read, before any parse. Collision
    resistant, so a peer cannot make one page read as another it served.

    Every page of every refresh is digested, changed or not (80 pages of ~1 MB
    per refresh at 10,000 links). OpenSSL's SHA-256 runs on the CPU's SHA
    instructions where it has them: 0.58 ms CPU per 1 MB page against BLAKE2b's
    1.18 ms (80 such pages, best of 7 interleaved rounds). Digests live only in
    memory, so the choice can change with any release."""
    return hashlib.sha256(body).digest()


@dataclass(frozen=True, slots=True)
class DigestedPage(Generic[ConvertedT]):
    """One list page as a bulk reader keeps it: the digest of its raw body,
    the token of the page after it, and what the reader converted its items into.

    A page is a pure function of its bytes, so a reader holding a page by
    its digest can reuse it wherever the same bytes come back (the same
    position, or another one after an insertion shifted the list).
    """

    digest: bytes
    next_page_token: str | None
    items: tuple[ConvertedT, ...]


#: Most pages one list call follows (a peer that never ends its list is cut off).
MAX_PAGES = 1000


def first_page(page_size: int | None) -> dict[str, str]:
    """The query of a list's first page."""
    return {"pageSize": str(page_size)} if page_size is not None else {}


def next_page(operation_id: str, token: str | None, seen: set[str], params: dict[str, str]) -> bool:
    """Put the page after ``token`` into ``params``; False at the end of the list.

    Every list walk is bounded: a peer that repeats a token would make it loop
    forever, and one that never ends its list is cut off at MAX_PAGES pages.
    """
    if not token:
        return False
    if token in seen:
        raise InvalidResponse(operation_id, "page token repeated")
    seen.add(token)
    if len(seen) >= MAX_PAGES:
        raise InvalidResponse(operation_id, f"more than {MAX_PAGES} pages")
    params["pageToken"] = token
    return True


Fetch = Callable[
    [
        Callable[[httpx.Response], "DigestedPage[ConvertedT] | tuple[bytes, DecodedT]"],
        dict[str, str],
    ],
    Awaitable["DigestedPage[ConvertedT] | tuple[bytes, DecodedT]"],
]
"""One page's call (with its retries): reads the answer with the given
function, asked with the given query (``BaseProviderClient._exchange``)."""


async def digested_pages(
    operation_id: str,
    fetch: Fetch[ConvertedT, DecodedT],
    decode: Callable[[httpx.Response], DecodedT],
    convert: Callable[[DecodedT], tuple[str | None, Iterable[ConvertedT]]],
    *,
    known: Mapping[bytes, DigestedPage[ConvertedT]],
    page_size: int | None,
) -> AsyncGenerator[DigestedPage[ConvertedT], None]:
    """All pages of a list, each with the digest of its raw body.

    A page whose digest is in ``known`` is that entry, reused: its body is
    not decoded and nothing is converted. Any other page is decoded as it is
    read (``decode``, inside the call: an unreadable page is that call's
    InvalidResponse), then converted (``convert``: the page's next token and
    its items). The event loop gets a turn between pages, after a decode and
    every CONVERT_SLICE converted items, so a large refresh does not hold it
    for its whole length. Bounds as every walk: MAX_PAGES, a repeated token
    is an error.
    """

    def digest_or_decode(
        response: httpx.Response,
    ) -> DigestedPage[ConvertedT] | tuple[bytes, DecodedT]:
        digest = page_digest(response.content)
        hit = known.get(digest)
        if hit is not None:
            return hit
        return digest, decode(response)

    params = first_page(page_size)
    seen: set[str] = set()
    while True:
        got = await fetch(digest_or_decode, dict(params))
        # Decoding and conversion of a page, and pages one after another, are
        # separate turns of the loop: a link step waiting on it runs between
        # (and a bulk read stands aside while a few links are at work: api.lanes).
        await bulk_turn()
        if isinstance(got, DigestedPage):
            page = got
        else:
            digest, decoded = got
            token, converted = convert(decoded)
            items: list[ConvertedT] = []
            for item in converted:
                items.append(item)
                if len(items) % CONVERT_SLICE == 0:
                    await bulk_turn()
            page = DigestedPage(digest, token or None, tuple(items))
        yield page
        if not next_page(operation_id, page.next_page_token, seen, params):
            return


async def collect(items: AsyncIterator[ItemT]) -> list[ItemT]:
    """Drain an async iterator into a list."""
    return [item async for item in items]
