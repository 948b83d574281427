"""Typed errors of the provider client (status codes of P32, outcomes of P33).

Every error names the operation and, when there was a response, its status
and the server's message. Request bodies are never included: they may carry
activation keys, MD5 passwords or MACsec keys (P31). Server messages are
truncated, since a misbehaving peer could echo anything back.
"""

from __future__ import annotations

__all__ = [
    "ApiError",
    "AuthError",
    "Conflict",
    "Forbidden",
    "InvalidRequest",
    "InvalidResponse",
    "NotFound",
    "OutcomeUnknown",
    "ServerError",
    "Throttled",
    "TransportError",
    "Unauthorized",
    "UnexpectedStatus",
    "error_for_status",
]

_MAX_MESSAGE = 300


class ApiError(Exception):
    """Base of all client errors.

    ``status`` is the HTTP status, or None when no response was received.
    """

    def __init__(self, operation: str, message: str = "", status: int | None = None) -> None:
        self.operation = operation
        self.status = status
        self.message = message[:_MAX_MESSAGE]
        where = f"{operation}: HTTP {status}" if status is not None else operation
        super().__init__(f"{where}: {self.message}" if self.message else where)


class InvalidRequest(ApiError):
    """400: invalid request or refusal (P32; e.g. guidance not followed, P10)."""


class AuthError(ApiError):
    """401/403: the peer does not accept our identity or our right (P34)."""


class Unauthorized(AuthError):
    """401: missing or rejected credentials."""


class Forbidden(AuthError):
    """403: authenticated but not allowed."""


class NotFound(ApiError):
    """404: the resource does not exist."""


class Conflict(ApiError):
    """409: race, capacity, concurrent update or rule violation (P6, P10, P17, P29)."""


class Throttled(ApiError):
    """429: slow down; ``retry_after`` seconds if the server said so (P33)."""

    def __init__(
        self,
        operation: str,
        message: str = "",
        status: int | None = 429,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(operation, message, status)
        self.retry_after = retry_after


class ServerError(ApiError):
    """5xx: server fault. ``retry_after`` is set when a 503 carried one."""

    def __init__(
        self,
        operation: str,
        message: str = "",
        status: int | None = 500,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(operation, message, status)
        self.retry_after = retry_after


class InvalidResponse(ApiError):
    """A 2xx whose body is not what the spec promises (not JSON, wrong shape,
    a repeated page token). For a mutating call the request WAS applied."""


class UnexpectedStatus(ApiError):
    """Any other non-2xx status (e.g. 3xx, 405, 413)."""


class TransportError(ApiError):
    """No response: connect failure, TLS failure, or a read whose request was
    idempotent. For a mutating call that may have been applied, see
    :class:`OutcomeUnknown`."""


class OutcomeUnknown(TransportError):
    """A POST/PATCH/DELETE was sent but no response came back (timeout after
    send, connection dropped). The peer may or may not have applied it: the
    caller must read the resource before retrying, with the same ids and body
    (P33)."""


def error_for_status(
    operation: str, status: int, message: str, retry_after: float | None = None
) -> ApiError:
    """The typed error for a non-2xx ``status`` (P32)."""
    if status == 400:
        return InvalidRequest(operation, message, status)
    if status == 401:
        return Unauthorized(operation, message, status)
    if status == 403:
        return Forbidden(operation, message, status)
    if status == 404:
        return NotFound(operation, message, status)
    if status == 409:
        return Conflict(operation, message, status)
    if status == 429:
        return Throttled(operation, message, status, retry_after)
    if status >= 500:
        return ServerError(operation, message, status, retry_after)
    return UnexpectedStatus(operation, message, status)
