"""A small async Kubernetes client for what the operator reads and writes itself.

It lists and watches links and pools (for ``k8s.watch``), patches status and
metadata, emits Events and reads Secrets and Namespaces, with the same
credentials kopf logs in with (`load_configuration`), so the hot path stays
async and needs no thread pool. Requests go straight on the aiohttp
transport the provider clients use (``ProviderTransport.exchange``): the URL
from the server's parts parsed once and the path as written (a path with
anything to quote or normalize is parsed by httpx as before), the header
pairs built once per login and content type; watches use their own aiohttp
transport, their lines split as bytes (client CPU per ~1.4 KB link event,
decode included, in a local benchmark: 65 µs on httpx's stream, 39 µs here).
The official ``kubernetes`` package is optional (the ``kube`` extra): with
it, kubeconfigs that run exec credential plugins work; without it, kopf's
own readers cover in-cluster service accounts and kubeconfigs with
certificates or tokens.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

import httpx
import kopf
import yarl

from interconnect_operator.api.transport import ProviderTransport, aiohttp_url
from interconnect_operator.k8s.bodies import decode
from interconnect_operator.k8s.event_body import (
    EventSeries,
    new_event,
    reporting_instance,
    series_patch,
)
from interconnect_operator.k8s.resources import GROUP, VERSION

logger = logging.getLogger(__name__)

LINKS = "multicloudlinks"
POOLS = "capacitypools"
EVENTS_API = "/apis/events.k8s.io/v1"
#: Most pages one list follows (500 objects each).
MAX_LIST_PAGES = 1000
WATCH_SECONDS_ENV = "ICO_WATCH_SECONDS"
"""Environment variable: the watch timeout in seconds (tests shorten it so a few
minutes of watch ends fit in one test); unset, ``DEFAULT_WATCH_SECONDS``."""
DEFAULT_WATCH_SECONDS = 240.0


def watch_seconds(environ: Mapping[str, str] | None = None) -> float:
    """The watch timeout ``WATCH_SECONDS_ENV`` asks for (1 to 3600 s), else the
    default; a value that is not such a number is named in a warning and ignored."""
    raw = (os.environ if environ is None else environ).get(WATCH_SECONDS_ENV, "").strip()
    if not raw:
        return DEFAULT_WATCH_SECONDS
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if not 1.0 <= value <= 3600.0:
        logger.warning(
            "%s=%r is not a number of seconds from 1 to 3600: using %.0f",
            WATCH_SECONDS_ENV,
            raw,
            DEFAULT_WATCH_SECONDS,
        )
        return DEFAULT_WATCH_SECONDS
    return value


#: How long the server keeps one watch open before the client reconnects
#: (``ListWatch`` draws each watch's between half and all of it).
WATCH_SECONDS = watch_seconds()


_PLAIN = re.compile(
    r"(?:[A-Za-z0-9._~!$&'()*+,;=:@/-]|%[0-9A-Fa-f]{2})*(?:\?(?:[A-Za-z0-9._~!$&'()*+,;=:@/?-]|%[0-9A-Fa-f]{2})*)?"
)
"""A path (and query) httpx would send as it is: nothing to quote or normalize."""


class KubeError(Exception):
    """A Kubernetes API call failed; ``status`` is the HTTP status (0 for transport)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status


def load_configuration(kubeconfig: str | None = None) -> kopf.ConnectionInfo:
    """The identity kopf itself logs in with, in kopf's own order of preference.

    With the ``kubernetes`` package installed: its loader (in-cluster first,
    then the kubeconfig, exec plugins included), as kopf does. Without it:
    the pod's service account, else the kubeconfig (kopf's own readers).
    Raises `kopf.LoginError` when none applies.
    """
    if kubeconfig and os.environ.get("KUBECONFIG") != kubeconfig:
        # kopf's login functions read the variable, as kopf's watches will.
        os.environ["KUBECONFIG"] = kubeconfig
    settings = kopf.OperatorSettings()
    if _has_kubernetes_client():
        connection = kopf.login_via_client(logger=logger, settings=settings)
        if connection is not None:
            return connection
    for login in (kopf.login_with_service_account, kopf.login_with_kubeconfig):
        connection = login(settings=settings)
        if connection is not None:
            return connection
    raise kopf.LoginError("no in-cluster service account and no kubeconfig")


def _status_error(response: httpx.Response) -> KubeError:
    """The `KubeError` of an answer with an error status: the server's ``message``
    (a Status object), else the start of the body."""
    try:
        body = response.json()
        message = str(body.get("message", response.text)) if isinstance(body, dict) else None
    except ValueError:
        message = None
    return KubeError(response.status_code, message or response.text[:200])


async def _lines(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """The lines of a watch's body (one JSON event each, ``\\n``-terminated), as
    bytes: no text decoding (JSON reads UTF-8 bytes) and no line reader of
    httpx's; a line split across chunks is joined once, when its end arrives."""
    parts: list[bytes] = []
    async for chunk in chunks:
        start = 0
        while (end := chunk.find(b"\n", start)) >= 0:
            parts.append(chunk[start:end])
            yield b"".join(parts)
            parts.clear()
            start = end + 1
        if start < len(chunk):
            parts.append(chunk[start:])
    if parts:
        yield b"".join(parts)


def _has_kubernetes_client() -> bool:
    try:
        import kubernetes  # noqa: F401
    except ImportError:
        return False
    return True


class KubeClient:
    """The operator's own Kubernetes writes (status, finalizers, events) and secret reads."""

    def __init__(
        self,
        connection: kopf.ConnectionInfo,
        *,
        relogin: Callable[[], kopf.ConnectionInfo] | None = None,
        max_connections: int = 32,
        instance: str | None = None,
    ) -> None:
        self._connection = connection
        # Events name the pod that decided (reportingInstance); repeats become a series.
        self._instance = instance or reporting_instance()
        self._series = EventSeries()
        # Tokens from exec plugins and projected service-account tokens
        # expire: a 401 logs in again once, then retries.
        self._relogin = relogin if relogin is not None else load_configuration
        context = connection.as_ssl_context()
        self._server = connection.server.rstrip("/")
        # Same aiohttp-backed transport as the provider clients, called directly
        # (no httpx client layer): the least CPU per call (bench/REPORT.md).
        self._transport = ProviderTransport(verify=context, max_connections=max_connections)
        self._extensions = {"timeout": httpx.Timeout(30.0).as_dict()}
        # Watches hold a response open for minutes: their own connections, with
        # a read timeout longer than the server's watch timeout; every answer
        # streamed (nothing read ahead).
        self._watch_transport = ProviderTransport(
            verify=context, max_connections=max_connections, read_ahead_bytes=0
        )
        self._watch_timeout = self._watch_transport.client_timeout(
            httpx.Timeout(30.0, read=WATCH_SECONDS + 30.0).as_dict()
        )
        self.writes = 0
        self._headers_of: kopf.ConnectionInfo | None = None
        self._header_cache: dict[str | None, httpx.Headers] = {}
        self._pair_cache: dict[str | None, tuple[tuple[str, str], ...]] = {}
        # A request's URL is built from the server's parts parsed here once and
        # the path as the client wrote it (``_url``); httpx parsed the whole
        # URL on every call (a fifth of a status patch's CPU in the client).
        base = httpx.URL(self._server)
        host = base.raw_host.decode("ascii")
        self._direct = not base.userinfo and ":" not in host and not base.query
        self._scheme, self._host, self._port = base.scheme, host, base.port
        self._base_path = base.raw_path.decode("ascii").rstrip("/")
        self._netloc = base.netloc.decode("ascii")
        self._timeout = self._transport.client_timeout(self._extensions["timeout"])

    async def aclose(self) -> None:
        await self._transport.aclose()
        await self._watch_transport.aclose()

    def _headers(self, content_type: str | None = None) -> httpx.Headers:
        """The headers of a request: built once per login and content type (a
        Request copies a Headers' pairs as they are, without parsing them again)."""
        if self._headers_of is not self._connection:
            self._headers_of, self._header_cache = self._connection, {}
        headers = self._header_cache.get(content_type)
        if headers is None:
            raw: dict[str, str] = {"Accept": "application/json"}
            raw.update(self._connection.as_http_headers())
            if content_type:
                raw["Content-Type"] = content_type
            headers = self._header_cache[content_type] = httpx.Headers(raw)
            self._pair_cache[content_type] = (("Host", self._netloc), *raw.items())
        return headers

    def _pairs(
        self, method: str, content: bytes | None, content_type: str | None
    ) -> Sequence[tuple[str, str]]:
        """The header pairs of a request sent without an httpx Request, in the
        order httpx puts them: Host first, Content-Length last when there is a
        body, ``0`` after Host for a POST, PUT or PATCH without one."""
        self._headers(content_type)
        pairs = self._pair_cache[content_type]
        if content is not None:
            return (*pairs, ("Content-Length", str(len(content))))
        if method in ("POST", "PUT", "PATCH"):
            return (pairs[0], ("Content-Length", "0"), *pairs[1:])
        return pairs

    def _url(self, path: str) -> yarl.URL | None:
        """``server + path`` as httpx would send it, built from parts without a
        parse; None (parse it) unless the path and query are plainly encoded
        already (names, ``urlencode`` output) and have no dot segment."""
        if not self._direct or "/." in path or not _PLAIN.fullmatch(path):
            return None
        path, _, query = path.partition("?")
        return yarl.URL.build(
            scheme=self._scheme,
            host=self._host,
            port=self._port,
            path=self._base_path + path,
            query_string=query,
            encoded=True,
        )

    async def _request(
        self,
        method: str,
        path: str,
        body: Any = None,
        content_type: str | None = None,
        *,
        shared: bool = True,
    ) -> dict[str, Any]:
        """One request; the answer decoded compact (``bodies.decode``), or, with
        ``shared=False`` (Secrets: their data never enters the process-wide table
        of shared values nor the interned strings), plainly."""
        content = json.dumps(body).encode() if body is not None else None
        if content is not None and content_type is None:
            # aiohttp would label raw bytes application/octet-stream (415).
            content_type = "application/json"
        if method != "GET":
            self.writes += 1
        raw = await self._fetch(method, path, content, content_type)
        # What the server answers is often kept (a link's status after a patch):
        # decoded compact, without managedFields (never read, large under SSA).
        result = decode(raw) if shared else json.loads(raw)
        return result if isinstance(result, dict) else {}

    async def _fetch(
        self, method: str, path: str, content: bytes | None, content_type: str | None
    ) -> bytes:
        """One request's answer body; a 401 logs in again once, an error status is a
        `KubeError` with that status."""
        response = await self._send(method, path, content, content_type)
        if response.status_code == httpx.codes.UNAUTHORIZED and self._try_relogin():
            response = await self._send(method, path, content, content_type)
        if response.status_code >= 400:
            raise _status_error(response)
        return response.content

    async def _send(
        self, method: str, path: str, content: bytes | None, content_type: str | None
    ) -> httpx.Response:
        url = self._url(path)
        if url is not None:
            # Straight on the transport: no httpx Request, Headers or URL per call.
            return await self._read_whole(
                method,
                path,
                self._transport.exchange(
                    method,
                    url,
                    self._pairs(method, content, content_type),
                    content,
                    self._timeout,
                    retry_closed=False,
                ),
            )
        request = httpx.Request(
            method,
            self._server + path,
            content=content,
            headers=self._headers(content_type),
            extensions=self._extensions,
        )
        response = await self._read_whole(
            method, path, self._transport.handle_async_request(request)
        )
        response.request = request
        return response

    @staticmethod
    async def _read_whole(
        method: str, path: str, sent: Awaitable[httpx.Response]
    ) -> httpx.Response:
        """The answer of ``sent``, read whole and closed; a transport failure is a
        `KubeError` (0)."""
        try:
            response = await sent
            try:
                await response.aread()
            finally:
                await response.aclose()
        except httpx.HTTPError as exc:
            raise KubeError(0, f"{method} {path}: {type(exc).__name__}") from exc
        return response

    @staticmethod
    def _object_path(plural: str, namespace: str | None, name: str) -> str:
        if namespace:
            return f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/{plural}/{name}"
        return f"/apis/{GROUP}/{VERSION}/{plural}/{name}"

    async def patch_status(
        self, plural: str, namespace: str | None, name: str, status: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Merge-patch ``.status`` through the status subresource (one write)."""
        path = self._object_path(plural, namespace, name) + "/status"
        return await self._request(
            "PATCH", path, {"status": dict(status)}, "application/merge-patch+json"
        )

    async def patch_metadata(
        self,
        plural: str,
        namespace: str | None,
        name: str,
        metadata: Mapping[str, Any],
        resource_version: str | None = None,
    ) -> dict[str, Any]:
        """Merge-patch metadata (finalizers, annotations); optimistic when a version is given."""
        meta = dict(metadata)
        if resource_version:
            meta["resourceVersion"] = resource_version
        path = self._object_path(plural, namespace, name)
        return await self._request(
            "PATCH", path, {"metadata": meta}, "application/merge-patch+json"
        )

    async def get_object(self, plural: str, namespace: str | None, name: str) -> dict[str, Any]:
        return await self._request("GET", self._object_path(plural, namespace, name))

    async def get_secret(self, namespace: str, name: str) -> dict[str, Any]:
        return await self._request(
            "GET", f"/api/v1/namespaces/{namespace}/secrets/{name}", shared=False
        )

    async def create_secret(self, namespace: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Create a Secret (only the operator's own, in its namespace: ``digest_key``)."""
        return await self._request(
            "POST",
            f"/api/v1/namespaces/{namespace}/secrets",
            dict(body),
            "application/json",
            shared=False,
        )

    async def watch_secret(self, namespace: str, name: str) -> AsyncIterator[tuple[str, Any]]:
        """Watch ONE Secret by name (a field selector: the server sends no other Secret).

        Without a resourceVersion the server first replays the current object
        as ADDED, so a fresh watch also reports what is there now. Yields
        ``(type, object)`` until the server ends the watch (``WATCH_SECONDS``);
        the caller reconnects. Needs only ``watch`` on Secrets (no ``list``).
        """
        path = f"/api/v1/namespaces/{namespace}/secrets"
        params = {
            "watch": "1",
            "fieldSelector": f"metadata.name={name}",
            "timeoutSeconds": str(int(WATCH_SECONDS)),
        }
        async for event in self._stream(path, params, shared=False):
            yield str(event.get("type")), event.get("object") or {}

    async def list_page(self, path: str, params: Mapping[str, str]) -> bytes:
        """One page of a LIST (``limit``/``continue`` in ``params``) as the server sent
        it: ``k8s.watch`` asks for the next page before it decodes this one."""
        return await self._fetch("GET", f"{path}?{urlencode(dict(params))}", None, None)

    async def watch(
        self, path: str, params: Mapping[str, str]
    ) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        """A WATCH of ``path`` (``watch=1`` added): yields ``(type, object)`` until the
        server ends it. An HTTP error status is a `KubeError` with that status."""
        async for event in self._stream(path, {**params, "watch": "1"}):
            obj = event.get("object")
            yield str(event.get("type")), obj if isinstance(obj, dict) else {}

    async def _stream(
        self, path: str, params: Mapping[str, str], *, shared: bool = True
    ) -> AsyncIterator[dict[str, Any]]:
        """A watch's GET, held open: yields each event line decoded (a line that is
        not a JSON object is skipped) until the server ends it. A 401 logs in again
        once, as ``_request`` does; an error status or a transport failure is a
        `KubeError` (0 for transport)."""
        query = f"{path}?{urlencode(dict(params))}"
        url = self._url(query) or aiohttp_url(httpx.URL(self._server + query))
        for attempt in (1, 2):
            try:
                response = await self._watch_transport.exchange(
                    "GET",
                    url,
                    self._pairs("GET", None, None),
                    None,
                    self._watch_timeout,
                    retry_closed=False,
                )
                try:
                    if (
                        response.status_code == httpx.codes.UNAUTHORIZED
                        and attempt == 1
                        and self._try_relogin()
                    ):
                        continue
                    if response.status_code >= 400:
                        await response.aread()
                        raise _status_error(response)
                    async for line in _lines(response.aiter_raw()):
                        if not line.strip():
                            continue
                        try:
                            event = decode(line) if shared else json.loads(line)
                        except ValueError:
                            continue
                        if isinstance(event, dict):
                            yield event
                    return
                finally:
                    await response.aclose()
            except httpx.HTTPError as exc:
                raise KubeError(0, f"watch {path}: {type(exc).__name__}") from exc

    def _try_relogin(self) -> bool:
        """Log in again (a 401: an expired token); False when that fails."""
        try:
            self._connection = self._relogin()
        except kopf.LoginError as exc:
            logger.warning("cannot log in to Kubernetes again: %s", exc)
            return False
        return True

    async def get_namespace(self, name: str) -> dict[str, Any]:
        return await self._request("GET", f"/api/v1/namespaces/{name}")

    async def get_configmap(self, namespace: str, name: str) -> dict[str, Any]:
        return await self._request("GET", f"/api/v1/namespaces/{namespace}/configmaps/{name}")

    async def create_configmap(self, namespace: str, body: Mapping[str, Any]) -> dict[str, Any]:
        return await self._request(
            "POST", f"/api/v1/namespaces/{namespace}/configmaps", dict(body), "application/json"
        )

    def _lease_path(self, namespace: str, name: str = "") -> str:
        base = f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases"
        return f"{base}/{name}" if name else base

    async def get_lease(self, namespace: str, name: str) -> dict[str, Any]:
        return await self._request("GET", self._lease_path(namespace, name))

    async def create_lease(self, namespace: str, body: Mapping[str, Any]) -> dict[str, Any]:
        return await self._request("POST", self._lease_path(namespace), dict(body))

    async def replace_lease(
        self, namespace: str, name: str, body: Mapping[str, Any]
    ) -> dict[str, Any]:
        """PUT with the body's resourceVersion: a concurrent writer makes it a 409."""
        return await self._request("PUT", self._lease_path(namespace, name), dict(body))

    async def list_configmaps(self, namespace: str, label_selector: str) -> list[dict[str, Any]]:
        """The ConfigMaps of ``namespace`` with ``label_selector``, in pages of 500."""
        items: list[dict[str, Any]] = []
        token = ""
        for _ in range(MAX_LIST_PAGES):
            query = {"labelSelector": label_selector, "limit": "500"}
            if token:
                query["continue"] = token
            page = await self._request(
                "GET", f"/api/v1/namespaces/{namespace}/configmaps?{urlencode(query)}"
            )
            items.extend(i for i in page.get("items") or () if isinstance(i, dict))
            token = str((page.get("metadata") or {}).get("continue") or "")
            if not token:
                return items
        raise KubeError(0, f"list configmaps in {namespace}: more than {MAX_LIST_PAGES} pages")

    async def delete_configmap(self, namespace: str, name: str) -> None:
        await self._request("DELETE", f"/api/v1/namespaces/{namespace}/configmaps/{name}")

    async def create_event(
        self,
        involved: Mapping[str, Any],
        *,
        type_: str,
        reason: str,
        message: str,
        component: str = "interconnect-operator",
    ) -> None:
        """Emit an ``events.k8s.io/v1`` Event about ``involved`` (apiVersion/kind/metadata).

        The component is the reportingController, this pod the reportingInstance.
        The same Event again within a few minutes patches the first one's
        ``series`` (count, lastObservedTime) instead of creating another.
        """
        now = dt.datetime.now(dt.UTC)
        body = new_event(
            involved,
            type_=type_,
            reason=reason,
            message=message,
            controller=component,
            instance=self._instance,
            now=now,
        )
        try:
            repeat = self._series.repeat_of(body, now)
            if repeat is not None:
                namespace, name, count = repeat
                try:
                    await self._request(
                        "PATCH",
                        f"{EVENTS_API}/namespaces/{namespace}/events/{name}",
                        series_patch(count, now),
                        "application/merge-patch+json",
                    )
                except KubeError as exc:
                    if exc.status != 404:
                        raise
                    self._series.forget(body)  # expired (TTL): a new Event below
                else:
                    self._series.repeated(body, count, now)
                    return
            namespace = body["metadata"]["namespace"]
            await self._request("POST", f"{EVENTS_API}/namespaces/{namespace}/events", body)
            self._series.created(body, now)
        except KubeError as exc:
            # Events are best effort: losing one must never fail a reconcile.
            logger.warning("could not emit event %s: %s", reason, exc)
