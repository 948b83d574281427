"""The heap trimmer trims once after work, periodically under load, rarely when idle."""

from __future__ import annotations

import asyncio

from interconnect_operator.k8s.heap import HeapTrimmer, TrimPolicy


def _trimmer(calls: list[int], period: float = 10.0) -> HeapTrimmer:
    def trim(pad: int) -> int:
        calls.append(pad)
        return 1

    policy = TrimPolicy(work=1.0, quiet=0.05, busy_every=6)
    return HeapTrimmer(period=period, policy=policy, trim=trim)


def _run(trimmer: HeapTrimmer, cpu: list[float]) -> list[bool]:
    out = []
    for seconds in cpu:
        due = trimmer.due(seconds)
        if due:
            trimmer.trim()
        out.append(due)
    return out


def test_one_trim_after_a_burst_then_none_while_quiet() -> None:
    calls: list[int] = []
    trimmer = _trimmer(calls)
    # A burst of three busy periods, then quiet ones: one trim, at the first quiet period.
    assert _run(trimmer, [8.0, 8.0, 8.0, 0.1, 0.1, 0.1, 0.1]) == [
        False, False, False, True, False, False, False,
    ]  # fmt: skip
    assert calls == [0]
    assert trimmer.trims == 1


def test_a_process_that_stays_busy_is_trimmed_every_busy_every_periods() -> None:
    calls: list[int] = []
    trimmer = _trimmer(calls)
    results = _run(trimmer, [4.0] * 18)
    assert [i for i, due in enumerate(results) if due] == [5, 11, 17]


def test_idle_work_accumulates_to_a_rare_trim() -> None:
    calls: list[int] = []
    trimmer = _trimmer(calls)
    # 0.2 CPU seconds per quiet period: 1 s of work after five periods.
    results = _run(trimmer, [0.2] * 10)
    assert [i for i, due in enumerate(results) if due] == [4, 9]


def test_without_malloc_trim_nothing_is_due_and_run_returns() -> None:
    trimmer = HeapTrimmer(period=0.01)
    trimmer._trim = None  # as on a C library without malloc_trim (musl, macOS)
    assert trimmer.due(5.0) is False
    assert trimmer.due(0.0) is False
    asyncio.run(asyncio.wait_for(trimmer.run(), 1.0))


def test_glibc_malloc_trim_is_found_and_runs_in_the_loop() -> None:
    # The operator's image and CI run on glibc.
    cpu = iter([0.0, 5.0, 5.0, 5.0, 5.0])
    trimmer = HeapTrimmer(period=0.001, cpu=lambda: next(cpu))
    assert trimmer.available

    async def two_periods() -> None:
        task = asyncio.create_task(trimmer.run())
        while trimmer.trims == 0:
            await asyncio.sleep(0.001)
        task.cancel()

    # First period uses 5 s of CPU in 1 ms (busy), so only the busy rule can trim.
    trimmer._policy.busy_every = 1
    asyncio.run(asyncio.wait_for(two_periods(), 5.0))
    assert trimmer.trims == 1


def test_kept_values_nothing_holds_are_swept_before_each_trim() -> None:
    order: list[str] = []

    def trim(pad: int) -> int:
        order.append("trim")
        return 1

    def sweep() -> int:
        order.append("sweep")
        return 0

    cpu = iter([0.0, 5.0, 5.0, 5.0, 5.0, 5.0])
    trimmer = HeapTrimmer(
        period=0.001,
        policy=TrimPolicy(work=1.0, quiet=0.05, busy_every=1),
        trim=trim,
        cpu=lambda: next(cpu),
        sweep=sweep,
    )

    async def until_trimmed() -> None:
        task = asyncio.create_task(trimmer.run())
        while trimmer.trims == 0:
            await asyncio.sleep(0.001)
        task.cancel()

    asyncio.run(asyncio.wait_for(until_trimmed(), 5.0))
    assert order[:2] == ["sweep", "trim"]


def test_sweep_drops_the_values_a_replaced_status_left() -> None:
    from interconnect_operator.k8s import bodies

    bodies.sweep()
    meta = '"metadata": {"name": "a", "uid": "u-1", "resourceVersion": "%s"}'
    kept = bodies.decode('{%s, "status": {"phase": "Placing-x1"}}' % (meta % 1))
    held = bodies.canonical_entries()
    # A watch event's object: the event and the object private, the status kept.
    event = bodies.decode(
        '{"type": "MODIFIED", "object": {%s, "status": {"phase": "Ready-x1"}}}' % (meta % 2)
    )
    kept["status"] = event["object"]["status"]
    del event
    assert bodies.canonical_entries() == held + 1
    assert bodies.sweep() == 1
    assert kept["status"] == {"phase": "Ready-x1"}
