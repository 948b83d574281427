"""Run a Python module as the image runs it: with only the runtime packages.

``python -m bench.runtime MODULE ARGS...`` marks every top-level module of an
installed distribution that requirements/runtime.txt does not lock as absent
(``sys.modules`` entry ``None``: every import of it raises ImportError) and
runs MODULE's ``main``. The image installs requirements/runtime.txt only; the
development venv has more for the tests, and libraries import optional
packages whenever they are importable: kopf imports ``kubernetes`` (the
``kube`` extra, ~25 MiB of RSS), httpx imports ``rich``, ``pygments`` and
``click`` for its command line (~5 MiB). The benchmark runs the operator and
the floor through this, so that both carry what production carries.

With ``BENCH_TRACEMALLOC_OUT`` set, tracemalloc traces from the start
(``BENCH_TRACEMALLOC_FRAMES`` frames, default 1) and SIGUSR1 writes the
snapshot to that path plus ``<path>.json`` (traced size and peak, and whether
``kubernetes`` was imported): the benchmark's ``--profile-memory``. With
``BENCH_TRACEMALLOC_NUMBERED`` set too, the k-th signal writes ``<path>.<k>``
(and ``<path>.<k>.json``) so that a later snapshot keeps the earlier one: the
soak's ``--soak-trace`` compares the end of its warm-up with the end of its
churn. ``BENCH_TRACEMALLOC_AFTER_IMPORT`` (modules, comma-separated) starts
tracing once MODULE and those are imported: several frames traced through
every import can keep a loaded machine's operator from answering its
liveness probe in time, and what a soak compares is allocated later.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import json
import os
import re
import signal
import sys
import tracemalloc
from pathlib import Path
from types import FrameType


def snapshot_path(out: Path, numbered: bool, taken: int) -> Path:
    """Where the snapshot of the ``taken``-th signal (from 1) goes."""
    return out.with_name(f"{out.name}.{taken}") if numbered else out


def _dump(out: Path) -> None:
    snapshot = tracemalloc.take_snapshot()
    snapshot.dump(str(out))
    current, peak = tracemalloc.get_traced_memory()
    facts = {
        "traced_bytes": current,
        "traced_peak_bytes": peak,
        "kubernetes_imported": sys.modules.get("kubernetes") is not None,
    }
    out.with_name(out.name + ".json").write_text(json.dumps(facts))


#: The image's lock (Dockerfile: ``pip install --require-hashes -r`` it).
RUNTIME_LOCK = Path(__file__).resolve().parent.parent / "requirements" / "runtime.txt"


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


#: The modules ``outside_runtime`` named, comma-separated, as the harness found them
#: once (``export_outside_runtime``): a process started with it set marks them
#: without asking every installed distribution again (~0.2-0.5 s of every start,
#: which the image never pays and a restart's time to live should not carry).
OUTSIDE_RUNTIME_ENV = "BENCH_OUTSIDE_RUNTIME_MODULES"


def outside_runtime(lock: Path = RUNTIME_LOCK) -> list[str]:
    """The top-level modules of installed distributions the lock does not name."""
    locked = {_normalise(m) for m in re.findall(r"^([A-Za-z0-9][\w.-]*)==", lock.read_text(), re.M)}
    locked.add("interconnect-operator")
    return sorted(
        module
        for module, dists in importlib.metadata.packages_distributions().items()
        if not any(_normalise(d) in locked for d in dists)
    )


def export_outside_runtime() -> None:
    """Find ``outside_runtime`` once, for every process this one starts."""
    if OUTSIDE_RUNTIME_ENV not in os.environ:
        os.environ[OUTSIDE_RUNTIME_ENV] = ",".join(outside_runtime())


def absent_outside_runtime(lock: Path = RUNTIME_LOCK) -> list[str]:
    """Mark the modules of distributions the lock does not name as absent; returns them.

    The names come from ``OUTSIDE_RUNTIME_ENV`` when the harness set it, else
    from the installed distributions. A module already imported stays.
    """
    exported = os.environ.get(OUTSIDE_RUNTIME_ENV)
    names = exported.split(",") if exported is not None else outside_runtime(lock)
    absent = []
    for module in names:
        if not module or module in sys.modules:
            continue
        sys.modules[module] = None  # type: ignore[assignment]
        absent.append(module)
    # The ``kube`` extra, whatever the venv holds.
    sys.modules.setdefault("kubernetes", None)  # type: ignore[arg-type]
    return sorted(absent)


def main() -> int:
    absent_outside_runtime()
    out = os.environ.get("BENCH_TRACEMALLOC_OUT")
    after_import = [m for m in os.environ.get("BENCH_TRACEMALLOC_AFTER_IMPORT", "").split(",") if m]
    frames = int(os.environ.get("BENCH_TRACEMALLOC_FRAMES", "1"))
    if out:
        if not after_import:
            tracemalloc.start(frames)

        numbered = bool(os.environ.get("BENCH_TRACEMALLOC_NUMBERED"))
        taken = [0]

        def on_signal(_sig: int, _frame: FrameType | None) -> None:
            taken[0] += 1
            _dump(snapshot_path(Path(out), numbered, taken[0]))

        signal.signal(signal.SIGUSR1, on_signal)
    module, argv = sys.argv[1], sys.argv[2:]
    sys.argv = [module, *argv]
    entry = importlib.import_module(module).main
    if out and after_import:
        for name in after_import:
            importlib.import_module(name)
        tracemalloc.start(frames)
    return int(entry(argv) or 0)


if __name__ == "__main__":
    sys.exit(main())
