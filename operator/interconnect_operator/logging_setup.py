"""Logging for the operator: structured JSON lines and secret redaction.

`configure_logging(level, json_format)` installs one handler on the root
logger. With `json_format` every record becomes one JSON object on one line
(timestamp, level, logger, message, plus the record's `extra` fields such as
link, namespace, pool, phase, reason), which log pipelines index without
parsing; without it a human-readable line with the extras as `key=value`.

Secrets (activation keys, BGP MD5 passwords, MACsec CAK/CKN, tokens) are kept
out of logs by construction: they travel as pydantic `SecretStr` and are never
formatted. `RedactSecrets` is the second line of defence (P31: keys are never
logged): it masks every value held in `redaction` in a record's message,
arguments, extras and exception text before a handler formats it, in the
record's tenant context (the namespace of the link it is about, or of the link
whose work is running), so one tenant's values never mask another's lines.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import sys
from collections.abc import Iterable
from typing import IO, Any

from interconnect_operator import redaction

__all__ = [
    "JsonFormatter",
    "KeyValueFormatter",
    "RedactSecrets",
    "configure_logging",
    "record_context",
]


def _redact_value(value: Any, context: str) -> Any:
    """Redact strings inside simple containers; leave other values alone."""
    if isinstance(value, str):
        return redaction.redact(value, context)
    if isinstance(value, dict):
        return {k: _redact_value(v, context) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_redact_value(v, context) for v in value)
    return value


def record_context(record: logging.LogRecord) -> str:
    """The tenant a record belongs to: its ``link`` extra's namespace, else the
    tenant whose work was running when it was logged, else none (``ANYWHERE``)."""
    link = getattr(record, "link", None)
    if isinstance(link, str) and "/" in link:
        return link.split("/", 1)[0]
    tenant = redaction.current_tenant.get()
    return tenant if tenant else redaction.ANYWHERE


# Attributes every LogRecord has; anything else on a record came from `extra`.
_STANDARD_ATTRS = frozenset(
    vars(logging.LogRecord("x", logging.INFO, "x", 0, "x", None, None)).keys()
) | {"message", "asctime", "taskName"}

# Extras that kopf attaches to its per-object log records: `settings` is a
# large object and `k8s_skip` a flag for kopf's own event poster; neither
# belongs in a log line. `k8s_ref` is turned into a compact object reference.
_DROPPED_EXTRAS = frozenset({"settings", "k8s_skip"})


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    extras: dict[str, Any] = {}
    for key, value in vars(record).items():
        if key in _STANDARD_ATTRS or key in _DROPPED_EXTRAS or key.startswith("_"):
            continue
        if key == "k8s_ref" and isinstance(value, dict):
            extras["object"] = {
                k: value[k] for k in ("kind", "namespace", "name") if value.get(k) is not None
            }
            continue
        extras[key] = value
    return extras


class RedactSecrets(logging.Filter):
    """Mask registered secrets in a record before any handler formats it.

    The message is rendered with its arguments first (a secret may hide in an
    argument, or only appear once formatted), redacted, and stored back with
    the arguments cleared, so later formatting cannot reintroduce them. Extras
    and exception text are redacted too. Attach it to handlers: filters on a
    logger do not see records propagated from child loggers.
    """

    _exception_formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        context = record_context(record)
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            # A malformed format string: keep the raw pieces, redacted.
            message = f"{record.msg!s} {record.args!r}"
        record.msg = redaction.redact(message, context)
        record.args = None
        for key in _extras(record):
            if key in vars(record):
                setattr(record, key, _redact_value(vars(record)[key], context))
        if record.exc_info and not record.exc_text:
            record.exc_text = self._exception_formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redaction.redact(record.exc_text, context)
        if record.stack_info:
            record.stack_info = redaction.redact(record.stack_info, context)
        return True


def _timestamp(record: logging.LogRecord) -> str:
    moment = _dt.datetime.fromtimestamp(record.created, tz=_dt.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line.

    Fixed keys: timestamp (RFC 3339, UTC), level, logger, message; then the
    record's extras; then `exception` when there is one. Values that JSON
    cannot encode are written with `str()`.
    """

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "timestamp": _timestamp(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in _extras(record).items():
            payload.setdefault(key, value)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            payload["exception"] = record.exc_text
        if record.stack_info:
            payload["stack"] = record.stack_info
        # ensure_ascii keeps the line free of raw control characters as well.
        return json.dumps(payload, default=str, ensure_ascii=True)


class KeyValueFormatter(logging.Formatter):
    """Human-readable line: `time LEVEL logger: message key=value ...`."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = _extras(record)
        if not extras:
            return line
        pairs = " ".join(f"{k}={_kv(v)}" for k, v in extras.items())
        head, sep, tail = line.partition("\n")
        return f"{head} {pairs}{sep}{tail}"


def _kv(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return json.dumps(text) if (" " in text or not text) else text


# Marks the handler this module installed, so configure_logging can replace
# it on a second call instead of stacking duplicates.
_HANDLER_MARK = "_interconnect_operator_handler"


def configure_logging(
    level: str = "INFO",
    json_format: bool = True,
    *,
    stream: IO[str] | None = None,
    quiet_loggers: Iterable[str] = ("httpx", "httpcore", "urllib3", "kubernetes"),
) -> logging.Handler:
    """Install the operator's log handler on the root logger and return it.

    `level` is a level name (DEBUG, INFO, WARNING, ERROR). Calling it again
    replaces the previous handler. Chatty client libraries in `quiet_loggers`
    are held at WARNING unless `level` is DEBUG: at INFO httpx logs every
    request line, which at fleet scale drowns the operator's own records.
    """
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        raise ValueError(f"unknown log level: {level!r}")
    root = logging.getLogger()
    for existing in list(root.handlers):
        if getattr(existing, _HANDLER_MARK, False):
            root.removeHandler(existing)
            existing.close()
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    setattr(handler, _HANDLER_MARK, True)
    handler.setFormatter(JsonFormatter() if json_format else KeyValueFormatter())
    handler.addFilter(RedactSecrets())
    root.addHandler(handler)
    root.setLevel(numeric)
    for name in quiet_loggers:
        logging.getLogger(name).setLevel(
            logging.DEBUG if numeric <= logging.DEBUG else logging.WARNING
        )
    return handler
