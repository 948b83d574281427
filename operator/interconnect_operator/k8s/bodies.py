"""Compact private copies of Kubernetes objects kept in memory.

The operator keeps the latest body of every link (and pool) between watch
events: the whole object, because its readers need most of it (the status
patch compares the whole stored status, a restart verifies the signed digest
over it, metrics are read back from it). What makes a decoded body large is
not its size but its many small containers: a Ready link's status holds ~50
dicts and lists (eleven conditions, four channels with their BGP peers and
provisioning states, two providers), most of them equal to the same part of
thousands of other links (the same condition set at the same second, the
same provisioning states, the same routing limits, the same spec).

So bodies are kept hash-consed: every string is interned, and every dict or
list of an object but the object itself and its ``metadata`` (``spec`` and
``status`` included) is looked up in a table of canonical values and replaced
by the equal one already kept, if any. A value is keyed by its items, where a
child container stands for itself by identity (it is canonical already), so
building the key is one shallow pass per container, bottom-up, while decoding
(``decode``) or copying (``compact_object``). Scalars are keyed with their
type (``1``, ``1.0`` and ``True`` are equal in Python but not in JSON).

Shared values must never be changed in place: every reader of a kept body
either reads it or replaces one of the object's keys (``body["status"] =
...``) or of its metadata (``metadata.update``), the two parts private to each
copy. Nothing in the operator mutates deeper.

Entries nobody else refers to any more (the link was deleted, its status
replaced) are dropped when the table has doubled since the last sweep
(``sys.getrefcount``: the table's own reference is the only one left), so the
table holds about what the kept bodies hold, never more than twice that, and
once more when a burst is over (``heap.HeapTrimmer`` sweeps before it trims:
a bring-up's intermediate statuses, ~4.8 KiB per link after 1,000 links went
through six statuses each, are not left for the next doubling).

Measured (10,000 links at the bench's Ready link shape, listed in pages of
500, tracemalloc of what is kept): decoded then copied with interned strings
12.7 KiB per link, decoded hash-consed (``decode``) 6.2 KiB per link, in the
same CPU (~240 us per link on a loaded machine). One watch event costs ~50 us
more than before (~190 against ~140 us), the price of the lookups.
``metadata.managedFields`` (large under server-side apply, never
read) are left out.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from typing import Any

__all__ = ["canonical_entries", "compact", "compact_object", "decode", "sweep"]

#: Canonical sub-values by key (see the module docstring).
_TABLE: dict[int, Any] = {}
#: Table size at which the next sweep runs.
_SWEEP_AT = 4096
_MIN_SWEEP = 4096

# Key markers: distinct objects that no decoded JSON value equals.
_DICT = object()
_LIST = object()
_CONTAINERS = (dict, list)

_intern = sys.intern

#: A dict with one of these keys is kept private, never shared: an object's
#: ``metadata`` (changed in place when a write's answer is taken) and what holds
#: it (an object, a list page, a watch event), and ``managedFields`` entries.
_PRIVATE_KEYS = frozenset(
    {"metadata", "uid", "resourceVersion", "items", "object", "manager", "fieldsV1"}
)
#: The one empty object every kept ``{}`` is.
_EMPTY_DICT: dict[str, Any] = {}

#: First-key prefixes of ``managedFields``' field sets (``f:spec``, ``k:{...}``, ``.``).
_FIELD_SET_PREFIXES = ("f:", "k:", "v:", "i:", ".")


def compact(value: Any) -> Any:
    """A private copy of decoded JSON with every string (keys included) interned."""
    if isinstance(value, str):
        return sys.intern(value)
    if isinstance(value, Mapping):
        return {sys.intern(str(k)): compact(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [compact(v) for v in value]
    return value


def _shared(value: Any) -> Any:
    """The canonical equal of decoded JSON ``value`` (strings interned, containers
    hash-consed); scalars other than strings are returned as they are."""
    if isinstance(value, str):
        return _intern(value)
    if isinstance(value, Mapping):
        copy: Any = {_intern(str(k)): _shared(v) for k, v in value.items()}
    elif isinstance(value, list | tuple):
        copy = [_shared(v) for v in value]
    else:
        return value
    return _canonical(copy)


def _digest(value: dict[str, Any] | list[Any], types: tuple[type, ...]) -> int:
    """The table key of a container holding containers (canonical already): its keys
    and scalars by value, its child containers by identity, every value's type too."""
    values = value.values() if type(value) is dict else value
    scalars = tuple([id(v) if type(v) in _CONTAINERS else v for v in values])
    if type(value) is dict:
        return hash((_DICT, tuple(value), scalars, types))
    return hash((_LIST, scalars, types))


def _canonical(value: Any) -> Any:
    """The kept equal of ``value`` (a dict or list, its children canonical), or
    ``value``, kept from now on.

    An entry found under the same digest is taken when it is equal and its values
    have the same types (``==`` alone finds ``1``, ``1.0`` and ``True`` equal);
    equal children are the same objects, so the comparison stops at them.
    Anything else under that digest (a hash collision) is left unshared."""
    is_dict = type(value) is dict
    if not value and is_dict:
        return _EMPTY_DICT
    values = value.values() if is_dict else value
    types = tuple(map(type, values))
    try:
        # Most containers hold scalars only: hashed in C.
        digest = hash(
            (_DICT, tuple(value.items()), types) if is_dict else (_LIST, tuple(value), types)
        )
    except TypeError:  # a child container: it stands for itself by identity
        digest = _digest(value, types)
    found = _TABLE.get(digest)
    if found is not None:
        if (
            type(found) is type(value)
            and found == value
            and tuple(map(type, found.values() if is_dict else found)) == types
        ):
            return found
        return value
    _TABLE[digest] = value
    if len(_TABLE) >= _SWEEP_AT:
        _sweep()
    return value


def _sweep() -> None:
    """Drop the entries only the table still refers to; newest first, so a container
    dropped releases its children before they are looked at. The table is then
    copied to its own size (a dict never shrinks when entries are deleted)."""
    global _SWEEP_AT, _TABLE
    before = len(_TABLE)
    for digest in reversed(list(_TABLE)):
        # 2: the table's reference and getrefcount's own argument.
        if sys.getrefcount(_TABLE[digest]) <= 2:
            del _TABLE[digest]
    if len(_TABLE) < before:
        _TABLE = dict(_TABLE)
    _SWEEP_AT = max(_MIN_SWEEP, 2 * len(_TABLE))


def sweep() -> int:
    """Drop the canonical values nothing else holds now (after a burst: the statuses
    its links went through); returns how many were dropped."""
    before = len(_TABLE)
    _sweep()
    return before - len(_TABLE)


def canonical_entries() -> int:
    """How many canonical sub-values are kept (tests and diagnostics)."""
    return len(_TABLE)


def decode(raw: bytes | str) -> Any:
    """JSON decoded straight into the compact form, in the decoder's one pass: what
    ``compact_object`` makes of every object in it, without copying anything.

    The decoder hands each object to the hook bottom-up, its children done
    already: strings are interned and lists made canonical in place, then the
    object itself is looked up. Objects, their ``metadata``, list pages and
    watch events stay private (``_PRIVATE_KEYS``); ``managedFields`` are dropped
    (their field sets are never looked up).
    """
    return json.loads(raw, object_hook=_hook)


def _hook(obj: dict[str, Any]) -> Any:
    if not obj:
        return _EMPTY_DICT
    first = next(iter(obj))
    if first.startswith(_FIELD_SET_PREFIXES):
        return obj  # a managedFields field set: dropped with its metadata
    for key, value in obj.items():
        kind = type(value)
        if kind is str:
            obj[key] = _intern(value)
        elif kind is list:
            obj[key] = _list_in_place(value)
    if not _PRIVATE_KEYS.isdisjoint(obj):
        obj.pop("managedFields", None)
        return obj
    return _canonical(obj)


def _list_in_place(items: list[Any]) -> Any:
    for i, value in enumerate(items):
        kind = type(value)
        if kind is str:
            items[i] = _intern(value)
        elif kind is list:
            items[i] = _list_in_place(value)
    return _canonical(items)


def compact_object(obj: Mapping[str, Any]) -> dict[str, Any]:
    """A compact copy of a Kubernetes object, without ``metadata.managedFields``: the
    copy and its ``metadata`` private (``metadata.update`` is how a write's answer is
    taken), everything else shared."""
    body: dict[str, Any] = {}
    for key, value in obj.items():
        name = _intern(str(key))
        if name == "metadata" and isinstance(value, Mapping):
            body[name] = {
                _intern(str(k)): _shared(v) for k, v in value.items() if k != "managedFields"
            }
        else:
            body[name] = _shared(value)
    return body
