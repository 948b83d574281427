"""Fetch the pinned Connection Coordinator spec into ``.cache/spec/`` (``make spec``).

The tests validate requests and responses against the upstream OpenAPI files,
which are not part of this repository. This script downloads the archive of
the pinned upstream commit (``hack/spec/PIN``), keeps only the data files of
its ``connection-coordinator/`` directory and checks every one of them against
``hack/spec/SHA256SUMS`` before it unpacks anything. Hashes are taken per file
because the forge builds its archives on the fly and does not promise that the
archive bytes stay the same from one download to the next.

Exit status 0 when ``.cache/spec/<commit>/`` holds exactly the verified files,
1 on a download or verification failure (nothing is left behind then).

Usage: ``python hack/spec_fetch.py [--url URL] [--dest DIR]``; ``--url`` (or
``SPEC_ARCHIVE_URL``) takes any URL urllib reads, ``file://`` included.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import shutil
import sys
import tarfile
import tempfile
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent
PIN_FILE = HERE / "spec" / "PIN"
SUMS_FILE = HERE / "spec" / "SHA256SUMS"
MAX_ARCHIVE_BYTES = 64 * 1024 * 1024  # the whole upstream repository is far below this


class SpecError(Exception):
    """The archive could not be fetched or does not match the pinned files."""


def read_pin(path: Path = PIN_FILE) -> dict[str, str]:
    pin: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition("=")
            pin[key.strip()] = value.strip()
    return pin


def read_sums(path: Path = SUMS_FILE) -> dict[str, str]:
    """``relative path -> sha256`` from a ``sha256sum``-style file."""
    sums: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            digest, name = line.split(maxsplit=1)
            sums[name.strip()] = digest.lower()
    return sums


def default_url(pin: dict[str, str]) -> str:
    return f"https://github.com/{pin['repository']}/archive/{pin['commit']}.tar.gz"


def default_dest(pin: dict[str, str]) -> Path:
    return REPO_ROOT / ".cache" / "spec" / pin["commit"]


def download(url: str) -> bytes:
    if not url.startswith(("https://", "file://")):
        raise SpecError(f"refusing to fetch {url!r}: only https:// and file:// URLs")
    try:
        with urllib.request.urlopen(url, timeout=60) as response:  # noqa: S310 (scheme checked above)
            data: bytes = response.read(MAX_ARCHIVE_BYTES + 1)
    except OSError as exc:
        raise SpecError(f"cannot fetch {url}: {exc}") from exc
    if len(data) > MAX_ARCHIVE_BYTES:
        raise SpecError(f"{url} is larger than {MAX_ARCHIVE_BYTES} bytes")
    return data


def extract_verified(archive: bytes, directory: str, sums: dict[str, str]) -> dict[str, bytes]:
    """The files of ``sums`` read from ``<top>/<directory>/`` of the archive, each verified."""
    found: dict[str, bytes] = {}
    prefix = directory.strip("/") + "/"
    try:
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:*") as tar:
            for member in tar:
                # Archives from the forge put everything under one top folder.
                _, _, inner = member.name.partition("/")
                if not member.isfile() or not inner.startswith(prefix):
                    continue
                relative = inner[len(prefix) :]
                if relative not in sums:
                    continue
                handle = tar.extractfile(member)
                if handle is None:
                    continue
                found[relative] = handle.read()
    except tarfile.TarError as exc:
        raise SpecError(f"not a readable tar archive: {exc}") from exc
    missing = sorted(set(sums) - set(found))
    if missing:
        raise SpecError(f"archive lacks {len(missing)} pinned file(s): {', '.join(missing)}")
    mismatched = sorted(
        name for name, data in found.items() if hashlib.sha256(data).hexdigest() != sums[name]
    )
    if mismatched:
        raise SpecError(f"sha256 mismatch for: {', '.join(mismatched)}")
    return found


def install(files: dict[str, bytes], dest: Path) -> None:
    """Write ``files`` into ``dest``, replacing it only once all are written."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".spec-", dir=dest.parent))
    try:
        for relative, data in files.items():
            target = staging / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        if dest.exists():
            shutil.rmtree(dest)
        staging.rename(dest)
    finally:
        if staging.exists():
            shutil.rmtree(staging)


def main(argv: list[str] | None = None) -> int:
    pin = read_pin()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=os.environ.get("SPEC_ARCHIVE_URL") or default_url(pin))
    parser.add_argument("--dest", type=Path, default=default_dest(pin))
    args = parser.parse_args(argv)
    try:
        files = extract_verified(download(args.url), pin["directory"], read_sums())
        install(files, args.dest)
    except SpecError as exc:
        sys.stderr.write(f"spec: {exc}\n")
        return 1
    pinned = f"{pin['repository']}@{pin['commit'][:12]}"
    sys.stdout.write(f"spec: {len(files)} files of {pinned} in {args.dest}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
