"""Link metadata the operator owns: its finalizer and the shared-UUID write-ahead annotation.

Every write here is an optimistic merge patch of ``metadata`` (resourceVersion
given); on a conflict the object is read once more and the patch retried,
keeping other controllers' finalizers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from interconnect_operator.k8s.index import LinkIndex, LinkKey, shared_uuid
from interconnect_operator.k8s.kube import LINKS, KubeError
from interconnect_operator.k8s.kubeapi import KubeApi
from interconnect_operator.k8s.settings import FINALIZER, UUID_ANNOTATION


class StaleWriteAhead(Exception):
    """The write-ahead met a link that changed meanwhile: deleted, or another UUID
    recorded. ``fresh`` is the link as read; nothing was written."""

    def __init__(self, fresh: dict[str, Any]) -> None:
        super().__init__("link changed before the shared-UUID write-ahead")
        self.fresh = fresh


class LinkMetadata:
    """Finalizer and UUID annotation writes for links, keeping the body copy current."""

    def __init__(self, kube: KubeApi, index: LinkIndex) -> None:
        self._kube = kube
        self._index = index

    async def patch(
        self,
        key: LinkKey,
        body: dict[str, Any],
        change: dict[str, Any],
        still_valid: Callable[[Mapping[str, Any]], bool] | None = None,
    ) -> dict[str, Any]:
        """Optimistic metadata patch; on a conflict re-read the object once and retry.

        ``still_valid``: whether the change still applies to the object as re-read;
        when it does not, :class:`StaleWriteAhead` and no write."""
        meta = body["metadata"]
        try:
            return await self._kube.patch_metadata(
                LINKS, key[0], key[1], change, meta.get("resourceVersion")
            )
        except KubeError as exc:
            if exc.status != 409:
                raise
        fresh = await self._kube.get_object(LINKS, key[0], key[1])
        fresh_meta = fresh["metadata"]
        if still_valid is not None and not still_valid(fresh):
            raise StaleWriteAhead(fresh)
        if "finalizers" in change:
            ours = [f for f in change["finalizers"] or [] if f == FINALIZER]
            others = [f for f in fresh_meta.get("finalizers") or [] if f != FINALIZER]
            change = {**change, "finalizers": (others + ours) or None}
        return await self._kube.patch_metadata(
            LINKS, key[0], key[1], change, fresh_meta.get("resourceVersion")
        )

    async def add_finalizer(self, key: LinkKey, body: dict[str, Any]) -> None:
        meta = body["metadata"]
        finalizers = [*list(meta.get("finalizers") or []), FINALIZER]
        patched = await self.patch(key, body, {"finalizers": finalizers})
        meta["finalizers"] = patched["metadata"].get("finalizers", finalizers)
        meta["resourceVersion"] = patched["metadata"]["resourceVersion"]

    async def remove_finalizer(self, key: LinkKey, body: dict[str, Any]) -> None:
        """Drop the operator's finalizer (a link already gone is fine)."""
        meta = body["metadata"]
        finalizers = [f for f in meta.get("finalizers") or [] if f != FINALIZER]
        try:
            await self.patch(key, body, {"finalizers": finalizers or None})
        except KubeError as exc:
            if exc.status != 404:
                raise

    async def persist_uuid(self, key: LinkKey, body: dict[str, Any], uuid: str) -> None:
        """Write-ahead of the shared UUID (and the finalizer) before any provider object exists.

        The copy the key was issued on may be older than the link (a watch event
        still in flight): a conflict re-reads it, and a link being deleted or
        showing another UUID is left as it is (:class:`StaleWriteAhead`); never
        is a recorded UUID overwritten (P3: its objects would be abandoned)."""

        def still_valid(fresh: Mapping[str, Any]) -> bool:
            recorded = shared_uuid(fresh)
            deleting = bool((fresh.get("metadata") or {}).get("deletionTimestamp"))
            return not deleting and recorded in (None, uuid)

        meta = body["metadata"]
        finalizers = list(meta.get("finalizers") or [])
        if FINALIZER not in finalizers:
            finalizers.append(FINALIZER)
        # Claim the UUID before the write: a concurrent worker with the same key
        # must see it taken (LinkIndex.uuid_owner), not race this patch.
        self._index.claim(uuid, key)
        try:
            patched = await self.patch(
                key,
                body,
                {"finalizers": finalizers, "annotations": {UUID_ANNOTATION: uuid}},
                still_valid,
            )
        except BaseException:
            self._index.unclaim(uuid, key)
            raise
        meta.update(
            {
                "finalizers": patched["metadata"].get("finalizers", finalizers),
                "annotations": patched["metadata"].get("annotations", {}),
                "resourceVersion": patched["metadata"]["resourceVersion"],
            }
        )
        self._index.claim(uuid, key)
