"""``make spec``: the fetcher unpacks the pinned files only when every hash matches.

The forge is out of reach in tests, so each test builds an archive shaped like
the forge's (one top folder, the spec under ``connection-coordinator/``) from
the spec the tests already use, serves it as a ``file://`` URL and runs
``hack/spec_fetch.py`` as a user would.
"""

from __future__ import annotations

import importlib.util
import io
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from tests.support.spec import REPO_ROOT, pinned_commit, spec_dir

FETCHER = REPO_ROOT / "hack" / "spec_fetch.py"
SUMS = REPO_ROOT / "hack" / "spec" / "SHA256SUMS"
TOP = "Interconnect-8c3beb10cde28749b88aae831aed43d01931f56a"


def _pinned_names() -> list[str]:
    return [line.split(maxsplit=1)[1] for line in SUMS.read_text().splitlines() if line.strip()]


def _archive(path: Path, *, tamper: str | None = None, drop: str | None = None) -> str:
    source = spec_dir()
    with tarfile.open(path, "w:gz") as tar:
        for name in [*_pinned_names(), "README.md"]:
            if name == drop:
                continue
            data = (source / name).read_bytes() if (source / name).is_file() else b"readme\n"
            if name == tamper:
                data += b"\n# changed\n"
            info = tarfile.TarInfo(f"{TOP}/connection-coordinator/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        extra = b"not part of the spec\n"
        info = tarfile.TarInfo(f"{TOP}/LICENSE")
        info.size = len(extra)
        tar.addfile(info, io.BytesIO(extra))
    return path.as_uri()


def _fetch(url: str, dest: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(FETCHER), "--url", url, "--dest", str(dest)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def pinned_spec_present() -> None:
    if not (spec_dir() / "openapi.yaml").is_file():
        pytest.fail(f"no spec at {spec_dir()}: run `make spec`")


@pytest.mark.usefixtures("pinned_spec_present")
def test_fetch_unpacks_exactly_the_pinned_files(tmp_path: Path) -> None:
    dest = tmp_path / "cache" / "spec"
    result = _fetch(_archive(tmp_path / "a.tar.gz"), dest)
    assert result.returncode == 0, result.stderr
    unpacked = sorted(str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file())
    assert unpacked == sorted(_pinned_names())
    assert (dest / "openapi.yaml").read_bytes() == (spec_dir() / "openapi.yaml").read_bytes()


@pytest.mark.usefixtures("pinned_spec_present")
def test_a_changed_file_is_refused_and_nothing_is_unpacked(tmp_path: Path) -> None:
    dest = tmp_path / "spec"
    result = _fetch(_archive(tmp_path / "a.tar.gz", tamper="schemas/feature.yaml"), dest)
    assert result.returncode == 1
    assert "sha256 mismatch for: schemas/feature.yaml" in result.stderr
    assert not dest.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["a.tar.gz"]  # no staging left behind


@pytest.mark.usefixtures("pinned_spec_present")
def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    dest = tmp_path / "spec"
    result = _fetch(_archive(tmp_path / "a.tar.gz", drop="paths/issues.yaml"), dest)
    assert result.returncode == 1
    assert "lacks 1 pinned file(s): paths/issues.yaml" in result.stderr
    assert not dest.exists()


def test_a_url_that_is_not_an_archive_is_refused(tmp_path: Path) -> None:
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"<html>not found</html>")
    result = _fetch(junk.as_uri(), tmp_path / "spec")
    assert result.returncode == 1
    assert "not a readable tar archive" in result.stderr


def test_only_https_and_file_urls_are_fetched(tmp_path: Path) -> None:
    result = _fetch("http://127.0.0.1:9/x.tar.gz", tmp_path / "spec")
    assert result.returncode == 1
    assert "only https:// and file:// URLs" in result.stderr


def test_without_a_spec_the_error_names_the_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code = (
        "import tests.support.spec as s\n"
        "s.REPO_ROOT = __import__('pathlib').Path(r'%s')\n"
        "s.spec_operations()\n"
    )
    fake_root = tmp_path / "clone"
    (fake_root / "hack" / "spec").mkdir(parents=True)
    (fake_root / "hack" / "spec" / "PIN").write_text("commit=abc\n")
    monkeypatch.delenv("INTERCONNECT_SPEC_DIR", raising=False)
    result = subprocess.run(
        [sys.executable, "-c", code % fake_root],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=REPO_ROOT,
    )
    assert result.returncode != 0
    assert "run `make spec`" in result.stderr


def test_make_spec_writes_where_the_tests_read(monkeypatch: pytest.MonkeyPatch) -> None:
    loader = importlib.util.spec_from_file_location("spec_fetch", FETCHER)
    assert loader is not None
    assert loader.loader is not None
    fetcher = importlib.util.module_from_spec(loader)
    loader.loader.exec_module(fetcher)
    monkeypatch.delenv("INTERCONNECT_SPEC_DIR", raising=False)
    pin = fetcher.read_pin()
    assert pin["commit"] == pinned_commit()
    assert fetcher.default_dest(pin).resolve() == spec_dir()
    assert set(fetcher.read_sums()) == set(_pinned_names())
