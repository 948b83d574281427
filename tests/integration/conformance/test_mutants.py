"""The kit can fail: against each mutant provider exactly the matching checks FAIL.

Each mutant (mutants.py) is a proxy process in front of a real simulator
that breaks one rule; the kit runs against it with every opt-in allowed and
an activation key from the simulator's customer endpoint. Against the same
proxy with no mutant, nothing fails. The README's table of mutants is the
table these runs produce (last test).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from interconnect_operator.conformance.results import Outcome, RunReport
from interconnect_operator.conformance.runner import run_conformance
from tests.integration.conformance.conftest import (
    dump,
    issue_key,
    kit_config,
    kit_objects,
    start_proxy,
)
from tests.integration.conformance.mutants import MUTANTS, readme_table
from tests.support.stack import REPO, Simulator

OBSERVED: dict[str, list[str]] = {}
README = REPO / "README.md"
BEGIN = "<!-- BEGIN GENERATED: conformance-mutants (hack/readme-reference.py; do not edit) -->"
END = "<!-- END GENERATED: conformance-mutants -->"

# Operations the kit's run never gets a 200 from on a conforming provider: their
# schema checks SKIP (docs/conformance.md says why).
NEVER_EXERCISED = {
    "SCHEMA-NotifyMaintenance",
    "SCHEMA-CreateMacSecKey",
    "SCHEMA-GetMacSecKey",
    "SCHEMA-DeleteMacSecKey",
}


async def _run(
    simulator: Simulator, mutant: str | None, workdir: Path, token_file: Path
) -> RunReport:
    proxy = start_proxy(simulator, mutant, workdir, token_file)
    try:
        return await run_conformance(kit_config(proxy.url, key=issue_key(simulator)))
    finally:
        proxy.stop()


def _failing(report: RunReport) -> list[str]:
    return sorted(r.check_id for r in report.results if r.outcome is Outcome.FAIL)


async def test_the_plain_simulator_passes_every_check(
    simulator: Simulator, workdir: Path, token_file: Path
) -> None:
    report = await _run(simulator, None, workdir, token_file)
    assert _failing(report) == [], dump(report)
    skipped = {r.check_id for r in report.results if r.outcome is Outcome.SKIP}
    assert skipped == NEVER_EXERCISED
    assert report.leftovers == []
    assert kit_objects(simulator) == []
    assert simulator.state()["connections"] == []


@pytest.mark.parametrize("name", list(MUTANTS))
async def test_each_mutant_fails_exactly_its_checks(
    name: str, simulator: Simulator, workdir: Path, token_file: Path
) -> None:
    report = await _run(simulator, name, workdir, token_file)
    failing = _failing(report)
    OBSERVED[name] = failing
    assert failing == sorted(MUTANTS[name].expected), dump(report)
    assert report.leftovers == []
    assert kit_objects(simulator) == [], "the run left objects on the provider"
    assert simulator.state()["connections"] == []  # the key's connection too (no prefix)


def test_the_readme_table_is_what_the_runs_showed() -> None:
    if set(OBSERVED) != set(MUTANTS):
        pytest.skip("needs every mutant run of this module")
    table = readme_table(OBSERVED)
    text = README.read_text()
    block = re.search(re.escape(BEGIN) + r"\n\n(.*?)\n" + re.escape(END), text, re.DOTALL)
    assert block is not None, "README.md lacks the conformance-mutants section"
    if os.environ.get("ICO_UPDATE_README") == "1":
        README.write_text(text.replace(block.group(1), table))
        return
    assert block.group(1) == table, "run with ICO_UPDATE_README=1, or fix mutants.py"
