"""The pinned OpenAPI spec, located at run time, as a validator of responses.

The kit never carries the spec's text: it reads the directory given by
``--spec-dir`` or ``INTERCONNECT_SPEC_DIR`` (``openapi.yaml`` and the files
it references). Without it, schema checks are SKIP with that reason.

Validation covers what the spec's schemas use: ``type``, ``format``
(int32/int64 bounds, date-time), ``enum``, ``required``, ``items``,
``properties`` and ``allOf``. Unknown properties are allowed (the spec does
not close its objects, and upstream adds fields). The spec's one invalid
type, ``uint32`` (SOURCE.md beside the spec), is read as an integer in
0..2**32-1. Responses are declared only as ``default``: that schema is the
success (200) schema.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

__all__ = ["SpecUnavailable", "SpecValidator", "find_spec_dir"]

_METHODS = ("get", "put", "post", "delete", "patch")
_INT_BOUNDS = {
    "int32": (-(2**31), 2**31 - 1),
    "int64": (-(2**63), 2**63 - 1),
    "uint32": (0, 2**32 - 1),
}


class SpecUnavailable(Exception):
    """The spec directory is missing or unreadable."""


def find_spec_dir(flag: str | None) -> Path | None:
    """The spec directory from the flag, else ``INTERCONNECT_SPEC_DIR``, else None."""
    value = flag or os.environ.get("INTERCONNECT_SPEC_DIR")
    return Path(value).expanduser() if value else None


@dataclass(frozen=True, slots=True)
class _Ref:
    file: Path
    pointer: str


class SpecValidator:
    """Response schemas of every operation of the spec in ``directory``."""

    def __init__(self, directory: Path) -> None:
        root = directory / "openapi.yaml"
        if not root.is_file():
            raise SpecUnavailable(f"no openapi.yaml in {directory}")
        self._files: dict[Path, Any] = {}
        self._schemas: dict[str, tuple[Any, Path]] = {}
        try:
            document = self._load(root.resolve())
            for path_item in (document.get("paths") or {}).values():
                resolved, base = self._deref(path_item, root.resolve())
                for method in _METHODS:
                    operation = resolved.get(method)
                    if not isinstance(operation, dict):
                        continue
                    schema = self._response_schema(operation, base)
                    if schema is not None:
                        self._schemas[operation["operationId"]] = schema
        except (OSError, yaml.YAMLError, KeyError, TypeError) as error:
            raise SpecUnavailable(f"cannot read the spec in {directory}: {error}") from error
        self.directory = directory

    @property
    def operations(self) -> set[str]:
        """operationIds that declare a response schema."""
        return set(self._schemas)

    def _load(self, path: Path) -> Any:
        if path not in self._files:
            with path.open(encoding="utf-8") as handle:
                self._files[path] = yaml.safe_load(handle)
        return self._files[path]

    def _deref(self, node: Any, base: Path) -> tuple[Any, Path]:
        """Follow ``$ref`` chains; answers the node and the file it lives in."""
        seen: set[tuple[Path, str]] = set()
        while isinstance(node, dict) and "$ref" in node:
            target, _, pointer = str(node["$ref"]).partition("#")
            file = (base.parent / target).resolve() if target else base
            if (file, pointer) in seen:
                raise SpecUnavailable(f"recursive $ref {node['$ref']}")
            seen.add((file, pointer))
            resolved: Any = self._load(file)
            for part in pointer.strip("/").split("/"):
                if part:
                    resolved = resolved[part.replace("~1", "/").replace("~0", "~")]
            node, base = resolved, file
        return node, base

    def _response_schema(self, operation: dict[str, Any], base: Path) -> tuple[Any, Path] | None:
        responses = operation.get("responses") or {}
        response = responses.get("200") or responses.get("default")
        if response is None:
            return None
        response, base = self._deref(response, base)
        content = (response.get("content") or {}).get("application/json") or {}
        if "schema" not in content:
            return None
        return content["schema"], base

    def validate(self, operation_id: str, document: Any) -> list[str]:
        """Problems of ``document`` as a 200 response of ``operation_id`` (empty: valid)."""
        entry = self._schemas.get(operation_id)
        if entry is None:
            return []
        problems: list[str] = []
        self._check(entry[0], entry[1], document, where="$", out=problems, depth=0)
        return problems

    # Long on purpose: one branch per JSON Schema keyword.
    def _check(  # noqa: PLR0912
        self, schema: Any, base: Path, value: Any, *, where: str, out: list[str], depth: int
    ) -> None:
        if depth > 40 or len(out) >= 20:
            return
        schema, base = self._deref(schema, base)
        if not isinstance(schema, dict):
            return
        for part in schema.get("allOf") or ():
            self._check(part, base, value, where=where, out=out, depth=depth + 1)
        kind = schema.get("type")
        if "enum" in schema and value not in schema["enum"]:
            out.append(f"{where}: {value!r} is not one of the enum's values")
            return
        if kind is None:
            return
        if not _type_ok(kind, value):
            out.append(f"{where}: expected {kind}, got {type(value).__name__}")
            return
        fmt = schema.get("format")
        if kind in ("integer", "uint32"):
            low, high = _INT_BOUNDS.get("uint32" if kind == "uint32" else str(fmt), (None, None))
            if low is not None and high is not None and not low <= value <= high:
                out.append(f"{where}: {value} is outside {fmt or kind}")
        elif kind == "string" and fmt == "date-time" and not _is_datetime(value):
            out.append(f"{where}: {value!r} is not an RFC 3339 date-time")
        elif kind == "array":
            for index, item in enumerate(value):
                self._check(
                    schema.get("items") or {},
                    base,
                    item,
                    where=f"{where}[{index}]",
                    out=out,
                    depth=depth + 1,
                )
        elif kind == "object":
            for name in schema.get("required") or ():
                if name not in value:
                    out.append(f"{where}: required property {name!r} is missing")
            properties = schema.get("properties") or {}
            for name, item in value.items():
                if name in properties:
                    self._check(
                        properties[name],
                        base,
                        item,
                        where=f"{where}.{name}",
                        out=out,
                        depth=depth + 1,
                    )


def _type_ok(kind: str, value: Any) -> bool:
    if kind in ("integer", "uint32"):
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "string":
        return isinstance(value, str)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "array":
        return isinstance(value, list)
    if kind == "object":
        return isinstance(value, dict)
    return True


def _is_datetime(value: str) -> bool:
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return "T" in value
