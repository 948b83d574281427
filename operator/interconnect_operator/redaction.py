"""The secret values the operator must never show, and literal masking of them.

Secrets travel as pydantic ``SecretStr`` and are never formatted; this
registry is the second line of defence (P31) for logs, metric labels, status
messages, conditions and Events.

Every value is *held* by an owner (``hold(owner, values, scope)``): a pool's
credentials, one Secret reference of one link, an issued activation key, an
OAuth token, a MACsec key. Holding again replaces that owner's values, and a
value is forgotten once no owner holds it (``release``), so the registry
follows what is in use and cannot grow with history.

A value has a scope: ``None`` for what the operator itself holds (pool
credentials, keys and tokens it obtained: masked everywhere), or the
namespace of the tenant whose Secret it came from. A tenant's value masks
only text that belongs to that tenant (a record or status of its links) and
text that belongs to no tenant; never another tenant's text, and never a
label of a series that is not the tenant's, so a Secret holding a common
word cannot hide other teams' lines or merge their metric series.

Matching is literal: values are indexed by their first
``MIN_SECRET_LENGTH`` characters and then by length, and a text is scanned
once (one dictionary look-up per position, one set look-up per held length
where a prefix occurs), whatever the number of values. Values that share a
prefix cost no more: every encoded activation key begins with the same base64
of ``{"``, and a tuple of them re-sorted per hold cost ~600 us per hold and
release with 10,000 keys held (~7 us now). Nothing is compiled, so a change
never blocks the event loop.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Iterable
from typing import Protocol

__all__ = [
    "ANYWHERE",
    "MASK",
    "MIN_SECRET_LENGTH",
    "OPERATOR_ONLY",
    "clear",
    "contains_secret",
    "current_tenant",
    "generation",
    "hold",
    "redact",
    "release",
    "release_prefix",
]

#: What a masked secret looks like in output.
MASK = "***"

#: Shorter values are not held: masking a short word would mangle unrelated
#: text and reveal more than it hides. Keys, passwords and tokens are longer.
MIN_SECRET_LENGTH = 8
#: Most answers kept between changes of what is held.
MEMO_SIZE = 1 << 16

#: Context of text that belongs to no tenant: every held value masks it.
ANYWHERE = "*"
#: Context of text only the operator's own values may mask (e.g. a pool label).
OPERATOR_ONLY = ""

#: The tenant (namespace) whose link the running task works on, if any: log
#: records emitted meanwhile belong to it (``logging_setup.RedactSecrets``).
current_tenant: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "interconnect_tenant", default=None
)


class _HasSecretValue(Protocol):
    """Duck type of pydantic's SecretStr (avoids importing pydantic here)."""

    def get_secret_value(self) -> str: ...


Value = str | _HasSecretValue | None


class _Registry:
    """Thread-safe: the metrics server thread reads while the event loop writes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: dict[str, tuple[str | None, frozenset[str]]] = {}
        self._holders: dict[str, dict[str, str | None]] = {}
        # Held values by their first MIN_SECRET_LENGTH characters, then by length;
        # and each prefix's lengths, longest first. Values sharing a prefix (every
        # encoded activation key starts with the same base64 of ``{"``) are one
        # set look-up per length, not a walk over all of them: holding, dropping
        # and scanning cost the same at 10 values as at 10,000.
        self._by_prefix: dict[str, dict[int, set[str]]] = {}
        self._lengths: dict[str, tuple[int, ...]] = {}
        self.generation = 0
        # Answers of ``spans`` while nothing held changes: a steady operator masks
        # the same status strings of every link again and again.
        self._memo: dict[tuple[str, str], tuple[tuple[int, int], ...]] = {}
        self._memo_generation = 0

    def hold(self, owner: str, values: frozenset[str], scope: str | None) -> None:
        with self._lock:
            old = self._held.get(owner)
            if old == (scope, values):
                return
            if old is not None:
                for value in old[1]:
                    self._drop(owner, value)
            if values:
                self._held[owner] = (scope, values)
            else:
                self._held.pop(owner, None)
            for value in values:
                holders = self._holders.setdefault(value, {})
                if not holders:
                    self._index(value)
                holders[owner] = scope
            self.generation += 1

    def release(self, owner: str) -> None:
        with self._lock:
            old = self._held.pop(owner, None)
            if old is None:
                return
            for value in old[1]:
                self._drop(owner, value)
            self.generation += 1

    def owners(self, prefix: str) -> list[str]:
        with self._lock:
            return [owner for owner in self._held if owner.startswith(prefix)]

    def clear(self) -> None:
        with self._lock:
            self._held.clear()
            self._holders.clear()
            self._by_prefix.clear()
            self._lengths.clear()
            self.generation += 1

    def spans(self, text: str, context: str) -> list[tuple[int, int]]:
        """Where held values that may mask text of ``context`` occur (longest first)."""
        with self._lock:
            if not self._by_prefix or len(text) < MIN_SECRET_LENGTH:
                return []
            if self._memo_generation != self.generation or len(self._memo) >= MEMO_SIZE:
                self._memo.clear()
                self._memo_generation = self.generation
            remembered = self._memo.get((text, context))
            if remembered is not None:
                return list(remembered)
            found = self._scan(text, context)
            self._memo[(text, context)] = tuple(found)
            return found

    def _scan(self, text: str, context: str) -> list[tuple[int, int]]:
        """``spans`` without the memo (the lock held)."""
        found: list[tuple[int, int]] = []
        i, end = 0, len(text) - MIN_SECRET_LENGTH + 1
        while i < end:
            prefix = text[i : i + MIN_SECRET_LENGTH]
            lengths = self._lengths.get(prefix)
            hit = None
            if lengths is not None:
                by_length = self._by_prefix[prefix]
                for length in lengths:  # longest first: a value containing another wins
                    candidate = text[i : i + length]
                    if (
                        len(candidate) == length
                        and candidate in by_length[length]
                        and self._applies(candidate, context)
                    ):
                        hit = candidate
                        break
            if hit is None:
                i += 1
                continue
            found.append((i, i + len(hit)))
            i += len(hit)
        return found

    def _applies(self, value: str, context: str) -> bool:
        scopes = self._holders[value].values()
        if None in scopes or context == ANYWHERE:
            return True
        return context != OPERATOR_ONLY and context in scopes

    def _index(self, value: str) -> None:
        prefix = value[:MIN_SECRET_LENGTH]
        by_length = self._by_prefix.setdefault(prefix, {})
        same = by_length.get(len(value))
        if same is None:
            by_length[len(value)] = {value}
            # Longest first: a value that contains another one is masked whole.
            self._lengths[prefix] = tuple(sorted(by_length, reverse=True))
        else:
            same.add(value)

    def _drop(self, owner: str, value: str) -> None:
        holders = self._holders.get(value)
        if holders is None:
            return
        holders.pop(owner, None)
        if holders:
            return
        del self._holders[value]
        prefix = value[:MIN_SECRET_LENGTH]
        by_length = self._by_prefix.get(prefix)
        if by_length is None:
            return
        same = by_length.get(len(value))
        if same is None:
            return
        same.discard(value)
        if same:
            return
        del by_length[len(value)]
        if by_length:
            self._lengths[prefix] = tuple(sorted(by_length, reverse=True))
        else:
            del self._by_prefix[prefix]
            del self._lengths[prefix]


_REGISTRY = _Registry()


def _raw(value: Value) -> list[str]:
    if value is None:
        return []
    raw = value if isinstance(value, str) else value.get_secret_value()
    # Values read from files often carry a trailing newline stripped before use.
    return [v for v in {raw, raw.strip()} if len(v) >= MIN_SECRET_LENGTH]


def hold(owner: str, values: Iterable[Value], scope: str | None = None) -> None:
    """``owner`` now holds exactly ``values`` (replacing what it held before).

    ``scope``: None for the operator's own secrets (masked everywhere), or the
    tenant namespace the values came from. Values shorter than
    ``MIN_SECRET_LENGTH`` are not held.
    """
    raw = frozenset(v for value in values for v in _raw(value))
    _REGISTRY.hold(owner, raw, scope)


def release(owner: str) -> None:
    """``owner`` holds nothing any more; values nobody else holds are forgotten."""
    _REGISTRY.release(owner)


def release_prefix(prefix: str) -> None:
    """Release every owner whose name starts with ``prefix`` (e.g. a deleted link's)."""
    for owner in _REGISTRY.owners(prefix):
        _REGISTRY.release(owner)


def clear() -> None:
    """Forget every value (tests use this for isolation)."""
    _REGISTRY.clear()


def generation() -> int:
    """A number that changes whenever the held values change."""
    return _REGISTRY.generation


def redact(text: str, context: str = ANYWHERE) -> str:
    """``text`` with every held value that may mask text of ``context`` replaced by MASK.

    ``context``: a tenant namespace, ``ANYWHERE`` (text of no tenant) or
    ``OPERATOR_ONLY``.
    """
    spans = _REGISTRY.spans(text, context)
    if not spans:
        return text
    pieces: list[str] = []
    last = 0
    for start, stop in spans:
        pieces += [text[last:start], MASK]
        last = stop
    pieces.append(text[last:])
    return "".join(pieces)


def contains_secret(text: str, context: str = ANYWHERE) -> bool:
    """True when ``text`` holds a value that may mask text of ``context``."""
    return bool(_REGISTRY.spans(text, context))
