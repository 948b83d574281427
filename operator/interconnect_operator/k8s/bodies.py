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

An object's own values (its uid and version, a status's connection UUID and
digest, a provider's connection id) make every container holding them unique:
such a dict (``_OWN_KEYS``) and a list of such dicts are kept private like
``metadata``, not looked up, so they are not table entries nobody shares (~5
per Ready link). Decoding (``decode``) is the plain C decoder, then one walk;
a part of a private dict (an object's ``spec``, a status's ``conditions``)
whose JSON text was seen under the same key is taken whole (``_PARTS``).

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
same CPU (~240 us per link on a loaded machine). With the own values private
and the plain decode (pages of a real N=1000 bench's Ready links with their
``managedFields``, ten times over, into a ``LinkIndex``; old and new back to
back): 3,092 -> 2,608 bytes per link after a sweep (4,407 -> 2,718 before
one: the hook entered each ``managedFields`` list and each page's items in
the table), table entries 5.4 -> 0.2 per link, and 298-349 -> 191-245 us of
CPU per link to decode and index. One watch event costs ~50 us
more than before (~190 against ~140 us), the price of the lookups.
``metadata.managedFields`` (large under server-side apply, never
read) are left out.
"""

from __future__ import annotations

import gc
import json
import sys
from collections.abc import Mapping
from typing import Any

from interconnect_operator.k8s.settings import UUID_ANNOTATION

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
#: Fields whose value is one object's own (an id, a MAC): a dict holding one is
#: kept private too, never looked up (it would only be a table entry of its own;
#: ~5 per Ready link, ~430 bytes per link with their keys), and so is a list
#: holding such a dict (a status's ``providers``).
_OWN_KEYS = frozenset({"sharedConnectionUuid", "inputsDigest", "connectionId", UUID_ANNOTATION})
#: Either kind: a dict with one of these keys is not looked up.
_UNSHARED_KEYS = _PRIVATE_KEYS | _OWN_KEYS
#: Shared parts of private dicts by key and JSON text (``_part``), up to
#: ``_PARTS_MAX`` characters of text (then emptied; and at every sweep).
_PARTS: dict[tuple[str, str], Any] = {}
_PARTS_MAX = 1 << 20
#: A larger part is not kept there (one would empty it).
_PART_MAX = 1 << 14
_PARTS_SIZE = 0
_dumps = json.JSONEncoder(ensure_ascii=True, check_circular=False).encode
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
        if copy and not _UNSHARED_KEYS.isdisjoint(copy):
            return copy  # private, as ``decode`` keeps it
    elif isinstance(value, list | tuple):
        copy = [_shared(v) for v in value]
        if any(type(v) is dict and v and not _UNSHARED_KEYS.isdisjoint(v) for v in copy):
            return copy
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
    global _SWEEP_AT, _TABLE, _PARTS_SIZE
    _PARTS.clear()
    _PARTS_SIZE = 0
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
    """JSON decoded into the compact form: what ``compact_object`` makes of every
    object in it.

    Decoded by the plain C decoder, then shared in place in one bottom-up walk:
    strings are interned and every dict or list that is not private
    (``_PRIVATE_KEYS``, ``_UNSHARED_KEYS``) is looked up. Objects, their
    ``metadata``, list pages and watch events stay private; ``managedFields``
    are dropped before the walk (their field sets are never looked at). The
    collector is paused meanwhile: the decoder's fresh containers would
    otherwise set off collections over the whole heap (a LIST page of 250
    Ready links allocates ~45,000 of them).

    Measured (10,000 links at the bench's Ready link shape with their
    ``managedFields``, old and new back to back on a loaded machine): the whole
    LIST decoded and indexed in 2.0-2.2 s of CPU instead of 3.0-3.5 s with a
    Python ``object_hook`` (one call per decoded dict, ~170 per link, most of
    them ``managedFields``' field sets); one watch event 145-163 us instead of
    275-422 us. In the N=1000 burst profile ``decode`` fell from 6.3-6.4 % to
    2.4-3.4 % of the samples.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        value = json.loads(raw)
        kind = type(value)
        if kind is dict:
            return _walk(value)
        if kind is list:
            return _walk_list(value)
        return _intern(value) if kind is str else value
    finally:
        if enabled:
            gc.enable()


def _walk(obj: dict[str, Any]) -> Any:
    """A freshly decoded dict made compact in place (its children first); the
    canonical equal is returned for a dict that may be shared."""
    if not obj:
        return _EMPTY_DICT
    if next(iter(obj)).startswith(_FIELD_SET_PREFIXES):
        return obj  # a managedFields field set outside any metadata: left as it is
    if _UNSHARED_KEYS.isdisjoint(obj):
        for key, value in obj.items():
            kind = type(value)
            if kind is str:
                obj[key] = _intern(value)
            elif kind is dict:
                obj[key] = _walk(value)
            elif kind is list:
                obj[key] = _walk_list(value)
        return _canonical(obj)
    obj.pop("managedFields", None)
    for key, value in obj.items():
        kind = type(value)
        if kind is str:
            obj[key] = _intern(value)
        elif (kind is dict or kind is list) and value:
            obj[key] = _part(key, value) if key not in _PRIVATE_KEYS else _walk_any(value)
    return obj


def _walk_any(value: Any) -> Any:
    return _walk(value) if type(value) is dict else _walk_list(value)


def _part(key: str, value: dict[str, Any] | list[Any]) -> Any:
    """``_walk`` for a part of a private dict (an object's ``spec``, a status's
    ``channels``): an equal part decoded before under the same key, found by its
    JSON text, is taken without a walk (the links of a list page mostly hold
    parts equal to some other's: a walk costs ~4 us per container, the text
    ~0.2). JSON texts are equal only for values of equal types too."""
    global _PARTS_SIZE
    if not _shareable(value):
        return _walk_any(value)  # private at its top (a status, its providers): never kept here
    text = _dumps(value)
    found = _PARTS.get((key, text))
    if found is not None:
        return found
    shared = _walk_any(value)
    if _shareable(shared) and len(text) <= _PART_MAX:
        if _PARTS_SIZE + len(text) > _PARTS_MAX:
            _PARTS.clear()
            _PARTS_SIZE = 0
        _PARTS[key, text] = shared
        _PARTS_SIZE += len(text)
    return shared


def _shareable(value: dict[str, Any] | list[Any]) -> bool:
    if type(value) is dict:
        return _UNSHARED_KEYS.isdisjoint(value)
    return not any(type(v) is dict and v and not _UNSHARED_KEYS.isdisjoint(v) for v in value)


def _walk_list(items: list[Any]) -> Any:
    """``_walk`` for a list: shared unless it holds a private dict (a page's items)."""
    shared = True
    for i, value in enumerate(items):
        kind = type(value)
        if kind is str:
            items[i] = _intern(value)
        elif kind is dict:
            if value and not _UNSHARED_KEYS.isdisjoint(value):
                shared = False
            items[i] = _walk(value)
        elif kind is list:
            items[i] = _walk_list(value)
    return _canonical(items) if shared else items


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
