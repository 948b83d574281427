"""Helpers for the chart tests: find helm, render the chart, load manifests.

helm is ``$HELM``, else the one ``hack/build-controlplane.sh`` recorded in
``${ICO_CACHE:-.cache}/bin/current.env``, else ``helm`` on PATH. Without one,
the tests that need it are skipped with that reason (``make tools`` builds it).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.cluster import cache_dir

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "interconnect-operator"
ALL_ON = Path(__file__).resolve().parent / "values-all-on.yaml"
#: helm template defaults to an old Kubernetes version; the chart needs >= 1.30.
KUBE_VERSION = "1.35.0"

Manifest = dict[str, Any]
Render = Callable[..., list[Manifest]]


def find_helm() -> Path | None:
    if os.environ.get("HELM"):
        return Path(os.environ["HELM"])
    env_file = cache_dir() / "bin" / "current.env"
    if env_file.exists():
        for line in env_file.read_text().splitlines():
            if line.startswith("export HELM="):
                path = Path(line.split("=", 1)[1].strip().strip("'\""))
                if path.is_file():
                    return path
    found = shutil.which("helm")
    return Path(found) if found else None


@pytest.fixture(scope="session")
def helm() -> Path:
    path = find_helm()
    if path is None:
        pytest.skip("helm not found ($HELM, .cache/bin/current.env or PATH): run `make tools`")
    return path


def helm_args(
    values: Sequence[Path] = (), sets: Sequence[str] = (), set_json: Sequence[str] = ()
) -> list[str]:
    args: list[str] = []
    for path in values:
        args += ["-f", str(path)]
    for item in sets:
        args += ["--set", item]
    for item in set_json:
        args += ["--set-json", item]
    return args


def run_helm(helm: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # helm keeps cache, config and data under the project cache, not in $HOME.
    env = {**os.environ, "HELM_CACHE_HOME": str(cache_dir() / "helm" / "cache")}
    env.setdefault("HELM_CONFIG_HOME", str(cache_dir() / "helm" / "config"))
    env.setdefault("HELM_DATA_HOME", str(cache_dir() / "helm" / "data"))
    return subprocess.run(
        [str(helm), *args], capture_output=True, text=True, env=env, check=False, timeout=120
    )


def load_manifests(text: str) -> list[Manifest]:
    return [doc for doc in yaml.safe_load_all(text) if doc]


@pytest.fixture(scope="session")
def render_text(helm: Path) -> Callable[..., str]:
    """``helm template`` output for the given values (fails the test on error)."""

    def render(
        values: Sequence[Path] = (),
        sets: Sequence[str] = (),
        set_json: Sequence[str] = (),
        namespace: str = "interconnect-system",
        release: str = "ico",
    ) -> str:
        proc = run_helm(
            helm,
            "template",
            release,
            str(CHART),
            "--namespace",
            namespace,
            "--kube-version",
            KUBE_VERSION,
            *helm_args(values, sets, set_json),
        )
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    return render


@pytest.fixture(scope="session")
def render(render_text: Callable[..., str]) -> Render:
    """Rendered chart as a list of objects."""

    def _render(**kwargs: Any) -> list[Manifest]:
        return load_manifests(render_text(**kwargs))

    return _render


def by_kind(manifests: Sequence[Manifest], kind: str) -> list[Manifest]:
    return [m for m in manifests if m.get("kind") == kind]


def one(manifests: Sequence[Manifest], kind: str, name_suffix: str = "") -> Manifest:
    found = [m for m in by_kind(manifests, kind) if m["metadata"]["name"].endswith(name_suffix)]
    assert len(found) == 1, f"expected one {kind} *{name_suffix}, got {len(found)}"
    return found[0]
