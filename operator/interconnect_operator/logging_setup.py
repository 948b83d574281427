"""Logging for the operator: structured JSON lines and secret redaction.

`configure_logging(level, json_format)` installs one handler on the root
logger. With `json_format` every record becomes one JSON object on one line
(timestamp, level, logger, message, plus the record's `extra` fields such as
link, namespace, pool, phase, reason), which log pipelines index without
parsing; without it a human-readable line with the extras as `key=value`.

Secrets (activation keys, BGP MD5 passwords, MACsec CAK/CKN, tokens) are kept
out of logs by construction: they travel as pydantic `SecretStr` and are never
formatted. `RedactSecrets` is the second line of defence (P31: keys are never
logged): every secret value the operator reads is registered with
`register_secret`, and the filter masks any occurrence of one in a record's
message, arguments, extras and exception text before a handler formats it.
The metrics exporter consults the same registry for label values.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import re
import sys
import threading
from collections.abc import Iterable
from typing import IO, Any, Protocol

__all__ = [
    "MASK",
    "MIN_SECRET_LENGTH",
    "JsonFormatter",
    "KeyValueFormatter",
    "RedactSecrets",
    "clear_secrets",
    "configure_logging",
    "contains_secret",
    "redact",
    "register_secret",
    "secrets_generation",
    "unregister_secret",
]

#: What a masked secret looks like in output.
MASK = "***"

#: Shorter values are not registered: masking e.g. "ab" would mangle every
#: message that happens to contain those letters and reveal more than it hides
#: (the reader could infer the value from where the masks appear). Real keys,
#: passwords and tokens are far longer.
MIN_SECRET_LENGTH = 4


class _HasSecretValue(Protocol):
    """Duck type of pydantic's SecretStr (avoids importing pydantic here)."""

    def get_secret_value(self) -> str: ...


class _SecretRegistry:
    """Thread-safe set of secret values, with one compiled pattern for all.

    The operator registers secrets from its event loop while the metrics
    server thread may be reading the registry, hence the lock.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        #: Bumped on every change, so callers may cache verdicts per value.
        self.generation = 0

    def add(self, value: str) -> None:
        with self._lock:
            if value not in self._values:
                self._values.add(value)
                self._pattern = None
                self.generation += 1

    def discard(self, value: str) -> None:
        with self._lock:
            if value in self._values:
                self._values.discard(value)
                self._pattern = None
                self.generation += 1

    def clear(self) -> None:
        with self._lock:
            self._values.clear()
            self._pattern = None
            self.generation += 1

    def pattern(self) -> re.Pattern[str] | None:
        with self._lock:
            if self._pattern is None and self._values:
                # Longest first, so a secret that contains another one is
                # masked whole instead of leaving its remainder visible.
                alternatives = sorted(self._values, key=len, reverse=True)
                self._pattern = re.compile("|".join(re.escape(v) for v in alternatives))
            return self._pattern


_REGISTRY = _SecretRegistry()


def register_secret(value: str | _HasSecretValue | None) -> None:
    """Remember a secret value so it is masked wherever it might surface.

    Accepts a plain string or a pydantic `SecretStr`. Empty and very short
    values (below `MIN_SECRET_LENGTH`) are ignored. Surrounding whitespace is
    registered too in its stripped form, because secrets read from files
    often carry a trailing newline that is stripped before use.
    """
    if value is None:
        return
    raw = value if isinstance(value, str) else value.get_secret_value()
    for candidate in {raw, raw.strip()}:
        if len(candidate) >= MIN_SECRET_LENGTH:
            _REGISTRY.add(candidate)


def unregister_secret(value: str | _HasSecretValue) -> None:
    """Forget a secret (e.g. a MACsec key deleted after rotation)."""
    raw = value if isinstance(value, str) else value.get_secret_value()
    for candidate in {raw, raw.strip()}:
        _REGISTRY.discard(candidate)


def clear_secrets() -> None:
    """Forget every registered secret (tests use this for isolation)."""
    _REGISTRY.clear()


def redact(text: str) -> str:
    """Return `text` with every registered secret replaced by `MASK`."""
    pattern = _REGISTRY.pattern()
    if pattern is None:
        return text
    return pattern.sub(MASK, text)


def secrets_generation() -> int:
    """A number that changes whenever the set of registered secrets changes."""
    return _REGISTRY.generation


def contains_secret(text: str) -> bool:
    """True when `text` contains any registered secret."""
    pattern = _REGISTRY.pattern()
    return pattern is not None and pattern.search(text) is not None


def _redact_value(value: Any) -> Any:
    """Redact strings inside simple containers; leave other values alone."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: _redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_redact_value(v) for v in value)
    return value


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
        if _REGISTRY.pattern() is None:
            return True
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            # A malformed format string: keep the raw pieces, redacted.
            message = f"{record.msg!s} {record.args!r}"
        record.msg = redact(message)
        record.args = None
        for key in _extras(record):
            if key in vars(record):
                setattr(record, key, _redact_value(vars(record)[key]))
        if record.exc_info and not record.exc_text:
            record.exc_text = self._exception_formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
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
