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


@pytest.mark.parametrize("script", ["chart-sync.py"])
def test_chart_copy_is_current(script: str) -> None:
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
