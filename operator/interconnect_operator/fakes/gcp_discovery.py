"""Check Network Connectivity v1 requests and responses against Google's discovery document.

The document is the one google-api-python-client ships
(``googleapiclient/discovery_cache/documents/networkconnectivity.v1.json``),
read from the installed package; nothing is copied. A body is checked against
a schema by: JSON types (``int64`` as a decimal string, ``int32`` as a number,
``google-datetime`` as RFC 3339), enums, unknown members (Google answers
"Cannot find field"), and ``readOnly`` members sent in a request (output only).
Query parameters are checked against the method's declared parameters.

Violations come back as (field path, description) pairs; descriptions never
hold values (activation keys travel in these bodies).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
from collections.abc import Mapping
from importlib import resources
from typing import Any

__all__ = [
    "DOCUMENT",
    "Violation",
    "discovery",
    "method",
    "schema",
    "validate_body",
    "validate_query",
]

DOCUMENT = "networkconnectivity.v1.json"
Violation = tuple[str, str]

_INT64 = re.compile(r"-?\d+")
_PYTHON_TYPES: dict[str, tuple[type, ...]] = {
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
}
_ARTICLE = {"integer": "an integer", "number": "a number", "boolean": "a boolean"}


@functools.cache
def discovery() -> dict[str, Any]:
    """The discovery document of the installed google-api-python-client."""
    path = resources.files("googleapiclient") / "discovery_cache" / "documents" / DOCUMENT
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return document


def schema(name: str) -> dict[str, Any]:
    """The schema ``name`` (e.g. ``Transport``); KeyError if the document lacks it."""
    found: dict[str, Any] = discovery()["schemas"][name]
    return found


@functools.cache
def _methods() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}

    def walk(resources_: Mapping[str, Any]) -> None:
        for resource in resources_.values():
            for entry in resource.get("methods", {}).values():
                found[entry["id"]] = entry
            walk(resource.get("resources", {}))

    walk(discovery()["resources"])
    return found


def method(method_id: str) -> dict[str, Any]:
    """A method by id, e.g. ``networkconnectivity.projects.locations.transports.create``."""
    return _methods()[method_id]


def validate_query(method_id: str, query: Mapping[str, list[str]]) -> list[Violation]:
    """Unknown, repeated or ill-typed query parameters of a call to ``method_id``."""
    parameters = method(method_id).get("parameters", {})
    problems: list[Violation] = []
    for name, values in query.items():
        if name in ("$alt", "alt", "prettyPrint", "fields", "key", "quotaUser", "$.xgafv"):
            continue  # standard parameters every Google API takes
        declared = parameters.get(name)
        if declared is None or declared.get("location") != "query":
            problems.append((name, "Cannot bind query parameter: no such field"))
            continue
        if len(values) > 1 and not declared.get("repeated"):
            problems.append((name, "repeated, but the parameter is not repeated"))
        for value in values:
            problems += [(name, why) for _, why in _scalar(declared, value, name, query=True)]
    return problems


def validate_body(name: str, body: Any, *, request: bool) -> list[Violation]:
    """Problems of ``body`` against schema ``name``.

    ``request``: also refuse ``readOnly`` members (the caller set an output-only field).
    """
    return _value({"$ref": name}, body, "", request=request)


def _value(spec: Mapping[str, Any], value: Any, path: str, *, request: bool) -> list[Violation]:
    if "$ref" in spec:
        spec = schema(spec["$ref"])
    kind = spec.get("type")
    if kind == "any":
        return []
    if kind == "object":
        return _object(spec, value, path, request=request)
    if kind == "array":
        if not isinstance(value, list):
            return [(path, "expected a list")]
        problems: list[Violation] = []
        for index, item in enumerate(value):
            problems += _value(spec.get("items", {}), item, f"{path}[{index}]", request=request)
        return problems
    return _scalar(spec, value, path, query=False)


def _object(spec: Mapping[str, Any], value: Any, path: str, *, request: bool) -> list[Violation]:
    if not isinstance(value, Mapping):
        return [(path, "expected an object")]
    properties: Mapping[str, Any] = spec.get("properties", {})
    additional = spec.get("additionalProperties")
    problems: list[Violation] = []
    for key, item in value.items():
        where = f"{path}.{key}" if path else key
        if key in properties:
            member = properties[key]
            if request and member.get("readOnly"):
                problems.append((where, "output only: must not be set in a request"))
                continue
            problems += _value(member, item, where, request=request)
        elif additional is not None:
            problems += _value(additional, item, where, request=request)
        elif key == "@type" and path == "":
            continue  # Any-packed messages carry their type URL
        else:
            problems.append((where, f'Unknown name "{key}": Cannot find field.'))
    return problems


def _scalar(spec: Mapping[str, Any], value: Any, path: str, *, query: bool) -> list[Violation]:
    kind = spec.get("type")
    if kind == "string":
        return _string(spec, value, path)
    if query and isinstance(value, str):
        # Query parameters arrive as text: check the text has the declared type.
        valid = {
            "integer": _INT64.fullmatch(value) is not None,
            "boolean": value in ("true", "false"),
        }.get(str(kind), True)
        return [] if valid else [(path, f"expected {_ARTICLE.get(str(kind), kind)}")]
    python_types = _PYTHON_TYPES.get(str(kind))
    if python_types is None:
        return [(path, f"unsupported schema type {kind!r}")]
    if isinstance(value, bool) != (kind == "boolean") or not isinstance(value, python_types):
        return [(path, f"expected {_ARTICLE[str(kind)]}")]
    return []


def _string(spec: Mapping[str, Any], value: Any, path: str) -> list[Violation]:
    if not isinstance(value, str):
        return [(path, "expected a string")]
    fmt = spec.get("format")
    if fmt in ("int64", "uint64") and not _INT64.fullmatch(value):
        return [(path, f"expected a decimal string ({fmt})")]
    if fmt == "google-datetime" and not _rfc3339(value):
        return [(path, "expected an RFC 3339 timestamp")]
    enum = spec.get("enum")
    if enum and value not in enum:
        return [(path, f"invalid value; one of {', '.join(enum)}")]
    return []


def _rfc3339(text: str) -> bool:
    try:
        dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return False
    return "T" in text
