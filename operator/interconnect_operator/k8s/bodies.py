"""Compact private copies of Kubernetes objects kept in memory.

The operator keeps the latest body of every link (and pool) between watch
events. Most of their strings repeat across thousands of links (condition
types, reasons and messages, provider and state names, field names), so a
copy whose strings are interned costs about half the memory of the decoded
JSON (bench/REPORT.md), and the copy is cheaper than ``copy.deepcopy``.
``managedFields`` (large under server-side apply, never read) are left out.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

__all__ = ["compact", "compact_object"]


def compact(value: Any) -> Any:
    """A private copy of decoded JSON with every string (keys included) interned."""
    if isinstance(value, str):
        return sys.intern(value)
    if isinstance(value, Mapping):
        return {sys.intern(str(k)): compact(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [compact(v) for v in value]
    return value


def compact_object(obj: Mapping[str, Any]) -> dict[str, Any]:
    """``compact`` of a Kubernetes object, without ``metadata.managedFields``."""
    body: dict[str, Any] = {sys.intern(k): compact(v) for k, v in obj.items() if k != "metadata"}
    metadata = obj.get("metadata")
    if isinstance(metadata, Mapping):
        body["metadata"] = {
            sys.intern(k): compact(v) for k, v in metadata.items() if k != "managedFields"
        }
    return body
