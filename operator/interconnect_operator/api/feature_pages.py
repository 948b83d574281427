"""ListFeatures pages read item by item: only items whose bytes changed are validated.

In a burst every wildcard features page of an interconnect changes (a page
holds 1,000 features, a bring-up changes a few of them), so the digest of
a whole page (``base_client.page_digest``) rarely matches and every page was
validated and converted in full: ~48 % of the operator's CPU in the tail of
a 10,000-link burst. Here a changed page is parsed once into plain JSON
values (the envelope, ``models.ListFeaturesEnvelope``), each item is
serialized back to compact JSON and digested, and only the items whose
digest the caller's previous read did not hold are validated, all of them in
one pass with the rules of ``models.ListFeaturesPage`` (one body of just
those items), and converted. An item whose digest was held is what the
previous read converted from the same value.

Validation stays exactly as strict: an item the caller uses was validated
once with ``ListFeaturesPage``'s rules, on a value equal to this one (equal
JSON, equal result: validation is a pure function of the value), and a
changed item that fails is the whole page failing, as before
(:class:`~.errors.InvalidResponse` naming the item's place in the page).
What is kept per item is a 16-byte digest next to the converted entry in
the caller's pages, not the raw item.

A first read of a list (a restart) has nothing to compare with: its pages
are validated whole, as before, and their items keep no digest; the first
change of such a page validates all its items once and digests them.

Micro-benchmark, one side at the N=10,000 shape (10 interconnects x 1,000
connections x 4 features, 40 pages; changed items spread over every page;
CPU ms, back to back with the whole-page decoding, loaded machine): 1 %
changed 1,250 -> 600, 10 % 1,270 -> 720, every item 1,740 -> 2,350 (the
parse and digests on top of validating all), first read ~2,000 alike, the
first change after it 1,160 -> 1,890 (once per page). Pausing the cyclic
collector while a page is parsed and digested is most of the gain: with it
running, a page's parse cost ~50 ms instead of ~8 ms.

Conversion (``convert``, into the reader's records) runs a slice of
``pages.CONVERT_SLICE`` items at a time with the collector paused as well,
each slice whole before the walk takes its first item (the walk turns the
loop between slices, never while paused). A restart's first refresh
converts every item, and the records are long-lived: collected while being
made they were traversed again and again by passes that free nothing.
A first read's whole-page validation is paused alike. Conversion alone at
the N=10,000 shape (40,000 features, distinct subnets; best of 6-8,
loaded machine): 17.7-21.2 -> 11.4 us per feature with the collector
paused (22.2-23.5 before, with the stdlib's text parse of subnets). One
side's whole first read at that shape (``bench/refresh.py``'s reader, 40
features pages and 10 connections pages, interleaved runs): collections
gen0/gen1/gen2 849/77/6 -> 274/24/2, the longest a full pass held the loop
636 -> 379 ms (loaded machine), CPU best 1,778 -> 1,368 ms (median of 4
2,237 -> 1,677).
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
from collections.abc import AsyncGenerator, Callable, Iterator, Mapping, Sequence
from typing import TypeVar

import httpx
from pydantic import ValidationError
from pydantic_core import from_json, to_json

from interconnect_operator.api.base_client import BaseProviderClient, DigestedPage
from interconnect_operator.api.errors import InvalidResponse
from interconnect_operator.api.models import FeatureItem, ListFeaturesEnvelope, ListFeaturesPage
from interconnect_operator.api.pages import CONVERT_SLICE, digested_pages

__all__ = ["ITEM_DIGEST_SIZE", "FeatureEntry", "feature_entry_pages", "validate_items"]

ConvertedT = TypeVar("ConvertedT")

ITEM_DIGEST_SIZE = 16
"""Bytes of an item's digest (BLAKE2b). Only the provider that serves the
items chooses their bytes, and a collision would only make one of its items
read as another one it served and that was validated."""

OPERATION = "ListFeatures"
NO_DIGEST = b""
"""The digest of an item read by a first read (never held: validated again on a change)."""

FeatureEntry = tuple[bytes, ConvertedT | None]
"""One listed feature as a reader keeps it: its item digest and what it was
converted into (None: the converter skipped it)."""


def validate_items(blobs: Sequence[bytes], places: Sequence[int], status: int) -> list[FeatureItem]:
    """Validate features (compact JSON, ``blobs``) with ``ListFeaturesPage``'s
    rules in one pass; ``places``: each one's index in its page, named by the
    error when one fails (locations only: values could be secrets)."""
    body = b'{"features":[' + b",".join(blobs) + b"]}"
    try:
        with collector_paused():  # as in _digest_items: no pass over the heap mid-validation
            page = ListFeaturesPage.model_validate_json(body)
    except ValidationError as error:
        where = ", ".join(sorted({_place(e["loc"], places) for e in error.errors()}))
        raise InvalidResponse(OPERATION, f"unexpected body shape at {where}", status) from None
    return page.features or []


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """The cyclic collector off for the block, back on after it if it was on."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


def _place(loc: tuple[int | str, ...], places: Sequence[int]) -> str:
    parts = list(loc)
    if len(parts) > 1 and isinstance(parts[1], int) and 0 <= parts[1] < len(places):
        parts[1] = places[parts[1]]
    return ".".join(str(p) for p in parts) or "<root>"


def parse_envelope(response: httpx.Response) -> ListFeaturesEnvelope:
    """The page's envelope, its items as JSON values; errors as
    ``BaseProviderClient._parse`` reports them (parsed by pydantic-core's JSON
    parser first: about half the cost of validating into ``list[Any]``).

    Only keys go through the parser's cache of short strings: a page's values
    are nearly all distinct (names, subnets, BGP hosts), so looking each up
    gains nothing, and the parsed values are serialized again and dropped
    (``_compact``). 20 pages of 1,000 features at the N=10,000 shape, two
    runs of interleaved rounds (loaded machine), us per feature: the parse
    alone best 3.84-3.92 -> 3.19-3.56, median 5.70-7.72 -> 5.02-5.93; a changed
    page's parse, compact items and digests (``_digest_items``) best
    7.26-7.72 -> 4.43-5.64, median 10.25-10.59 -> 8.96-9.72."""
    raw = response.content
    if not raw.strip():
        return ListFeaturesEnvelope()
    try:
        value = from_json(raw, cache_strings="keys")
    except ValueError:
        raise InvalidResponse(OPERATION, "body is not JSON", response.status_code) from None
    try:
        return ListFeaturesEnvelope.model_validate(value)
    except ValidationError as error:
        where = ", ".join(sorted({_place(e["loc"], ()) for e in error.errors()}))
        raise InvalidResponse(
            OPERATION, f"unexpected body shape at {where}", response.status_code
        ) from None


def _compact(items: Sequence[object], status: int) -> list[bytes]:
    """Each item as compact JSON (what is digested and, when new, validated)."""
    try:
        return [to_json(item) for item in items]
    except ValueError:  # e.g. a lone surrogate: refused, never taken unvalidated
        raise InvalidResponse(OPERATION, "unexpected body shape at features", status) from None


def _digest_items(response: httpx.Response) -> tuple[str | None, list[bytes], list[bytes]]:
    """The page's next token, its items as compact JSON, and their digests.

    The cyclic collector is paused meanwhile: the ~10 containers per item
    the parse creates are garbage once digested (freed by reference count
    before it resumes), but collected while alive they were promoted and
    made the collector's full passes over the operator's whole heap come
    more often (at N=10,000 most of a changed page's cost in a burst)."""
    with collector_paused():
        envelope = parse_envelope(response)
        blobs = _compact(envelope.features or (), response.status_code)
        token = envelope.next_page_token
        del envelope
    return token, blobs, [hashlib.blake2b(b, digest_size=ITEM_DIGEST_SIZE).digest() for b in blobs]


_Decoded = tuple[str | None, list[bytes], dict[int, FeatureItem]]
"""A changed page: its next token, item digests and the validated new items by place."""


def feature_entry_pages(
    client: BaseProviderClient,
    ids: Mapping[str, str],
    convert: Callable[[FeatureItem], ConvertedT | None],
    known: Mapping[bytes, DigestedPage[FeatureEntry[ConvertedT]]],
    *,
    page_size: int | None = None,
) -> AsyncGenerator[DigestedPage[FeatureEntry[ConvertedT]], None]:
    """All pages of a ListFeatures list (``pages.digested_pages``: a page in
    ``known``, by its body's digest, is reused whole); any other is read item
    by item against the items of ``known``'s pages (module docstring)."""
    held: dict[bytes, ConvertedT | None] | None = None

    def decode(response: httpx.Response) -> _Decoded:
        nonlocal held
        if not known:
            # A first read (a restart, a new list): nothing to compare with, so
            # the page is validated whole as before and its items keep no
            # digest; the first change of the page digests them.
            with collector_paused():  # as in validate_items
                page = client._parse(OPERATION, response, ListFeaturesPage)
            items = page.features or []
            return page.next_page_token, [NO_DIGEST] * len(items), dict(enumerate(items))
        if held is None:
            held = {d: c for page in known.values() for d, c in page.items if d}
        token, blobs, digests = _digest_items(response)
        places = [i for i, d in enumerate(digests) if d not in held]
        fresh: dict[int, FeatureItem] = {}
        if places:
            validated = validate_items([blobs[i] for i in places], places, response.status_code)
            fresh = dict(zip(places, validated, strict=True))
        return token, digests, fresh

    def entries(
        digests: list[bytes], fresh: dict[int, FeatureItem]
    ) -> Iterator[FeatureEntry[ConvertedT]]:
        for start in range(0, len(digests), CONVERT_SLICE):
            yield from converted_slice(digests, fresh, start)

    def converted_slice(
        digests: list[bytes], fresh: dict[int, FeatureItem], start: int
    ) -> list[FeatureEntry[ConvertedT]]:
        # A slice is converted whole, with the cyclic collector paused (as in
        # _digest_items), before the walk takes its first item: the walk turns
        # the loop every CONVERT_SLICE items, so no turn runs while paused.
        with collector_paused():
            return [
                entry(item_digest, fresh.get(place))
                for place, item_digest in enumerate(digests[start : start + CONVERT_SLICE], start)
            ]

    def entry(item_digest: bytes, item: FeatureItem | None) -> FeatureEntry[ConvertedT]:
        if item is None:
            assert held is not None  # an item not fresh has its digest held
            return item_digest, held[item_digest]
        converted = convert(item)
        if held is not None:
            held[item_digest] = converted
        return item_digest, converted

    return digested_pages(
        OPERATION,
        lambda read, params: client._exchange(OPERATION, read, ids=ids, params=params or None),
        decode,
        lambda decoded: (decoded[0], entries(decoded[1], decoded[2])),
        known=known,
        page_size=page_size,
    )
