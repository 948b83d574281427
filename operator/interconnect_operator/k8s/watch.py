"""The operator's own list+watch of MulticloudLinks and CapacityPools.

kopf used to deliver these objects (one worker task per object, its event
processing and cause detection, its aiohttp watch stream): 12.9 % of the
N=1000 burst profile and 28.5 % of the restart profile (bench). The operator
registers no change handlers and writes everything itself, so a reflector of
its own is all it needs. What it keeps from client-go's reflector and kopf:

- a paginated initial LIST (``limit``/``continue``, as client-go's pager and
  kopf's ``fetch_objs``), delivered page by page, then a WATCH from the list's
  ``resourceVersion`` with ``allowWatchBookmarks`` (both do this); a bookmark
  only moves the version on;
- the server's watch timeout (``timeoutSeconds``, drawn between half and all
  of ``WATCH_SECONDS`` like client-go's jittered timeout, so that many watches
  do not reconnect together) ends a watch normally: it is resumed from the
  last version seen, with no list;
- 410 Gone (an ERROR event or status: the version is too old, or a
  ``continue`` token expired) starts a new LIST. Unlike kopf, which only
  re-delivers what the new list holds, the relist is compared with what was
  known (client-go's ``Replace``): changed objects are delivered as
  MODIFIED, unchanged ones not at all, and objects gone meanwhile as DELETED
  (with a body of their namespace and name), so nothing deleted while the
  watch was down stays in memory;
- any other failure (transport, 5xx, 403, a bad stream) reconnects after a
  bounded exponential backoff with jitter (``BACKOFF``), reset by a watch
  that delivered anything; the version is kept, so a short outage needs no
  list.

Only ``(namespace, name) -> resourceVersion`` is kept per object; bodies are
handed over as the API decoded them, compact already (``bodies.decode``: the
C decoder, then one sharing walk), and the consumer keeps what it needs. A
list page's objects are taken out of the page one by one, so an object the consumer does not keep
is freed at once, not with the page. ``synced`` is set once the first list was
delivered completely (restart: the controller confirms the links it holds in bulk).
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from interconnect_operator.k8s.bodies import decode
from interconnect_operator.k8s.kube import WATCH_SECONDS, KubeError

logger = logging.getLogger(__name__)

#: Objects per LIST page. client-go's pager asks for 500; a page is decoded whole
#: before its objects are shared (``bodies.decode``), and 500 Ready links with
#: their ``managedFields`` peak at ~19 MiB of decoded objects (250: ~9 MiB).
PAGE_SIZE = 250
#: While a LIST page is handed on, the loop gets a turn before its first object and
#: then every this many objects.
YIELD_EVERY = 32
#: Most pages one LIST follows before it is given up as broken (5 million objects).
MAX_PAGES = 10_000
#: Reconnect backoff: first delay, cap (seconds); each failure doubles, jitter 50-100 %.
BACKOFF = (0.5, 30.0)
#: A watch that ends sooner than this with nothing delivered counts as a failure.
QUIET_END_SECONDS = 1.0

ObjectKey = tuple[str, str]
Deliver = Callable[[str, dict[str, Any]], Awaitable[None] | None]


class ListWatchApi(Protocol):
    """What the watcher needs from a Kubernetes client (``kube.KubeClient``)."""

    async def list_page(self, path: str, params: Mapping[str, str]) -> bytes: ...

    def watch(
        self, path: str, params: Mapping[str, str]
    ) -> AsyncIterator[tuple[str, dict[str, Any]]]: ...


class Expired(Exception):
    """The resourceVersion (or continue token) is too old: list again."""


@dataclass
class WatchCounts:
    """What a watcher did since it started (tests and logs)."""

    lists: int = 0
    pages: int = 0
    relists: int = 0
    watches: int = 0
    reconnects: int = 0
    bookmarks: int = 0
    delivered: int = 0
    deleted_on_relist: int = 0
    #: Pages whose continue token was not read from their end (asked for late).
    guessed_wrong: int = 0


def continue_ahead(raw: bytes) -> str:
    """A LIST page's continue token read from its end without decoding the page
    ("" if there is none or the end is not what is expected).

    A custom resource's list is written with its keys in order (``apiVersion``,
    ``items``, ``kind``, ``metadata``), so the page ends with its own metadata, a
    flat object. Inside an object's values a quote is always escaped, so the last
    ``"metadata":{`` of such a page is the list's. The caller checks the token
    against the decoded page and corrects a wrong guess (another layout).
    """
    at = raw.rfind(b'"metadata":{')
    if at < 0:
        return ""
    tail = raw[at + len(b'"metadata":') :].rstrip()
    if not tail.endswith(b"}}"):
        return ""
    try:
        meta = json.loads(tail[:-1])
    except ValueError:
        return ""
    token = meta.get("continue") if isinstance(meta, dict) else None
    return token if isinstance(token, str) else ""


def _drop(task: asyncio.Task[bytes] | None) -> None:
    """Stop a page request running ahead (not waited for: the caller may itself be
    stopping); a failure it ended with is read, not reported as never retrieved."""
    if task is not None:
        task.cancel()
        task.add_done_callback(_read_outcome)


def _read_outcome(task: asyncio.Task[bytes]) -> None:
    if not task.cancelled():
        task.exception()


def _key(obj: Mapping[str, Any]) -> ObjectKey | None:
    meta = obj.get("metadata")
    if not isinstance(meta, Mapping) or not isinstance(meta.get("name"), str):
        return None
    return str(meta.get("namespace") or ""), meta["name"]


class ListWatch:
    """One resource in one scope (a namespace or the cluster), listed then watched."""

    def __init__(
        self,
        api: ListWatchApi,
        path: str,
        deliver: Deliver,
        *,
        page_size: int = PAGE_SIZE,
        watch_seconds: float = WATCH_SECONDS,
        backoff: tuple[float, float] = BACKOFF,
        rng: random.Random | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._clock = clock
        self._api = api
        self.path = path
        self._deliver = deliver
        self._page_size = page_size
        self._watch_seconds = watch_seconds
        self._backoff = backoff
        self._rng = rng or random.Random()
        self._sleep = sleep
        self.known: dict[ObjectKey, str] = {}
        self.resource_version: str | None = None
        self.synced = asyncio.Event()
        self.counts = WatchCounts()

    async def run(self) -> None:
        """List, then watch, forever (until cancelled)."""
        failures = 0
        while True:
            started = self._clock()
            try:
                if self.resource_version is None:
                    await self._list()
                delivered = await self._watch()
            except Expired:
                logger.info("watch of %s expired: listing again", self.path)
                self.resource_version = None
                self.counts.relists += 1
                continue
            except KubeError as exc:
                if exc.status == 410:
                    self.resource_version = None
                    self.counts.relists += 1
                    continue
                failures += 1
                delay = self.delay(failures)
                logger.warning("watch of %s failed (%s): again in %.1f s", self.path, exc, delay)
                self.counts.reconnects += 1
                await self._sleep(delay)
                continue
            if delivered:
                failures = 0
            elif self._clock() - started < QUIET_END_SECONDS:
                # Ended at once with nothing in it: a broken server or proxy, not a
                # timeout. Back off as after a failure (no hot loop).
                failures += 1
                self.counts.reconnects += 1
                await self._sleep(self.delay(failures))

    def delay(self, failures: int) -> float:
        """Bounded exponential backoff with jitter for the ``failures``-th failure in a row."""
        first, cap = self._backoff
        return float(min(cap, first * 2.0 ** (failures - 1)) * self._rng.uniform(0.5, 1.0))

    async def _list(self) -> None:
        """A full LIST in pages, compared with what is known: ADDED, MODIFIED, DELETED.

        The next page is asked for as soon as a page has arrived, before it is
        decoded and handed on (its continue token read from its end,
        ``continue_ahead``, then checked against the decoded page), and the
        handing gives the loop a turn every ``YIELD_EVERY`` objects: the API
        server serves page k+1 on its own core while page k is decoded and
        taken, and other tasks (the pool's first refresh after a start) are not
        held behind a whole page. At most two pages are held at once.
        """
        self.counts.lists += 1
        seen: set[ObjectKey] = set()
        ahead: asyncio.Task[bytes] | None = asyncio.ensure_future(self._page(""))
        try:
            for _ in range(MAX_PAGES):
                assert ahead is not None
                raw = await ahead
                self.counts.pages += 1
                guess = continue_ahead(raw)
                ahead = asyncio.ensure_future(self._page(guess)) if guess else None
                page = decode(raw)
                del raw
                meta = page.get("metadata") if isinstance(page, dict) else None
                meta = meta if isinstance(meta, dict) else {}
                token = str(meta.get("continue") or "")
                if token != guess:
                    # The end was not the list's own metadata: ask for the right page.
                    self.counts.guessed_wrong += 1
                    _drop(ahead)
                    ahead = asyncio.ensure_future(self._page(token)) if token else None
                if isinstance(page, dict):
                    await self._take(page, seen)
                del page
                if not token:
                    version = str(meta.get("resourceVersion") or "")
                    break
            else:
                raise KubeError(0, f"list {self.path}: more than {MAX_PAGES} pages")
        finally:
            _drop(ahead)
        await self._drop_unseen(seen)
        self.resource_version = version or None
        self.synced.set()

    async def _take(self, page: dict[str, Any], seen: set[ObjectKey]) -> None:
        """Hand on a page's new and changed objects, taking them out one by one."""
        items = page.get("items")
        items = list(items) if isinstance(items, list) else []
        page.clear()
        items.reverse()
        turn = 0
        while items:
            obj = items.pop()
            turn += 1
            if turn % YIELD_EVERY == 1:
                await asyncio.sleep(0)
            key = _key(obj)
            if key is None:
                continue
            seen.add(key)
            version = str((obj.get("metadata") or {}).get("resourceVersion") or "")
            before = self.known.get(key)
            if before == version:
                continue
            self.known[key] = version
            await self._hand("ADDED" if before is None else "MODIFIED", obj)

    async def _drop_unseen(self, seen: set[ObjectKey]) -> None:
        """Deliver DELETED for what was known and is not in the list any more."""
        for key in [k for k in self.known if k not in seen]:
            del self.known[key]
            self.counts.deleted_on_relist += 1
            namespace, name = key
            gone: dict[str, Any] = {"name": name}
            if namespace:
                gone["namespace"] = namespace
            await self._hand("DELETED", {"metadata": gone})

    async def _page(self, token: str) -> bytes:
        params = {"limit": str(self._page_size)}
        if token:
            params["continue"] = token
        return await self._api.list_page(self.path, params)

    async def _watch(self) -> bool:
        """One WATCH from the known version until the server ends it; True if it
        delivered an event or a bookmark."""
        assert self.resource_version is not None
        self.counts.watches += 1
        timeout = int(self._watch_seconds * self._rng.uniform(0.5, 1.0))
        params = {
            "resourceVersion": self.resource_version,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": str(max(1, timeout)),
        }
        delivered = False
        async for kind, obj in self._api.watch(self.path, params):
            if kind == "ERROR":
                code = obj.get("code")
                if code == 410:
                    raise Expired(str(obj.get("message") or "410 Gone"))
                raise KubeError(int(code) if isinstance(code, int) else 0, str(obj)[:200])
            version = (obj.get("metadata") or {}).get("resourceVersion")
            if kind == "BOOKMARK":
                self.counts.bookmarks += 1
                if version:
                    self.resource_version = str(version)
                delivered = True
                continue
            key = _key(obj)
            if kind not in ("ADDED", "MODIFIED", "DELETED") or key is None:
                logger.warning("ignoring a watch event of type %r on %s", kind, self.path)
                continue
            if kind == "DELETED":
                self.known.pop(key, None)
            else:
                self.known[key] = str(version or "")
            if version:
                self.resource_version = str(version)
            delivered = True
            await self._hand(kind, obj)
        return delivered

    async def _hand(self, kind: str, body: dict[str, Any]) -> None:
        self.counts.delivered += 1
        try:
            result = self._deliver(kind, body)
            if result is not None:
                await result
        except asyncio.CancelledError:
            raise
        except Exception:
            # One object the consumer cannot take must not stop the watch.
            logger.exception("handling a %s event from %s failed", kind, self.path)
