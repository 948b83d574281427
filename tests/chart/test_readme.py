"""The chart README's values table is helm-docs' own rendering of values.yaml.

helm-docs (github.com/norwoodj/helm-docs, built by hack/build-controlplane.sh)
reads the ``# --`` comments; these tests require the committed README to be
exactly what it renders, and every value to carry a description.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.chart.conftest import CHART
from tests.support.cluster import ensure_binaries

pytestmark = pytest.mark.chart


@pytest.fixture(scope="module")
def helm_docs() -> Path:
    return ensure_binaries(quiet=True).helm_docs


def render(helm_docs: Path, chart: Path) -> str:
    """What `make chart-readme` would write for ``chart`` (helm-docs --dry-run)."""
    result = subprocess.run(
        [
            str(helm_docs),
            "--chart-search-root",
            str(chart),
            "--template-files",
            "README.md.gotmpl",
            "--sort-values-order",
            "file",
            "--dry-run",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        cwd=chart,
    )
    return result.stdout


def table_rows(readme: str) -> list[list[str]]:
    rows = [line for line in readme.splitlines() if line.startswith("| ")]
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in rows[1:]]


def test_the_committed_readme_is_what_helm_docs_renders(helm_docs: Path) -> None:
    rendered = render(helm_docs, CHART)
    assert rendered.strip() == (CHART / "README.md").read_text().strip(), (
        "charts/interconnect-operator/README.md is stale: run `make chart-readme`"
    )


def test_every_value_has_a_description(helm_docs: Path) -> None:
    rows = table_rows(render(helm_docs, CHART))
    assert len(rows) > 40
    undocumented = [row[0] for row in rows if not row[3]]
    assert not undocumented, f"values without a '# --' comment: {undocumented}"


def test_a_changed_or_undocumented_value_shows_in_the_table(
    helm_docs: Path, tmp_path: Path
) -> None:
    chart = tmp_path / "interconnect-operator"
    shutil.copytree(CHART, chart)
    values = chart / "values.yaml"
    values.write_text(
        values.read_text().replace("replicaCount: 1", "replicaCount: 3")
        + "undocumentedKey:\n  nested: 1\n"
    )
    rows = {row[0]: row for row in table_rows(render(helm_docs, chart))}
    assert rows["replicaCount"][2] == "`3`"
    assert rows["undocumentedKey.nested"][3] == ""
