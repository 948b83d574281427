"""The operator's own list+watch (k8s.watch.ListWatch) against a scripted API server.

The fake serves a LIST in pages from its objects and each WATCH from a
script: a list of events (the server ends the watch after the last), or an
exception (the connection failed). Once the script is used up a watch hangs
until the test cancels the watcher. Sleeps are recorded, not slept.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator, Mapping
from typing import Any

import pytest

from interconnect_operator.k8s.kube import KubeError
from interconnect_operator.k8s.watch import BACKOFF, ListWatch, continue_ahead

PATH = "/apis/x/v1/things"
Script = list[tuple[str, dict[str, Any]]] | BaseException


def _obj(name: str, version: int, namespace: str = "ns") -> dict[str, Any]:
    return {
        "metadata": {
            "name": name,
            "namespace": namespace,
            "resourceVersion": str(version),
            "managedFields": [{"manager": "kubectl"}],
        },
        "spec": {"v": version},
    }


class FakeServer:
    def __init__(self) -> None:
        self.objects: dict[str, dict[str, Any]] = {}
        self.version = 10
        self.watches: list[Script] = []
        self.list_calls: list[dict[str, str]] = []
        self.watch_calls: list[dict[str, str]] = []
        self.expire_continue = 0
        self.hang = asyncio.Event()
        self.hung = False
        self.metadata_first = False

    def put(self, name: str) -> dict[str, Any]:
        self.version += 1
        self.objects[name] = _obj(name, self.version)
        return self.objects[name]

    async def list_page(self, path: str, params: Mapping[str, str]) -> bytes:
        assert path == PATH
        self.list_calls.append(dict(params))
        if "continue" in params and self.expire_continue:
            self.expire_continue -= 1
            raise KubeError(410, "continue token expired")
        start = int(params.get("continue") or 0)
        limit = int(params["limit"])
        names = sorted(self.objects)
        items = [self.objects[n] for n in names[start : start + limit]]
        meta: dict[str, Any] = {"resourceVersion": str(self.version)}
        if start + limit < len(names):
            meta["continue"] = str(start + limit)
        # As the API server writes a custom resource's list: keys in order, so the
        # list's own metadata comes last.
        body = {"apiVersion": "x/v1", "items": items, "kind": "ThingList", "metadata": meta}
        if self.metadata_first:  # a built-in list's layout
            body = {"metadata": meta, **body}
        return json.dumps(body, separators=(",", ":")).encode()

    async def watch(
        self, path: str, params: Mapping[str, str]
    ) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        self.watch_calls.append(dict(params))
        if not self.watches:
            self.hung = True
            await self.hang.wait()
            return
        script = self.watches.pop(0)
        if isinstance(script, BaseException):
            raise script
        for kind, obj in script:
            yield kind, obj


class Rig:
    def __init__(self) -> None:
        self.server = FakeServer()
        self.events: list[tuple[str, str, str]] = []
        self.bodies: list[dict[str, Any]] = []
        self.sleeps: list[float] = []
        self.now = 0.0
        self.watcher = ListWatch(
            self.server,
            PATH,
            self.deliver,
            page_size=2,
            rng=random.Random(7),
            sleep=self.sleep,
            clock=self.clock,
        )

    def deliver(self, kind: str, body: dict[str, Any]) -> None:
        meta = body["metadata"]
        self.events.append((kind, meta["name"], str(meta.get("resourceVersion", ""))))
        self.bodies.append(body)

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        await asyncio.sleep(0)

    def clock(self) -> float:
        self.now += 5.0  # every watch "lasts" 5 s unless a test says otherwise
        return self.now

    async def run_until_hanging(self) -> None:
        """Run the watcher until it waits on a watch with no script left."""
        task = asyncio.create_task(self.watcher.run())
        for _ in range(1000):
            await asyncio.sleep(0)
            if self.server.hung:
                break
        assert self.server.hung
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


@pytest.fixture
def rig() -> Rig:
    return Rig()


async def test_the_first_list_is_paged_delivered_as_decoded_and_the_watch_starts_at_its_version(
    rig: Rig,
) -> None:
    for name in "abcde":
        rig.server.put(name)
    await rig.run_until_hanging()
    assert [e[:2] for e in rig.events] == [("ADDED", n) for n in "abcde"]
    assert rig.watcher.counts.pages == 3
    assert rig.watcher.counts.guessed_wrong == 0
    assert [c.get("continue") for c in rig.server.list_calls] == [None, "2", "4"]
    assert all(c["limit"] == "2" for c in rig.server.list_calls)
    assert all("managedFields" not in b["metadata"] for b in rig.bodies)
    assert rig.watcher.synced.is_set()
    watch = rig.server.watch_calls[0]
    assert watch["resourceVersion"] == "15"
    assert watch["allowWatchBookmarks"] == "true"
    assert 120 <= int(watch["timeoutSeconds"]) <= 240


async def test_events_are_delivered_and_a_bookmark_moves_the_version_without_a_list(
    rig: Rig,
) -> None:
    rig.server.put("a")
    b = _obj("b", 20)
    rig.server.watches = [
        [("ADDED", b), ("BOOKMARK", {"metadata": {"resourceVersion": "25"}})],
        [("DELETED", _obj("a", 26))],
    ]
    await rig.run_until_hanging()
    assert rig.events == [("ADDED", "a", "11"), ("ADDED", "b", "20"), ("DELETED", "a", "26")]
    # The server ended the first watch (its timeout): resumed from the bookmark.
    assert [c["resourceVersion"] for c in rig.server.watch_calls] == ["11", "25", "26"]
    assert rig.watcher.counts.lists == 1
    assert rig.watcher.counts.bookmarks == 1
    assert rig.watcher.known == {("ns", "b"): "20"}
    assert rig.sleeps == []


async def test_410_gone_relists_and_delivers_only_the_differences_with_deletions(
    rig: Rig,
) -> None:
    for name in "abc":
        rig.server.put(name)
    gone = {"code": 410, "reason": "Expired", "message": "too old resource version"}

    # While the watch was down: b deleted, c changed, d created, a untouched.
    async def expire_then_change(
        path: str, params: Mapping[str, str]
    ) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        rig.server.watch_calls.append(dict(params))
        if len(rig.server.watch_calls) == 1:
            del rig.server.objects["b"]
            rig.server.put("c")
            rig.server.put("d")
            yield "ERROR", gone
            return
        rig.server.hung = True
        await rig.server.hang.wait()

    rig.server.watch = expire_then_change  # type: ignore[method-assign]
    await rig.run_until_hanging()
    assert rig.events == [
        ("ADDED", "a", "11"),
        ("ADDED", "b", "12"),
        ("ADDED", "c", "13"),
        ("MODIFIED", "c", "14"),
        ("ADDED", "d", "15"),
        ("DELETED", "b", ""),
    ]
    assert rig.bodies[-1] == {"metadata": {"name": "b", "namespace": "ns"}}
    assert rig.watcher.counts.relists == 1
    assert rig.watcher.counts.lists == 2
    assert rig.watcher.counts.deleted_on_relist == 1
    assert set(rig.watcher.known) == {("ns", "a"), ("ns", "c"), ("ns", "d")}
    assert [c["resourceVersion"] for c in rig.server.watch_calls] == ["13", "15"]
    assert rig.sleeps == []  # a relist is no failure


async def test_an_expired_continue_token_lists_again_from_the_start(rig: Rig) -> None:
    for name in "abcde":
        rig.server.put(name)
    rig.server.expire_continue = 1
    await rig.run_until_hanging()
    assert [c.get("continue") for c in rig.server.list_calls] == [None, "2", None, "2", "4"]
    # a and b were delivered once: the second list found them unchanged.
    assert [e[:2] for e in rig.events] == [("ADDED", n) for n in "abcde"]
    assert rig.watcher.counts.relists == 1


async def test_failures_reconnect_from_the_same_version_with_bounded_backoff(rig: Rig) -> None:
    rig.server.put("a")
    failures: list[Script] = [KubeError(0, "connection refused") for _ in range(12)]
    rig.server.watches = [*failures, [("MODIFIED", _obj("a", 30))], KubeError(503, "busy")]
    await rig.run_until_hanging()
    assert rig.watcher.counts.lists == 1  # the version was kept: no list
    assert rig.watcher.counts.reconnects == 13
    first, cap = BACKOFF
    assert all(0 < s <= cap for s in rig.sleeps)
    assert rig.sleeps[0] <= first
    assert rig.sleeps[11] > rig.sleeps[0] * 8  # grew
    assert rig.sleeps[11] >= cap / 2  # and stopped at the cap (jitter 50-100 %)
    # A watch that delivered something resets the backoff.
    assert rig.sleeps[12] <= first
    versions = [c["resourceVersion"] for c in rig.server.watch_calls]
    assert versions[:13] == ["11"] * 13
    assert versions[13:] == ["30", "30"]
    assert rig.events[-1] == ("MODIFIED", "a", "30")


async def test_a_watch_ending_at_once_with_nothing_backs_off_instead_of_looping(
    rig: Rig,
) -> None:
    rig.now = 0.0
    rig.clock = lambda: rig.now  # type: ignore[method-assign]
    rig.watcher._clock = rig.clock
    rig.server.watches = [[] for _ in range(5)]
    await rig.run_until_hanging()
    assert len(rig.sleeps) == 5  # one backoff per empty watch, growing
    assert rig.sleeps[-1] > rig.sleeps[0] * 4
    assert rig.watcher.counts.watches == 6


async def test_a_consumer_failure_does_not_stop_the_watch(rig: Rig) -> None:
    seen: list[str] = []

    def deliver(kind: str, body: dict[str, Any]) -> None:
        seen.append(body["metadata"]["name"])
        if body["metadata"]["name"] == "bad":
            raise ValueError("cannot take it")

    rig.watcher._deliver = deliver
    rig.server.watches = [[("ADDED", _obj("bad", 20)), ("ADDED", _obj("good", 21))]]
    await rig.run_until_hanging()
    assert seen == ["bad", "good"]
    assert rig.watcher.known == {("ns", "bad"): "20", ("ns", "good"): "21"}


async def test_other_error_events_back_off_and_keep_the_version(rig: Rig) -> None:
    rig.server.watches = [[("ERROR", {"code": 500, "message": "internal"})]]
    await rig.run_until_hanging()
    assert rig.watcher.counts.relists == 0
    assert rig.watcher.counts.reconnects == 1
    assert len(rig.sleeps) == 1


def test_links_are_watched_per_namespace_or_cluster_wide_and_pools_whole() -> None:
    from interconnect_operator.k8s import handlers

    pools, links = handlers.watch_paths(("team-a", "team-b"))
    assert pools == "/apis/interconnect.io/v1alpha1/capacitypools"
    assert links == [
        "/apis/interconnect.io/v1alpha1/namespaces/team-a/multicloudlinks",
        "/apis/interconnect.io/v1alpha1/namespaces/team-b/multicloudlinks",
    ]
    assert handlers.watch_paths(())[1] == ["/apis/interconnect.io/v1alpha1/multicloudlinks"]


def test_kopf_watches_nothing_itself() -> None:
    import kopf

    from interconnect_operator.k8s import handlers

    assert handlers.startup is not None  # the module registered its kopf handlers
    registry = kopf.get_default_registry()
    assert registry._watching.get_all_handlers() == []
    assert registry._changing.get_all_handlers() == []
    assert registry._spawning.get_all_handlers() == []


async def test_the_bulk_confirmation_waits_for_both_the_first_lists_and_acting() -> None:
    from interconnect_operator.k8s.controller import Controller
    from interconnect_operator.k8s.settings import OperatorOptions
    from interconnect_operator.metrics import OperatorMetrics
    from tests.unit.k8s.fake_kube import FakeKube

    controller = Controller(OperatorOptions(), FakeKube(), OperatorMetrics())
    controller.standby()
    controller.links_listed()
    assert controller._restart_task is None  # a standby confirms nothing
    assert controller.link_workers.restart.held is not None
    await controller.start()
    assert controller._restart_task is not None
    await controller._restart_task
    assert controller.link_workers.restart.held is None  # later ones take the queue
    await controller.stop()


async def test_the_next_page_is_asked_for_before_a_page_is_handed_on() -> None:
    """The API server serves page k+1 while page k is handed on (restart at N=10,000:
    the LIST's serving time no longer adds to the loop's)."""
    server = FakeServer()
    for i in range(300):
        server.put(f"o{i:03}")
    asked: list[int] = []  # LIST calls made when each object was handed on
    watcher = ListWatch(server, PATH, lambda kind, body: asked.append(len(server.list_calls)))
    task = asyncio.create_task(watcher.run())
    for _ in range(1000):
        await asyncio.sleep(0)
        if server.hung:
            break
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert len(asked) == 300
    # Pages of 250: the second page was asked for before the first page's first object.
    assert asked[0] == 2
    assert watcher.counts.pages == 2


async def test_a_failed_page_leaves_no_request_running_ahead() -> None:
    server = FakeServer()
    for i in range(6):
        server.put(f"o{i}")
    started: list[str] = []
    finished: list[str] = []
    gate = asyncio.Event()
    plain = server.list_page

    async def list_page(path: str, params: Mapping[str, str]) -> bytes:
        token = params.get("continue", "")
        started.append(token)
        if token == "4":
            await gate.wait()  # the third page is still on its way ...
        page = await plain(path, params)
        finished.append(token)
        return page

    server.list_page = list_page  # type: ignore[method-assign]

    def deliver(kind: str, body: dict[str, Any]) -> None:
        if body["metadata"]["name"] == "o2":
            raise asyncio.CancelledError  # ... when the watcher is stopped mid-page

    watcher = ListWatch(server, PATH, deliver, page_size=2)
    with pytest.raises(asyncio.CancelledError):
        await watcher._list()
    assert started == ["", "2", "4"]
    gate.set()
    await asyncio.sleep(0)
    assert finished == ["", "2"]  # the request running ahead was cancelled, not left behind
    assert not watcher.synced.is_set()


def _page_bytes(
    meta: dict[str, Any], items: list[dict[str, Any]], *, spaced: bool = False
) -> bytes:
    body = {"apiVersion": "x/v1", "items": items, "kind": "ThingList", "metadata": meta}
    return (json.dumps(body) if spaced else json.dumps(body, separators=(",", ":"))).encode()


def test_the_continue_token_is_read_from_a_custom_resource_lists_end() -> None:
    hostile = _obj("a", 1)
    # A tenant's annotation and spec keys that look like list metadata.
    hostile["metadata"]["annotations"] = {"continue": "forged", "metadata": '"metadata":{}'}
    hostile["spec"] = {"metadata": {"continue": "forged-too"}}
    meta = {"continue": "tok/+=", "resourceVersion": "9", "remainingItemCount": 3}
    assert continue_ahead(_page_bytes(meta, [hostile])) == "tok/+="
    assert continue_ahead(_page_bytes(meta, [hostile]) + b"\n") == "tok/+="
    assert continue_ahead(_page_bytes(meta, [hostile], spaced=True)) == ""  # checked after
    # The last page: no token, and the tenant's keys are not taken for one.
    assert continue_ahead(_page_bytes({"resourceVersion": "9"}, [hostile])) == ""
    # Not a custom resource's layout, or not a list at all: no guess.
    last_item_first = json.dumps({"metadata": meta, "items": [hostile]}).encode()
    assert continue_ahead(last_item_first) == ""
    assert continue_ahead(b"") == ""
    assert continue_ahead(b'{"metadata":{"continue":') == ""
    assert continue_ahead(b'{"metadata":{"continue":7}}') == ""


async def test_a_wrong_guess_of_the_next_page_is_corrected_from_the_decoded_page(
    rig: Rig,
) -> None:
    for name in "abcde":
        rig.server.put(name)
    rig.server.metadata_first = True  # the token cannot be read from the end
    await rig.run_until_hanging()
    assert [e[:2] for e in rig.events] == [("ADDED", n) for n in "abcde"]
    assert [c.get("continue") for c in rig.server.list_calls] == [None, "2", "4"]
    assert rig.watcher.counts.guessed_wrong == 2
    assert rig.watcher.synced.is_set()
