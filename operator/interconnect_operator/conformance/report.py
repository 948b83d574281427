"""The run's report for a person (terminal, Markdown) and for CI (JUnit XML).

All three are rendered from the same :class:`~.results.RunReport`; the
evidence is the recorded exchanges, already redacted.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import Counter

from interconnect_operator.conformance.results import CheckResult, Outcome, RunReport

__all__ = ["junit_xml", "markdown", "progress_line", "terminal_summary"]

_MAX_EXCHANGES = 6


def progress_line(result: CheckResult, done: int, total: int) -> str:
    """One line per finished check: ``[ 12/75] PASS  P9-vlan-floor  ...``."""
    width = len(str(total))
    return f"[{done:>{width}}/{total}] {result.outcome.value:<4}  {result.check_id}  {result.title}"


def terminal_summary(report: RunReport) -> str:
    """Totals per rule, every FAIL with what was expected and seen, leftovers."""
    lines = [
        "",
        f"Conformance of {report.endpoint} as {report.caller!r}, environment "
        f"{report.environment!r}{' (read-only)' if report.read_only else ''}",
        f"objects created by this run are named {report.prefix}*",
        "",
    ]
    by_rule: dict[str, Counter[Outcome]] = {}
    for result in report.results:
        by_rule.setdefault(result.rule, Counter())[result.outcome] += 1
    for rule, counts in by_rule.items():
        lines.append(
            f"  {rule:<16} PASS {counts[Outcome.PASS]:>3}  FAIL {counts[Outcome.FAIL]:>3}  "
            f"SKIP {counts[Outcome.SKIP]:>3}"
        )
    failures = [r for r in report.results if r.outcome is Outcome.FAIL]
    if failures:
        lines += ["", "Failures:"]
        for result in failures:
            lines.append(f"  FAIL {result.check_id} ({result.rule}): {result.title}")
            lines.append(f"       expected: {result.expected}")
            lines.append(f"       observed: {result.observed}")
            for exchange in result.exchanges[:3]:
                lines.append(f"       {exchange.summary()}")
    if report.leftovers:
        lines += ["", "LEFT BEHIND on the provider (delete by hand):"]
        lines += [f"  {name}" for name in report.leftovers]
    lines += [f"note: {note}" for note in report.notes]
    lines += [
        "",
        f"{report.count(Outcome.PASS)} passed, {report.count(Outcome.FAIL)} failed, "
        f"{report.count(Outcome.SKIP)} skipped" + (" (interrupted)" if report.interrupted else ""),
    ]
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def markdown(report: RunReport) -> str:
    """A Markdown report: summary table, then each check with its evidence."""
    out = [
        "# Connection Coordinator conformance report",
        "",
        f"- endpoint: `{report.endpoint}`",
        f"- caller: `{report.caller}`; environment: `{report.environment}`",
        f"- mode: {'read-only' if report.read_only else 'read and write'}; "
        f"objects named `{report.prefix}*`",
        f"- result: {report.count(Outcome.PASS)} PASS, {report.count(Outcome.FAIL)} FAIL, "
        f"{report.count(Outcome.SKIP)} SKIP" + (" (interrupted)" if report.interrupted else ""),
        "",
    ]
    if report.leftovers:
        out += ["**Left behind on the provider:**", ""]
        out += [f"- `{name}`" for name in report.leftovers]
        out.append("")
    out += ["| check | rule | result | observed |", "| --- | --- | --- | --- |"]
    for result in report.results:
        out.append(
            f"| [`{result.check_id}`](#{result.check_id.lower()}) | {result.rule} | "
            f"{result.outcome.value} | {_cell(result.observed)[:160]} |"
        )
    out.append("")
    for result in report.results:
        out += [
            f"## {result.check_id}",
            "",
            f"**{result.outcome.value}** ({result.rule}): {result.title}",
            "",
            f"- expected: {result.expected}",
            f"- observed: {result.observed or '-'}",
            "",
        ]
        for exchange in result.exchanges[:_MAX_EXCHANGES]:
            out += ["```", exchange.summary()]
            if exchange.request_body:
                out.append(f"request:  {exchange.request_body}")
            if exchange.response_body:
                out.append(f"response: {exchange.response_body}")
            out += ["```", ""]
        if len(result.exchanges) > _MAX_EXCHANGES:
            out += [f"({len(result.exchanges) - _MAX_EXCHANGES} more exchanges)", ""]
    return "\n".join(out)


def junit_xml(report: RunReport) -> str:
    """JUnit XML: one testcase per check (classname: the rule)."""
    suite = ET.Element(
        "testsuite",
        {
            "name": "interconnect-conformance",
            "tests": str(len(report.results)),
            "failures": str(report.count(Outcome.FAIL)),
            "skipped": str(report.count(Outcome.SKIP)),
            "errors": "1" if report.interrupted or report.leftovers else "0",
            "time": f"{sum(r.seconds for r in report.results):.3f}",
        },
    )
    properties = ET.SubElement(suite, "properties")
    for name, value in (
        ("endpoint", report.endpoint),
        ("caller", report.caller),
        ("environment", report.environment),
        ("prefix", report.prefix),
    ):
        ET.SubElement(properties, "property", {"name": name, "value": value})
    for result in report.results:
        case = ET.SubElement(
            suite,
            "testcase",
            {"classname": result.rule, "name": result.check_id, "time": f"{result.seconds:.3f}"},
        )
        if result.outcome is Outcome.FAIL:
            failure = ET.SubElement(case, "failure", {"message": result.observed[:500]})
            failure.text = f"expected: {result.expected}\nobserved: {result.observed}"
        elif result.outcome is Outcome.SKIP:
            ET.SubElement(case, "skipped", {"message": result.observed[:500]})
        if result.exchanges:
            system_out = ET.SubElement(case, "system-out")
            system_out.text = "\n".join(
                f"{e.summary()}\n  request: {e.request_body}\n  response: {e.response_body}"
                for e in result.exchanges[:_MAX_EXCHANGES]
            )
    if report.interrupted or report.leftovers:
        case = ET.SubElement(suite, "testcase", {"classname": "kit", "name": "cleanup"})
        error = ET.SubElement(
            case, "error", {"message": "interrupted" if report.interrupted else "leftovers"}
        )
        error.text = "\n".join(report.leftovers)
    ET.indent(suite)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suite, encoding="unicode")
