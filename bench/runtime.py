"""Run a Python module as the image runs it: without the ``kubernetes`` package.

``python -m bench.runtime MODULE ARGS...`` marks ``kubernetes`` as absent
(``sys.modules`` entry ``None``: every import of it raises ImportError) and
runs MODULE's ``main``. The image installs requirements/runtime.txt, which has
no ``kubernetes`` (it is the ``kube`` extra, for exec-plugin kubeconfigs);
the development venv has it for the tests, and kopf imports it whenever it
is importable (``kopf._cogs.helpers.thirdparty``), ~25 MiB of RSS. The
benchmark runs the operator and the floor through this, so that both carry
what production carries.

With ``BENCH_TRACEMALLOC_OUT`` set, tracemalloc traces from the start
(``BENCH_TRACEMALLOC_FRAMES`` frames, default 1) and SIGUSR1 writes the
snapshot to that path plus ``<path>.json`` (traced size and peak, and whether
``kubernetes`` was imported): the benchmark's ``--profile-memory``.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import sys
import tracemalloc
from pathlib import Path
from types import FrameType


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


def main() -> int:
    sys.modules["kubernetes"] = None  # type: ignore[assignment]
    out = os.environ.get("BENCH_TRACEMALLOC_OUT")
    if out:
        tracemalloc.start(int(os.environ.get("BENCH_TRACEMALLOC_FRAMES", "1")))

        def on_signal(_sig: int, _frame: FrameType | None) -> None:
            _dump(Path(out))

        signal.signal(signal.SIGUSR1, on_signal)
    module, argv = sys.argv[1], sys.argv[2:]
    sys.argv = [module, *argv]
    entry = importlib.import_module(module).main
    return int(entry(argv) or 0)


if __name__ == "__main__":
    sys.exit(main())
