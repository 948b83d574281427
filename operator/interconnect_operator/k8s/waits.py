"""A bounded wait for an ``asyncio.Event`` that never loses a cancellation.

On Python 3.11, ``asyncio.wait_for(event.wait(), timeout)`` returns normally
when its task is cancelled after the event was set but before the task ran
again (CPython gh-86296, bpo-42130; 3.12 rebuilt ``wait_for`` on
``asyncio.timeout``): the cancellation is lost. A loop that sleeps that way and
is stopped with ``task.cancel()`` then runs on, and whoever awaits the
cancelled task waits for ever. That is how a deleted pool's loop outlived its
pool: the pool's deletion cancelled the loop just after a link's release had
woken it, the loop went on writing the status of a pool that no longer existed
(404 every refresh), and the pool watch, waiting in ``stop_pool`` for the loop
to end, delivered no pool event again (tests/unit/k8s/test_waits.py,
tests/unit/k8s/test_pools.py). ``wait_set`` is the same wait with the
cancellation always raised.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence


async def wait_set(event: asyncio.Event, timeout: float | None) -> bool:
    """Wait until ``event`` is set or ``timeout`` seconds have passed (None: no
    bound); True if it was set. A cancellation of the caller is always raised."""
    if timeout is None:
        await event.wait()
        return True
    try:
        async with asyncio.timeout(timeout):
            await event.wait()
    except TimeoutError:
        return False
    return True


async def wait_any(events: Sequence[asyncio.Event], timeout: float) -> bool:
    """Wait until one of ``events`` is set or ``timeout`` seconds have passed;
    True if one was set. A cancellation of the caller is always raised
    (``asyncio.wait`` never swallows it), and no waiter outlives the call."""
    if any(event.is_set() for event in events):
        return True
    waiters = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        done, _ = await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
    return bool(done)
