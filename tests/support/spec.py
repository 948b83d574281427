"""The pinned Connection Coordinator spec, loaded for conformance tests.

The spec is located through ``INTERCONNECT_SPEC_DIR`` when it is set, else in
``.cache/spec/<pinned commit>/`` where ``make spec`` puts a verified copy; it is
never committed to the project. Its multi-file ``$ref``s are resolved into one
in-memory document, then its known defects (SOURCE.md beside the spec) are
mended in :func:`_mend`, the ONE place where this project departs from the
files, which are never edited:

1. ``type: uint32`` (ASNRange.start/stop, ProviderBgpConfig.asn) is not an
   OpenAPI 3.0 type: it becomes ``integer`` / ``int64`` with 0..2**32-1.
2. ``ListProvidersResponse`` declares its list as ``environments``; the
   example says ``providers``. Both properties are allowed.
3. Every response is declared only as ``default`` with the success schema,
   so a 4xx/5xx body would be checked against a success schema. The success
   schema moves to ``200`` and ``default`` becomes a generic error body.

(The ``deferConnection`` / ``deferProvisioning`` naming is a prose-only
defect: nothing to mend. ``readOnly`` fields in request bodies are kept:
openapi-core rejects them in requests, which is what the client must honour.)

Exposes :func:`validate_request`, :func:`validate_response`,
:func:`spec_operations` and :func:`spec_schemas`.
"""

from __future__ import annotations

import copy
import functools
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
HTTP_METHODS = ("get", "put", "post", "delete", "patch")

# The generic error body used for non-200 responses (mend 3): the usual
# Google-style envelope, loosely typed because the spec says nothing about it.
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "code": {"type": "integer"},
                "message": {"type": "string"},
                "status": {"type": "string"},
            },
        }
    },
}


def pinned_commit() -> str:
    """The upstream commit the spec is pinned to (``hack/spec/PIN``)."""
    for line in (REPO_ROOT / "hack" / "spec" / "PIN").read_text(encoding="utf-8").splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "commit":
            return value.strip()
    raise RuntimeError("hack/spec/PIN names no commit")


def spec_dir() -> Path:
    """Directory of the pinned spec: ``INTERCONNECT_SPEC_DIR``, else the ``make spec`` cache."""
    configured = os.environ.get("INTERCONNECT_SPEC_DIR")
    path = Path(configured) if configured else REPO_ROOT / ".cache" / "spec" / pinned_commit()
    return path.resolve()


@functools.cache
def _load_file(path: Path) -> Any:
    with path.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def _pointer(document: Any, fragment: str) -> Any:
    node = document
    for part in fragment.strip("/").split("/"):
        if part:
            node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def _resolve(node: Any, base: Path, stack: tuple[str, ...] = ()) -> Any:
    """Inline every $ref (relative file + JSON pointer) below ``node``."""
    if isinstance(node, dict):
        if "$ref" in node:
            target, _, fragment = node["$ref"].partition("#")
            file_path = (base.parent / target).resolve() if target else base
            key = f"{file_path}#{fragment}"
            if key in stack:
                raise ValueError(f"recursive $ref {key}")
            resolved = _resolve(
                copy.deepcopy(_pointer(_load_file(file_path), fragment)), file_path, (*stack, key)
            )
            siblings = {k: v for k, v in node.items() if k != "$ref"}
            if siblings and isinstance(resolved, dict):
                resolved = {**resolved, **_resolve(siblings, base, stack)}
            return resolved
        return {key: _resolve(value, base, stack) for key, value in node.items()}
    if isinstance(node, list):
        return [_resolve(item, base, stack) for item in node]
    return node


def _mend_uint32(node: Any) -> None:
    if isinstance(node, dict):
        if node.get("type") == "uint32":
            node["type"] = "integer"
            node["format"] = "int64"
            node["minimum"] = 0
            node["maximum"] = 2**32 - 1
        for value in node.values():
            _mend_uint32(value)
    elif isinstance(node, list):
        for item in node:
            _mend_uint32(item)


def _mend_list_providers(schema: dict[str, Any]) -> None:
    properties = schema.setdefault("properties", {})
    if "environments" in properties and "providers" not in properties:
        properties["providers"] = copy.deepcopy(properties["environments"])


def _mend(document: dict[str, Any], schemas: dict[str, Any]) -> None:
    """The documented defects of the pinned spec, mended in memory (see module doc)."""
    # 1. uint32
    _mend_uint32(document)
    _mend_uint32(schemas)
    # 2. ListProvidersResponse's list name, wherever the schema was inlined.
    _mend_list_providers(schemas["ListProvidersResponse"])
    for operation in _iter_operations(document):
        if operation.operation_id == "ListProviders":
            for response in operation.raw["responses"].values():
                _mend_list_providers(response["content"]["application/json"]["schema"])
    # 3. responses declared only as `default`
    for operation in _iter_operations(document):
        responses = operation.raw["responses"]
        if set(responses) == {"default"}:
            success = responses.pop("default")
            responses["200"] = success
            responses["default"] = {
                "description": "Error (mended: the spec declares errors in prose only)",
                "content": {"application/json": {"schema": copy.deepcopy(ERROR_SCHEMA)}},
            }


@dataclass(frozen=True)
class SpecOperation:
    """One operation of the (resolved, mended) spec."""

    operation_id: str
    method: str
    path: str
    raw: dict[str, Any]

    @property
    def query_parameters(self) -> dict[str, dict[str, Any]]:
        """Query parameters by name."""
        return {p["name"]: p for p in self.raw.get("parameters", []) if p.get("in") == "query"}

    @property
    def request_schema(self) -> dict[str, Any] | None:
        """JSON schema of the request body, if any."""
        body = self.raw.get("requestBody")
        if body is None:
            return None
        schema: dict[str, Any] = body["content"]["application/json"]["schema"]
        return schema


def _iter_operations(document: dict[str, Any]) -> list[SpecOperation]:
    result = []
    for path, item in document["paths"].items():
        for method in HTTP_METHODS:
            if method in item:
                op = item[method]
                result.append(SpecOperation(op["operationId"], method.upper(), path, op))
    return result


@functools.cache
def _loaded() -> tuple[dict[str, Any], dict[str, Any]]:
    root = spec_dir() / "openapi.yaml"
    if not root.is_file():
        raise FileNotFoundError(
            f"pinned spec not found at {root}: run `make spec` in {REPO_ROOT} "
            "(or set INTERCONNECT_SPEC_DIR to a copy of its connection-coordinator/ directory)"
        )
    document = _resolve(copy.deepcopy(_load_file(root)), root)
    schemas: dict[str, Any] = {}
    for schema_file in sorted((spec_dir() / "schemas").glob("*.yaml")):
        for name, schema in _load_file(schema_file).items():
            schemas[name] = _resolve(copy.deepcopy(schema), schema_file.resolve())
    _mend(document, schemas)
    return document, schemas


def spec_document() -> dict[str, Any]:
    """The resolved and mended OpenAPI document (a fresh copy)."""
    return copy.deepcopy(_loaded()[0])


def spec_operations() -> dict[str, SpecOperation]:
    """operationId -> operation, for every operation of the spec."""
    return {op.operation_id: op for op in _iter_operations(_loaded()[0])}


def spec_schemas() -> dict[str, Any]:
    """Every named schema of every schema file (resolved, mended), by name."""
    return copy.deepcopy(_loaded()[1])


@functools.cache
def _openapi() -> Any:
    from openapi_core import OpenAPI

    return OpenAPI.from_dict(_loaded()[0])


def _host_and_path(path: str) -> tuple[str, str]:
    return "http://peer.test", path


def validate_request(
    method: str,
    path: str,
    query: dict[str, Any] | None = None,
    body: Any = None,
) -> None:
    """Raise if a request does not conform to the spec (openapi-core)."""
    from openapi_core.testing import MockRequest

    host, request_path = _host_and_path(path)
    data = json.dumps(body).encode() if body is not None else None
    request = MockRequest(host, method.lower(), request_path, args=dict(query or {}), data=data)
    _openapi().validate_request(request)


def validate_response(
    method: str,
    path: str,
    status: int,
    body: Any,
    query: dict[str, Any] | None = None,
) -> None:
    """Raise if a response does not conform to the (mended) spec."""
    from openapi_core.testing import MockRequest, MockResponse

    host, request_path = _host_and_path(path)
    request = MockRequest(host, method.lower(), request_path, args=dict(query or {}))
    response = MockResponse(json.dumps(body).encode(), status_code=status)
    _openapi().validate_response(request, response)
