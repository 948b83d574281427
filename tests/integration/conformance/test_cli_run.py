"""The ``conformance`` subcommand as a user runs it: a process, reports, exit codes, read-only.

Against a real simulator process. The reports must be readable (JUnit XML
parses, Markdown holds the evidence) and hold no credential or key.
"""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from tests.integration.conformance.conftest import (
    CALLER,
    ENV,
    OTHER,
    OTHER_TOKEN,
    TOKEN,
    issue_key,
    kit_objects,
    start_proxy,
)
from tests.support.spec import spec_dir
from tests.support.stack import REPO, Simulator

READS = {
    "ListProviders",
    "GetProvider",
    "ListEnvironments",
    "GetEnvironment",
    "ListInterconnects",
    "GetInterconnect",
    "ListChannels",
    "GetChannel",
    "ListConnections",
    "GetConnection",
    "ListMacSecKeys",
    "GetMaintenanceEvents",
    "ConfirmActivationKey",  # answers whether a key is valid; changes nothing
}


def _kit(url: str, token_file: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    argv = [
        sys.executable,
        "-m",
        "interconnect_operator.cli",
        "conformance",
        "--endpoint",
        url,
        "--caller",
        CALLER,
        "--environment",
        ENV,
        "--auth",
        "Bearer",
        "--token-file",
        str(token_file),
        "--spec-dir",
        str(spec_dir()),
        "--provisioning-timeout",
        "20",
        *extra,
    ]
    return subprocess.run(argv, capture_output=True, text=True, timeout=300, cwd=REPO, check=False)


def test_a_full_run_passes_and_writes_readable_reports(
    simulator: Simulator, workdir: Path, token_file: Path, other_token_file: Path
) -> None:
    key = issue_key(simulator)
    key_file = workdir / "key.txt"
    key_file.write_text(key)
    report_md, report_xml = workdir / "report.md", workdir / "report.xml"
    result = _kit(
        simulator.url,
        token_file,
        "--activation-key-file",
        str(key_file),
        "--allow-issues",
        "--allow-channel-effects",
        "--other-caller",
        OTHER,
        "--other-token-file",
        str(other_token_file),
        "--markdown",
        str(report_md),
        "--junit",
        str(report_xml),
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "PASS  P9-vlan-floor" in result.stdout  # progress lines
    assert " 0 failed" in result.stdout
    suite = ET.fromstring(report_xml.read_text())
    assert suite.attrib["failures"] == "0"
    assert int(suite.attrib["tests"]) > 70
    markdown = report_md.read_text()
    assert "## P11-second-l3" in markdown
    assert "-> 409" in markdown  # the evidence of P11: the conflict itself
    for text in (result.stdout, result.stderr, markdown, report_xml.read_text()):
        assert TOKEN not in text
        assert OTHER_TOKEN not in text
        assert key not in text
    assert "PASS  OBJ-third-party" in result.stdout
    assert kit_objects(simulator) == []


def test_a_read_only_run_only_reads(simulator: Simulator, token_file: Path) -> None:
    simulator.admin("/admin/stats/reset", {})
    result = _kit(simulator.url, token_file, "--read-only", "--quiet")
    assert result.returncode == 0, result.stdout[-3000:]
    assert "(read-only)" in result.stdout
    operations = set(simulator.stats()["byOperation"])
    assert operations <= READS, operations - READS
    assert "GetEnvironment" in operations


def test_a_failing_provider_makes_the_exit_code_1(
    simulator: Simulator, workdir: Path, token_file: Path
) -> None:
    proxy = start_proxy(simulator, "vlan-1000-accepted", workdir, token_file)
    try:
        result = _kit(proxy.url, token_file, "--quiet")
    finally:
        proxy.stop()
    assert result.returncode == 1, result.stdout[-3000:]
    assert "FAIL P9-vlan-floor (P9)" in result.stdout
    assert "expected: CreateFeature with VLAN 1000 answers 400" in result.stdout
    assert kit_objects(simulator) == []
