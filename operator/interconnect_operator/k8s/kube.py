"""A small async Kubernetes client for the writes the operator makes itself.

kopf watches; this client patches status and metadata, emits Events and reads
Secrets and Namespaces. It is httpx over the same credentials kopf uses
(kubeconfig or in-cluster, loaded by the official ``kubernetes`` package), so
the hot path stays async and needs no thread pool.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import ssl
from collections.abc import Mapping
from typing import Any

import httpx
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config

from interconnect_operator.api.transport import ProviderTransport
from interconnect_operator.k8s.resources import GROUP, VERSION

logger = logging.getLogger(__name__)

LINKS = "multicloudlinks"
POOLS = "capacitypools"


class KubeError(Exception):
    """A Kubernetes API call failed; ``status`` is the HTTP status (0 for transport)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status


def load_configuration(kubeconfig: str | None = None) -> Any:
    """kubeconfig (explicit, $KUBECONFIG or ~/.kube/config) first, in-cluster otherwise."""
    configuration = k8s_client.Configuration()
    try:
        k8s_config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=kubeconfig, client_configuration=configuration
        )
    except (k8s_config.ConfigException, FileNotFoundError, TypeError):
        k8s_config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    return configuration


class KubeClient:
    """The operator's own Kubernetes writes (status, finalizers, events) and secret reads."""

    def __init__(self, configuration: Any, *, max_connections: int = 32) -> None:
        self._configuration = configuration
        context = ssl.create_default_context(cafile=configuration.ssl_ca_cert or None)
        if not configuration.verify_ssl:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        if configuration.cert_file:
            context.load_cert_chain(configuration.cert_file, configuration.key_file)
        self._http = httpx.AsyncClient(
            base_url=configuration.host,
            # Same aiohttp-backed transport as the provider clients (less CPU per call).
            transport=ProviderTransport(verify=context, max_connections=max_connections),
            verify=context,
            timeout=30.0,
            limits=httpx.Limits(max_connections=max_connections),
        )
        self.writes = 0

    async def aclose(self) -> None:
        await self._http.aclose()

    def _headers(self, content_type: str | None = None) -> dict[str, str]:
        headers: dict[str, str] = {"Accept": "application/json"}
        # The kubernetes client stores tokens as "BearerToken" (recent versions)
        # or "authorization" (older); both carry the "Bearer " prefix already.
        token = self._configuration.get_api_key_with_prefix(
            "BearerToken"
        ) or self._configuration.get_api_key_with_prefix("authorization")
        if token:
            headers["Authorization"] = token
        if content_type:
            headers["Content-Type"] = content_type
        return headers

    async def _request(
        self, method: str, path: str, body: Any = None, content_type: str | None = None
    ) -> dict[str, Any]:
        content = json.dumps(body).encode() if body is not None else None
        if content is not None and content_type is None:
            # aiohttp would label raw bytes application/octet-stream (415).
            content_type = "application/json"
        if method != "GET":
            self.writes += 1
        try:
            response = await self._http.request(
                method, path, content=content, headers=self._headers(content_type)
            )
        except httpx.HTTPError as exc:
            raise KubeError(0, f"{method} {path}: {type(exc).__name__}") from exc
        if response.status_code >= 400:
            try:
                message = str(response.json().get("message", response.text))
            except ValueError:
                message = response.text
            raise KubeError(response.status_code, message)
        result: dict[str, Any] = response.json()
        metadata = result.get("metadata")
        if isinstance(metadata, dict):
            # Never read, and large under server-side apply: not kept in memory.
            metadata.pop("managedFields", None)
        return result

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
        return await self._request("GET", f"/api/v1/namespaces/{namespace}/secrets/{name}")

    async def get_namespace(self, name: str) -> dict[str, Any]:
        return await self._request("GET", f"/api/v1/namespaces/{name}")

    async def create_event(
        self,
        involved: Mapping[str, Any],
        *,
        type_: str,
        reason: str,
        message: str,
        component: str = "interconnect-operator",
    ) -> None:
        """Emit a core/v1 Event about ``involved`` (an object's apiVersion/kind/metadata)."""
        meta = involved.get("metadata", {})
        namespace = meta.get("namespace") or "default"
        now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        body = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"generateName": f"{meta.get('name', 'object')}.", "namespace": namespace},
            "involvedObject": {
                "apiVersion": involved.get("apiVersion"),
                "kind": involved.get("kind"),
                "name": meta.get("name"),
                "namespace": meta.get("namespace"),
                "uid": meta.get("uid"),
                "resourceVersion": meta.get("resourceVersion"),
            },
            "type": type_,
            "reason": reason,
            "message": message[:1024],
            "source": {"component": component},
            "reportingComponent": component,
            "reportingInstance": component,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        try:
            await self._request(
                "POST", f"/api/v1/namespaces/{namespace}/events", body, "application/json"
            )
        except KubeError as exc:
            # Events are best effort: losing one must never fail a reconcile.
            logger.warning("could not emit event %s: %s", reason, exc)
