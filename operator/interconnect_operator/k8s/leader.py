"""Leader election on a coordination.k8s.io Lease: exactly one replica acts.

Every replica watches (kopf's watches are reads), but only the holder of the
Lease ``<name>`` in the operator's namespace starts the controller's pool
loops, MACsec and maintenance rounds and link queue: a standby makes no
provider call and no Kubernetes write other than trying the Lease.

The rules are client-go's: a Lease held by someone else is taken only once
its record has not changed for ``lease_duration`` seconds *as this replica
observed it* (its own clock, never the holder's timestamps, so clock skew
cannot make two leaders); every write is a replace with the
resourceVersion read, so two candidates cannot both win; the leader renews
every ``retry_period`` and gives up as soon as it could not renew for
``renew_deadline`` seconds (shorter than the lease duration), before any
other replica may take over. A leader that gives up stops acting at once
(``on_stopped_leading``: the process exits, and its restart is a standby).
Nothing depends on start order or priorities, and nothing here is deleted
on an upgrade.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from interconnect_operator.k8s.kube import KubeError
from interconnect_operator.k8s.kubeapi import KubeApi

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ElectionTimings:
    """Seconds; ``renew_deadline < lease_duration`` keeps one leader at a time."""

    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0

    def __post_init__(self) -> None:
        if not 0 < self.retry_period < self.renew_deadline < self.lease_duration:
            raise ValueError("need 0 < retry_period < renew_deadline < lease_duration")


def _micro_time(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LeaseElector:
    """Acquires and renews one Lease; calls back when leading starts and stops."""

    def __init__(
        self,
        kube: KubeApi,
        namespace: str,
        name: str,
        identity: str,
        timings: ElectionTimings | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._kube = kube
        self.namespace = namespace
        self.name = name
        self.identity = identity
        self.timings = timings or ElectionTimings()
        self._clock = clock
        self._now = now
        self._sleep = sleep
        self._observed: tuple[Any, ...] | None = None
        self._observed_at = 0.0
        self.leading = False

    def _record(self, lease: dict[str, Any]) -> tuple[Any, ...]:
        spec = lease.get("spec") or {}
        return (
            spec.get("holderIdentity"),
            spec.get("renewTime"),
            spec.get("leaseDurationSeconds"),
            lease.get("metadata", {}).get("resourceVersion"),
        )

    async def try_acquire_or_renew(self) -> bool:
        """One attempt; True when this replica holds the Lease afterwards."""
        stamp = _micro_time(self._now())
        duration = round(self.timings.lease_duration)
        try:
            lease = await self._kube.get_lease(self.namespace, self.name)
        except KubeError as exc:
            if exc.status != 404:
                logger.warning("lease %s unreadable: %s", self.name, exc)
                return False
            body = {
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {"name": self.name, "namespace": self.namespace},
                "spec": {
                    "holderIdentity": self.identity,
                    "leaseDurationSeconds": duration,
                    "acquireTime": stamp,
                    "renewTime": stamp,
                    "leaseTransitions": 0,
                },
            }
            try:
                await self._kube.create_lease(self.namespace, body)
            except KubeError as create_error:
                if create_error.status != 409:
                    logger.warning("lease %s not created: %s", self.name, create_error)
                return False
            return True
        record = self._record(lease)
        if record != self._observed:
            self._observed, self._observed_at = record, self._clock()
        spec = dict(lease.get("spec") or {})
        holder = spec.get("holderIdentity") or ""
        observed_duration = float(spec.get("leaseDurationSeconds") or duration)
        if (
            holder
            and holder != self.identity
            and self._clock() - self._observed_at < observed_duration
        ):
            return False  # someone else holds it and renewed within its duration
        if holder != self.identity:
            spec["acquireTime"] = stamp
            spec["leaseTransitions"] = int(spec.get("leaseTransitions") or 0) + 1
        spec.update(holderIdentity=self.identity, leaseDurationSeconds=duration, renewTime=stamp)
        try:
            await self._kube.replace_lease(self.namespace, self.name, {**lease, "spec": spec})
        except KubeError as exc:
            if exc.status != 409:  # 409: another candidate wrote first
                logger.warning("lease %s not renewed: %s", self.name, exc)
            return False
        return True

    async def run(
        self,
        on_started_leading: Callable[[], Awaitable[None]],
        on_stopped_leading: Callable[[], None],
    ) -> None:
        """Wait for the Lease, lead while renewing it; returns after leading stopped."""
        while True:  # a poll of the API server, not of local state
            if await self.try_acquire_or_renew():
                break
            await self._sleep(self.timings.retry_period)
        self.leading = True
        logger.info("leading: lease %s/%s acquired by %s", self.namespace, self.name, self.identity)
        await on_started_leading()
        last_renew = self._clock()
        while True:
            await self._sleep(self.timings.retry_period)
            if await self.try_acquire_or_renew():
                last_renew = self._clock()
                continue
            if self._clock() - last_renew >= self.timings.renew_deadline:
                break
        self.leading = False
        logger.error("lease %s/%s lost: this replica stops acting", self.namespace, self.name)
        on_stopped_leading()

    async def release(self) -> None:
        """On a clean shutdown: hand the Lease over at once instead of letting it expire."""
        if not self.leading:
            return
        self.leading = False
        try:
            lease = await self._kube.get_lease(self.namespace, self.name)
            spec = dict(lease.get("spec") or {})
            if spec.get("holderIdentity") != self.identity:
                return
            spec.update(holderIdentity="", leaseDurationSeconds=1)
            await self._kube.replace_lease(self.namespace, self.name, {**lease, "spec": spec})
        except KubeError as exc:
            logger.warning("lease %s not released: %s", self.name, exc)
