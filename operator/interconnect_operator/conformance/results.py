"""Outcomes, evidence and the report of one conformance run.

A :class:`CheckResult` says PASS, FAIL or SKIP for one check of the
catalog, what was expected and why (citing the rule), what was observed, and
the HTTP exchanges made while the check ran (secrets already redacted by
:mod:`.recording`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

__all__ = ["CheckResult", "Exchange", "Outcome", "RunReport"]


class Outcome(StrEnum):
    """The verdict of one check."""

    PASS = "PASS"
    FAIL = "FAIL"
    SKIP = "SKIP"


@dataclass(frozen=True, slots=True)
class Exchange:
    """One HTTP request and its response as the kit saw them.

    Bodies are JSON text with secret fields replaced, truncated; the
    Authorization header is never kept. ``status`` is None when no response
    arrived (``error`` names the failure).
    """

    operation: str
    method: str
    path: str
    query: str
    request_body: str
    status: int | None
    response_body: str
    error: str | None = None
    authenticated: bool = True
    response_json: Any = field(default=None, repr=False, compare=False)
    """The whole response document (secrets redacted, not truncated), for validation."""
    response_is_json: bool = True

    def summary(self) -> str:
        """``POST /providers/... -> 409`` on one line."""
        target = f"{self.path}?{self.query}" if self.query else self.path
        outcome = str(self.status) if self.status is not None else f"no response ({self.error})"
        return f"{self.method} {target} -> {outcome}"


@dataclass(slots=True)
class CheckResult:
    """The result of one check of the catalog."""

    check_id: str
    rule: str
    title: str
    outcome: Outcome
    expected: str
    observed: str = ""
    exchanges: list[Exchange] = field(default_factory=list)
    seconds: float = 0.0


@dataclass(slots=True)
class RunReport:
    """Everything a run produced, in catalog order."""

    endpoint: str
    caller: str
    environment: str
    read_only: bool
    prefix: str
    results: list[CheckResult] = field(default_factory=list)
    interrupted: bool = False
    leftovers: list[str] = field(default_factory=list)
    """Names of objects the kit created and could not delete."""
    notes: list[str] = field(default_factory=list)

    def count(self, outcome: Outcome) -> int:
        """How many results have ``outcome``."""
        return sum(1 for result in self.results if result.outcome is outcome)

    @property
    def failed(self) -> bool:
        """True when any check failed, the run was interrupted or left objects."""
        return self.count(Outcome.FAIL) > 0 or self.interrupted or bool(self.leftovers)

    def by_id(self) -> dict[str, CheckResult]:
        """Results keyed by check id."""
        return {result.check_id: result for result in self.results}
