"""The chart's copies (CRDs, RBAC rules, alerts, dashboard) and README table are current."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.chart.conftest import CHART, REPO


def _load(script: str) -> ModuleType:
    path = REPO / "hack" / script
    spec = importlib.util.spec_from_file_location(
        script.replace("-", "_").removesuffix(".py"), path
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # dataclasses look their module up in sys.modules while the class is built
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("script", ["chart-sync.py", "chart-readme.py"])
def test_chart_copy_and_readme_are_current(script: str) -> None:
    proc = subprocess.run(
        [sys.executable, str(REPO / "hack" / script), "--check"],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
    )
    assert proc.returncode == 0, f"run `python hack/{script}`:\n{proc.stderr}"


@pytest.fixture
def chart_sync_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[ModuleType, Path]:
    """chart-sync pointed at a copy of the repository's inputs and chart files."""
    module = _load("chart-sync.py")
    for folder in ("crds", "deploy"):
        shutil.copytree(REPO / folder, tmp_path / folder)
    files = tmp_path / "chart-files"
    shutil.copytree(CHART / "files", files)
    monkeypatch.setattr(module, "REPO", tmp_path)
    monkeypatch.setattr(module, "FILES", files)
    return module, files


def test_chart_sync_check_detects_stale_missing_and_orphan_files(
    chart_sync_in_tmp: tuple[ModuleType, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    module, files = chart_sync_in_tmp
    assert module.main(["--check"]) == 0
    crd = next((files / "crds").glob("*.yaml"))
    crd.write_text(crd.read_text() + "# edited by hand\n")
    (files / "rbac-rules.yaml").unlink()
    (files / "crds" / "interconnect.io_gone.yaml").write_text("kind: CustomResourceDefinition\n")
    assert module.main(["--check"]) == 1
    err = capsys.readouterr().err
    assert f"{crd.name}: stale" in err
    assert "rbac-rules.yaml: missing" in err
    assert "interconnect.io_gone.yaml: orphan" in err
    # writing mode repairs all three
    assert module.main([]) == 0
    assert module.main(["--check"]) == 0
    assert not (files / "crds" / "interconnect.io_gone.yaml").exists()


def test_chart_readme_check_fails_when_values_change(tmp_path: Path) -> None:
    module = _load("chart-readme.py")
    chart = tmp_path / "chart"
    chart.mkdir()
    for name in ("values.yaml", "README.md"):
        shutil.copy(CHART / name, chart / name)
    assert module.main(["--check", "--chart", str(chart)]) == 0
    values = chart / "values.yaml"
    values.write_text(values.read_text().replace("replicaCount: 1", "replicaCount: 3"))
    assert module.main(["--check", "--chart", str(chart)]) == 1
    assert module.main(["--chart", str(chart)]) == 0
    assert "| `replicaCount` | int | `3` |" in (chart / "README.md").read_text()


def test_chart_readme_refuses_undocumented_values() -> None:
    module = _load("chart-readme.py")
    text = "# -- documented\na: 1\nb:\n  c: 2\n"
    with pytest.raises(SystemExit, match=r"b\.c"):
        module.render_table(text)


def test_chart_readme_documents_nested_keys_with_their_path() -> None:
    module = _load("chart-readme.py")
    text = "outer:\n  # -- the inner value,\n  # on two lines\n  inner: [x]\n"
    table = module.render_table(text)
    assert '| `outer.inner` | list | `["x"]` | the inner value, on two lines |' in table
