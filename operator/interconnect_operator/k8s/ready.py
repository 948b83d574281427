"""The Ready confirmation path: a Ready link whose inputs are unchanged is
confirmed without a full reconcile.

What counts as the inputs, the digest a Ready status carries and the safety
net's schedule are pure and live in ``confirm``; this module reads what they
are compared with (the pool's snapshot, the link's Secrets, the namespace
policy, the UUID's ownership record), remembers what a full reconcile found
a link Ready from, and after a restart takes a stored Ready as that basis.
``links`` asks it first for every link it processes.
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping
from typing import Any

from interconnect_operator.k8s import confirm
from interconnect_operator.k8s.credentials import Credentials
from interconnect_operator.k8s.digest_key import DigestKey
from interconnect_operator.k8s.index import LinkIndex, LinkKey, shared_uuid
from interconnect_operator.k8s.kube import KubeError
from interconnect_operator.k8s.kubeapi import KubeApi
from interconnect_operator.k8s.link_memory import POOL_READY_WAIT_SECONDS, LinkState
from interconnect_operator.k8s.namespaces import NamespacePolicy
from interconnect_operator.k8s.ownership import Ownership, UuidOwnership
from interconnect_operator.k8s.pool_entry import PoolEntry
from interconnect_operator.k8s.pools import PoolLoops
from interconnect_operator.k8s.publish import Publisher
from interconnect_operator.k8s.secret_refs import link_secret_digest, link_secret_refs
from interconnect_operator.k8s.workqueue import Priority, Requeue
from interconnect_operator.protocol.link_state import POLL_SLOW
from interconnect_operator.reconcile import views
from interconnect_operator.reconcile.link import LinkResult
from interconnect_operator.reconcile.pool import PoolRuntime
from interconnect_operator.reconcile.snapshot import PoolSnapshot


class ReadyConfirmations:
    """Confirms unchanged Ready links and remembers what full reconciles found Ready."""

    def __init__(
        self,
        kube: KubeApi,
        state: dict[LinkKey, LinkState],
        *,
        index: LinkIndex,
        pools: PoolLoops,
        credentials: Credentials,
        namespaces: NamespacePolicy,
        publisher: Publisher,
        owners: UuidOwnership,
    ) -> None:
        self._kube = kube
        self._state = state
        self._index = index
        self._pools = pools
        self._credentials = credentials
        self._namespaces = namespaces
        self._publisher = publisher
        self._owners = owners
        self._rng = random.Random()
        self.key = DigestKey(kube, credentials.operator_namespace)
        """Signs and verifies ``inputsDigest`` (``digest_key``)."""

    async def try_confirm(self, key: LinkKey, body: dict[str, Any]) -> Requeue | None:
        """A Ready link whose inputs are unchanged, confirmed without a full reconcile
        (``confirm``); None: take the full path."""
        uuid = shared_uuid(body)
        pool_name = ((body.get("spec") or {}).get("poolRef") or {}).get("name")
        entry = self._pools.get(pool_name) if isinstance(pool_name, str) else None
        state = self._state.get(key)
        basis = state.basis if state is not None else None
        stored = confirm.stored_ready(body) if basis is None else None
        if uuid is None or entry is None or (basis is None and stored is None):
            return None
        if body["metadata"].get("deletionTimestamp"):
            return None
        snapshot = await self._confirmable_snapshot(entry, restart=basis is None)
        if snapshot is None:
            return None
        provider = views.ready_inputs(snapshot, uuid)
        pool = confirm.pool_part(entry.name, entry.body, entry.generation, entry.builds)
        if basis is not None:
            if not await self._unchanged(key, body, basis, pool, provider):
                return None
        elif not confirm.verified(
            await self.key.get(), body, entry.name, entry.generation, provider
        ):
            return None
        try:
            if await self._namespaces.denial(entry.name, entry.body, key[0]) is not None:
                return None
            if await self._owners.check(body) is not Ownership.OWNED:
                return None
        except KubeError:
            return None
        if basis is None:
            # Restart: remembered as if reconciled in full; its Secrets are read at the
            # first recheck (unknown digests send that one down the full path).
            refs = sorted(link_secret_refs(key[0], body.get("spec")))
            state = self._state.setdefault(key, LinkState(last_phase="Ready"))
            basis = state.basis = confirm.ReadyBasis(
                link=confirm.link_part(body),
                pool=pool,
                provider=confirm.provider_digest(provider),
                secrets=tuple((f"{ns}/{name}", None) for ns, name in refs),
                recheck=float(POLL_SLOW),
                full_due=confirm.full_due(self._rng),
            )
            self._index.claim(uuid, key)
            self._publisher.export_stored(
                key,
                pool=entry.name,
                status=body.get("status") or {},
                bandwidth_mbps=int((body.get("spec") or {}).get("bandwidthMbps") or 0),
            )
        entry.busy.discard(key)
        return Requeue(basis.recheck, Priority.RECHECK)

    @staticmethod
    async def _confirmable_snapshot(entry: PoolEntry, *, restart: bool) -> PoolSnapshot | None:
        """The pool's snapshot when a confirmation may rely on it: the symmetric
        driver, clients built, both sides answered. After a restart the first
        refresh is waited for: it is what the stored status is checked against,
        and a restart's links may be listed before the pool's clients are built
        (few links list faster than the clients build), so that is waited for too.
        A pool whose setup failed is not waited for."""
        if entry.error is not None:
            return None
        if not entry.ready.is_set():
            if not restart:
                return None
            # Bounded; a setup that fails meanwhile ends the wait within a second.
            deadline = time.monotonic() + POOL_READY_WAIT_SECONDS
            while not entry.ready.is_set() and entry.error is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                await entry.wait_ready(min(1.0, remaining))
        runtime = entry.runtime
        if not isinstance(runtime, PoolRuntime) or entry.error is not None:
            return None
        snapshot = runtime.snapshot if isinstance(runtime, PoolRuntime) else None
        if snapshot is None or snapshot.errors or entry.reconciler is None:
            return None
        return snapshot

    async def _unchanged(
        self,
        key: LinkKey,
        body: Mapping[str, Any],
        basis: confirm.ReadyBasis,
        pool: tuple[object, ...],
        provider: tuple[object, ...],
    ) -> bool:
        """Every input of the last full reconcile still holds, and its look is not due."""
        if (
            time.monotonic() >= basis.full_due
            or basis.link != confirm.link_part(body)
            or basis.pool != pool
            or basis.provider != confirm.provider_digest(provider)
        ):
            return False
        for ref, digest in basis.secrets:
            if digest is None or await self._secret_digest(key, ref) != digest:
                return False
        return True

    async def _secret_digest(self, key: LinkKey, ref: str) -> str | None:
        """The digest of a link Secret as the API serves it now (None: unreadable)."""
        name = ref.partition("/")[2]
        try:
            secret = await self._kube.get_secret(key[0], name)
        except KubeError:
            return None
        return link_secret_digest(secret)

    async def status_signer(
        self, body: Mapping[str, Any], entry: PoolEntry, result: LinkResult
    ) -> confirm.StatusSigner | None:
        """How a Ready status about to be written is signed (``confirm.inputs_digest`` over
        the status as written); None: no digest (not Ready, or no key: ``digest_key``)."""
        if result.ready_inputs is None:
            return None
        signing = await self.key.get()
        if signing is None:
            return None
        return confirm.StatusSigner(
            signing, body, entry.name, entry.generation, result.ready_inputs
        )

    def remember(
        self, key: LinkKey, body: Mapping[str, Any], entry: PoolEntry, result: LinkResult
    ) -> None:
        """What a full reconcile that found the link Ready found it from (``confirm``)."""
        state = self._state.setdefault(key, LinkState())
        if result.ready_inputs is None or result.events or result.requeue_after is None:
            state.basis = None
            return
        refs = sorted(link_secret_refs(key[0], body.get("spec")))
        state.basis = confirm.ReadyBasis(
            link=confirm.link_part(body),
            pool=confirm.pool_part(entry.name, entry.body, entry.generation, entry.builds),
            provider=confirm.provider_digest(result.ready_inputs),
            secrets=tuple(
                (f"{ns}/{name}", self._credentials.digests.get((ns, name))) for ns, name in refs
            ),
            recheck=result.requeue_after,
            full_due=confirm.full_due(self._rng),
        )
