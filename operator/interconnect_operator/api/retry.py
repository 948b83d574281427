"""Retry policy of the provider client (P33).

Bounded retries with exponential backoff and full jitter; a server's
Retry-After is honoured as a minimum delay. What may be retried depends on
whether the call is idempotent:

- reads (and the POSTs that only read or hint: GenerateFeatureGuidance,
  NotifyConnectionStatus, NotifyMaintenance) are retried on 429, on 500, 502,
  503, 504 and on transport errors;
- mutating calls are retried only when the answer proves the request was not
  applied: 429, 503, or a failure before the request was sent (connect
  error). A mutating call whose outcome is unknown is never retried here: it
  raises OutcomeUnknown and the caller reads before retrying (P33).

400, 401, 403, 404 and 409 are never retried: they are answers, not faults.
"""

from __future__ import annotations

import email.utils
import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime

from interconnect_operator.api.errors import (
    ApiError,
    OutcomeUnknown,
    ServerError,
    Throttled,
    TransportError,
)

__all__ = ["RetryPolicy", "is_retryable", "parse_retry_after", "retry_after_of"]

_RETRYABLE_READ_STATUSES = frozenset({500, 502, 503, 504})
# 503 "Service Unavailable" means the server did not take the request on.
_RETRYABLE_WRITE_STATUSES = frozenset({503})

# Cap on a server-requested delay so a hostile or buggy peer cannot park a
# worker for hours; the elapsed budget of the policy bounds it further.
_MAX_RETRY_AFTER_S = 300.0


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Bounds and shape of the backoff.

    ``max_attempts`` counts the first try; ``max_elapsed_s`` bounds the time
    from the first try to the start of the last one (a retry whose delay would
    cross it is not made).
    """

    max_attempts: int = 5
    max_elapsed_s: float = 30.0
    base_delay_s: float = 0.2
    max_delay_s: float = 10.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.base_delay_s < 0 or self.max_delay_s < 0 or self.max_elapsed_s < 0:
            raise ValueError("delays must not be negative")

    def backoff(self, attempt: int, rng: random.Random, retry_after: float | None = None) -> float:
        """Delay before attempt ``attempt + 1`` (``attempt`` >= 1 just failed).

        Full jitter: uniform in [0, min(max, base * 2**(attempt-1))], then
        raised to the server's Retry-After if that is larger.
        """
        exponent = min(attempt - 1, 62)  # keep 2**n finite
        ceiling = min(self.max_delay_s, self.base_delay_s * math.pow(2, exponent))
        delay = rng.uniform(0.0, ceiling)
        if retry_after is not None:
            delay = max(delay, min(retry_after, _MAX_RETRY_AFTER_S))
        return delay


def is_retryable(error: ApiError, *, idempotent: bool) -> bool:
    """Whether P33 allows retrying ``error`` for a call of this kind."""
    if isinstance(error, OutcomeUnknown):
        return False
    if isinstance(error, Throttled):
        return True
    if isinstance(error, ServerError):
        statuses = _RETRYABLE_READ_STATUSES if idempotent else _RETRYABLE_WRITE_STATUSES
        return error.status in statuses
    # A plain TransportError on a mutating call means "not sent" (the client
    # raises OutcomeUnknown otherwise), so it is safe for both kinds.
    return isinstance(error, TransportError)


def retry_after_of(error: ApiError) -> float | None:
    """The server-requested minimum delay carried by ``error``, if any."""
    if isinstance(error, Throttled | ServerError):
        return error.retry_after
    return None


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP-date)."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    reference = now or datetime.now(UTC)
    return max(0.0, (when - reference).total_seconds())
