"""Links waiting for a Secret: a bounded, get-only recheck that wakes them.

A link's activation key and BGP MD5 live in Secrets in the link's own
namespace, which the operator may only ``get`` (no list/watch: watching
Secrets in tenant namespaces would need cluster-wide ``watch`` on Secrets,
i.e. the right to stream every Secret in the cluster). So instead of a
watch, a link that could not use its Secrets (missing, a key absent,
undecodable, not opted in) registers them here with what it saw (a digest of
the data and the opt-in label, or None when there was no Secret); one task
reads each waiting Secret by name, every
``FAST_SECONDS`` for the first ``FAST_FOR_SECONDS`` of the wait and every
``SLOW_SECONDS`` after, and wakes its links as soon as the content differs.
At most ``MAX_SECRETS`` Secrets are rechecked (the oldest waits first); the
links' own backoff still runs underneath, so nothing depends on this alone.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from interconnect_operator.k8s.index import LinkKey
from interconnect_operator.k8s.kube import KubeError
from interconnect_operator.k8s.kubeapi import KubeApi
from interconnect_operator.k8s.secret_refs import SecretReferrers, link_secret_digest
from interconnect_operator.k8s.waits import wait_set

logger = logging.getLogger(__name__)

FAST_SECONDS = 2.0
FAST_FOR_SECONDS = 300.0
SLOW_SECONDS = 30.0
MAX_SECRETS = 500

SecretKey = tuple[str, str]


@dataclass
class _Wait:
    since: float
    next_check: float
    baseline: str | None
    """Digest of the Secret's data when the link failed on it; None: it did not exist."""


def recheck_interval(waited: float) -> float:
    """Seconds between two reads of a Secret that has been waited for ``waited`` seconds."""
    return FAST_SECONDS if waited < FAST_FOR_SECONDS else SLOW_SECONDS


class SecretRecheck:
    """Secret -> waiting links; reads each waiting Secret by name until its content moves."""

    def __init__(
        self,
        kube: KubeApi,
        wake_link: Callable[[LinkKey], None],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._kube = kube
        self._wake_link = wake_link
        self._clock = clock
        self.refs: SecretReferrers[LinkKey, SecretKey] = SecretReferrers()
        self._waits: dict[SecretKey, _Wait] = {}
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def wait(self, link: LinkKey, secrets: Iterable[tuple[SecretKey, str | None]]) -> None:
        """``link`` waits until one of ``secrets`` (each with the digest it saw) changes."""
        now = self._clock()
        pairs = list(secrets)
        self.refs.set(link, [secret for secret, _ in pairs])
        for secret, baseline in pairs:
            known = self._waits.get(secret)
            if known is None:
                self._waits[secret] = _Wait(now, now + FAST_SECONDS, baseline)
            else:
                known.baseline = baseline
        self._prune()
        self._changed.set()

    def forget(self, link: LinkKey) -> None:
        """``link`` no longer waits (it got its Secrets, or it is gone)."""
        self.refs.drop(link)
        self._prune()

    @property
    def waiting(self) -> frozenset[SecretKey]:
        return frozenset(self._waits)

    def _prune(self) -> None:
        for secret in set(self._waits) - self.refs.secrets():
            del self._waits[secret]

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="secret-recheck")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        while True:
            self._changed.clear()
            try:
                await self.check_due()
            except Exception:  # containment: the recheck outlives any one round
                logger.exception("secret recheck round failed")
            due = [w.next_check for w in self._waits.values()]
            delay = max(min(due) - self._clock(), 0.2) if due else None
            await wait_set(self._changed, delay)

    async def check_due(self) -> None:
        """Read every Secret whose turn has come (oldest waits first, at most MAX_SECRETS)."""
        now = self._clock()
        oldest = sorted(self._waits.items(), key=lambda item: item[1].since)[:MAX_SECRETS]
        for secret, wait in oldest:
            if wait.next_check > now:
                continue
            wait.next_check = now + recheck_interval(now - wait.since)
            try:
                body = await self._kube.get_secret(*secret)
            except KubeError as exc:
                if exc.status == 404:
                    current = None
                else:
                    # Forbidden or failing: the links' own backoff reports and retries.
                    self._release(secret)
                    continue
            else:
                current = link_secret_digest(body)
            if current != wait.baseline:
                self._release(secret, wake=True)

    def _release(self, secret: SecretKey, *, wake: bool = False) -> None:
        links = self.refs.referrers(secret)
        for link in sorted(links):
            self.refs.drop(link)
            if wake:
                self._wake_link(link)
        self._prune()
