"""The kit's documentation stays true to the catalog and the mutant declarations.

- docs/conformance.md's check table is the catalog's rendering
  (``conformance --list-checks``);
- the README's mutant table is hack/readme-reference.py's rendering of
  tests/integration/conformance/mutants.py, and a hand edit there is caught;
- every check a mutant must fail exists in the catalog.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
from pathlib import Path
from types import ModuleType

import pytest

from interconnect_operator.conformance.catalog import CATALOG, catalog_markdown
from tests.integration.conformance.mutants import MUTANTS

REPO = Path(__file__).resolve().parents[3]
DOC = REPO / "docs" / "conformance.md"
BEGIN = (
    "<!-- BEGIN GENERATED: conformance-checks "
    "(interconnect-operator conformance --list-checks; do not edit) -->"
)
END = "<!-- END GENERATED: conformance-checks -->"


@pytest.fixture(scope="module")
def reference() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "readme_reference_kit", REPO / "hack" / "readme-reference.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_check_table_in_the_docs_is_the_catalog() -> None:
    text = DOC.read_text()
    block = re.search(re.escape(BEGIN) + r"\n\n(.*?)\n" + re.escape(END), text, re.DOTALL)
    assert block is not None, "docs/conformance.md lacks the generated check table"
    assert block.group(1) == catalog_markdown(), (
        "docs/conformance.md is stale: paste `interconnect-operator conformance --list-checks`"
    )


def test_the_mutant_table_in_the_readme_is_current(reference: ModuleType) -> None:
    assert "conformance-mutants" not in reference.stale_sections(REPO / "README.md")


def test_a_hand_edit_of_the_mutant_table_is_detected(reference: ModuleType, tmp_path: Path) -> None:
    copy = tmp_path / "README.md"
    shutil.copy(REPO / "README.md", copy)
    text = copy.read_text()
    edited = text.replace("`P9-vlan-floor` |", "(none) |", 1)
    assert edited != text
    copy.write_text(edited)
    assert reference.stale_sections(copy) == ["conformance-mutants"]


def test_every_check_a_mutant_must_fail_is_in_the_catalog() -> None:
    for mutant in MUTANTS.values():
        assert mutant.expected, mutant.name
        unknown = set(mutant.expected) - set(CATALOG)
        assert not unknown, f"{mutant.name}: {unknown}"
