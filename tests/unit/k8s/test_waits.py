"""k8s.waits: a bounded wait for an Event that never loses a cancellation."""

from __future__ import annotations

import asyncio

from interconnect_operator.k8s.waits import wait_set


async def _sleeper(event: asyncio.Event, rounds: list[int]) -> None:
    """A loop that sleeps until woken, as the pool loops do; ends only by cancellation."""
    while True:
        rounds.append(1)
        event.clear()
        await wait_set(event, 5.0)


async def test_a_cancellation_right_after_the_event_is_raised() -> None:
    event = asyncio.Event()
    rounds: list[int] = []
    task = asyncio.create_task(_sleeper(event, rounds))
    for _ in range(5):
        await asyncio.sleep(0)
    event.set()
    task.cancel()  # before the task ran again: asyncio.wait_for (3.11) returned instead
    done, _ = await asyncio.wait({task}, timeout=5.0)
    assert task in done
    assert task.cancelled()
    assert len(rounds) == 1


async def test_set_times_out_and_unbounded() -> None:
    event = asyncio.Event()
    assert await wait_set(event, 0.01) is False
    event.set()
    assert await wait_set(event, 0.01) is True
    assert await wait_set(event, None) is True
