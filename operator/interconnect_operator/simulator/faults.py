"""Fault injection and call statistics of the simulator.

Faults let tests and benchmarks exercise the client's handling of P32/P33:
server errors, throttling with Retry-After, forced conflicts, latency, and the
nastiest case, a change that is applied but whose response never arrives
(``timeout_after_commit_rate``), which forces the client to read before it
retries.

Configuration (``GET``/``POST /admin/faults``, ``--fault`` on the CLI)::

    {
      "seed": 42,                 # seeds the RNG: the same seed, the same faults
      "hang_seconds": 10.0,       # how long a dropped request hangs before the
                                  # connection is aborted
      "operations": {             # operationId or "*" -> rule; the operation's
        "*": {                    # own rule wins over "*" (no merging)
          "error_rate": 0.0,      # 503 before processing
          "throttle_rate": 0.0,   # 429 with Retry-After: retry_after
          "retry_after": 1,       # seconds
          "latency_ms": 0,        # added before processing
          "conflict_rate": 0.0,   # forced 409 before processing
          "drop_rate": 0.0,       # no processing, no response
          "timeout_after_commit_rate": 0.0   # processed, then no response
        }
      }
    }

Rates are probabilities in [0, 1]; one draw per request picks at most one of
drop, error, throttle, conflict (in that order of the cumulative ranges), and a
second draw decides the after-commit timeout. Faults apply to the 33 spec
operations only, never to admin, customer or health endpoints.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import asdict, dataclass, field, fields
from typing import Any

__all__ = [
    "FaultConfig",
    "FaultDecision",
    "FaultInjector",
    "FaultRule",
    "Stats",
    "parse_fault_option",
]

_RATE_FIELDS = (
    "error_rate",
    "throttle_rate",
    "conflict_rate",
    "drop_rate",
    "timeout_after_commit_rate",
)


@dataclass(frozen=True, slots=True)
class FaultRule:
    """Fault probabilities and delays of one operation (or of ``*``)."""

    error_rate: float = 0.0
    throttle_rate: float = 0.0
    retry_after: float = 1.0
    latency_ms: float = 0.0
    conflict_rate: float = 0.0
    drop_rate: float = 0.0
    timeout_after_commit_rate: float = 0.0

    @classmethod
    def from_dict(cls, data: Any) -> FaultRule:
        """Parse a rule; raise ValueError on unknown keys or bad values."""
        if not isinstance(data, dict):
            raise ValueError("a fault rule must be an object")
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fault keys: {', '.join(sorted(unknown))}")
        values: dict[str, float] = {}
        for key, value in data.items():
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"{key} must be a number")
            if value < 0 or (key in _RATE_FIELDS and value > 1):
                raise ValueError(f"{key} out of range")
            values[key] = float(value)
        rule = cls(**values)
        if rule.drop_rate + rule.error_rate + rule.throttle_rate + rule.conflict_rate > 1:
            raise ValueError("drop, error, throttle and conflict rates add up to more than 1")
        return rule


@dataclass(frozen=True, slots=True)
class FaultConfig:
    """All fault rules, the RNG seed and the hang time of dropped requests."""

    operations: dict[str, FaultRule] = field(default_factory=dict)
    seed: int | None = None
    hang_seconds: float = 10.0

    @classmethod
    def from_dict(cls, data: Any) -> FaultConfig:
        """Parse the JSON of ``POST /admin/faults``; raise ValueError if bad."""
        if not isinstance(data, dict):
            raise ValueError("fault config must be an object")
        unknown = set(data) - {"operations", "seed", "hang_seconds"}
        if unknown:
            raise ValueError(f"unknown keys: {', '.join(sorted(unknown))}")
        operations = data.get("operations") or {}
        if not isinstance(operations, dict):
            raise ValueError("operations must be an object")
        seed = data.get("seed")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ValueError("seed must be an integer")
        hang = data.get("hang_seconds", 10.0)
        if isinstance(hang, bool) or not isinstance(hang, int | float) or hang < 0:
            raise ValueError("hang_seconds must be a non-negative number")
        return cls(
            operations={str(op): FaultRule.from_dict(rule) for op, rule in operations.items()},
            seed=seed,
            hang_seconds=float(hang),
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (as accepted by :meth:`from_dict`)."""
        return {
            "seed": self.seed,
            "hang_seconds": self.hang_seconds,
            "operations": {op: asdict(rule) for op, rule in self.operations.items()},
        }


def parse_fault_option(text: str) -> tuple[str, FaultRule]:
    """Parse a CLI ``--fault OP:key=value,key=value`` into (operation, rule)."""
    operation, sep, spec = text.partition(":")
    if not sep or not operation:
        raise ValueError(f"expected OPERATION:key=value[,key=value...], got {text!r}")
    values: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        key, eq, value = item.partition("=")
        if not eq:
            raise ValueError(f"expected key=value, got {item!r}")
        try:
            values[key.strip()] = float(value)
        except ValueError:
            raise ValueError(f"{key.strip()} must be a number") from None
    return operation, FaultRule.from_dict(values)


@dataclass(frozen=True, slots=True)
class FaultDecision:
    """What to do to one request."""

    latency_s: float = 0.0
    # One of None, "drop", "error", "throttle", "conflict".
    before: str | None = None
    retry_after: float = 0.0
    timeout_after_commit: bool = False


_NO_FAULT = FaultDecision()


class FaultInjector:
    """Draws fault decisions from the current config with a seeded RNG."""

    def __init__(self, config: FaultConfig | None = None) -> None:
        self.configure(config or FaultConfig())

    def configure(self, config: FaultConfig) -> None:
        """Replace the config and reseed the RNG."""
        self.config = config
        self._rng = random.Random(config.seed)

    def decide(self, operation: str) -> FaultDecision:
        """The faults to apply to one call of ``operation``."""
        operations = self.config.operations
        if not operations:
            return _NO_FAULT
        rule = operations.get(operation) or operations.get("*")
        if rule is None:
            return _NO_FAULT
        draw = self._rng.random()
        before: str | None = None
        threshold = 0.0
        for name, rate in (
            ("drop", rule.drop_rate),
            ("error", rule.error_rate),
            ("throttle", rule.throttle_rate),
            ("conflict", rule.conflict_rate),
        ):
            threshold += rate
            if draw < threshold:
                before = name
                break
        after = rule.timeout_after_commit_rate > 0 and (
            self._rng.random() < rule.timeout_after_commit_rate
        )
        return FaultDecision(
            latency_s=rule.latency_ms / 1000.0,
            before=before,
            retry_after=rule.retry_after,
            timeout_after_commit=after,
        )


class Stats:
    """Calls by operationId and outcome (status code, or ``dropped``)."""

    def __init__(self) -> None:
        self._by_operation: dict[str, Counter[str]] = {}

    def record(self, operation: str, outcome: str) -> None:
        """Count one call."""
        counter = self._by_operation.get(operation)
        if counter is None:
            counter = self._by_operation[operation] = Counter()
        counter[outcome] += 1

    def reset(self) -> None:
        """Forget every count."""
        self._by_operation.clear()

    def to_dict(self) -> dict[str, Any]:
        """``{"total", "byStatus", "byOperation": {op: {"total", "byStatus"}}}``."""
        by_status: Counter[str] = Counter()
        operations: dict[str, Any] = {}
        for operation, counter in sorted(self._by_operation.items()):
            by_status.update(counter)
            operations[operation] = {
                "total": sum(counter.values()),
                "byStatus": dict(sorted(counter.items())),
            }
        return {
            "total": sum(by_status.values()),
            "byStatus": dict(sorted(by_status.items())),
            "byOperation": operations,
        }
