"""The link work queue (k8s.workqueue): keying, one reconcile at a time per key, requeue,
changes served before rechecks without starving them."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Callable

import pytest

from interconnect_operator.k8s.workqueue import RECHECK_SHARE, Priority, Requeue, WorkQueue

BOUND = 5.0  # a bound on waiting, never a timing assertion


class Recorder:
    """A processor that counts runs per key, tracks overlap and can be held at a gate."""

    def __init__(self) -> None:
        self.runs: Counter[str] = Counter()
        self.order: list[str] = []
        self.active: Counter[str] = Counter()
        self.max_active: Counter[str] = Counter()
        self.gates: dict[str, asyncio.Event] = {}
        self.entered: dict[str, asyncio.Event] = {}
        self.delays: dict[str, list[float | Requeue | None]] = {}
        self.done = asyncio.Condition()

    async def __call__(self, key: str) -> float | Requeue | None:
        self.order.append(key)
        self.active[key] += 1
        self.max_active[key] = max(self.max_active[key], self.active[key])
        self.entered.setdefault(key, asyncio.Event()).set()
        try:
            if key in self.gates:
                await self.gates[key].wait()
            if key == "boom":
                raise RuntimeError("reconcile bug")
        finally:
            self.active[key] -= 1
            self.runs[key] += 1
            async with self.done:
                self.done.notify_all()
        planned = self.delays.get(key)
        return planned.pop(0) if planned else None

    async def wait_runs(self, key: str, count: int) -> None:
        async with self.done:
            await asyncio.wait_for(self.done.wait_for(lambda: self.runs[key] >= count), BOUND)

    def hold(self, key: str) -> None:
        """Hold ``key``'s next reconciles at a gate until :meth:`release`."""
        self.gates[key] = asyncio.Event()

    def release(self, key: str) -> None:
        self.gates[key].set()

    async def wait_entered(self, key: str) -> None:
        """Wait (bounded) until a reconcile of ``key`` has begun."""
        await asyncio.wait_for(self.entered.setdefault(key, asyncio.Event()).wait(), BOUND)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
async def make_queue(recorder: Recorder) -> AsyncIterator[Callable[..., WorkQueue[str]]]:
    queues: list[WorkQueue[str]] = []

    def factory(workers: int = 4) -> WorkQueue[str]:
        queue: WorkQueue[str] = WorkQueue(recorder, workers=workers, name="test")
        queues.append(queue)
        return queue

    yield factory
    for queue in queues:
        await queue.stop()


async def _settle(queue: WorkQueue[str], until: Callable[[], bool] | None = None) -> None:
    """Let workers run until the queue is idle (and ``until`` holds), bounded."""

    async def idle() -> None:
        while not (queue.idle and (until is None or until())):
            await asyncio.sleep(0)

    await asyncio.wait_for(idle(), BOUND)


async def _start_holding(queue: WorkQueue[str], recorder: Recorder, key: str) -> None:
    """Start the queue with ``key`` added and wait until its reconcile is held at its gate."""
    recorder.hold(key)
    queue.start()
    queue.add(key)
    await recorder.wait_entered(key)


async def test_a_key_queued_many_times_is_processed_once(
    make_queue: Callable[..., WorkQueue[str]], recorder: Recorder
) -> None:
    queue = make_queue()
    for _ in range(3):
        queue.add("a")
    queue.add("b")
    assert len(queue) == 2
    queue.start()
    await recorder.wait_runs("b", 1)
    await _settle(queue)
    assert recorder.runs == Counter({"a": 1, "b": 1})


async def test_one_reconcile_at_a_time_per_key_and_one_rerun_for_changes_meanwhile(
    make_queue: Callable[..., WorkQueue[str]], recorder: Recorder
) -> None:
    queue = make_queue(workers=4)
    await _start_holding(queue, recorder, "a")
    # Changes while "a" is being reconciled: free workers must not start it again.
    queue.add("a")
    queue.add("a")
    queue.add("b")
    await recorder.wait_runs("b", 1)
    assert recorder.active["a"] == 1
    recorder.release("a")
    await recorder.wait_runs("a", 2)
    await _settle(queue)
    assert recorder.runs["a"] == 2
    assert recorder.max_active["a"] == 1


async def test_a_requested_requeue_runs_the_key_again(
    make_queue: Callable[..., WorkQueue[str]], recorder: Recorder
) -> None:
    queue = make_queue()
    recorder.delays["a"] = [0.01, None]
    queue.start()
    queue.add("a")
    await recorder.wait_runs("a", 2)
    await _settle(queue, until=lambda: len(queue) == 0)
    assert recorder.runs["a"] == 2


async def test_add_after_keeps_the_earlier_due_time(
    make_queue: Callable[..., WorkQueue[str]], recorder: Recorder
) -> None:
    queue = make_queue()
    queue.start()
    queue.add_after("a", 0.01)
    queue.add_after("a", 3600)  # later: ignored
    queue.add_after("b", 3600)
    queue.add_after("b", 0.01)  # earlier: replaces
    await recorder.wait_runs("a", 1)
    await recorder.wait_runs("b", 1)
    assert recorder.runs == Counter({"a": 1, "b": 1})


async def test_forget_drops_a_delayed_requeue(
    make_queue: Callable[..., WorkQueue[str]], recorder: Recorder
) -> None:
    queue = make_queue()
    queue.start()
    queue.add_after("gone", 0.01)
    queue.forget("gone")
    queue.add_after("later", 0.05)  # due after "gone" would have been
    await recorder.wait_runs("later", 1)
    assert recorder.runs["gone"] == 0


async def test_a_failing_reconcile_is_retried_later_and_the_worker_survives(
    make_queue: Callable[..., WorkQueue[str]], recorder: Recorder
) -> None:
    queue = make_queue(workers=1)
    queue.start()
    queue.add("boom")
    await recorder.wait_runs("boom", 1)
    queue.add("next")
    await recorder.wait_runs("next", 1)
    assert len(queue) == 1  # "boom" waits for its retry
    assert recorder.runs["boom"] == 1


async def test_stop_cancels_a_reconcile_in_flight(
    make_queue: Callable[..., WorkQueue[str]], recorder: Recorder
) -> None:
    queue = make_queue(workers=1)
    await _start_holding(queue, recorder, "a")
    await queue.stop()
    assert recorder.active["a"] == 0
    assert queue.idle


async def test_changes_are_served_before_rechecks_queued_earlier(
    make_queue: Callable[..., WorkQueue[str]], recorder: Recorder
) -> None:
    queue = make_queue(workers=1)
    for index in range(3):
        queue.add(f"recheck-{index}", Priority.RECHECK)
    queue.add("new-link")  # a change: the default priority
    queue.add("edited", Priority.CHANGE)
    assert queue.waiting(Priority.RECHECK) == 3
    assert queue.waiting(Priority.CHANGE) == 2
    queue.start()
    await _settle(queue, until=lambda: len(recorder.order) == 5)
    assert recorder.order == ["new-link", "edited", "recheck-0", "recheck-1", "recheck-2"]


async def test_a_waiting_recheck_added_for_a_change_moves_up_and_runs_once(
    make_queue: Callable[..., WorkQueue[str]], recorder: Recorder
) -> None:
    queue = make_queue(workers=1)
    queue.add("other", Priority.RECHECK)
    queue.add("link", Priority.RECHECK)
    queue.add("link")  # its provider state changed meanwhile
    queue.add("link", Priority.RECHECK)  # a recheck never moves it back down
    assert len(queue) == 2
    assert queue.waiting(Priority.CHANGE) == 1
    queue.start()
    await _settle(queue, until=lambda: len(recorder.order) == 2)
    assert recorder.order == ["link", "other"]
    assert recorder.runs == Counter({"link": 1, "other": 1})


async def test_rechecks_are_not_starved_by_a_stream_of_changes(
    make_queue: Callable[..., WorkQueue[str]], recorder: Recorder
) -> None:
    queue = make_queue(workers=1)
    queue.add("recheck", Priority.RECHECK)
    changes = [f"change-{index:03d}" for index in range(5 * RECHECK_SHARE)]
    for key in changes:
        queue.add(key)
    queue.start()
    await recorder.wait_runs("recheck", 1)
    # Served within one share of the changes, not after all of them.
    assert recorder.order.index("recheck") == RECHECK_SHARE - 1
    await _settle(queue)
    assert sorted(recorder.order) == sorted([*changes, "recheck"])


async def test_a_requeue_keeps_the_priority_the_processor_asked_for(
    make_queue: Callable[..., WorkQueue[str]], recorder: Recorder
) -> None:
    queue = make_queue(workers=1)
    recorder.hold("slow")
    recorder.delays["ready"] = [Requeue(0.01, Priority.RECHECK), None]
    queue.start()
    queue.add("ready")
    await recorder.wait_runs("ready", 1)
    queue.add("slow")  # holds the only worker while "ready" comes due as a recheck
    await recorder.wait_entered("slow")
    await _settle_due(queue, "ready", Priority.RECHECK)
    queue.add("changed")
    recorder.release("slow")
    await _settle(queue, until=lambda: recorder.runs["ready"] == 2)
    assert recorder.order == ["ready", "slow", "changed", "ready"]


async def test_a_change_during_a_reconcile_reruns_at_the_change_priority(
    make_queue: Callable[..., WorkQueue[str]], recorder: Recorder
) -> None:
    queue = make_queue(workers=1)
    await _start_holding(queue, recorder, "a")
    queue.add("a", Priority.RECHECK)
    queue.add("a")  # the change wins over the recheck asked for meanwhile
    queue.add("b", Priority.RECHECK)
    recorder.release("a")
    await _settle(queue, until=lambda: len(recorder.order) == 3)
    assert recorder.order == ["a", "a", "b"]


async def _settle_due(queue: WorkQueue[str], key: str, priority: Priority) -> None:
    """Wait (bounded) until the delayed ``key`` is queued at ``priority``."""

    async def due() -> None:
        while queue.waiting(priority) == 0:
            await asyncio.sleep(0.005)

    await asyncio.wait_for(due(), BOUND)
