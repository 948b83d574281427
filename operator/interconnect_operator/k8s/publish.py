"""Publishing what a link reconcile found: status patches, Events, link metrics.

Status is written only when it changed (steady state: zero writes). Events
are de-duplicated per link: the same reason is not emitted twice in a row,
and phase transitions are announced once. Across links, each (type, reason)
has a token bucket (:class:`EventLimiter`): a burst of a thousand links
becoming Ready, or a tenant's thousand broken links, costs the API server a
bounded number of Event writes, not one per link; the link's status
conditions still say everything an Event would. Nothing published here
should carry a secret (the inputs hold none); as a last line every string of a
status and every Event message is redacted in the link's tenant scope
(``redaction``), e.g. a provider error that echoed an MD5 password.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from interconnect_operator import redaction
from interconnect_operator.api.client import RequestRecord
from interconnect_operator.k8s import confirm
from interconnect_operator.k8s import status as status_mod
from interconnect_operator.k8s.index import LinkKey
from interconnect_operator.k8s.kube import LINKS
from interconnect_operator.k8s.kubeapi import KubeApi
from interconnect_operator.k8s.resources import API_VERSION
from interconnect_operator.metrics import LinkHealth, OperatorMetrics
from interconnect_operator.protocol.types import ProvisioningState, Side, VerificationState
from interconnect_operator.reconcile.link import LinkEvent, LinkResult

logger = logging.getLogger(__name__)

ANNOUNCED_PHASES = ("Ready", "Degraded", "Migrating", "Deleting")
#: Events per (type, reason): a burst of this many at once, then this many per second.
EVENT_BURST = 25
EVENT_RATE_PER_SECOND = 1.0


@dataclass
class EventLimiter:
    """A token bucket per (type, reason), shared by all links of the process."""

    burst: float = EVENT_BURST
    rate: float = EVENT_RATE_PER_SECOND
    clock: Callable[[], float] = time.monotonic
    _buckets: dict[tuple[str, str], tuple[float, float]] = field(default_factory=dict)
    dropped: int = 0

    def allow(self, type_: str, reason: str) -> bool:
        """Take a token for one Event of ``reason``; False (and counted) when none is left."""
        now = self.clock()
        key = (type_, reason)
        tokens, last = self._buckets.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if tokens < 1.0:
            self._buckets[key] = (tokens, now)
            self.dropped += 1
            return False
        self._buckets[key] = (tokens - 1.0, now)
        return True


@dataclass(slots=True)
class EventMemory:
    """The last Event reason and phase reported for one link (repeats are not re-emitted)."""

    last_event: str | None = None
    last_phase: str | None = None


def involved(body: Mapping[str, Any], kind: str) -> dict[str, Any]:
    """The ``involvedObject`` source for an Event about ``body``."""
    return {"apiVersion": API_VERSION, "kind": kind, "metadata": body.get("metadata") or {}}


def redacted(value: Any, context: str) -> Any:
    """Every string inside ``value`` (a status body, a message) with held secrets masked."""
    if isinstance(value, str):
        return redaction.redact(value, context)
    if isinstance(value, Mapping):
        return {k: redacted(v, context) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redacted(v, context) for v in value]
    return value


def tenant_of(body: Mapping[str, Any]) -> str:
    """The redaction context of a link body: its namespace."""
    return str((body.get("metadata") or {}).get("namespace") or redaction.ANYWHERE)


def stalled_event(result: LinkResult) -> LinkEvent | None:
    """A Warning for a link stuck waiting (e.g. NoCapacity, P7) that no event explains yet."""
    conditions = result.status.conditions if result.status is not None else ()
    stalled = next((c for c in conditions if c.type == "Stalled" and c.is_true), None)
    if stalled is None or stalled.reason in {e.reason for e in result.events}:
        return None
    return LinkEvent("Warning", stalled.reason, stalled.message)


class Publisher:
    """Writes link status and Events, exports link and provider-call metrics."""

    def __init__(
        self, kube: KubeApi, metrics: OperatorMetrics, limiter: EventLimiter | None = None
    ) -> None:
        self._kube = kube
        self._metrics = metrics
        self.limiter = limiter if limiter is not None else EventLimiter()

    async def write_link_status(
        self,
        key: LinkKey,
        body: dict[str, Any],
        new: dict[str, Any],
        *,
        sign: confirm.StatusSigner | None = None,
    ) -> None:
        """Patch ``.status`` when it changed; the body copy takes the server's answer.
        ``sign``: signs the status as written (``inputsDigest``; None: no digest). Only
        the digest's key id is compared, so a status that is not written is not signed."""
        new = redacted(new, key[0])
        if sign is not None:
            new["inputsDigest"] = f"{sign.key_id}."
        elif "inputsDigest" in new or (body.get("status") or {}).get("inputsDigest"):
            new["inputsDigest"] = None  # a merge patch's null: no digest stays unsigned
        if not status_mod.status_changed(body.get("status") or {}, new):
            return
        if sign is not None:
            new["inputsDigest"] = sign(new)
        patched = await self._kube.patch_status(LINKS, key[0], key[1], new)
        body["status"] = patched.get("status", new)
        body["metadata"] = patched.get("metadata", body["metadata"])

    async def link_events(
        self, memory: EventMemory, body: Mapping[str, Any], events: Iterable[LinkEvent]
    ) -> None:
        """Emit each event unless its reason is the last one emitted for this link
        or its reason's budget is spent (the error counter counts it either way)."""
        for event in events:
            if event.reason == memory.last_event:
                continue
            memory.last_event = event.reason
            if event.type == "Warning":
                self._metrics.record_reconcile_error("link", event.reason)
            if not self.limiter.allow(event.type, event.reason):
                continue
            await self._kube.create_event(
                involved(body, "MulticloudLink"),
                type_=event.type,
                reason=event.reason,
                message=redaction.redact(event.message, tenant_of(body)),
            )

    async def transition(
        self, body: Mapping[str, Any], old: str | None, new: str, message: str | None
    ) -> None:
        """Announce a phase change worth a user's attention (never into Failed: its event says)."""
        if new in ANNOUNCED_PHASES or (old is None and new != "Failed"):
            type_ = "Warning" if new == "Degraded" else "Normal"
            reason = f"Link{new}"
            if not self.limiter.allow(type_, reason):
                return
            text = f"phase {old or 'New'} -> {new}"
            if message:
                text += f": {message}"
            await self._kube.create_event(
                involved(body, "MulticloudLink"),
                type_=type_,
                reason=reason,
                message=redaction.redact(text, tenant_of(body)),
            )

    def export_link(
        self,
        key: LinkKey,
        *,
        pool: str,
        providers: Mapping[Side, str],
        result: LinkResult,
        status: Mapping[str, Any],
        bandwidth_mbps: int,
    ) -> None:
        """The link's health series (per-link metrics are behind a switch in ``metrics``)."""
        assert result.status is not None
        features: dict[tuple[str, str], int] = {}
        channels_up: dict[str, bool] = {}
        for channel in result.status.channels:
            states = channel.provisioning
            for side, pstate in states.items():
                fkey = (providers.get(side, side.value), pstate.value)
                features[fkey] = features.get(fkey, 0) + 1
            channels_up[channel.channel] = len(states) == 2 and all(
                s is ProvisioningState.FINAL for s in states.values()
            )
        verified = {
            providers.get(p.side, p.side.value): bool(p.verification is VerificationState.VERIFIED)
            for p in result.status.providers
        }
        degraded = any(c.type == "Degraded" and c.is_true for c in result.status.conditions)
        self._metrics.set_link(
            LinkHealth(
                namespace=key[0],
                name=key[1],
                pool=pool,
                environment=result.environment,
                interconnect=result.status.interconnect or "",
                shared_uuid=result.shared_uuid or "",
                phase=result.status.phase.value,
                ready=result.status.ready,
                degraded=degraded,
                bandwidth_mbps=bandwidth_mbps,
                verified=verified,
                features=features,
                channels_up=channels_up,
                time_to_ready_seconds=status.get("timeToReadySeconds"),
            )
        )

    def export_stored(
        self, key: LinkKey, *, pool: str, status: Mapping[str, Any], bandwidth_mbps: int
    ) -> None:
        """The link's health series from its stored status (a Ready link confirmed after a
        restart, ``confirm``): the same series ``export_link`` sets from a result."""
        features: dict[tuple[str, str], int] = {}
        channels_up: dict[str, bool] = {}
        for channel in status.get("channels") or []:
            states = [
                (str(p.get("provider") or ""), str(p.get("state") or ""))
                for p in channel.get("provisioning") or []
            ]
            for fkey in states:
                features[fkey] = features.get(fkey, 0) + 1
            channels_up[str(channel.get("id") or "")] = len(states) == 2 and all(
                state == ProvisioningState.FINAL.value for _, state in states
            )
        verified = {
            str(p.get("name") or ""): p.get("verificationState") == VerificationState.VERIFIED.value
            for p in status.get("providers") or []
        }
        conditions = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
        self._metrics.set_link(
            LinkHealth(
                namespace=key[0],
                name=key[1],
                pool=pool,
                environment=str(status.get("environment") or ""),
                interconnect=str(status.get("interconnect") or ""),
                shared_uuid=str(status.get("sharedConnectionUuid") or ""),
                phase=str(status.get("phase") or ""),
                ready=conditions.get("Ready") == "True",
                degraded=conditions.get("Degraded") == "True",
                bandwidth_mbps=bandwidth_mbps,
                verified=verified,
                features=features,
                channels_up=channels_up,
                time_to_ready_seconds=status.get("timeToReadySeconds"),
            )
        )

    def forget_link(self, key: LinkKey) -> None:
        self._metrics.remove_link(*key)

    def record_error(self, reason: str) -> None:
        self._metrics.record_reconcile_error("link", reason)

    def on_request(self, record: RequestRecord) -> None:
        """Every provider call the pool clients make, as a counter and a latency sample."""
        code = (
            str(record.status_code) if record.status_code is not None else (record.error or "error")
        )
        self._metrics.record_provider_request(
            record.provider, record.operation, code, record.latency_seconds
        )
