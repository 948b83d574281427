"""Checks over every exchange of the run: resource names, status codes, schemas.

They run last (after cleanup), so that they also judge the answers to the
kit's deletions.
"""

from __future__ import annotations

from interconnect_operator.api.client import OPERATIONS
from interconnect_operator.api.names import InvalidResourceName, parse_name
from interconnect_operator.conformance.catalog import CATALOG, schema_check_id
from interconnect_operator.conformance.results import Exchange, Outcome
from interconnect_operator.conformance.session import Session
from interconnect_operator.conformance.spec import SpecUnavailable, SpecValidator, find_spec_dir

__all__ = ["ALLOWED_STATUS", "run_sweeps"]

ALLOWED_STATUS = frozenset({200, 400, 401, 403, 404, 409, 429, 503})


def _names(document: object, where: str = "$") -> list[tuple[str, str]]:
    """Every ``name`` string in a JSON document, with its location."""
    found: list[tuple[str, str]] = []
    if isinstance(document, dict):
        for key, value in document.items():
            if key == "name" and isinstance(value, str):
                found.append((f"{where}.name", value))
            else:
                found += _names(value, f"{where}.{key}")
    elif isinstance(document, list):
        for index, item in enumerate(document):
            found += _names(item, f"{where}[{index}]")
    return found


def _name_problem(exchange: Exchange, caller: str, where: str, name: str) -> str | None:
    try:
        parsed = parse_name(name)
    except InvalidResourceName:
        return f"{exchange.operation} {where}: {name!r} is not a resource name"
    # Names are spelled under the prefix the request used: the caller's own id
    # (P-Objects), or a second provider's for the third-party check.
    parts = exchange.path.strip("/").split("/")
    prefix = parts[1] if len(parts) > 1 and parts[0] == "providers" else caller
    if parsed.provider != prefix and exchange.operation != "ListProviders":
        return f"{exchange.operation} {where}: {name!r} is not under providers/{prefix}"
    if where == "$.name" and exchange.operation.startswith("Get"):
        asked = exchange.path.strip("/")
        if name != asked:
            return f"{exchange.operation}: asked for {asked!r}, answered {name!r}"
    return None


def _judged(exchange: Exchange) -> bool:
    return exchange.status is not None and bool(exchange.operation)


def run_sweeps(session: Session) -> None:
    """OBJ-names, P32-status-codes and one SCHEMA check per operation."""
    caller = session.config.caller
    exchanges = [e for e in session.exchanges if _judged(e)]

    problems: list[str] = []
    evidence: list[Exchange] = []
    for exchange in exchanges:
        if exchange.status != 200:
            continue
        found = [
            p
            for where, name in _names(exchange.response_json)
            if "comments" not in where
            and (p := _name_problem(exchange, caller, where, name)) is not None
        ]
        if found:
            problems += found[:2]
            evidence.append(exchange)
    checked = sum(1 for e in exchanges if e.status == 200)
    session.record(
        CATALOG["OBJ-names"],
        Outcome.FAIL if problems else Outcome.PASS,
        "; ".join(problems[:6]) if problems else f"names of {checked} responses checked",
        evidence[:3],
    )

    odd = [e for e in exchanges if e.status not in ALLOWED_STATUS]
    session.record(
        CATALOG["P32-status-codes"],
        Outcome.FAIL if odd else Outcome.PASS,
        "; ".join(sorted({f"{e.operation} answered {e.status}" for e in odd}))
        or f"{len(exchanges)} responses, statuses "
        f"{sorted({e.status for e in exchanges if e.status is not None})}",
        odd[:3],
    )

    _schemas(session, exchanges)


def _schemas(session: Session, exchanges: list[Exchange]) -> None:
    ids = [schema_check_id(op) for op in OPERATIONS]
    directory = find_spec_dir(str(session.config.spec_dir) if session.config.spec_dir else None)
    if directory is None:
        session.skip(ids, "no spec: pass --spec-dir or set INTERCONNECT_SPEC_DIR")
        return
    try:
        validator = SpecValidator(directory)
    except SpecUnavailable as error:
        session.skip(ids, f"spec unavailable: {error}")
        return
    for operation_id in OPERATIONS:
        seen = [e for e in exchanges if e.operation == operation_id and e.status == 200]
        spec = CATALOG[schema_check_id(operation_id)]
        if not seen:
            session.record(spec, Outcome.SKIP, "no 200 response of it in this run", [])
            continue
        problems: list[str] = []
        evidence: list[Exchange] = []
        for exchange in seen:
            if not exchange.response_is_json:
                found = ["the body is not JSON"]
            else:
                found = validator.validate(operation_id, exchange.response_json or {})
            if found:
                problems += found[:3]
                evidence.append(exchange)
        session.record(
            spec,
            Outcome.FAIL if problems else Outcome.PASS,
            "; ".join(problems[:6]) if problems else f"{len(seen)} responses valid",
            evidence[:2],
        )
