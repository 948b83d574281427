"""The link index: the latest body of every link, links per pool, shared UUID -> link.

Fed by the link watch. It decides which watch events are work (a newer
body with a changed intent) and which are echoes of the operator's own
writes, and remembers links already released so their late events are
ignored. Pure bookkeeping: no Kubernetes calls.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from interconnect_operator.k8s.settings import UUID_ANNOTATION

LinkKey = tuple[str, str]
RELEASED_MEMORY_SECONDS = 600.0


class LinkIndex:
    """What the operator knows of each link between watch events."""

    def __init__(self) -> None:
        self.links: dict[LinkKey, dict[str, Any]] = {}
        self.links_by_pool: dict[str, set[LinkKey]] = {}
        self.uuid_index: dict[str, LinkKey] = {}
        self._released: dict[str, float] = {}

    def observe(self, body: Mapping[str, Any]) -> bool:
        """Record a watched (not deleted) link body; True when it needs a reconcile."""
        meta = body["metadata"]
        key: LinkKey = (meta["namespace"], meta["name"])
        uid = str(meta.get("uid") or "")
        if uid in self._released:
            # Late watch events of a link already released: never act on them.
            return False
        old = self.links.get(key)
        if old is not None and older(body, old):
            # A watch event older than what our own write returned: keep the newer copy.
            return False
        self.links[key] = dict(body)
        pool = ((body.get("spec") or {}).get("poolRef") or {}).get("name", "")
        self.place(key, pool, body)
        # Our own status write echoed back, or a no-op: nothing to do.
        return old is None or not same_intent(old, body)

    def place(self, key: LinkKey, pool: str, body: Mapping[str, Any]) -> None:
        """File ``key`` under ``pool`` and claim the UUID its body shows, if still free."""
        for other, keys in self.links_by_pool.items():
            if other != pool:
                keys.discard(key)
        self.links_by_pool.setdefault(pool, set()).add(key)
        uuid = shared_uuid(body)
        if uuid and self.uuid_owner(uuid, key) is None:
            # First claim wins: a link that merely shows the UUID (a refused reused
            # key) never takes it from the link that recorded it.
            self.uuid_index[uuid] = key

    def uuid_owner(self, uuid: str, key: LinkKey) -> LinkKey | None:
        """Another live link that already recorded ``uuid``, if any."""
        owner = self.uuid_index.get(uuid)
        if owner is None or owner == key or owner not in self.links:
            return None
        return owner

    def claim(self, uuid: str, key: LinkKey) -> None:
        self.uuid_index[uuid] = key

    def unclaim(self, uuid: str, key: LinkKey) -> None:
        """Give ``uuid`` up, only if ``key`` holds it."""
        if self.uuid_index.get(uuid) == key:
            del self.uuid_index[uuid]

    def key_for_uuid(self, uuid: str) -> LinkKey | None:
        return self.uuid_index.get(uuid)

    def keys_of_pool(self, pool: str) -> list[LinkKey]:
        return list(self.links_by_pool.get(pool, ()))

    def count_of_pool(self, pool: str) -> int:
        return len(self.links_by_pool.get(pool, ()))

    def release(self, body: Mapping[str, Any]) -> None:
        """Remember a released link's uid (for a while) so its late events are ignored."""
        now = time.monotonic()
        uid = str((body.get("metadata") or {}).get("uid") or "")
        if uid:
            self._released[uid] = now
        for old_uid, when in list(self._released.items()):
            if now - when > RELEASED_MEMORY_SECONDS:
                del self._released[old_uid]

    def drop(self, key: LinkKey) -> dict[str, Any] | None:
        """Forget ``key`` everywhere; returns the body it had."""
        body = self.links.pop(key, None)
        for keys in self.links_by_pool.values():
            keys.discard(key)
        if body is not None:
            uuid = shared_uuid(body)
            if uuid:
                self.unclaim(uuid, key)
        return body


def shared_uuid(body: Mapping[str, Any]) -> str | None:
    """The shared connection UUID a link body records (annotation first, then status)."""
    annotations = (body.get("metadata") or {}).get("annotations") or {}
    uuid = annotations.get(UUID_ANNOTATION) or (body.get("status") or {}).get(
        "sharedConnectionUuid"
    )
    return str(uuid) if uuid else None


def older(new: Mapping[str, Any], old: Mapping[str, Any]) -> bool:
    """resourceVersions are etcd revisions here; compare them when both are numbers."""
    a = str((new.get("metadata") or {}).get("resourceVersion", ""))
    b = str((old.get("metadata") or {}).get("resourceVersion", ""))
    return bool(a.isdigit() and b.isdigit() and int(a) < int(b))


def same_intent(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """True when only status or resourceVersion changed (our own write echoed back)."""
    old_meta, new_meta = old.get("metadata") or {}, new.get("metadata") or {}
    return (
        old_meta.get("generation") == new_meta.get("generation")
        and (old_meta.get("annotations") or {}) == (new_meta.get("annotations") or {})
        and bool(old_meta.get("deletionTimestamp")) == bool(new_meta.get("deletionTimestamp"))
        and (old_meta.get("finalizers") or []) == (new_meta.get("finalizers") or [])
    )


def user_intent(body: Mapping[str, Any]) -> tuple[object, ...]:
    """What only a user changes: the generation, a deletion, annotations other than
    the operator's own UUID record (the operator writes finalizers and that one)."""
    meta = body.get("metadata") or {}
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if k != UUID_ANNOTATION}
    return (meta.get("generation"), bool(meta.get("deletionTimestamp")), annotations)
