"""Label values made safe: a value carrying a registered secret is exported as `redacted`."""

from __future__ import annotations

import logging
import threading

from interconnect_operator.logging_setup import contains_secret, secrets_generation
from interconnect_operator.metrics.names import REDACTED

logger = logging.getLogger(__name__)

# Verdicts of `_label`, valid for one generation of the secret registry.
# Label values repeat on every scrape (namespaces, pools, channel ids), so
# caching them keeps a scrape of hundreds of links cheap even with a
# thousand registered secrets. Bounded: cleared when it grows past the limit.
_label_cache: dict[str, str] = {}
_label_cache_generation = -1
_label_cache_lock = threading.Lock()
_LABEL_CACHE_LIMIT = 100_000


def safe_label(value: str) -> str:
    """A label value, unless it carries a registered secret (then masked)."""
    global _label_cache_generation
    generation = secrets_generation()
    with _label_cache_lock:
        if generation != _label_cache_generation or len(_label_cache) > _LABEL_CACHE_LIMIT:
            _label_cache.clear()
            _label_cache_generation = generation
        cached = _label_cache.get(value)
    if cached is not None:
        return cached
    safe = value
    if contains_secret(value):
        # The value itself must not reach the log either.
        logger.error("refusing a secret as a metric label value; exported as %r", REDACTED)
        safe = REDACTED
    with _label_cache_lock:
        if generation == _label_cache_generation:
            _label_cache[value] = safe
    return safe


def flag(value: bool) -> float:
    return 1.0 if value else 0.0
