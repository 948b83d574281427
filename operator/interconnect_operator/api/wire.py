"""One provider call on the wire: what a request is built from and how an answer is read.

The request's parts (User-Agent, the requestId idempotency key and which
operations carry it, each id quoted as one path segment, the URL joined from
a base validated once), the byte bound on an answer and its bounded read, the
peer's error message, and the record of one attempt for the metrics hook.
``base_client`` puts them together into a call with its retries.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import quote, urlencode

import httpx

from interconnect_operator.api.operations import Operation

USER_AGENT = "interconnect-operator"
"""Sent with every call, so a provider's logs name the client."""

REQUEST_ID_PARAM = "requestId"
"""The draft's idempotency-key query parameter (``FeatureRecovery.md``)."""


def new_request_id() -> str:
    """A fresh requestId: a random UUID, as the draft recommends for opaque ids."""
    return str(uuid.uuid4())


def mutating(operation: Operation) -> bool:
    """Calls that change state at the peer: they carry a requestId."""
    return operation.method != "GET" and not operation.idempotent


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One HTTP attempt, as reported to the ``on_request`` hook.

    ``status_code`` is None when no response arrived; ``error`` is then the
    error class name (e.g. "OutcomeUnknown"). Bounded-cardinality fields
    only: no ids, no bodies.
    """

    provider: str
    base_url: str
    operation: str
    status_code: int | None
    error: str | None
    latency_seconds: float
    attempt: int


#: Largest response body read from a provider; larger is an InvalidResponse.
MAX_RESPONSE_BYTES = 16 * 1024 * 1024


class ResponseTooLarge(Exception):
    """A provider's answer exceeded the byte bound."""


async def read_bounded(response: httpx.Response, limit: int) -> bytes:
    """The (decoded) body of a streamed response, refusing more than ``limit`` bytes."""
    declared = response.headers.get("Content-Length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ResponseTooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > limit:
            raise ResponseTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def already_read(response: httpx.Response) -> bool:
    """Whether the transport handed over the answer read whole (``content`` set)."""
    try:
        response.content  # noqa: B018 - raises when the body is still a stream
    except httpx.ResponseNotRead:
        return False
    return True


_DOT_SEGMENTS = {".": "%2E", "..": "%2E%2E"}


@lru_cache(maxsize=512)
def segment(value: str) -> str:
    # Ids are single path segments; quote everything, including "/". An id of
    # "." or ".." is percent-encoded too: sent bare it would be a dot segment,
    # which URL normalization removes (the call would name another resource).
    # Cached: a bring-up's 14 calls name the same few ids (~1 us each to quote),
    # within seconds: one new id per link (its connection UUID) beside a few
    # constants, and at most ``workers`` (32) links in bring-up at once. 512
    # entries (~128 KiB) hold that many times over; 4,096 filled with the ids of
    # deleted links in a churn soak (~1 MiB).
    if not value:
        raise ValueError("empty resource id")
    return _DOT_SEGMENTS.get(value) or quote(value, safe="")


_UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]*")
"""Characters ``quote_plus`` leaves as they are (its always-safe set)."""


def query_string(params: Mapping[str, str]) -> str:
    """``urlencode(params)``, with names and values of unreserved characters only
    (a requestId, a connectionId, a featureId) joined as they are.

    ``urlencode`` quotes every name and value through ``quote_plus`` (~5 us for
    a create's two parameters); for these it returns them unchanged, so only a
    pair holding another character goes through it. tests/unit/api/
    test_request_building.py compares the two on arbitrary text.
    """
    parts = []
    for name, value in params.items():
        if _UNRESERVED.fullmatch(name) and _UNRESERVED.fullmatch(value):
            parts.append(f"{name}={value}")
        else:
            parts.append(urlencode({name: value}))
    return "&".join(parts)


def join_url(base: httpx.URL, path: str, query: str | None) -> httpx.URL:
    """``base`` with ``path`` appended and ``query`` set, without parsing again.

    ``httpx.URL(str)`` parses and validates the whole URL on every call (about
    a seventh of a call's CPU in the client, bench/analysis.md); the base was
    validated once, the path is the operation's template with every id quoted
    as one segment (``segment``: nothing left to normalize) and the query is
    ``urlencode``'s output, so the parts are put together as they are. The
    result equals ``httpx.URL(f"{base}{path}?{query}")`` (tests/unit/api/
    test_request_building.py checks that for hostile ids and queries).
    """
    reference = base._uri_reference._replace(path=base._uri_reference.path + path, query=query)
    url = httpx.URL.__new__(httpx.URL)
    url._uri_reference = reference
    return url


def error_message(response: httpx.Response) -> str:
    """The server's error message: Google-style ``{"error": {"message"}}``,
    a top-level ``message``, or the (truncated) text."""
    try:
        document = response.json()
    except (ValueError, UnicodeDecodeError):
        return response.text[:300]
    if isinstance(document, dict):
        inner = document.get("error")
        if isinstance(inner, dict) and isinstance(inner.get("message"), str):
            return str(inner["message"])
        if isinstance(inner, str):
            return inner
        if isinstance(document.get("message"), str):
            return str(document["message"])
    return response.text[:300]
