"""The benchmark's restart figure and the harness helpers it rests on.

``existing_confirmed_seconds`` comes from the operator's own log line at the
end of the restart's bulk confirmation (to the millisecond) when that pass
confirmed every link held before the kill, else from the ``/metrics`` poll.
The line is produced here by the controller's own callback through the
operator's own formatters, so the harness's parser and the operator's line
cannot drift apart unnoticed.
"""

from __future__ import annotations

import asyncio
import io
import logging
import os
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from bench import report, runtime
from bench.measure import Profiler
from bench.run import (
    RestartLogged,
    _profile_result,
    existing_confirmed,
    restart_confirmed_at,
)

from interconnect_operator.k8s.controller import Controller
from interconnect_operator.logging_setup import configure_logging


def _operator_line(json_format: bool, confirmed: int, queued: int) -> tuple[str, float]:
    """What the controller logs when its bulk pass ends, as the operator writes it."""
    stream = io.StringIO()
    handler = configure_logging("INFO", json_format, stream=stream)

    async def done() -> None:
        return None

    async def run() -> None:
        task = asyncio.create_task(done())
        await task
        counts = {"confirmed": confirmed, "queued": queued}
        workers = SimpleNamespace(restart=SimpleNamespace(counts=counts))
        Controller._restart_confirmed(SimpleNamespace(link_workers=workers), task)  # type: ignore[arg-type]

    try:
        before = time.time()
        asyncio.run(run())
    finally:
        logging.getLogger().removeHandler(handler)
    return "some earlier line\n" + stream.getvalue(), before


@pytest.mark.parametrize("json_format", [False, True])
def test_the_operators_restart_line_is_read_to_the_millisecond(json_format: bool) -> None:
    text, before = _operator_line(json_format, confirmed=1000, queued=2)
    logged = restart_confirmed_at(text)
    assert logged is not None
    assert (logged.confirmed, logged.queued) == (1000, 2)
    # The line's own time: within the call (the text format has milliseconds).
    assert before - 0.002 <= logged.wall_time <= time.time() + 0.002


def test_no_restart_line_is_none() -> None:
    assert restart_confirmed_at("2026-12-01 10:00:00,000 INFO x: something else\n{}\n") is None


def test_the_figure_comes_from_the_log_when_the_bulk_pass_confirmed_them_all() -> None:
    logged = RestartLogged(wall_time=1000.0 + 2.345, confirmed=1000, queued=0)
    out = existing_confirmed(logged, links_before=1000, wall_start=1000.0, polled=2.9)
    assert out == {
        "existing_confirmed_seconds": 2.35,  # rounded from 2.345
        "existing_confirmed_from": "operator log: bulk confirmation done",
    }


@pytest.mark.parametrize(
    "logged",
    [
        None,  # no line (an older operator, or the pass never ended)
        RestartLogged(wall_time=1002.0, confirmed=998, queued=2),  # two went to the queue
        RestartLogged(wall_time=1002.0, confirmed=999, queued=0),  # one not held at all
    ],
)
def test_otherwise_the_figure_is_the_polls(logged: RestartLogged | None) -> None:
    out = existing_confirmed(logged, links_before=1000, wall_start=1000.0, polled=2.9)
    assert out == {"existing_confirmed_seconds": 2.9, "existing_confirmed_from": "metrics poll"}
    never = existing_confirmed(logged, links_before=1000, wall_start=1000.0, polled=None)
    assert never["existing_confirmed_seconds"] is None


def _fake_py_spy(tmp_path: Path, writes: bool) -> str:
    """A stand-in for ``py-spy record``: writes ``--output`` on SIGINT, or says why not."""
    script = tmp_path / "py-spy"
    body = (
        "import signal, sys, time\n"
        "out = sys.argv[sys.argv.index('--output') + 1]\n"
        "def stop(*_):\n"
        + (
            "    open(out, 'w').write('main (x.py:1);run (interconnect_operator/a.py:2) 3\\n')\n"
            if writes
            else "    print('Error: permission denied')\n"
        )
        + "    sys.exit(0)\n"
        "signal.signal(signal.SIGINT, stop)\n"
        "print('ready', flush=True)\n"
        "time.sleep(60)\n"
    )
    script.write_text(f"#!{sys.executable}\n{body}")
    script.chmod(0o755)
    return str(script)


def _started(profiler: Profiler) -> Profiler:
    proc: Any = profiler._proc
    assert proc is not None
    assert proc.stdout.readline().strip() == "ready"  # its SIGINT handler is in place
    return profiler


def test_a_profile_is_summarised_once_however_often_it_is_stopped(tmp_path: Path) -> None:
    out = tmp_path / "burst.pyspy.txt"
    profiler = _started(Profiler(_fake_py_spy(tmp_path, writes=True), os.getpid(), out))
    profiler.stop()  # a scenario stops it early, the helper stops it again
    result = _profile_result(profiler)
    assert result["profile_file"] == str(out)
    assert "profile" in result
    assert "profile_error" not in result


def test_a_profile_that_was_not_written_says_why(tmp_path: Path) -> None:
    out = tmp_path / "single.pyspy.txt"
    profiler = _started(Profiler(_fake_py_spy(tmp_path, writes=False), os.getpid(), out))
    result = _profile_result(profiler)
    assert result == {"profile_error": "Error: permission denied"}
    assert _profile_result(None) == {}


def test_the_runtime_marks_the_modules_the_harness_found_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "json", sys.modules["json"])
    monkeypatch.setenv(runtime.OUTSIDE_RUNTIME_ENV, "bench_absent_a,json,,bench_absent_b")
    for name in ("bench_absent_a", "bench_absent_b", "kubernetes"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    try:
        # Imported modules stay; the others are marked without asking the distributions.
        monkeypatch.setattr(runtime, "outside_runtime", lambda *_: pytest.fail("not asked"))
        assert runtime.absent_outside_runtime() == ["bench_absent_a", "bench_absent_b"]
        assert sys.modules["bench_absent_a"] is None
        with pytest.raises(ImportError):
            import bench_absent_b  # type: ignore[import-not-found]  # noqa: F401
        assert sys.modules["json"] is not None
    finally:
        for name in ("bench_absent_a", "bench_absent_b", "kubernetes"):
            sys.modules.pop(name, None)


def test_the_harness_exports_the_list_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(runtime.OUTSIDE_RUNTIME_ENV, raising=False)
    calls: list[int] = []

    def found(*_: object) -> list[str]:
        calls.append(1)
        return ["x_mod", "y_mod"]

    monkeypatch.setattr(runtime, "outside_runtime", found)
    runtime.export_outside_runtime()
    runtime.export_outside_runtime()
    assert os.environ[runtime.OUTSIDE_RUNTIME_ENV] == "x_mod,y_mod"
    assert calls == [1]


def test_outside_runtime_leaves_the_locked_distributions_in(tmp_path: Path) -> None:
    lock = tmp_path / "runtime.txt"
    lock.write_text("kopf==1.0 \\\n    --hash=sha256:00\npydantic==2.0\n")
    names = runtime.outside_runtime(lock)
    assert "kopf" not in names
    assert "pydantic" not in names
    assert "pytest" in names  # a development-only distribution


def test_the_report_says_where_the_restart_figure_comes_from() -> None:
    restart = {
        "name": "restart",
        "n": 1000,
        "links": 1001,
        "confirmed": 1001,
        "recovery_seconds": 3.4,
        "restart_to_live_seconds": 1.2,
        "existing_confirmed_seconds": 2.61,
        "existing_confirmed_from": "operator log: bulk confirmation done",
        "existing_confirmed_poll_seconds": 2.9,
    }
    text = report.render({"scenarios": [restart]}, findings=False)
    assert "confirmed after 2.61 s (operator log: bulk confirmation done" in text
    assert "poll first showed them all at 2.9 s" in text
    polled = {**restart, "existing_confirmed_from": "metrics poll"}
    text = report.render({"scenarios": [polled]}, findings=False)
    assert "(metrics poll)" in text
    assert "first showed them all" not in text
