"""The installation's key that signs a Ready status's ``inputsDigest``.

After a restart a link whose stored Ready status carries a digest matching
the first snapshot is confirmed from that status (``confirm``), with no
reconcile. A plain digest of public inputs could be forged by anyone who may
write the link's status (RBAC denies it to tenants, but a careless cluster
may grant ``*/status``). The digest is therefore a keyed MAC, and the key is
one Secret in the operator's own namespace (``KEY_SECRET``, created with 32
random bytes on first start, never overwritten): tenants cannot read it,
every replica and shard of one installation shares it, and it survives
restarts so that unchanged links keep their fast confirmation.

- Missing and not creatable (RBAC, API down), or malformed: no key. Ready
  statuses are then written without a digest and every stored digest is
  untrusted: confirmation takes the full path, never trust. The read is
  tried again after ``RETRY_SECONDS``.
- Rotation: delete the Secret (or replace its ``key``) and restart the
  operator. Digests signed with the old key no longer verify, so each link
  takes the full path once; its status then carries the new key's id and is
  written again (``status`` compares that id).

The key never leaves this module except into ``confirm.signed_digest``; it is
not logged, exported or put in any status.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import secrets
import time

from interconnect_operator.k8s.kube import KubeError
from interconnect_operator.k8s.kubeapi import KubeApi
from interconnect_operator.k8s.resources import GROUP

logger = logging.getLogger(__name__)

KEY_SECRET = "interconnect-operator-digest-key"
KEY_FIELD = "key"
KEY_BYTES = 32
#: Shortest key accepted from a Secret someone else wrote.
MIN_KEY_BYTES = 16
RETRY_SECONDS = 60.0


def parse_key(secret: dict[str, object]) -> bytes | None:
    """The key held by the Secret (None: absent, not base64, or too short)."""
    data = secret.get("data")
    value = data.get(KEY_FIELD) if isinstance(data, dict) else None
    if not isinstance(value, str):
        return None
    try:
        key = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None
    return key if len(key) >= MIN_KEY_BYTES else None


def key_secret_body() -> dict[str, object]:
    """A new key Secret: 32 random bytes."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": KEY_SECRET,
            "labels": {f"{GROUP}/record": "inputs-digest-key"},
        },
        "type": "Opaque",
        "data": {KEY_FIELD: base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()},
    }


class DigestKey:
    """Loads (or creates once) the signing key; one read per process while it succeeds."""

    def __init__(self, kube: KubeApi, namespace: str) -> None:
        self._kube = kube
        self._namespace = namespace
        self._key: bytes | None = None
        self._failed_at: float | None = None
        self._lock = asyncio.Lock()

    @property
    def loaded(self) -> bytes | None:
        """The key if already loaded (no API call)."""
        return self._key

    async def get(self) -> bytes | None:
        """The key; None while it cannot be read or created (callers fall back to the full path)."""
        if self._key is not None:
            return self._key
        async with self._lock:
            if self._key is not None:
                return self._key
            if self._failed_at is not None and time.monotonic() - self._failed_at < RETRY_SECONDS:
                return None
            self._key = await self._load()
            self._failed_at = None if self._key is not None else time.monotonic()
            return self._key

    async def _load(self) -> bytes | None:
        try:
            try:
                secret = await self._kube.get_secret(self._namespace, KEY_SECRET)
            except KubeError as exc:
                if exc.status != 404:
                    raise
                secret = await self._create()
        except KubeError as exc:
            logger.warning(
                "the inputsDigest key secret %s/%s cannot be read or created (%s): "
                "Ready links are confirmed by a full reconcile after a restart",
                self._namespace,
                KEY_SECRET,
                exc.status,
            )
            return None
        key = parse_key(secret)
        if key is None:
            logger.warning(
                "the inputsDigest key secret %s/%s holds no usable key (%r: base64 of at "
                "least %d bytes): Ready links are confirmed by a full reconcile after a restart",
                self._namespace,
                KEY_SECRET,
                KEY_FIELD,
                MIN_KEY_BYTES,
            )
        return key

    async def _create(self) -> dict[str, object]:
        """Create the key Secret; another replica creating it first wins (read it back)."""
        try:
            return await self._kube.create_secret(self._namespace, key_secret_body())
        except KubeError as exc:
            if exc.status != 409:
                raise
        return await self._kube.get_secret(self._namespace, KEY_SECRET)
