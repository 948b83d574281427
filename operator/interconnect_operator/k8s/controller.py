"""The operator's runtime: pools, links, the work queue, status writes and events.

kopf delivers watch events (``handlers.py``); this module turns them into
work. Pools get a refresh loop each (a timer per pool, never per link) that
reads both providers in bulk and wakes only the links whose provider state
changed. Links are reconciled by a fixed set of workers; each reconcile
reads the pool snapshot, acts through ``reconcile.LinkReconciler`` and writes
status only when it changed (steady state: zero Kubernetes writes).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import logging
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from interconnect_operator.api.auth import build_auth
from interconnect_operator.api.client import RequestRecord
from interconnect_operator.k8s import status as status_mod
from interconnect_operator.k8s.kube import LINKS, POOLS, KubeClient, KubeError
from interconnect_operator.k8s.policy import selector_matches
from interconnect_operator.k8s.resources import (
    AuthType,
    CapacityPoolSpec,
    DeletionPolicy,
    MulticloudLinkSpec,
    PoolProvider,
    ProviderRole,
    is_paused,
)
from interconnect_operator.k8s.settings import FINALIZER, UUID_ANNOTATION, OperatorOptions
from interconnect_operator.k8s.workqueue import WorkQueue
from interconnect_operator.logging_setup import register_secret
from interconnect_operator.metrics import (
    ChannelHealth as ChannelMetrics,
)
from interconnect_operator.metrics import (
    InterconnectHealth,
    LinkHealth,
    OperatorMetrics,
    PoolHealth,
)
from interconnect_operator.protocol.types import DeletionPolicy as ProtoDeletionPolicy
from interconnect_operator.protocol.types import (
    FailureRecord,
    LinkSpec,
    ProvisioningState,
    Secret,
    Side,
    VerificationState,
)
from interconnect_operator.reconcile.channels import ChannelHealth, ChannelWatch
from interconnect_operator.reconcile.link import (
    LinkEvent,
    LinkReconciler,
    LinkRequest,
    LinkResult,
)
from interconnect_operator.reconcile.pool import (
    PoolConfig,
    PoolReport,
    PoolRuntime,
    ProviderConfig,
    build_client,
)

logger = logging.getLogger(__name__)

LinkKey = tuple[str, str]
SECRET_RETRY = (5.0, 300.0)
FAST_REFRESH_SECONDS = 1.0
STARTUP_GRACE_SECONDS = 10.0
RELEASED_MEMORY_SECONDS = 600.0
IN_PROGRESS = frozenset(
    {"Pending", "Placing", "Negotiating", "Provisioning", "Verifying", "Updating", "Migrating"}
)
LINK_API_VERSION = "interconnect.io/v1alpha1"


class ConfigError(Exception):
    """User configuration that cannot work (missing secret, bad credentials)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass
class PoolEntry:
    name: str
    body: dict[str, Any]
    generation: int = 0
    runtime: PoolRuntime | None = None
    reconciler: LinkReconciler | None = None
    task: asyncio.Task[None] | None = None
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    error: tuple[str, str] | None = None
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    busy: set[tuple[str, str]] = field(default_factory=set)
    watch: ChannelWatch | None = None
    """Links of this pool still making progress: the pool refreshes faster meanwhile."""


@dataclass
class LinkState:
    """What the controller keeps per link between reconciles (never a secret)."""

    failures: int = 0
    last_event: str | None = None
    last_phase: str | None = None
    secret_backoff: float = SECRET_RETRY[0]


class Controller:
    """Everything the operator process does, behind kopf's watch events."""

    def __init__(
        self, options: OperatorOptions, kube: KubeClient, metrics: OperatorMetrics
    ) -> None:
        self.options = options
        self.kube = kube
        self.metrics = metrics
        self.pools: dict[str, PoolEntry] = {}
        self.links: dict[LinkKey, dict[str, Any]] = {}
        self.link_state: dict[LinkKey, LinkState] = {}
        self.links_by_pool: dict[str, set[LinkKey]] = {}
        self.uuid_index: dict[str, LinkKey] = {}
        self.queue: WorkQueue[LinkKey] = WorkQueue(
            self._process_link, workers=options.workers, name="links"
        )
        self._namespace_labels: dict[str, tuple[float, dict[str, str]]] = {}
        self._started = time.monotonic()
        self._released: dict[str, float] = {}

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        self.queue.start()

    async def stop(self) -> None:
        await self.queue.stop()
        for entry in list(self.pools.values()):
            await self._stop_pool(entry)
        await self.kube.aclose()

    # ------------------------------------------------------------------ pools

    async def on_pool_event(self, event_type: str | None, body: Mapping[str, Any]) -> None:
        name = body["metadata"]["name"]
        if event_type == "DELETED":
            entry = self.pools.pop(name, None)
            if entry is not None:
                await self._stop_pool(entry)
            self.metrics.remove_pool(name)
            self._wake_pool_links(name)
            return
        entry = self.pools.get(name)
        generation = int(body["metadata"].get("generation") or 0)
        if entry is None:
            entry = PoolEntry(name=name, body=dict(body))
            self.pools[name] = entry
        entry.body = dict(body)
        if entry.task is None or generation != entry.generation:
            entry.generation = generation
            await self._stop_pool(entry)
            entry.task = asyncio.create_task(self._pool_loop(entry), name=f"pool-{name}")

    async def _stop_pool(self, entry: PoolEntry) -> None:
        if entry.task is not None:
            entry.task.cancel()
            await asyncio.gather(entry.task, return_exceptions=True)
            entry.task = None
        if entry.runtime is not None:
            await entry.runtime.aclose()
            entry.runtime = None
            entry.reconciler = None
        entry.ready.clear()

    async def _pool_loop(self, entry: PoolEntry) -> None:
        """Build the pool's clients, then refresh on its interval (or when woken)."""
        backoff = 5.0
        while entry.runtime is None:
            try:
                config = await self._pool_config(entry)
            except ConfigError as exc:
                entry.error = (exc.reason, exc.message)
                await self._write_pool_error(entry, exc.reason, exc.message)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 300.0)
                continue
            entry.error = None
            negotiator = build_client(
                config.negotiator,
                max_concurrency=self.options.provider_concurrency,
                on_request=self._on_request,
            )
            responder = build_client(
                config.responder,
                max_concurrency=self.options.provider_concurrency,
                on_request=self._on_request,
            )
            entry.runtime = PoolRuntime(config, negotiator, responder)
            entry.reconciler = LinkReconciler(entry.runtime)
            entry.watch = ChannelWatch(entry.runtime)
        runtime = entry.runtime
        first = True
        while True:
            started = time.monotonic()
            try:
                with self.metrics.reconcile_duration("pool"):
                    await runtime.refresh()
            except Exception:
                logger.exception("pool refresh failed", extra={"pool": entry.name})
                self.metrics.record_reconcile_error("pool", "RefreshFailed")
            report = runtime.report()
            if entry.watch is not None and entry.watch.due() and not report.errors:
                # MACsec (P26-P31) and maintenance (P24-P25): channel-level, slow cadence.
                await entry.watch.run()
            health = entry.watch.health if entry.watch is not None else {}
            await self._write_pool_status(entry, report, health)
            self._export_pool(entry.name, report, health)
            entry.ready.set()
            if first:
                first = False
                self._wake_pool_links(entry.name)
            else:
                for uuid in runtime.changed:
                    key = self.uuid_index.get(uuid)
                    if key is not None:
                        self.queue.add(key)
            entry.wake.clear()
            interval = runtime.config.refresh_interval
            if entry.busy:
                interval = min(interval, FAST_REFRESH_SECONDS)
            delay = max(interval - (time.monotonic() - started), 0.2)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(entry.wake.wait(), delay)

    async def _pool_config(self, entry: PoolEntry) -> PoolConfig:
        try:
            spec = CapacityPoolSpec.model_validate(entry.body.get("spec") or {})
        except ValidationError as exc:
            raise ConfigError("InvalidSpec", _validation_message(exc)) from exc
        roles = {p.role: p for p in spec.providers}
        negotiator = roles.get(ProviderRole.NEGOTIATOR)
        responder = roles.get(ProviderRole.RESPONDER)
        if negotiator is None or responder is None:
            raise ConfigError("InvalidSpec", "P4: the pool needs one Negotiator and one Responder")
        return PoolConfig(
            name=entry.name,
            environment=spec.environment,
            negotiator=await self._provider_config(negotiator, responder, Side.NEGOTIATOR),
            responder=await self._provider_config(responder, negotiator, Side.RESPONDER),
            refresh_interval=float(spec.refresh_interval),
            headroom_mbps=spec.policy.headroom_mbps,
            max_bandwidth_mbps_per_link=spec.policy.max_bandwidth_mbps_per_link,
            macsec_rotate=spec.macsec.rotate,
            macsec_rotation_interval_hours=spec.macsec.rotation_interval_hours,
        )

    async def _provider_config(
        self, provider: PoolProvider, other: PoolProvider, side: Side
    ) -> ProviderConfig:
        """Resolve the provider's credentials from Secrets in the operator's namespace."""
        settings: dict[str, Any] = {}
        fingerprint = ""
        if provider.auth.type is not AuthType.NONE and provider.auth.secret_ref is not None:
            data = await self._secret_data(
                self.options.operator_namespace, provider.auth.secret_ref.name, provider.name
            )
            key = provider.auth.secret_ref.key
            if key:
                if key not in data:
                    raise ConfigError(
                        "SecretKeyMissing",
                        f"secret {provider.auth.secret_ref.name} has no key {key!r}",
                    )
                settings[_SETTING_FOR_KEY.get(provider.auth.type, key)] = data[key]
            else:
                settings.update(data)
                if provider.auth.type is AuthType.OAUTH2 and "credentials.json" in data:
                    settings["serviceAccountJson"] = data["credentials.json"]
            fingerprint = str(hash(tuple(sorted(data.items()))))
        if provider.auth.region:
            settings["region"] = provider.auth.region
        if provider.auth.service:
            settings["service"] = provider.auth.service
        try:
            auth = build_auth(provider.auth.type.value, settings)
        except (ValueError, TypeError) as exc:
            raise ConfigError("InvalidCredentials", f"{provider.name}: {exc}") from exc
        verify: bool | ssl.SSLContext = not provider.tls.insecure_skip_verify
        if provider.tls.ca_secret_ref is not None:
            data = await self._secret_data(
                self.options.operator_namespace, provider.tls.ca_secret_ref.name, provider.name
            )
            ca_key = provider.tls.ca_secret_ref.key or "ca.crt"
            if ca_key not in data:
                raise ConfigError(
                    "SecretKeyMissing",
                    f"secret {provider.tls.ca_secret_ref.name} has no key {ca_key!r}",
                )
            try:
                verify = ssl.create_default_context(cadata=data[ca_key])
            except ssl.SSLError as exc:
                raise ConfigError("InvalidCA", f"{provider.name}: CA not usable: {exc}") from exc
        return ProviderConfig(
            name=provider.name,
            endpoint=str(provider.endpoint),
            call_as=provider.call_as or other.name,
            side=side,
            auth=auth,
            verify=verify,
            fingerprint=fingerprint,
        )

    async def _secret_data(self, namespace: str, name: str, who: str) -> dict[str, str]:
        try:
            secret = await self.kube.get_secret(namespace, name)
        except KubeError as exc:
            if exc.status == 404:
                raise ConfigError(
                    "SecretNotFound", f"{who}: secret {namespace}/{name} not found"
                ) from exc
            if exc.status == 403:
                raise ConfigError(
                    "SecretForbidden",
                    f"{who}: the operator may not read secret {namespace}/{name}",
                ) from exc
            raise ConfigError("SecretUnavailable", f"{who}: {exc}") from exc
        data: dict[str, str] = {}
        for key, value in (secret.get("data") or {}).items():
            try:
                decoded = base64.b64decode(value).decode("utf-8")
            except (ValueError, UnicodeDecodeError) as exc:
                raise ConfigError(
                    "SecretMalformed", f"{who}: secret {namespace}/{name} key {key} is not UTF-8"
                ) from exc
            register_secret(decoded)
            data[key] = decoded
        return data

    async def _write_pool_status(
        self,
        entry: PoolEntry,
        report: PoolReport,
        health: Mapping[tuple[str, str], ChannelHealth],
    ) -> None:
        old = entry.body.get("status") or {}
        new = status_mod.pool_status_body(
            report,
            old_status=old,
            generation=entry.generation,
            link_count=len(self.links_by_pool.get(entry.name, ())),
            now=_now(),
            channels=health,
        )
        await self._patch_pool_status(entry, old, new)

    async def _write_pool_error(self, entry: PoolEntry, reason: str, message: str) -> None:
        old = entry.body.get("status") or {}
        new = status_mod.pool_status_error(
            old_status=old, generation=entry.generation, reason=reason, message=message, now=_now()
        )
        if await self._patch_pool_status(entry, old, new):
            await self.kube.create_event(
                _involved(entry.body, "CapacityPool"),
                type_="Warning",
                reason=reason,
                message=message,
            )

    async def _patch_pool_status(
        self, entry: PoolEntry, old: Mapping[str, Any], new: dict[str, Any]
    ) -> bool:
        if not status_mod.status_changed(old, new):
            return False
        try:
            result = await self.kube.patch_status(POOLS, None, entry.name, new)
        except KubeError as exc:
            logger.warning("pool status write failed: %s", exc, extra={"pool": entry.name})
            return False
        entry.body["status"] = result.get("status", new)
        return True

    def _export_pool(
        self, name: str, report: PoolReport, health: Mapping[tuple[str, str], ChannelHealth]
    ) -> None:
        interconnects = []
        for ix in report.interconnects:
            by_state: dict[str, int] = {}
            for _, admin, _ in ix.channels:
                by_state[admin or "UNKNOWN"] = by_state.get(admin or "UNKNOWN", 0) + 1
            interconnects.append(
                InterconnectHealth(
                    id=ix.id,
                    max_mbps=ix.max_mbps,
                    allocated_mbps=ix.allocated_mbps,
                    available_mbps=ix.available_mbps,
                    channels_by_admin_state=by_state,
                    channels=[_channel_metrics(ix.id, c, health) for c, _, _ in ix.channels],
                )
            )
        self.metrics.set_pool(
            PoolHealth(pool=name, providers_reachable=report.reachable, interconnects=interconnects)
        )

    def _wake_pool_links(self, pool: str) -> None:
        for key in list(self.links_by_pool.get(pool, ())):
            self.queue.add(key)

    def _on_request(self, record: RequestRecord) -> None:
        code = (
            str(record.status_code) if record.status_code is not None else (record.error or "error")
        )
        self.metrics.record_provider_request(
            record.provider, record.operation, code, record.latency_seconds
        )

    # ------------------------------------------------------------------ links

    def on_link_event(self, event_type: str | None, body: Mapping[str, Any]) -> None:
        meta = body["metadata"]
        key: LinkKey = (meta["namespace"], meta["name"])
        if event_type == "DELETED":
            self._drop_link(key)
            return
        uid = str(meta.get("uid") or "")
        if uid in self._released:
            # Late watch events of a link already released: never act on them.
            return
        old = self.links.get(key)
        if old is not None and _older(body, old):
            # A watch event older than what our own write returned: keep the newer copy.
            return
        self.links[key] = dict(body)
        pool = ((body.get("spec") or {}).get("poolRef") or {}).get("name", "")
        self._index(key, pool, body)
        if old is not None and _same_intent(old, body):
            # Our own status write echoed back, or a no-op: nothing to do.
            return
        self.queue.add(key)

    def _index(self, key: LinkKey, pool: str, body: Mapping[str, Any]) -> None:
        for other, keys in self.links_by_pool.items():
            if other != pool:
                keys.discard(key)
        self.links_by_pool.setdefault(pool, set()).add(key)
        uuid = _shared_uuid(body)
        if uuid and self._uuid_owner(uuid, key) is None:
            # First claim wins: a link that merely shows the UUID (a refused reused
            # key) never takes it from the link that recorded it.
            self.uuid_index[uuid] = key

    def _release(self, body: Mapping[str, Any]) -> None:
        now = time.monotonic()
        uid = str((body.get("metadata") or {}).get("uid") or "")
        if uid:
            self._released[uid] = now
        for old_uid, when in list(self._released.items()):
            if now - when > RELEASED_MEMORY_SECONDS:
                del self._released[old_uid]

    def _drop_link(self, key: LinkKey) -> None:
        body = self.links.pop(key, None)
        self.link_state.pop(key, None)
        self.queue.forget(key)
        for entry in self.pools.values():
            entry.busy.discard(key)
        for keys in self.links_by_pool.values():
            keys.discard(key)
        if body is not None:
            uuid = _shared_uuid(body)
            if uuid and self.uuid_index.get(uuid) == key:
                del self.uuid_index[uuid]
        self.metrics.remove_link(*key)

    async def _process_link(self, key: LinkKey) -> float | None:
        body = self.links.get(key)
        if body is None:
            return None
        with self.metrics.reconcile_duration("link"):
            try:
                return await self._reconcile_link(key, body)
            except KubeError as exc:
                self.metrics.record_reconcile_error("link", "KubernetesApi")
                logger.warning(
                    "kubernetes write failed: %s", exc, extra={"link": f"{key[0]}/{key[1]}"}
                )
                return 5.0 if exc.status != 404 else None

    async def _reconcile_link(self, key: LinkKey, body: dict[str, Any]) -> float | None:
        meta = body["metadata"]
        deleting = bool(meta.get("deletionTimestamp"))
        finalizers = list(meta.get("finalizers") or [])
        if deleting and FINALIZER not in finalizers:
            return None
        old_status = body.get("status") or {}
        state = self.link_state.get(key)
        if state is None:
            # After a restart the stored phase is the baseline: no repeated events.
            state = self.link_state[key] = LinkState(last_phase=old_status.get("phase"))
        generation = int(meta.get("generation") or 1)
        try:
            spec = MulticloudLinkSpec.model_validate(body.get("spec") or {})
        except ValidationError as exc:
            return await self._simple(
                key, body, "Failed", "InvalidSpec", _validation_message(exc), stalled=True
            )
        entry = self.pools.get(spec.pool_ref.name)
        if entry is None and time.monotonic() - self._started < STARTUP_GRACE_SECONDS:
            # Watches start together: the pool's first event may not have arrived yet.
            return 1.0
        if entry is None or entry.reconciler is None:
            if deleting and spec.deletion_policy is DeletionPolicy.ORPHAN:
                await self._remove_finalizer(key, body)
                return None
            if entry is not None and entry.error is not None:
                reason, message = "PoolNotReady", f"pool {entry.name}: {entry.error[1]}"
            else:
                reason = "PoolNotFound"
                message = f"CapacityPool {spec.pool_ref.name} does not exist"
            if deleting:
                message += "; provider objects cannot be deleted until it is back"
            return await self._simple(
                key, body, "Pending", reason, message, stalled=False, retry=30.0
            )
        if not entry.ready.is_set():
            await entry.ready.wait()
        if not deleting:
            denied = await self._policy_denial(entry, key[0])
            if denied is not None:
                return await self._simple(key, body, "Failed", "PolicyDenied", denied, stalled=True)
            if FINALIZER not in finalizers and _shared_uuid(body) is not None:
                # Links without a UUID get the finalizer with it, in the one
                # write-ahead patch (_persist_uuid): before any provider object.
                await self._add_finalizer(key, body)
        try:
            request = await self._request(
                key,
                body=body,
                spec=spec,
                generation=generation,
                deleting=deleting,
                old_status=old_status,
            )
        except ConfigError as exc:
            delay = state.secret_backoff
            state.secret_backoff = min(delay * 2, SECRET_RETRY[1])
            return await self._simple(
                key, body, "Pending", exc.reason, exc.message, stalled=False, retry=delay
            )
        state.secret_backoff = SECRET_RETRY[0]
        reconciler = entry.reconciler
        assert reconciler is not None
        assert entry.runtime is not None
        if request.shared_uuid is None and spec.destination_account_id and not deleting:
            # Issuing a key is not idempotent: confirm on a fresh read that the link
            # still exists, is not being deleted and has no UUID recorded yet.
            fresh = await self.kube.get_object(LINKS, key[0], key[1])
            if fresh["metadata"].get("deletionTimestamp") or _shared_uuid(fresh):
                self.links[key] = fresh
                return 0.0
        if deleting:
            # Decide deletion on a read that started now: a stale snapshot must
            # never make an existing provider object look already gone.
            snapshot = await entry.runtime.refresh(fresh=True)
            if snapshot.errors:
                unreachable = ", ".join(sorted(snapshot.errors))
                return await self._simple(
                    key,
                    body,
                    "Deleting",
                    "ProviderUnreachable",
                    f"deletion waits for {unreachable} to answer (P19); retrying",
                    stalled=False,
                    retry=10.0,
                )
        result = await reconciler.reconcile(request)
        if result.persist_uuid is not None:
            owner = self._uuid_owner(result.persist_uuid, key)
            if owner is not None:
                # P3: a key is good for one connection. The reconciler would adopt the
                # other link's objects as if they were this link's (it cannot tell them
                # from its own after a crash); deleting either would delete both.
                return await self._simple(
                    key,
                    body,
                    "Failed",
                    "KeyRefused",
                    f"P3: the activation key names shared connection {result.persist_uuid}, "
                    f"which link {owner[0]}/{owner[1]} already uses; a key is good for "
                    "one connection",
                    stalled=True,
                )
            await self._persist_uuid(key, body, result.persist_uuid)
            return 0.0
        await self._publish(key, body, entry, request, result)
        if result.finalized:
            logger.info(
                "link %s/%s released (%s)",
                key[0],
                key[1],
                spec.deletion_policy.value,
                extra={"link": f"{key[0]}/{key[1]}", "pool": entry.name},
            )
            await self._remove_finalizer(key, body)
            self._release(body)
            self._drop_link(key)
            self._wake_placing(entry.name)
            return None
        return result.requeue_after

    def _wake_placing(self, pool: str) -> None:
        """Bandwidth a released link gave back (P19) may be what a waiting link
        needs (P7): links still placing retry now rather than at their slow poll."""
        for other in list(self.links_by_pool.get(pool, ())):
            state = self.link_state.get(other)
            if state is not None and state.last_phase == "Placing":
                self.queue.add(other)

    async def _request(
        self,
        key: LinkKey,
        *,
        body: Mapping[str, Any],
        spec: MulticloudLinkSpec,
        generation: int,
        deleting: bool,
        old_status: Mapping[str, Any],
    ) -> LinkRequest:
        namespace = key[0]
        activation_key: Secret | None = None
        if spec.activation_key is not None and not deleting:
            ref = spec.activation_key.secret_ref
            data = await self._secret_data(namespace, ref.name, f"link {key[0]}/{key[1]}")
            if ref.key not in data or not data[ref.key].strip():
                raise ConfigError(
                    "SecretKeyMissing", f"secret {namespace}/{ref.name} has no key {ref.key!r}"
                )
            activation_key = Secret(data[ref.key].strip())
        md5: Secret | None = None
        if spec.bgp is not None and spec.bgp.md5_secret_ref is not None and not deleting:
            ref5 = spec.bgp.md5_secret_ref
            data = await self._secret_data(namespace, ref5.name, f"link {key[0]}/{key[1]}")
            if ref5.key not in data:
                raise ConfigError(
                    "SecretKeyMissing", f"secret {namespace}/{ref5.name} has no key {ref5.key!r}"
                )
            md5 = Secret(data[ref5.key])
        meta = body["metadata"]
        failure = None
        if (
            old_status.get("phase") == "Failed"
            and old_status.get("observedGeneration") == generation
        ):
            stalled = next(
                (c for c in old_status.get("conditions") or [] if c.get("type") == "Stalled"), None
            )
            if stalled is not None and stalled.get("status") == "True":
                failure = FailureRecord(
                    str(stalled.get("reason")), str(stalled.get("message")), generation
                )
        link_spec = LinkSpec(
            bandwidth_mbps=spec.bandwidth_mbps,
            ipv6=spec.ipv6,
            mtu=spec.mtu,
            bgp_asn=spec.bgp.asn if spec.bgp is not None else None,
            deletion_policy=ProtoDeletionPolicy(spec.deletion_policy.value),
            paused=is_paused(meta.get("annotations") or {}),
            generation=generation,
            md5=md5,
        )
        return LinkRequest(
            namespace=key[0],
            name=key[1],
            spec=link_spec,
            activation_key=activation_key,
            destination_account_id=spec.destination_account_id,
            shared_uuid=_shared_uuid(body),
            interconnect=old_status.get("interconnect"),
            deleting=deleting,
            created_at=status_mod.parse_time(meta.get("creationTimestamp")),
            ever_ready=bool(old_status.get("readyTime")),
            failure=failure,
        )

    async def _policy_denial(self, entry: PoolEntry, namespace: str) -> str | None:
        selector = ((entry.body.get("spec") or {}).get("policy") or {}).get("namespaceSelector")
        if not selector:
            return None
        cached = self._namespace_labels.get(namespace)
        if cached is None or time.monotonic() - cached[0] > 30:
            try:
                ns = await self.kube.get_namespace(namespace)
            except KubeError:
                return f"cannot read namespace {namespace} to check the pool's namespaceSelector"
            labels = dict((ns.get("metadata") or {}).get("labels") or {})
            cached = (time.monotonic(), labels)
            self._namespace_labels[namespace] = cached
        if selector_matches(selector, cached[1]):
            return None
        return (
            f"namespace {namespace} is not allowed to draw from pool {entry.name} "
            "(namespaceSelector)"
        )

    async def _publish(
        self,
        key: LinkKey,
        body: dict[str, Any],
        entry: PoolEntry,
        request: LinkRequest,
        result: LinkResult,
    ) -> None:
        state = self.link_state.setdefault(key, LinkState())
        runtime = entry.runtime
        assert runtime is not None
        old_status = body.get("status") or {}
        if result.status is not None and not result.finalized:
            new = status_mod.link_status_body(
                result.status,
                old_status=old_status,
                generation=_observed_generation(request, old_status),
                providers=runtime.config.providers,
                shared_uuid=result.shared_uuid,
                environment=result.environment,
                created_at=request.created_at,
                now=_now(),
            )
            if status_mod.status_changed(old_status, new):
                patched = await self.kube.patch_status(LINKS, key[0], key[1], new)
                body["status"] = patched.get("status", new)
                body["metadata"] = patched.get("metadata", body["metadata"])
            phase = result.status.phase.value
            if phase in IN_PROGRESS:
                if not entry.busy:
                    entry.wake.set()  # the pool loop shortens its interval now
                entry.busy.add(key)
            else:
                entry.busy.discard(key)
            if phase != state.last_phase:
                await self._transition_event(body, state.last_phase, phase, result)
                logger.info(
                    "link %s/%s %s -> %s",
                    key[0],
                    key[1],
                    state.last_phase,
                    phase,
                    extra={
                        "link": f"{key[0]}/{key[1]}",
                        "pool": entry.name,
                        "phase": phase,
                        "reason": result.status.message,
                    },
                )
                state.last_phase = phase
            self._export_link(key, entry, result, new)
        events = list(result.events)
        stalled = next(
            (
                c
                for c in (result.status.conditions if result.status is not None else ())
                if c.type == "Stalled" and c.is_true
            ),
            None,
        )
        if stalled is not None and stalled.reason not in {e.reason for e in events}:
            # A link stuck waiting (e.g. NoCapacity, P7) says why once, as a Warning
            # Event, like a link that failed; the reconciler only reports it as a Wait.
            events.append(LinkEvent("Warning", stalled.reason, stalled.message))
        for event in events:
            if event.reason != state.last_event:
                await self.kube.create_event(
                    _involved(body, "MulticloudLink"),
                    type_=event.type,
                    reason=event.reason,
                    message=event.message,
                )
                state.last_event = event.reason
                if event.type == "Warning":
                    self.metrics.record_reconcile_error("link", event.reason)

    async def _transition_event(
        self, body: dict[str, Any], old: str | None, new: str, result: LinkResult
    ) -> None:
        if new in ("Ready", "Degraded", "Migrating", "Deleting") or (
            old is None and new != "Failed"
        ):
            type_ = "Warning" if new == "Degraded" else "Normal"
            message = f"phase {old or 'New'} -> {new}"
            if result.status is not None and result.status.message:
                message += f": {result.status.message}"
            await self.kube.create_event(
                _involved(body, "MulticloudLink"), type_=type_, reason=f"Link{new}", message=message
            )

    def _export_link(
        self, key: LinkKey, entry: PoolEntry, result: LinkResult, status: Mapping[str, Any]
    ) -> None:
        assert result.status is not None
        providers = entry.runtime.config.providers if entry.runtime else {}
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
        self.metrics.set_link(
            LinkHealth(
                namespace=key[0],
                name=key[1],
                pool=entry.name,
                environment=result.environment,
                interconnect=result.status.interconnect or "",
                shared_uuid=result.shared_uuid or "",
                phase=result.status.phase.value,
                ready=result.status.ready,
                degraded=degraded,
                bandwidth_mbps=int(
                    (self.links.get(key, {}).get("spec") or {}).get("bandwidthMbps") or 0
                ),
                verified=verified,
                features=features,
                channels_up=channels_up,
                time_to_ready_seconds=status.get("timeToReadySeconds"),
            )
        )

    async def _simple(
        self,
        key: LinkKey,
        body: dict[str, Any],
        phase: str,
        reason: str,
        message: str,
        *,
        stalled: bool,
        retry: float | None = None,
    ) -> float | None:
        """A condition with a reason and an Event, for links the reconciler cannot take."""
        state = self.link_state.setdefault(key, LinkState())
        generation = int(body["metadata"].get("generation") or 1)
        old = body.get("status") or {}
        new = status_mod.simple_link_status(
            old_status=old,
            generation=generation,
            phase=phase,
            reason=reason,
            message=message,
            now=_now(),
            stalled=stalled,
        )
        if status_mod.status_changed(old, new):
            patched = await self.kube.patch_status(LINKS, key[0], key[1], new)
            body["status"] = patched.get("status", new)
            body["metadata"] = patched.get("metadata", body["metadata"])
        if state.last_event != reason:
            await self.kube.create_event(
                _involved(body, "MulticloudLink"), type_="Warning", reason=reason, message=message
            )
            state.last_event = reason
            self.metrics.record_reconcile_error("link", reason)
        state.last_phase = phase
        return retry

    async def _patch_meta(
        self, key: LinkKey, body: dict[str, Any], change: dict[str, Any]
    ) -> dict[str, Any]:
        """Optimistic metadata patch; on a conflict re-read the object once and retry."""
        meta = body["metadata"]
        try:
            return await self.kube.patch_metadata(
                LINKS, key[0], key[1], change, meta.get("resourceVersion")
            )
        except KubeError as exc:
            if exc.status != 409:
                raise
        fresh = await self.kube.get_object(LINKS, key[0], key[1])
        fresh_meta = fresh["metadata"]
        if "finalizers" in change:
            ours = [f for f in change["finalizers"] or [] if f == FINALIZER]
            others = [f for f in fresh_meta.get("finalizers") or [] if f != FINALIZER]
            change = {**change, "finalizers": (others + ours) or None}
        return await self.kube.patch_metadata(
            LINKS, key[0], key[1], change, fresh_meta.get("resourceVersion")
        )

    async def _add_finalizer(self, key: LinkKey, body: dict[str, Any]) -> None:
        meta = body["metadata"]
        finalizers = [*list(meta.get("finalizers") or []), FINALIZER]
        patched = await self._patch_meta(key, body, {"finalizers": finalizers})
        meta["finalizers"] = patched["metadata"].get("finalizers", finalizers)
        meta["resourceVersion"] = patched["metadata"]["resourceVersion"]

    async def _remove_finalizer(self, key: LinkKey, body: dict[str, Any]) -> None:
        meta = body["metadata"]
        finalizers = [f for f in meta.get("finalizers") or [] if f != FINALIZER]
        try:
            await self._patch_meta(key, body, {"finalizers": finalizers or None})
        except KubeError as exc:
            if exc.status != 404:
                raise

    def _uuid_owner(self, uuid: str, key: LinkKey) -> LinkKey | None:
        """Another live link that already recorded ``uuid``, if any."""
        owner = self.uuid_index.get(uuid)
        if owner is None or owner == key or owner not in self.links:
            return None
        return owner

    async def _persist_uuid(self, key: LinkKey, body: dict[str, Any], uuid: str) -> None:
        """Write-ahead of the shared UUID (and the finalizer) before any provider object exists."""
        meta = body["metadata"]
        finalizers = list(meta.get("finalizers") or [])
        if FINALIZER not in finalizers:
            finalizers.append(FINALIZER)
        # Claim the UUID before the write: a concurrent worker with the same key
        # must see it taken (_uuid_owner), not race this patch.
        self.uuid_index[uuid] = key
        try:
            patched = await self._patch_meta(
                key, body, {"finalizers": finalizers, "annotations": {UUID_ANNOTATION: uuid}}
            )
        except BaseException:
            if self.uuid_index.get(uuid) == key:
                del self.uuid_index[uuid]
            raise
        meta.update(
            {
                "finalizers": patched["metadata"].get("finalizers", finalizers),
                "annotations": patched["metadata"].get("annotations", {}),
                "resourceVersion": patched["metadata"]["resourceVersion"],
            }
        )
        self.uuid_index[uuid] = key


# A secretRef with a `key` names one value; it becomes the setting build_auth reads.
_SETTING_FOR_KEY = {AuthType.BEARER: "token", AuthType.OAUTH2: "serviceAccountJson"}


def _channel_metrics(
    interconnect: str, channel: str, health: Mapping[tuple[str, str], ChannelHealth]
) -> ChannelMetrics:
    known = health.get((interconnect, channel))
    if known is None:
        return ChannelMetrics(id=channel)
    return ChannelMetrics(
        id=channel,
        maintenance_active=known.maintenance_active,
        next_maintenance_start=known.next_maintenance_start.timestamp()
        if known.next_maintenance_start is not None
        else None,
        macsec_key_age_seconds=known.macsec_key_age_seconds,
        maintenance_overlap=known.maintenance_overlap,
    )


def _observed_generation(request: LinkRequest, old_status: Mapping[str, Any]) -> int:
    """The generation the status describes.

    While paused, a spec change is not acted on, so the status keeps the last
    generation it did act on: kstatus, Argo CD and Flux then see the change as
    not reconciled yet instead of reading Ready for a spec never applied.
    """
    old = old_status.get("observedGeneration")
    if request.spec.paused and isinstance(old, int):
        return old
    return request.spec.generation


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def _shared_uuid(body: Mapping[str, Any]) -> str | None:
    annotations = (body.get("metadata") or {}).get("annotations") or {}
    uuid = annotations.get(UUID_ANNOTATION) or (body.get("status") or {}).get(
        "sharedConnectionUuid"
    )
    return str(uuid) if uuid else None


def _older(new: Mapping[str, Any], old: Mapping[str, Any]) -> bool:
    """resourceVersions are etcd revisions here; compare them when both are numbers."""
    a = str((new.get("metadata") or {}).get("resourceVersion", ""))
    b = str((old.get("metadata") or {}).get("resourceVersion", ""))
    return bool(a.isdigit() and b.isdigit() and int(a) < int(b))


def _same_intent(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """True when only status or resourceVersion changed (our own write echoed back)."""
    old_meta, new_meta = old.get("metadata") or {}, new.get("metadata") or {}
    return (
        old_meta.get("generation") == new_meta.get("generation")
        and (old_meta.get("annotations") or {}) == (new_meta.get("annotations") or {})
        and bool(old_meta.get("deletionTimestamp")) == bool(new_meta.get("deletionTimestamp"))
        and (old_meta.get("finalizers") or []) == (new_meta.get("finalizers") or [])
    )


def _involved(body: Mapping[str, Any], kind: str) -> dict[str, Any]:
    return {"apiVersion": LINK_API_VERSION, "kind": kind, "metadata": body.get("metadata") or {}}


def _validation_message(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors()[:5]:
        where = ".".join(str(p) for p in error.get("loc", ()))
        parts.append(f"{where}: {error.get('msg')}")
    return "; ".join(parts)[:1024]
