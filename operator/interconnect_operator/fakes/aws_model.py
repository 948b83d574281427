"""Check AWS ``interconnect`` requests and responses against botocore's own service model.

The model is the one botocore ships (``botocore/data/interconnect/2022-07-26``),
loaded with botocore's loader; nothing is copied. Two passes:

1. botocore's :class:`~botocore.validate.ParamValidator`: types, required
   members, unknown members, minimum lengths and values, tagged unions;
2. what ParamValidator (and so botocore's Stubber) skips: enums, ``pattern``
   (Smithy semantics: not implicitly anchored), maximum lengths and values.

Messages name the member and the rule, never the value: activation keys are
``sensitive`` in the model and must not be echoed (P31's spirit).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

from botocore.loaders import create_loader
from botocore.model import OperationModel, ServiceModel, Shape
from botocore.validate import ParamValidator

__all__ = [
    "API_VERSION",
    "SERVICE",
    "UnknownOperation",
    "operation_model",
    "service_model",
    "validate_input",
    "validate_output",
    "validate_shape",
]

SERVICE = "interconnect"
API_VERSION = "2022-07-26"


class UnknownOperation(KeyError):
    """The X-Amz-Target names no operation of the model."""


@functools.cache
def service_model() -> ServiceModel:
    """The ``interconnect`` service model of the installed botocore (>= 1.42.89)."""
    data = create_loader().load_service_model(SERVICE, "service-2", API_VERSION)
    return ServiceModel(data, service_name=SERVICE)


def operation_model(name: str) -> OperationModel:
    """The model of operation ``name`` (e.g. ``CreateConnection``)."""
    model = service_model()
    if name not in model.operation_names:
        raise UnknownOperation(name)
    return model.operation_model(name)


def validate_input(operation: str, params: Mapping[str, Any]) -> list[str]:
    """Problems of a request body of ``operation`` (empty: valid)."""
    shape = operation_model(operation).input_shape
    return validate_shape(shape, params) if shape is not None else []


def validate_output(operation: str, body: Mapping[str, Any]) -> list[str]:
    """Problems of a response body of ``operation`` (empty: valid)."""
    shape = operation_model(operation).output_shape
    return validate_shape(shape, body) if shape is not None else []


def validate_shape(shape: Shape, value: Any) -> list[str]:
    """Both passes over ``value`` against ``shape``."""
    report = ParamValidator().validate(value, shape)
    problems = [_describe(error) for error in getattr(report, "_errors", [])]
    if report.has_errors() and not problems:  # pragma: no cover - botocore changed shape
        problems.append("invalid input")
    problems.extend(_constraints(shape, value, ""))
    return problems


def _describe(error: tuple[str, str, dict[str, Any]]) -> str:
    reason, name, extra = error
    where = name.lstrip(".") or "input"
    if reason == "missing required field":
        return f'Missing required parameter in {where}: "{extra.get("required_name")}"'
    if reason == "unknown field":
        return f'Unknown parameter in {where}: "{extra.get("unknown_param")}"'
    if reason == "invalid type":
        return f"Invalid type for parameter {where}, valid types: " + ", ".join(
            extra.get("valid_types", [])
        )
    if reason == "invalid length":
        return f"Invalid length for parameter {where}, valid min length: {extra.get('min_allowed')}"
    if reason == "invalid range":
        return f"Invalid value for parameter {where}, valid min value: {extra.get('min_allowed')}"
    if reason in ("more than one input", "empty input"):
        return f"Union {where} must have exactly one member set"
    return f"{reason} in {where}"


def _constraints(shape: Shape, value: Any, path: str) -> list[str]:
    """Enum, pattern, max length and max value: the checks ParamValidator leaves out."""
    where = path or "input"
    kind = shape.type_name
    if kind == "structure" and isinstance(value, Mapping):
        members = shape.members
        return [
            problem
            for key, item in value.items()
            if key in members and item is not None
            for problem in _constraints(members[key], item, f"{path}.{key}" if path else key)
        ]
    if kind == "list" and isinstance(value, list | tuple):
        return _list_constraints(shape, value, where)
    if kind == "map" and isinstance(value, Mapping):
        key_shape, value_shape = shape.key, shape.value
        problems: list[str] = []
        for key, item in value.items():
            problems += _constraints(key_shape, key, f"{where} key")
            problems += _constraints(value_shape, item, f"{where}[{key}]")
        return problems
    if kind == "string" and isinstance(value, str):
        return _string_limits(shape, value, where)
    if kind in ("integer", "long") and isinstance(value, int) and not isinstance(value, bool):
        limit = shape.metadata.get("max")
        if limit is not None and value > limit:
            return [f"Invalid value for {where}: at most {limit}"]
    return []


def _list_constraints(shape: Shape, value: list[Any] | tuple[Any, ...], where: str) -> list[str]:
    problems: list[str] = []
    limit = shape.metadata.get("max")
    if limit is not None and len(value) > limit:
        problems.append(f"Invalid length for {where}: at most {limit} items")
    member = shape.member
    for index, item in enumerate(value):
        problems += _constraints(member, item, f"{where}[{index}]")
    return problems


def _string_limits(shape: Shape, value: str, where: str) -> list[str]:
    meta = shape.metadata
    problems: list[str] = []
    enum = shape.enum
    if enum and value not in enum:
        problems.append(f"Invalid value for {where}: must be one of {', '.join(enum)}")
    if "max" in meta and len(value) > meta["max"]:
        problems.append(f"Invalid length for {where}: at most {meta['max']} characters")
    pattern = meta.get("pattern")
    if pattern and _compiled(pattern).search(value) is None:
        problems.append(f"Invalid value for {where}: must match the pattern {pattern}")
    return problems


@functools.cache
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)
