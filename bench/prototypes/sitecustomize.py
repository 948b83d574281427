"""Benchmark prototypes of operator changes, applied from outside the package.

``python -m bench.run --prototype NAME`` puts this folder first on the
operator process's PYTHONPATH and sets ``BENCH_PROTOTYPES=NAME[,NAME]``, so
that a proposed change can be measured without editing operator/ (the
report quotes the measured effect; the lead applies the real patch):

- ``unlimited-kopf-workers``: kopf's per-object workers unlimited, i.e.
  ``settings.batching.worker_limit`` left at None (k8s/handlers.py sets 32).
  With a limit, kopf's scheduler admits the 33rd object's events only when
  one of 32 workers exits, which it does ``batching.idle_timeout`` (5 s)
  after its object's last event: a burst proceeds in waves of 32 links.
- ``sniffio``: make ``import sniffio`` succeed. httpcore imports it on every
  lock it creates (httpcore/_synchronization.py); anyio >= 4.12 no longer
  depends on it, the failed import is not cached, so every provider request
  walks sys.path. The real change is a dependency on ``sniffio``; the
  stand-in answers "asyncio", which is what the operator runs on.
"""

from __future__ import annotations

import os
import sys
import types
from typing import Any

_WANTED = {p.strip() for p in os.environ.get("BENCH_PROTOTYPES", "").split(",") if p.strip()}

if "sniffio" in _WANTED:
    try:
        import sniffio  # type: ignore[import-not-found]  # noqa: F401
    except ImportError:
        stub = types.ModuleType("sniffio")
        stub.current_async_library = lambda: "asyncio"  # type: ignore[attr-defined]
        sys.modules["sniffio"] = stub

if "unlimited-kopf-workers" in _WANTED:
    from kopf._cogs.configs import configuration

    def _setattr(self: Any, name: str, value: Any) -> None:
        object.__setattr__(self, name, None if name == "worker_limit" else value)

    configuration.QueueingSettings.__setattr__ = _setattr  # type: ignore[method-assign]
