"""k8s.waits: a bounded wait for an Event that never loses a cancellation."""

from __future__ import annotations

import asyncio

from interconnect_operator.k8s.waits import wait_any, wait_set


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


async def _either(events: tuple[asyncio.Event, asyncio.Event], rounds: list[int]) -> None:
    while True:
        rounds.append(1)
        for event in events:
            event.clear()
        await wait_any(events, 5.0)


async def test_any_a_cancellation_right_after_an_event_is_raised_and_no_waiter_is_left() -> None:
    events = (asyncio.Event(), asyncio.Event())
    rounds: list[int] = []
    before = len(asyncio.all_tasks())
    task = asyncio.create_task(_either(events, rounds))
    for _ in range(5):
        await asyncio.sleep(0)
    events[1].set()
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=5.0)
    assert task in done
    assert task.cancelled()
    assert len(rounds) == 1
    for _ in range(3):
        await asyncio.sleep(0)
    assert len(asyncio.all_tasks()) == before


async def test_any_times_out_or_sees_either_event() -> None:
    first, second = asyncio.Event(), asyncio.Event()
    assert await wait_any((first, second), 0.01) is False
    second.set()
    assert await wait_any((first, second), 0.01) is True
    second.clear()
    asyncio.get_running_loop().call_later(0.01, first.set)
    assert await wait_any((first, second), 5.0) is True
