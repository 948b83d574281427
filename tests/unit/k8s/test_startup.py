"""The operator's start: the watches begin before the replica acts, and kopf's
liveness endpoint does not wait for either.

``startup`` used to await ``Controller.start`` (a LIST of every shared-UUID
record) before the first LISTs of links and pools began; then a replica that
acts at once (no leader election) ran both together, and is never a standby
(its pools build their clients as soon as they are listed). kopf serves the
liveness endpoint only after every startup handler returned, so ``startup``
no longer awaits ``start`` at all: it returns while the LIST is in flight.
The controller, the watches and the endpoints are stand-ins here: what is
checked is the order.
"""

from __future__ import annotations

import asyncio
from typing import Any

import kopf
import pytest

from interconnect_operator.k8s import handlers
from interconnect_operator.k8s.settings import OperatorOptions


class FakeController:
    """Records the calls; ``start`` waits until the watches have begun (a LIST in flight)."""

    def __init__(self, options: OperatorOptions, kube: object, metrics: object) -> None:
        self.calls: list[str] = []
        self.watching = asyncio.Event()

    def standby(self) -> None:
        self.calls.append("standby")

    async def start(self) -> None:
        self.calls.append("start")
        # The old order deadlocks here: the watches began only after start returned.
        await asyncio.wait_for(self.watching.wait(), timeout=5)
        self.calls.append("started")


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    async def watch(kube: object, controller: FakeController) -> None:
        controller.calls.append("watch")
        controller.watching.set()
        await asyncio.Event().wait()

    class Trimmer:
        async def run(self) -> None:
            await asyncio.Event().wait()

    def serve(metrics: object, port: int, host: str) -> str:
        seen["metrics_port"] = port
        return "server"

    monkeypatch.setattr(handlers, "Controller", FakeController)
    monkeypatch.setattr(handlers, "KubeClient", lambda connection: "kube")
    monkeypatch.setattr(handlers, "load_configuration", lambda kubeconfig: "connection")
    monkeypatch.setattr(handlers, "_watch", watch)
    monkeypatch.setattr(handlers, "HeapTrimmer", Trimmer)
    monkeypatch.setattr(handlers, "serve_metrics", serve)
    monkeypatch.setattr(handlers, "set_metrics_provider", lambda provider: None)
    return seen


async def test_the_watches_begin_before_the_replica_acts(started: dict[str, Any]) -> None:
    handlers.configure(OperatorOptions(metrics_port=9999))
    memo = kopf.Memo()
    try:
        # kopf's decorator types the handler as kopf calls it; called here directly.
        startup: Any = handlers.startup
        await startup(settings=kopf.OperatorSettings(), memo=memo)
        controller: FakeController = memo["controller"]
        # Returned before the replica acts (kopf's liveness endpoint begins now).
        assert "started" not in controller.calls
        acting: asyncio.Task[None] = memo["acting"]
        assert not acting.done()
        await asyncio.wait_for(acting, timeout=5)
        assert controller.calls == ["start", "watch", "started"]
        assert memo["metrics_server"] == "server"
        assert started["metrics_port"] == 9999
        assert "election" not in memo
    finally:
        for name in ("acting", "watches", "heap_trimmer"):
            task = memo.get(name)
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        handlers.configure(OperatorOptions())


async def test_a_start_that_fails_ends_the_process(
    started: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``startup`` no longer sees ``start``'s error: the process exits instead of
    staying live without ever acting."""
    exits: list[int] = []
    monkeypatch.setattr(handlers, "_exit", exits.append)

    async def fails(self: FakeController) -> None:
        self.calls.append("start")
        raise RuntimeError("cannot list")

    monkeypatch.setattr(FakeController, "start", fails)
    handlers.configure(OperatorOptions())
    memo = kopf.Memo()
    try:
        startup: Any = handlers.startup
        await startup(settings=kopf.OperatorSettings(), memo=memo)
        assert exits == []
        await asyncio.gather(memo["acting"], return_exceptions=True)
        await asyncio.sleep(0)  # the done callback runs on the next turn of the loop
        assert exits == [70]
    finally:
        for name in ("watches", "heap_trimmer"):
            task = memo.get(name)
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        handlers.configure(OperatorOptions())
