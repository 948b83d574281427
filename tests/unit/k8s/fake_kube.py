"""A fake of the operator's Kubernetes surface (``k8s.kubeapi.KubeApi``) for unit tests.

Objects, Secrets and Namespaces live in dictionaries; metadata patches follow
JSON merge-patch with optimistic concurrency (a stale resourceVersion is a
409), status patches replace ``.status``. Every write is recorded, and a test
can make the next calls of a method fail with a chosen status, before or
after the write takes effect.
"""

from __future__ import annotations

import asyncio
import base64
import copy
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

from interconnect_operator.k8s.kube import KubeError

ObjectKey = tuple[str, str | None, str]


@dataclass(frozen=True)
class RecordedEvent:
    kind: str
    name: str
    type: str
    reason: str
    message: str


class FakeKube:
    """In-memory stand-in for ``kube.KubeClient``."""

    def __init__(self) -> None:
        self.objects: dict[ObjectKey, dict[str, Any]] = {}
        #: Objects the API server deleted (their last finalizer removed), as they were last.
        self.deleted: dict[ObjectKey, dict[str, Any]] = {}
        self.secrets: dict[tuple[str, str], dict[str, Any]] = {}
        self.namespaces: dict[str, dict[str, Any]] = {}
        self.configmaps: dict[tuple[str, str], dict[str, Any]] = {}
        self.leases: dict[tuple[str, str], dict[str, Any]] = {}
        self.events: list[RecordedEvent] = []
        self.status_patches: list[tuple[ObjectKey, dict[str, Any]]] = []
        self.meta_patches: list[tuple[ObjectKey, dict[str, Any]]] = []
        self.reads: list[str] = []
        self.failures: dict[str, list[KubeError]] = {}
        self.failures_after_commit: dict[str, list[KubeError]] = {}
        self._revision = 100
        self.closed = False
        self.secret_watches: dict[tuple[str, str], list[asyncio.Queue[tuple[str, Any]]]] = {}

    # ------------------------------------------------------------ test set-up

    def add_object(self, plural: str, body: dict[str, Any]) -> dict[str, Any]:
        meta = body.setdefault("metadata", {})
        meta.setdefault("resourceVersion", self._next_revision())
        meta.setdefault("generation", 1)
        meta.setdefault("uid", f"uid-{meta['name']}")
        self.objects[(plural, meta.get("namespace"), meta["name"])] = body
        return copy.deepcopy(body)

    def add_secret(
        self,
        namespace: str,
        name: str,
        data: Mapping[str, str | bytes],
        labels: Mapping[str, str] | None = None,
    ) -> None:
        encoded = {
            k: base64.b64encode(v if isinstance(v, bytes) else v.encode()).decode()
            for k, v in data.items()
        }
        created = (namespace, name) not in self.secrets
        metadata = {"name": name, "labels": dict(labels or {})}
        self.secrets[(namespace, name)] = {"metadata": metadata, "data": encoded}
        self._secret_event("ADDED" if created else "MODIFIED", namespace, name)

    def delete_secret(self, namespace: str, name: str) -> None:
        body = self.secrets.pop((namespace, name))
        for queue in self.secret_watches.get((namespace, name), []):
            queue.put_nowait(("DELETED", copy.deepcopy(body)))

    def _secret_event(self, type_: str, namespace: str, name: str) -> None:
        for queue in self.secret_watches.get((namespace, name), []):
            queue.put_nowait((type_, copy.deepcopy(self.secrets[(namespace, name)])))

    def add_namespace(self, name: str, labels: Mapping[str, str] | None = None) -> None:
        self.namespaces[name] = {"metadata": {"name": name, "labels": dict(labels or {})}}

    def fail(self, method: str, status: int, times: int = 1) -> None:
        """The next ``times`` calls of ``method`` fail with HTTP ``status``."""
        self.failures.setdefault(method, []).extend(
            KubeError(status, f"injected {status}") for _ in range(times)
        )

    def fail_after_commit(self, method: str, status: int, times: int = 1) -> None:
        """The next ``times`` calls of ``method`` take effect, then fail with HTTP ``status``
        (a response lost after the API server committed the write: an unknown outcome)."""
        self.failures_after_commit.setdefault(method, []).extend(
            KubeError(status, f"injected {status} after commit") for _ in range(times)
        )

    def last_seen(self, plural: str, namespace: str | None, name: str) -> dict[str, Any]:
        """The stored object, or as it was when the API server deleted it."""
        key = (plural, namespace, name)
        return self.objects[key] if key in self.objects else self.deleted[key]

    def bump(self, plural: str, namespace: str | None, name: str) -> None:
        """Another writer changed the object (its resourceVersion moves on)."""
        self.objects[(plural, namespace, name)]["metadata"]["resourceVersion"] = (
            self._next_revision()
        )

    # ------------------------------------------------------------ KubeApi

    async def aclose(self) -> None:
        self.closed = True

    async def patch_status(
        self, plural: str, namespace: str | None, name: str, status: Mapping[str, Any]
    ) -> dict[str, Any]:
        self._maybe_fail("patch_status")
        obj = self._get(plural, namespace, name)
        self.status_patches.append(((plural, namespace, name), copy.deepcopy(dict(status))))
        obj["status"] = copy.deepcopy(dict(status))
        obj["metadata"]["resourceVersion"] = self._next_revision()
        return copy.deepcopy(obj)

    async def patch_metadata(
        self,
        plural: str,
        namespace: str | None,
        name: str,
        metadata: Mapping[str, Any],
        resource_version: str | None = None,
    ) -> dict[str, Any]:
        self._maybe_fail("patch_metadata")
        obj = self._get(plural, namespace, name)
        meta = obj["metadata"]
        if resource_version is not None and resource_version != meta["resourceVersion"]:
            raise KubeError(409, "the object has been modified")
        self.meta_patches.append(((plural, namespace, name), copy.deepcopy(dict(metadata))))
        for key, value in metadata.items():
            if key == "annotations" and value is not None:
                merged = {**(meta.get("annotations") or {}), **value}
                meta["annotations"] = {k: v for k, v in merged.items() if v is not None}
            elif value is None:
                meta.pop(key, None)
            else:
                meta[key] = copy.deepcopy(value)
        meta["resourceVersion"] = self._next_revision()
        if meta.get("deletionTimestamp") and not meta.get("finalizers"):
            # As the API server does: the last finalizer gone, the object goes.
            self.deleted[(plural, namespace, name)] = self.objects.pop((plural, namespace, name))
        self._maybe_fail_after_commit("patch_metadata")
        return copy.deepcopy(obj)

    async def get_object(self, plural: str, namespace: str | None, name: str) -> dict[str, Any]:
        self._maybe_fail("get_object")
        self.reads.append(f"{plural}/{name}")
        return copy.deepcopy(self._get(plural, namespace, name))

    async def get_secret(self, namespace: str, name: str) -> dict[str, Any]:
        self._maybe_fail("get_secret")
        self.reads.append(f"secrets/{namespace}/{name}")
        if (namespace, name) not in self.secrets:
            raise KubeError(404, f"secret {name} not found")
        return copy.deepcopy(self.secrets[(namespace, name)])

    async def create_secret(self, namespace: str, body: Mapping[str, Any]) -> dict[str, Any]:
        self._maybe_fail("create_secret")
        name = body["metadata"]["name"]
        if (namespace, name) in self.secrets:
            raise KubeError(409, f"secret {name} already exists")
        self.secrets[(namespace, name)] = copy.deepcopy(dict(body))
        return copy.deepcopy(dict(body))

    async def watch_secret(self, namespace: str, name: str) -> AsyncIterator[tuple[str, Any]]:
        """Like the server: the current object as ADDED, then every change (until cancelled)."""
        self._maybe_fail("watch_secret")
        queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self.secret_watches.setdefault((namespace, name), []).append(queue)
        try:
            if (namespace, name) in self.secrets:
                yield "ADDED", copy.deepcopy(self.secrets[(namespace, name)])
            while True:
                yield await queue.get()
        finally:
            self.secret_watches[(namespace, name)].remove(queue)

    async def get_namespace(self, name: str) -> dict[str, Any]:
        self._maybe_fail("get_namespace")
        self.reads.append(f"namespaces/{name}")
        if name not in self.namespaces:
            raise KubeError(404, f"namespace {name} not found")
        return copy.deepcopy(self.namespaces[name])

    async def get_configmap(self, namespace: str, name: str) -> dict[str, Any]:
        self._maybe_fail("get_configmap")
        if (namespace, name) not in self.configmaps:
            raise KubeError(404, f"configmap {name} not found")
        return copy.deepcopy(self.configmaps[(namespace, name)])

    async def create_configmap(self, namespace: str, body: Mapping[str, Any]) -> dict[str, Any]:
        self._maybe_fail("create_configmap")
        name = body["metadata"]["name"]
        if (namespace, name) in self.configmaps:
            raise KubeError(409, f"configmap {name} already exists")
        self.configmaps[(namespace, name)] = copy.deepcopy(dict(body))
        self._maybe_fail_after_commit("create_configmap")
        return copy.deepcopy(dict(body))

    async def list_configmaps(self, namespace: str, label_selector: str) -> list[dict[str, Any]]:
        self._maybe_fail("list_configmaps")
        key, _, value = label_selector.partition("=")
        return [
            copy.deepcopy(body)
            for (ns, _name), body in sorted(self.configmaps.items())
            if ns == namespace and (body.get("metadata", {}).get("labels") or {}).get(key) == value
        ]

    async def delete_configmap(self, namespace: str, name: str) -> None:
        self._maybe_fail("delete_configmap")
        if self.configmaps.pop((namespace, name), None) is None:
            raise KubeError(404, f"configmap {name} not found")

    async def get_lease(self, namespace: str, name: str) -> dict[str, Any]:
        self._maybe_fail("get_lease")
        if (namespace, name) not in self.leases:
            raise KubeError(404, f"lease {name} not found")
        return copy.deepcopy(self.leases[(namespace, name)])

    async def create_lease(self, namespace: str, body: Mapping[str, Any]) -> dict[str, Any]:
        self._maybe_fail("create_lease")
        name = body["metadata"]["name"]
        if (namespace, name) in self.leases:
            raise KubeError(409, f"lease {name} already exists")
        stored = copy.deepcopy(dict(body))
        stored["metadata"]["resourceVersion"] = self._next_revision()
        self.leases[(namespace, name)] = stored
        return copy.deepcopy(stored)

    async def replace_lease(
        self, namespace: str, name: str, body: Mapping[str, Any]
    ) -> dict[str, Any]:
        self._maybe_fail("replace_lease")
        current = self.leases.get((namespace, name))
        if current is None:
            raise KubeError(404, f"lease {name} not found")
        if body["metadata"].get("resourceVersion") != current["metadata"]["resourceVersion"]:
            raise KubeError(409, "the object has been modified")
        stored = copy.deepcopy(dict(body))
        stored["metadata"]["resourceVersion"] = self._next_revision()
        self.leases[(namespace, name)] = stored
        return copy.deepcopy(stored)

    async def create_event(
        self,
        involved: Mapping[str, Any],
        *,
        type_: str,
        reason: str,
        message: str,
        component: str = "interconnect-operator",
    ) -> None:
        meta = involved.get("metadata") or {}
        self.events.append(
            RecordedEvent(str(involved.get("kind")), str(meta.get("name")), type_, reason, message)
        )

    # ------------------------------------------------------------ internals

    def _get(self, plural: str, namespace: str | None, name: str) -> dict[str, Any]:
        try:
            return self.objects[(plural, namespace, name)]
        except KeyError:
            raise KubeError(404, f"{plural} {name} not found") from None

    def _maybe_fail(self, method: str) -> None:
        pending = self.failures.get(method)
        if pending:
            raise pending.pop(0)

    def _maybe_fail_after_commit(self, method: str) -> None:
        pending = self.failures_after_commit.get(method)
        if pending:
            raise pending.pop(0)

    def _next_revision(self) -> str:
        self._revision += 1
        return str(self._revision)
