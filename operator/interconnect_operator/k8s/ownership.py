"""Shared-UUID ownership: which link (by ``metadata.uid``) may act on a provider connection.

The binding lives in one ConfigMap per UUID in the operator's namespace
(``ico-uuid-<uuid>``, data ``uid``). Only the operator writes there (tenants
have no access to the operator's namespace), it survives operator restarts
and a wiped or restored link status, and creating it is atomic: the API
server refuses a second create of the same name, so two links can never both
claim one UUID.

Links recorded before records existed are adopted once, when the UUID they
show in the annotation equals the one in their status: status is written only
through the status subresource, which tenants cannot write. A link showing a
UUID that is neither recorded for it nor adoptable is refused before anything
reaches a provider; the refusal names no other link.

Verdicts need the whole view: only the operator that serves the link's pool
judges (its namespace holds the records the UUID was claimed in), a
remembered owner is read again before a refusal, and a failed read is a retry,
never a refusal.
"""

from __future__ import annotations

import enum
import logging
import re
from collections.abc import Iterable, Mapping
from typing import Any

from interconnect_operator.k8s.index import shared_uuid
from interconnect_operator.k8s.kube import KubeError
from interconnect_operator.k8s.kubeapi import KubeApi
from interconnect_operator.k8s.resources import GROUP

logger = logging.getLogger(__name__)

RECORD_PREFIX = "ico-uuid-"
RECORD_LABEL = f"{GROUP}/record"
RECORD_KIND = "shared-connection-uuid"
RECORD_LABEL_SELECTOR = f"{RECORD_LABEL}={RECORD_KIND}"
_UUID_FORMAT = re.compile(r"^[a-z0-9]([a-z0-9-]{0,200}[a-z0-9])?$")
NOT_OWNED_MESSAGE = (
    "the shared connection UUID this link shows belongs to another link; "
    "remove the annotation (nothing was changed at any provider)"
)
MALFORMED_MESSAGE = "the shared connection UUID annotation is not a valid UUID"


class Ownership(enum.Enum):
    NO_UUID = "NoUuid"
    OWNED = "Owned"
    NOT_OWNED = "NotOwned"
    MALFORMED = "Malformed"


def record_name(uuid: str) -> str:
    return f"{RECORD_PREFIX}{uuid}"


def well_formed(uuid: str) -> bool:
    """UUIDs name records: only lowercase DNS-label characters are accepted."""
    return bool(_UUID_FORMAT.match(uuid))


class UuidOwnership:
    """Reads, claims and releases the per-UUID ownership records."""

    def __init__(self, kube: KubeApi, namespace: str) -> None:
        self._kube = kube
        self._namespace = namespace
        self._known: dict[str, str] = {}

    async def owner_uid(self, uuid: str, *, fresh: bool = False) -> str | None:
        """The uid recorded for ``uuid`` (None when no record exists).

        Records only ever name the uid that created them, so a remembered uid
        is trusted for a yes; ``fresh`` reads the record again (before a no).
        """
        known = None if fresh else self._known.get(uuid)
        if known is not None:
            return known
        self._known.pop(uuid, None)
        try:
            record = await self._kube.get_configmap(self._namespace, record_name(uuid))
        except KubeError as exc:
            if exc.status == 404:
                return None
            raise
        uid = str((record.get("data") or {}).get("uid") or "")
        if uid:
            self._known[uuid] = uid
        return uid or None

    async def preload(self) -> int:
        """Remember every record at once (one list instead of a read per link).

        A restarted operator otherwise reads one record per link before it
        may act on it. Records only ever name the uid that created them, so
        what the list shows is as good as a read; anything later (a record
        created or removed meanwhile) is read as before. Returns how many
        records were remembered; a list the RBAC does not allow (an older
        chart) leaves the per-link reads in place.
        """
        try:
            items = await self._kube.list_configmaps(self._namespace, RECORD_LABEL_SELECTOR)
        except KubeError as exc:
            logger.warning("cannot list shared-UUID records, reading them one by one: %s", exc)
            return 0
        count = 0
        for item in items:
            name = str((item.get("metadata") or {}).get("name") or "")
            uid = str((item.get("data") or {}).get("uid") or "")
            uuid = name[len(RECORD_PREFIX) :] if name.startswith(RECORD_PREFIX) else ""
            if uid and well_formed(uuid):
                self._known.setdefault(uuid, uid)
                count += 1
        return count

    async def claim(self, uuid: str, uid: str) -> bool:
        """Record ``uid`` as the owner of ``uuid``; False when another uid holds it."""
        if not well_formed(uuid) or not uid:
            return False
        body = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": record_name(uuid),
                "namespace": self._namespace,
                "labels": {RECORD_LABEL: RECORD_KIND},
            },
            "data": {"uid": uid},
        }
        try:
            await self._kube.create_configmap(self._namespace, body)
        except KubeError as exc:
            if exc.status != 409:
                raise
            self._known.pop(uuid, None)
            return await self.owner_uid(uuid) == uid
        self._known[uuid] = uid
        return True

    async def check(self, body: Mapping[str, Any]) -> Ownership:
        """Whether the link may act on the UUID it shows (adopting pre-record links)."""
        uuid = shared_uuid(body)
        if uuid is None:
            return Ownership.NO_UUID
        if not well_formed(uuid):
            return Ownership.MALFORMED
        uid = str((body.get("metadata") or {}).get("uid") or "")
        owner = await self.owner_uid(uuid)
        if owner is not None and owner != uid:
            # A refusal is never decided on memory: another replica may have
            # released and re-recorded the UUID since this process read it.
            owner = await self.owner_uid(uuid, fresh=True)
        if owner is not None:
            return Ownership.OWNED if owner == uid else Ownership.NOT_OWNED
        if adoptable(body, uuid) and await self.claim(uuid, uid):
            return Ownership.OWNED
        return Ownership.NOT_OWNED

    async def release(self, body: Mapping[str, Any], also: Iterable[str] = ()) -> None:
        """Drop the records of a released link's UUIDs, only those that link owns.

        ``also``: UUIDs this process claimed for the link that never reached
        its annotation (a write-ahead that failed before another key was issued).
        """
        uid = str((body.get("metadata") or {}).get("uid") or "")
        shown = shared_uuid(body)
        for uuid in {*also, *([shown] if shown else [])}:
            await self._release(uuid, uid)

    async def _release(self, uuid: str, uid: str) -> None:
        if not uid or not well_formed(uuid) or await self.owner_uid(uuid, fresh=True) != uid:
            return
        self._known.pop(uuid, None)
        try:
            await self._kube.delete_configmap(self._namespace, record_name(uuid))
        except KubeError as exc:
            if exc.status != 404:
                raise


def adoptable(body: Mapping[str, Any], uuid: str) -> bool:
    """A link from before ownership records: its operator-written status shows the UUID."""
    return (body.get("status") or {}).get("sharedConnectionUuid") == uuid
