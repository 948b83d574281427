"""The catalog: every check has a rule and an expectation, and some scenario reports it."""

from __future__ import annotations

import re

from interconnect_operator.api.client import OPERATIONS
from interconnect_operator.conformance.catalog import CATALOG, Mode, schema_check_id
from interconnect_operator.conformance.runner import SCENARIOS

SWEEPS = {"OBJ-names", "P32-status-codes"} | {schema_check_id(op) for op in OPERATIONS}


def test_every_check_is_reported_by_exactly_one_scenario_or_sweep() -> None:
    owners: dict[str, str] = {}
    for scenario in SCENARIOS:
        for check_id in scenario.checks:
            assert check_id in CATALOG, check_id
            assert check_id not in owners, (
                f"{check_id} in {owners.get(check_id)} and {scenario.name}"
            )
            owners[check_id] = scenario.name
    assert set(owners) | SWEEPS == set(CATALOG)
    assert not set(owners) & SWEEPS


def test_a_scenario_holds_only_checks_of_its_mode_or_safer() -> None:
    order = [Mode.READ, Mode.WRITE, Mode.CHANNEL, Mode.ISSUES]
    for scenario in SCENARIOS:
        for check_id in scenario.checks:
            mode = CATALOG[check_id].mode
            assert mode is Mode.READ or mode is scenario.mode, (check_id, scenario.name)
            assert order.index(mode) <= order.index(scenario.mode)


def test_every_check_cites_a_rule_and_says_why() -> None:
    for check in CATALOG.values():
        assert re.fullmatch(r"P\d+|Objects|Issues|Spec: \w+", check.rule), check.check_id
        if check.rule.startswith("P"):
            assert check.check_id.startswith(check.rule + "-"), check.check_id
        assert len(check.expected) > 30, check.check_id


def test_there_is_a_schema_check_per_operation() -> None:
    assert sum(1 for c in CATALOG.values() if c.rule == "Spec: schemas") == 33
