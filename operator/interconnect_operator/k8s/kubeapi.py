"""The Kubernetes calls the controller makes, as a Protocol.

``kube.KubeClient`` implements it against a real API server; unit tests pass
a fake. The controller's modules depend on this surface, not on HTTP.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any, Protocol


class KubeApi(Protocol):
    """Status and metadata patches, reads, Events (see ``kube.KubeClient``)."""

    async def aclose(self) -> None: ...

    async def patch_status(
        self, plural: str, namespace: str | None, name: str, status: Mapping[str, Any]
    ) -> dict[str, Any]: ...

    async def patch_metadata(
        self,
        plural: str,
        namespace: str | None,
        name: str,
        metadata: Mapping[str, Any],
        resource_version: str | None = None,
    ) -> dict[str, Any]: ...

    async def get_object(self, plural: str, namespace: str | None, name: str) -> dict[str, Any]: ...

    async def get_secret(self, namespace: str, name: str) -> dict[str, Any]: ...

    async def create_secret(self, namespace: str, body: Mapping[str, Any]) -> dict[str, Any]: ...

    def watch_secret(self, namespace: str, name: str) -> AsyncIterator[tuple[str, Any]]: ...

    async def get_namespace(self, name: str) -> dict[str, Any]: ...

    async def get_configmap(self, namespace: str, name: str) -> dict[str, Any]: ...

    async def create_configmap(self, namespace: str, body: Mapping[str, Any]) -> dict[str, Any]: ...

    async def delete_configmap(self, namespace: str, name: str) -> None: ...

    async def list_configmaps(
        self, namespace: str, label_selector: str
    ) -> list[dict[str, Any]]: ...

    async def get_lease(self, namespace: str, name: str) -> dict[str, Any]: ...

    async def create_lease(self, namespace: str, body: Mapping[str, Any]) -> dict[str, Any]: ...

    async def replace_lease(
        self, namespace: str, name: str, body: Mapping[str, Any]
    ) -> dict[str, Any]: ...

    async def create_event(
        self,
        involved: Mapping[str, Any],
        *,
        type_: str,
        reason: str,
        message: str,
        component: str = "interconnect-operator",
    ) -> None: ...
