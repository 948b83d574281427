"""README.md and docs/ stay true to what the project ships.

- The generated sections of README.md (CRD reference from crds/*.yaml, the
  metrics table from the metrics package) match a fresh rendering by
  hack/readme-reference.py; run that script to fix a failure here.
- Every alert's runbook_url points at an existing section of docs/runbooks.md.
- Every make target the README tells a newcomer to run exists.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
from pathlib import Path
from types import ModuleType

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
RUNBOOKS = REPO / "docs" / "runbooks.md"
ALERTS = REPO / "deploy" / "prometheus" / "alerts.yaml"


@pytest.fixture(scope="module")
def reference() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "readme_reference", REPO / "hack" / "readme-reference.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_sections_are_current(reference: ModuleType) -> None:
    stale = reference.stale_sections(README)
    assert stale == [], f"README.md is stale in {stale}: run python hack/readme-reference.py"


def test_a_hand_edit_inside_a_generated_section_is_detected(
    reference: ModuleType, tmp_path: Path
) -> None:
    copy = tmp_path / "README.md"
    shutil.copy(README, copy)
    text = copy.read_text()
    edited = text.replace("| `spec.bandwidthMbps` |", "| `spec.bandwidthMbpz` |", 1)
    assert edited != text, "the CRD reference should list spec.bandwidthMbps"
    copy.write_text(edited)
    assert reference.stale_sections(copy) == ["crd-reference"]


def test_every_crd_spec_field_is_in_the_reference() -> None:
    text = README.read_text()
    for path in sorted((REPO / "crds").glob("*.yaml")):
        crd = yaml.safe_load(path.read_text())
        schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
        for field in schema["properties"]["spec"]["properties"]:
            assert f"| `spec.{field}` |" in text, f"{path.name}: spec.{field} missing"


def _anchors(markdown: str) -> set[str]:
    """GitHub-style anchors of the headings of ``markdown``."""
    anchors = set()
    for line in markdown.splitlines():
        match = re.match(r"^#{1,6}\s+(.*)$", line)
        if match:
            title = match.group(1).strip().lower()
            anchors.add(re.sub(r"[^a-z0-9 _-]", "", title).replace(" ", "-"))
    return anchors


def test_every_alert_has_a_runbook_section() -> None:
    anchors = _anchors(RUNBOOKS.read_text())
    rules = [
        rule
        for group in yaml.safe_load(ALERTS.read_text())["groups"]
        for rule in group["rules"]
        if "alert" in rule
    ]
    assert rules
    for rule in rules:
        url = rule["annotations"]["runbook_url"]
        path, _, anchor = url.partition("#")
        # Absolute: the link must work from Alertmanager, not only inside the repository.
        assert path.startswith("https://"), url
        assert path.endswith("docs/runbooks.md"), url
        assert anchor == rule["alert"].lower(), url
        assert anchor in anchors, f"docs/runbooks.md has no section #{anchor}"


def test_readme_make_targets_exist() -> None:
    makefiles = (REPO / "Makefile").read_text() + (REPO / "hack" / "cluster.mk").read_text()
    targets = set(re.findall(r"^([a-z][a-z-]*):", makefiles, re.MULTILINE))
    mentioned = set(re.findall(r"`make ([a-z][a-z-]*)`", README.read_text()))
    assert {"demo", "demo-down", "test"} <= mentioned
    assert mentioned <= targets, f"README mentions missing targets: {mentioned - targets}"
