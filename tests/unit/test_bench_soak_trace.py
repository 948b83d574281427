"""The soak's growth attribution (``--soak-trace``): snapshot numbering and the comparison.

bench/runtime.py numbers the snapshots so the second does not overwrite the
first; bench/soak.trace_growth compares two real tracemalloc snapshots by
traceback; bench/report.py renders the rows.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest
from bench import report
from bench.runtime import snapshot_path
from bench.soak import _short, trace_growth


def test_numbered_snapshots_do_not_overwrite_each_other(tmp_path: Path) -> None:
    out = tmp_path / "operator.tracemalloc"
    assert snapshot_path(out, numbered=False, taken=2) == out
    first, second = (snapshot_path(out, numbered=True, taken=k) for k in (1, 2))
    assert first != second
    assert first.name == "operator.tracemalloc.1"
    assert second.name == "operator.tracemalloc.2"


@pytest.fixture
def tracing() -> Iterator[None]:
    was = tracemalloc.is_tracing()
    if not was:
        tracemalloc.start(4)
    try:
        yield
    finally:
        if not was:
            tracemalloc.stop()


def _grow(registry: dict[str, bytes], count: int) -> None:
    for i in range(count):
        registry[f"link-{i:06d}"] = bytes(1024)  # the growing line


def _grow_line() -> int:
    import inspect

    source, first = inspect.getsourcelines(_grow)
    return first + next(i for i, line in enumerate(source) if "the growing line" in line)


def test_growth_names_the_line_that_keeps_adding(tracing: None, tmp_path: Path) -> None:
    kept: dict[str, bytes] = {}
    before = tmp_path / "s.1"
    tracemalloc.take_snapshot().dump(str(before))
    _grow(kept, 2000)
    transient: dict[str, bytes] = {}
    _grow(transient, 500)
    del transient  # grown and freed between the snapshots: not growth
    after = tmp_path / "s.2"
    tracemalloc.take_snapshot().dump(str(after))

    growth = trace_growth(before, after, top=5)

    top = growth["top_growth"][0]
    assert top["where"][0].endswith(f"test_bench_soak_trace.py:{_grow_line()}")
    # 2,000 keys and 2,000 values of 1 KiB held (and the dict's table); the freed 500 are not.
    assert 4000 <= top["count_diff"] < 4500
    assert 2000 <= top["kib_diff"] < 2500
    assert growth["traced_growth_kib"] >= 2000
    assert growth["traced_mib_after"] > growth["traced_mib_before"]
    assert len(kept) == 2000
    rows = [r["kib_diff"] for r in growth["top_growth"]]
    assert rows == sorted(rows, reverse=True)


def test_report_renders_the_soak_growth_rows() -> None:
    soak = {
        "name": "soak",
        "n": 1000,
        "soak_seconds": 600.0,
        "rss_mib_warmup_end": 100.0,
        "rss_mib_end": 101.0,
        "rss_growth_percent": 1.0,
        "drained": True,
        "provider_leftovers_total": 0,
        "trace_growth": {
            "frames": 6,
            "traced_mib_before": 50.0,
            "traced_mib_after": 52.5,
            "traced_growth_kib": 2560.0,
            "bytes_per_link_churned_after_warmup": 1311,
            "top_growth": [
                {"where": ["a.py:3", "b.py:9"], "kib_diff": 900.0, "count_diff": 12, "kib": 950.0}
            ],
        },
    }
    text = report.render({"scenarios": [soak]}, findings=False)
    assert "1311 bytes per link churned after the warm-up" in text
    assert "| 900 | 12 | 950 | a.py:3 < b.py:9 |" in text


def test_traced_file_names_are_shortened_to_their_package() -> None:
    assert _short("/usr/lib/python3.11/json/decoder.py") == "json/decoder.py"
    assert _short("/v/lib/python3.11/site-packages/aiohttp/streams.py") == "aiohttp/streams.py"
    assert _short("/w/operator/interconnect_operator/k8s/bodies.py") == "k8s/bodies.py"
