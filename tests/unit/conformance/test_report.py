"""Reports: JUnit XML a CI system reads, Markdown with evidence, the exit semantics."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from interconnect_operator.conformance.report import (
    junit_xml,
    markdown,
    progress_line,
    terminal_summary,
)
from interconnect_operator.conformance.results import CheckResult, Exchange, Outcome, RunReport

EXCHANGE = Exchange(
    operation="CreateFeature",
    method="POST",
    path="/providers/gcp/environments/e/interconnects/ix1/connections/c/features",
    query="featureId=f1",
    request_body='{"vlanId": 1000}',
    status=200,
    response_body='{"name": "f1"}',
)


def _report(*outcomes: Outcome, leftovers: tuple[str, ...] = ()) -> RunReport:
    report = RunReport("http://peer.test", "gcp", "e", False, "icokit-abc123-")
    for index, outcome in enumerate(outcomes):
        report.results.append(
            CheckResult(
                f"CHECK-{index}",
                "P9",
                f"title {index}",
                outcome,
                "VLAN 1000 answers 400",
                "answered 200" if outcome is Outcome.FAIL else "",
                [EXCHANGE],
            )
        )
    report.leftovers = list(leftovers)
    return report


def test_junit_counts_and_marks_each_case() -> None:
    root = ET.fromstring(junit_xml(_report(Outcome.PASS, Outcome.FAIL, Outcome.SKIP)))
    assert root.attrib["tests"] == "3"
    assert root.attrib["failures"] == "1"
    assert root.attrib["skipped"] == "1"
    cases = root.findall("testcase")
    assert [c.attrib["name"] for c in cases] == ["CHECK-0", "CHECK-1", "CHECK-2"]
    assert cases[1].find("failure") is not None
    assert cases[1].find("failure").attrib["message"] == "answered 200"  # type: ignore[union-attr]
    assert cases[2].find("skipped") is not None
    assert "POST /providers/gcp" in (cases[0].findtext("system-out") or "")


def test_junit_reports_leftovers_as_an_error() -> None:
    root = ET.fromstring(junit_xml(_report(Outcome.PASS, leftovers=("connections/x",))))
    assert root.attrib["errors"] == "1"
    assert "connections/x" in (root.find("testcase[@name='cleanup']/error").text or "")  # type: ignore[union-attr]


def test_markdown_shows_expectation_observation_and_exchanges() -> None:
    text = markdown(_report(Outcome.FAIL))
    assert "## CHECK-0" in text
    assert "- expected: VLAN 1000 answers 400" in text
    assert "- observed: answered 200" in text
    assert "POST /providers/gcp/environments/e/interconnects/ix1/connections/c/features" in text
    assert 'request:  {"vlanId": 1000}' in text


def test_the_terminal_summary_lists_failures_and_leftovers() -> None:
    text = terminal_summary(_report(Outcome.PASS, Outcome.FAIL, leftovers=("connections/x",)))
    assert "FAIL CHECK-1 (P9)" in text
    assert "LEFT BEHIND" in text
    assert "1 passed, 1 failed, 0 skipped" in text
    line = progress_line(_report(Outcome.PASS).results[0], 1, 40)
    assert line.startswith("[ 1/40] PASS  CHECK-0")


def test_a_run_fails_on_a_failed_check_a_leftover_or_an_interruption() -> None:
    assert not _report(Outcome.PASS, Outcome.SKIP).failed
    assert _report(Outcome.FAIL).failed
    assert _report(Outcome.PASS, leftovers=("x",)).failed
    interrupted = _report(Outcome.PASS)
    interrupted.interrupted = True
    assert interrupted.failed
