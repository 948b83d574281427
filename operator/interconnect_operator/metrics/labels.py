"""Label values made safe: a value carrying a held secret is exported as `redacted`.

A label of a link's series may be masked by the operator's own secrets and by
those of the link's tenant (its namespace); every other label only by the
operator's own, so a tenant's Secret never masks or merges another team's
series or a pool's (``redaction``).
"""

from __future__ import annotations

import logging
import threading

from interconnect_operator import redaction
from interconnect_operator.metrics.names import REDACTED

logger = logging.getLogger(__name__)

# Verdicts of `safe_label`, valid for one generation of the secret registry.
# Label values repeat on every scrape (namespaces, pools, channel ids), so
# caching them keeps a scrape of hundreds of links cheap. Bounded: cleared
# when it grows past the limit.
_label_cache: dict[tuple[str, str], str] = {}
_label_cache_generation = -1
_label_cache_lock = threading.Lock()
_LABEL_CACHE_LIMIT = 100_000


def safe_label(value: str, tenant: str | None = None) -> str:
    """A label value, unless it carries a held secret (then masked).

    ``tenant``: the namespace of the link the series is about; None for a
    series that belongs to no tenant (only the operator's own secrets apply).
    """
    global _label_cache_generation
    context = tenant or redaction.OPERATOR_ONLY
    generation = redaction.generation()
    with _label_cache_lock:
        if generation != _label_cache_generation or len(_label_cache) > _LABEL_CACHE_LIMIT:
            _label_cache.clear()
            _label_cache_generation = generation
        cached = _label_cache.get((context, value))
    if cached is not None:
        return cached
    safe = value
    if redaction.contains_secret(value, context):
        # The value itself must not reach the log either.
        logger.error("refusing a secret as a metric label value; exported as %r", REDACTED)
        safe = REDACTED
    with _label_cache_lock:
        if generation == _label_cache_generation:
            _label_cache[(context, value)] = safe
    return safe


def flag(value: bool) -> float:
    return 1.0 if value else 0.0
