"""Watches of the Secrets pools reference, one watch per referenced name.

A pool's credentials and TLS CA live in Secrets in the operator's namespace;
rotating one (external-secrets, Vault, by hand) must take effect without a
spec change. This module keeps exactly one watch per Secret name some pool
references (``secret_refs``), each filtered by name on the server (the
operator never receives a Secret it does not use), and reports each Secret's
content as a digest, or None once it is gone. Reconnects back off (bounded);
a fresh watch replays the current object, so nothing is missed in between.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from interconnect_operator.k8s.kube import KubeError
from interconnect_operator.k8s.kubeapi import KubeApi
from interconnect_operator.k8s.secret_refs import data_digest

logger = logging.getLogger(__name__)

#: Reconnect delays after a failed or ended watch: first, cap (seconds).
RECONNECT = (1.0, 30.0)

SecretChanged = Callable[[str, str | None], Awaitable[None]]
"""Called with (Secret name, digest of its data or None when it does not exist)."""


class SecretWatches:
    """One server-side-filtered watch per Secret name in ``namespace``."""

    def __init__(self, kube: KubeApi, namespace: str, on_change: SecretChanged) -> None:
        self._kube = kube
        self._namespace = namespace
        self._on_change = on_change
        self._tasks: dict[str, asyncio.Task[None]] = {}

    @property
    def names(self) -> frozenset[str]:
        return frozenset(self._tasks)

    def sync(self, names: frozenset[str]) -> None:
        """Watch exactly ``names``: start the missing watches, cancel the rest."""
        for name in set(self._tasks) - names:
            self._tasks.pop(name).cancel()
        for name in names - set(self._tasks):
            self._tasks[name] = asyncio.create_task(self._watch(name), name=f"secret-{name}")

    async def stop(self) -> None:
        tasks = list(self._tasks.values())
        self._tasks.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _watch(self, name: str) -> None:
        delay = RECONNECT[0]
        while True:
            failed = False
            try:
                async for type_, obj in self._kube.watch_secret(self._namespace, name):
                    if type_ == "ERROR":
                        break  # e.g. 410 Gone: reconnect, the replay says what is there
                    if (obj.get("metadata") or {}).get("name") != name:
                        continue
                    digest = None if type_ == "DELETED" else data_digest(obj.get("data"))
                    await self._notify(name, digest)
            except KubeError as exc:
                # 403: the Role lacks `watch`; rotations then wait for a spec change.
                failed = True
                logger.warning("watch of secret %s failed: %s", name, exc)
            except Exception:  # containment: a watch never takes the operator down
                failed = True
                logger.exception("watch of secret %s failed", name)
            # An ended watch reconnects after a second (never a hot loop); a failing
            # one backs off, bounded. The reconnect's replay covers the gap.
            delay = min(delay * 2, RECONNECT[1]) if failed else RECONNECT[0]
            await asyncio.sleep(delay)

    async def _notify(self, name: str, digest: str | None) -> None:
        try:
            await self._on_change(name, digest)
        except Exception:  # containment: one bad callback never ends the watch
            logger.exception("handling a change of secret %s failed", name)
