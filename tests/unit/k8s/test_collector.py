"""k8s.collector: the survivors of a full collection are frozen; all thawed once per period."""

from __future__ import annotations

import asyncio
import gc

from interconnect_operator.k8s.collector import CollectorPolicy


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_a_full_collection_freezes_its_survivors_and_the_period_thaws_them() -> None:
    clock = _Clock()
    policy = CollectorPolicy(asyncio.get_running_loop(), thaw_seconds=600.0, clock=clock)
    policy.start()
    try:
        kept = [{"n": i} for i in range(1000)]
        gc.collect(2)  # the collector calls back; the freeze runs on the loop
        for _ in range(3):
            await asyncio.sleep(0)
        assert policy.freezes >= 1
        assert gc.get_freeze_count() >= len(kept)
        clock.now = 601.0
        gc.collect(2)
        for _ in range(3):
            await asyncio.sleep(0)
        assert policy.thaws == 1
        assert gc.get_freeze_count() == 0, "the period's full collection walks everything"
        gc.collect(2)  # the next one freezes again
        for _ in range(3):
            await asyncio.sleep(0)
        assert gc.get_freeze_count() > 0
    finally:
        policy.stop()
    assert gc.get_freeze_count() == 0
    assert policy._on_collection not in gc.callbacks


async def test_young_collections_freeze_nothing() -> None:
    policy = CollectorPolicy(asyncio.get_running_loop())
    policy.start()
    try:
        gc.collect(0)
        gc.collect(1)
        for _ in range(3):
            await asyncio.sleep(0)
        assert policy.freezes == 0
        assert gc.get_freeze_count() == 0
    finally:
        policy.stop()


async def test_a_cycle_frozen_with_the_heap_is_collected_after_the_thaw() -> None:
    """What freezing costs: a garbage cycle among frozen objects waits for the
    period's thaw, and is collected then."""
    clock = _Clock()
    policy = CollectorPolicy(asyncio.get_running_loop(), thaw_seconds=600.0, clock=clock)
    policy.start()
    try:

        class Node:
            other: object = None

        a, b = Node(), Node()
        a.other, b.other = b, a
        gc.collect(2)
        for _ in range(3):
            await asyncio.sleep(0)
        assert policy.freezes >= 1
        import weakref

        gone = weakref.ref(a)
        del a, b
        gc.collect(2)  # frozen: not walked, the cycle stays
        for _ in range(3):
            await asyncio.sleep(0)
        assert gone() is not None
        clock.now = 601.0
        gc.collect(2)  # this one thaws (after it)
        for _ in range(3):
            await asyncio.sleep(0)
        gc.collect(2)  # and this one walks everything
        assert gone() is None
    finally:
        policy.stop()
