"""The link work queue: de-duplication, re-runs, and client-go's queue metrics.

The queue reports to the operator's real `OperatorMetrics`; values are read
from a scrape as Prometheus would read them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families

from interconnect_operator.k8s import workqueue
from interconnect_operator.k8s.workqueue import WorkQueue
from interconnect_operator.metrics import OperatorMetrics, render


def scrape(metrics: OperatorMetrics) -> dict[tuple[str, str], float]:
    """(sample name, queue name) -> value for the work-queue families."""
    text = render(metrics).decode()
    return {
        (s.name, s.labels.get("name", "")): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name.startswith("interconnect_workqueue_") and "le" not in s.labels
    }


@pytest.fixture
def provider_reset() -> Iterator[None]:
    yield
    workqueue.set_metrics_provider(None)


async def test_queue_metrics_follow_adds_waits_work_and_retries(provider_reset: None) -> None:
    metrics = OperatorMetrics()
    workqueue.set_metrics_provider(metrics.workqueue)
    release = asyncio.Event()
    started = asyncio.Event()
    done: list[str] = []

    async def process(key: str) -> float | None:
        if key == "slow":
            started.set()
            await release.wait()
        done.append(key)
        return 3600.0 if key == "again" else None

    queue: WorkQueue[str] = WorkQueue(process, workers=1, name="links")
    queue.add("slow")
    queue.add("slow")  # already waiting: not added twice
    queue.add("again")
    before = scrape(metrics)
    assert before[("interconnect_workqueue_adds_total", "links")] == 2
    assert before[("interconnect_workqueue_depth", "links")] == 2

    queue.start()
    try:
        await asyncio.wait_for(started.wait(), 5)
        during = scrape(metrics)
        # One key in work, one waiting behind the single worker.
        assert during[("interconnect_workqueue_depth", "links")] == 1
        longest = during[("interconnect_workqueue_longest_running_processor_seconds", "links")]
        unfinished = during[("interconnect_workqueue_unfinished_work_seconds", "links")]
        assert longest >= 0
        assert unfinished == longest  # a single reconcile in flight
        queue.add("slow")  # marked to run again after the current reconcile
        release.set()
        for _ in range(100):
            if done.count("slow") == 2 and "again" in done:
                break
            await asyncio.sleep(0.01)
        assert done.count("slow") == 2
        assert "again" in done
    finally:
        await queue.stop()

    after = scrape(metrics)
    assert after[("interconnect_workqueue_adds_total", "links")] == 3
    assert after[("interconnect_workqueue_depth", "links")] == 0
    assert after[("interconnect_workqueue_longest_running_processor_seconds", "links")] == 0
    # "again" asked to be looked at in an hour: one requeue with a delay.
    assert after[("interconnect_workqueue_retries_total", "links")] == 1
    assert after[("interconnect_workqueue_queue_duration_seconds_count", "links")] == 3
    assert after[("interconnect_workqueue_work_duration_seconds_count", "links")] == 3
    assert len(queue) == 1  # the delayed "again"


async def test_a_failing_reconcile_counts_as_a_retry(provider_reset: None) -> None:
    metrics = OperatorMetrics()
    failed = asyncio.Event()

    async def process(key: str) -> float | None:
        failed.set()
        raise RuntimeError("boom")

    queue: WorkQueue[str] = WorkQueue(
        process, workers=1, name="pools", metrics=metrics.workqueue("pools")
    )
    queue.add("p")
    queue.start()
    try:
        await asyncio.wait_for(failed.wait(), 5)
        for _ in range(100):
            if scrape(metrics).get(("interconnect_workqueue_retries_total", "pools")):
                break
            await asyncio.sleep(0.01)
    finally:
        await queue.stop()
    assert scrape(metrics)[("interconnect_workqueue_retries_total", "pools")] == 1


def test_a_queue_without_a_provider_reports_nothing() -> None:
    async def process(key: str) -> float | None:
        return None

    metrics = OperatorMetrics()
    workqueue.set_metrics_provider(None)
    queue: WorkQueue[str] = WorkQueue(process, name="links")
    queue.add("a")
    assert scrape(metrics) == {}
    assert len(queue) == 1
