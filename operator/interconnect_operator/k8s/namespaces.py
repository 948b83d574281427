"""Namespace policy: may a link's namespace draw from a pool (the pool's ``namespaceSelector``).

Namespace labels are read through the Kubernetes API and kept for a short
while, so a burst of links from one namespace costs one read.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from interconnect_operator.k8s.kubeapi import KubeApi
from interconnect_operator.k8s.policy import selector_matches

LABEL_CACHE_SECONDS = 30.0


class NamespacePolicy:
    """Answers "is this namespace allowed to use this pool?" with a reason when not."""

    def __init__(self, kube: KubeApi) -> None:
        self._kube = kube
        self._labels: dict[str, tuple[float, dict[str, str]]] = {}

    async def denial(self, pool: str, pool_body: Mapping[str, Any], namespace: str) -> str | None:
        """Why ``namespace`` may not draw from ``pool``, or None when it may."""
        selector = ((pool_body.get("spec") or {}).get("policy") or {}).get("namespaceSelector")
        if not selector:
            return None
        cached = self._labels.get(namespace)
        if cached is None or time.monotonic() - cached[0] > LABEL_CACHE_SECONDS:
            ns = await self._kube.get_namespace(namespace)  # KubeError: the caller retries
            labels = dict((ns.get("metadata") or {}).get("labels") or {})
            cached = (time.monotonic(), labels)
            self._labels[namespace] = cached
        if selector_matches(selector, cached[1]):
            return None
        return f"namespace {namespace} is not allowed to draw from pool {pool} (namespaceSelector)"
