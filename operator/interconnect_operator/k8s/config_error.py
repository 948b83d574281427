"""User configuration the operator cannot act on, and how it is worded for status and Events."""

from __future__ import annotations

from pydantic import ValidationError


class ConfigError(Exception):
    """User configuration that cannot work (missing secret, bad credentials)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def validation_message(exc: ValidationError) -> str:
    """The first few schema errors of a spec, one line, bounded for a condition message."""
    parts = []
    for error in exc.errors()[:5]:
        where = ".".join(str(p) for p in error.get("loc", ()))
        parts.append(f"{where}: {error.get('msg')}")
    return "; ".join(parts)[:1024]
