"""An HTTP transport that records every exchange of a run, with secrets redacted.

The kit's evidence is what went over the wire: method, path, query, status
and both bodies. Before anything is kept, JSON fields that hold secrets
(activation keys, MACsec CAK/CKN, BGP MD5 passwords, tokens) are replaced,
bodies that are not JSON are cut short, and headers are not kept at all (the
Authorization header is a credential).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx

from interconnect_operator.api.client import OPERATIONS
from interconnect_operator.conformance.results import Exchange

__all__ = ["SECRET_FIELDS", "RecordingTransport", "operation_of", "redact"]

SECRET_FIELDS = frozenset(
    {"cak", "ckn", "md5BgpPassword", "activationKey", "encodedKey", "token", "accessToken"}
)
_MAX_BODY = 4000
_REDACTED = "<redacted>"


def _redact_value(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            key: (_REDACTED if key in SECRET_FIELDS and item is not None else _redact_value(item))
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_redact_value(item) for item in value]
    return value


_NOT_JSON = object()


def _parse(raw: bytes) -> Any:
    if not raw.strip():
        return None
    try:
        return _redact_value(json.loads(raw))
    except (ValueError, UnicodeDecodeError):
        return _NOT_JSON


def redact(raw: bytes) -> str:
    """``raw`` as text fit for a report: JSON with secret fields replaced."""
    return _text(raw, _parse(raw))


def _text(raw: bytes, document: Any) -> str:
    if document is None:
        return ""
    if document is _NOT_JSON:
        # Not JSON: keep a short printable head only (it could echo anything).
        head = raw[:200].decode("utf-8", errors="replace")
        return f"<not JSON, {len(raw)} bytes> {head!r}"
    text = json.dumps(document, sort_keys=True)
    return text if len(text) <= _MAX_BODY else text[:_MAX_BODY] + "...<truncated>"


def _matches(template: str, path: str) -> bool:
    wanted = template.strip("/").split("/")
    parts = path.strip("/").split("/")
    if len(wanted) != len(parts):
        return False
    return all(w.startswith("{") or w == p for w, p in zip(wanted, parts, strict=True))


def operation_of(method: str, path: str) -> str:
    """The operationId a request addresses ("" when none does)."""
    for operation in OPERATIONS.values():
        if operation.method == method and _matches(operation.path, path):
            return operation.operation_id
    return ""


class RecordingTransport(httpx.AsyncBaseTransport):
    """Wraps a transport; hands each finished :class:`Exchange` to ``sink``."""

    def __init__(self, inner: httpx.AsyncBaseTransport, sink: Callable[[Exchange], None]) -> None:
        self._inner = inner
        self._sink = sink

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        path = request.url.path

        def exchange(status: int | None, raw: bytes, error: str | None) -> Exchange:
            document = _parse(raw)
            return Exchange(
                operation=operation_of(request.method, path),
                method=request.method,
                path=path,
                query=request.url.query.decode("ascii", errors="replace"),
                request_body=redact(body),
                status=status,
                response_body=_text(raw, document),
                error=error,
                authenticated="authorization" in request.headers,
                response_json=None if document is _NOT_JSON else document,
                response_is_json=document is not _NOT_JSON,
            )

        try:
            response = await self._inner.handle_async_request(request)
            content = await response.aread()
        except httpx.HTTPError as error:
            self._sink(exchange(None, b"", type(error).__name__))
            raise
        self._sink(exchange(response.status_code, content, None))
        headers = [
            (name, value)
            for name, value in response.headers.multi_items()
            if name.lower() not in ("content-encoding", "content-length", "transfer-encoding")
        ]
        return httpx.Response(
            response.status_code,
            headers=headers,
            content=content,
            request=request,
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self._inner.aclose()
