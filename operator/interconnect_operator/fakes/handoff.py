"""What both customer-API fakes share: keys, the engine, and each link's progress.

A fake's customer either asks for a key (the fake's simulator issues it, P1)
or brings one from the other cloud (the fake checks it, then confirms it at
the peer's simulator, P2-P3, and brings the link up with the engine as the
negotiator, P4). Either way the fake tracks one :class:`HandoffLink` per shared
UUID with a vendor-neutral :class:`Progress`; each fake maps that onto its
own cloud's states. Links this side did not drive are followed by reading the
own simulator in bulk (a connection appearing, verified, resized or gone).

No vendor wire format here: see :mod:`.aws_app` and :mod:`.gcp_app`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from enum import StrEnum

from pydantic import SecretStr

from interconnect_operator.api import activation_key
from interconnect_operator.api.auth import BearerToken
from interconnect_operator.api.client import ProviderClient
from interconnect_operator.api.customer import request_activation_key
from interconnect_operator.api.errors import ApiError
from interconnect_operator.api.models import ActivationKey, Environment
from interconnect_operator.api.names import InvalidResourceName, parse_name
from interconnect_operator.api.retry import RetryPolicy
from interconnect_operator.fakes.engine import (
    EngineOutcome,
    LinkEngine,
    ObservedConnection,
    SimulatorEndpoint,
)

__all__ = [
    "EnvironmentInfo",
    "Handoff",
    "HandoffLink",
    "KeyCheck",
    "Progress",
    "SimulatorEndpoint",
]

log = logging.getLogger(__name__)


class Progress(StrEnum):
    """Where one link stands, seen from one fake."""

    KEY_ISSUED = "KeyIssued"
    """This side issued the key; the other cloud's customer has not used it yet."""
    CONFIRMING = "Confirming"
    """This side received a key; the engine is confirming it and creating."""
    PROVISIONING = "Provisioning"
    """Both sides have the connection; not yet verified (P13-P14)."""
    READY = "Ready"
    UPDATING = "Updating"
    DOWN = "Down"
    """Was ready, no longer verified on this side."""
    DELETING = "Deleting"
    DELETED = "Deleted"
    REMOTE_DELETED = "RemoteDeleted"
    """The other cloud's customer deleted it (P19 reached this side)."""
    FAILED = "Failed"


_FOLLOWED = frozenset(
    {Progress.KEY_ISSUED, Progress.PROVISIONING, Progress.READY, Progress.DOWN, Progress.UPDATING}
)
"""Progress of links that change through the other side's actions."""
_IN_FLIGHT = frozenset({Progress.KEY_ISSUED, Progress.PROVISIONING, Progress.UPDATING})
_SETTLED_EVERY = 5
_STRAY_GRACE_S = 30.0


@dataclass
class HandoffLink:
    """One link as this fake tracks it."""

    uuid: str
    environment: str
    bandwidth_mbps: int
    progress: Progress
    accepted: bool
    """This side received the key (it drove the bring-up)."""
    seen: bool = False
    """The own simulator has shown a connection for it."""
    ever_ready: bool = False
    message: str = ""
    busy: bool = False
    stray_since: float | None = None
    """When a connection first showed up for this withdrawn key (monotonic seconds)."""
    changed: Callable[[HandoffLink], None] | None = field(default=None, repr=False)


@dataclass(frozen=True)
class KeyCheck:
    """The outcome of checking a key brought from the other cloud (P2-P3)."""

    valid: bool
    reason: str
    key: ActivationKey | None = None
    environment: str | None = None


@dataclass(frozen=True)
class EnvironmentInfo:
    """An environment of the own simulator, as both fakes present it."""

    id: str
    own_site: str
    peer_site: str
    peer_site_name: str
    sizes_mbps: tuple[int, ...]


class Handoff:
    """Keys, engines and link progress of one fake (one own simulator, one peer)."""

    def __init__(
        self,
        own: SimulatorEndpoint,
        peer: SimulatorEndpoint,
        *,
        poll_interval: float = 1.0,
        drive_timeout: float = 300.0,
    ) -> None:
        self.own = own
        self.peer = peer
        self.poll_interval = poll_interval
        self.drive_timeout = drive_timeout
        self.links: dict[str, HandoffLink] = {}
        self._own_client = _client(own, call_as=peer.provider)
        self._peer_client = _client(peer, call_as=own.provider)
        self._engines: dict[str, LinkEngine] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._observer: asyncio.Task[None] | None = None

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> None:
        if self._observer is None:
            self._observer = asyncio.create_task(self._observe_forever(), name="handoff-observer")

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Observe while the context is open (a fake's ASGI lifespan), then close."""
        self.start()
        try:
            yield
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        tasks = [*self._tasks, *([self._observer] if self._observer else [])]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for engine in self._engines.values():
            await engine.aclose()
        await self._own_client.aclose()
        await self._peer_client.aclose()

    # ---------------------------------------------------------------- catalogue

    async def environments(self) -> list[EnvironmentInfo]:
        """The own simulator's environments shared with the peer (read as the peer)."""
        found = await self._own_client.list_environments_all()
        return [_info(env, self.own.provider, self.peer.provider) for env in found if env.name]

    async def environment(self, environment_id: str) -> EnvironmentInfo | None:
        for info in await self.environments():
            if info.id == environment_id:
                return info
        return None

    # ---------------------------------------------------------------- keys

    async def issue_key(
        self, environment: str, bandwidth_mbps: int, destination_account: str
    ) -> tuple[str, SecretStr]:
        """P1: the own simulator issues a key for the other cloud's account."""
        issued = await request_activation_key(
            self._own_client, environment, bandwidth_mbps, destination_account
        )
        self._track(
            HandoffLink(
                uuid=issued.shared_connection_uuid,
                environment=environment,
                bandwidth_mbps=bandwidth_mbps,
                progress=Progress.KEY_ISSUED,
                accepted=False,
            )
        )
        return issued.shared_connection_uuid, issued.encoded_key

    async def check_key(self, encoded: str, account: str) -> KeyCheck:
        """P2-P3: well formed, meant for this provider and ``account``, confirmed by the issuer."""
        try:
            key = activation_key.decode(encoded)
        except activation_key.InvalidActivationKey as error:
            return KeyCheck(False, error.reason)
        try:
            target = parse_name(key.destination_environment_uri)
        except InvalidResourceName:
            return KeyCheck(False, "the key names no environment")
        environment = target.environment
        if target.provider != self.own.provider or environment is None:
            return KeyCheck(False, "the key is for another provider", key)
        if key.destination_account_id != account:
            return KeyCheck(False, "the key is for another account", key, environment)
        try:
            answer = await self._peer_client.confirm_activation_key(environment, encoded)
        except ApiError as error:
            return KeyCheck(False, f"the issuer could not confirm the key ({error.status})", key)
        if not answer.key_valid:
            return KeyCheck(False, "the issuer does not confirm the key", key, environment)
        return KeyCheck(True, "", key, environment)

    # ---------------------------------------------------------------- actions

    def accept(
        self,
        check: KeyCheck,
        encoded: str,
        changed: Callable[[HandoffLink], None] | None = None,
    ) -> HandoffLink:
        """Bring up the link of a confirmed key (this side negotiates, P4)."""
        if not check.valid or check.key is None or check.environment is None:
            raise ValueError("only a confirmed key can be accepted")
        link = self._track(
            HandoffLink(
                uuid=check.key.shared_connection_uuid,
                environment=check.environment,
                bandwidth_mbps=check.key.connection_size_mbps,
                progress=Progress.CONFIRMING,
                accepted=True,
                changed=changed,
            )
        )
        self._drive(link, key=encoded)
        return link

    def watch(self, uuid: str, changed: Callable[[HandoffLink], None]) -> None:
        """Call ``changed`` on every progress change of ``uuid``."""
        if uuid in self.links:
            self.links[uuid].changed = changed

    def update(self, uuid: str, bandwidth_mbps: int) -> HandoffLink:
        """P16: resize (this side drives the update, the peer confirms)."""
        link = self.links[uuid]
        link.bandwidth_mbps = bandwidth_mbps
        self._set(link, Progress.UPDATING, "")
        self._drive(link)
        return link

    def delete(self, uuid: str) -> HandoffLink | None:
        """P19: delete on both sides (nothing to do for a key nobody used)."""
        link = self.links.get(uuid)
        if link is None:
            return None
        nothing_left = link.progress in (Progress.DELETED, Progress.REMOTE_DELETED) or (
            link.progress is Progress.FAILED and not link.seen
        )
        if nothing_left:
            self._set(link, Progress.DELETED, "")
            return link
        self._set(link, Progress.DELETING, "")
        self._drive(link, deleting=True)
        return link

    # ---------------------------------------------------------------- internals

    def _track(self, link: HandoffLink) -> HandoffLink:
        self.links[link.uuid] = link
        return link

    def _set(self, link: HandoffLink, progress: Progress, message: str) -> None:
        if progress is Progress.READY:
            link.ever_ready = True
        if link.progress is progress and link.message == message:
            return
        log.info("link %s: %s -> %s", link.uuid, link.progress, progress)
        link.progress = progress
        link.message = message
        if link.changed is not None:
            link.changed(link)

    def _engine(self, environment: str) -> LinkEngine:
        engine = self._engines.get(environment)
        if engine is None:
            engine = self._engines[environment] = LinkEngine(self.own, self.peer, environment)
        return engine

    def _drive(self, link: HandoffLink, *, key: str | None = None, deleting: bool = False) -> None:
        link.busy = True

        async def run() -> None:
            try:
                outcome = await self._engine(link.environment).drive(
                    link.uuid,
                    link.bandwidth_mbps,
                    key=key,
                    deleting=deleting,
                    timeout=self.drive_timeout,
                )
            except Exception as error:  # the fake must keep serving
                log.exception("engine failed for %s", link.uuid)
                outcome = EngineOutcome(failed=True, reason=type(error).__name__)
            finally:
                link.busy = False
            self._finish(link, outcome, deleting=deleting)

        task = asyncio.create_task(run(), name=f"drive-{link.uuid}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _finish(self, link: HandoffLink, outcome: EngineOutcome, *, deleting: bool) -> None:
        if deleting:
            if outcome.finalized:
                self._set(link, Progress.DELETED, "")
            else:
                self._set(link, Progress.FAILED, f"{outcome.reason}: {outcome.message}")
            return
        if outcome.ready:
            link.seen = True
            self._set(link, Progress.READY, "")
        else:
            self._set(link, Progress.FAILED, f"{outcome.reason}: {outcome.message}")

    async def _observe_forever(self) -> None:
        quiet_rounds = 0
        while True:
            await asyncio.sleep(self.poll_interval)
            # Settled links (Ready, deleted, failed) change rarely: read them at a
            # fifth of the pace; anything in progress is read every interval.
            settled = all(
                link.progress not in _IN_FLIGHT and not link.busy for link in self.links.values()
            )
            quiet_rounds = quiet_rounds + 1 if settled else 0
            if settled and quiet_rounds % _SETTLED_EVERY:
                continue
            try:
                await self.observe_once()
            except Exception as error:  # unreachable simulator: try again next time
                log.warning("observing %s failed: %s", self.own.provider, type(error).__name__)

    async def observe_once(self) -> None:
        """Follow links this side is not driving from the own simulator's bulk view."""
        by_environment: dict[str, list[HandoffLink]] = {}
        for link in self.links.values():
            # A key this side issued and its customer withdrew may still be used by
            # the other cloud's customer: what appears for it is removed (P19, P21).
            withdrawn = link.progress is Progress.DELETED and not link.accepted
            if not link.busy and (link.progress in _FOLLOWED or withdrawn):
                by_environment.setdefault(link.environment, []).append(link)
        for environment, links in by_environment.items():
            seen = await self._engine(environment).observe()
            if seen is None:
                continue
            for link in links:
                if not link.busy:  # an action may have started while we read
                    self._follow(link, seen.get(link.uuid))

    def _follow(self, link: HandoffLink, observed: ObservedConnection | None) -> None:
        if link.progress is Progress.DELETED:
            if observed is None:
                link.stray_since = None
                return
            now = time.monotonic()
            link.stray_since = link.stray_since or now
            # Let the other side's bring-up finish first (two engines must not work
            # on one link at once); a bring-up that never finishes is cleaned anyway.
            if observed.verified or now - link.stray_since > _STRAY_GRACE_S:
                log.info("link %s: created for a withdrawn key; deleting it", link.uuid)
                link.stray_since = None
                self._drive(link, deleting=True)
            return
        if observed is None:
            if link.seen:
                self._set(link, Progress.REMOTE_DELETED, "deleted by the other side")
            return
        link.seen = True
        link.bandwidth_mbps = observed.bandwidth_mbps or link.bandwidth_mbps
        if observed.verified:
            self._set(link, Progress.READY, "")
        elif link.ever_ready:
            self._set(link, Progress.DOWN, "not verified")
        else:
            self._set(link, Progress.PROVISIONING, "")


def _client(endpoint: SimulatorEndpoint, *, call_as: str) -> ProviderClient:
    return ProviderClient(
        endpoint.url,
        call_as,
        name=endpoint.provider,
        auth=BearerToken(endpoint.token) if endpoint.token else None,
        retry=RetryPolicy(max_attempts=3, max_elapsed_s=5.0),
        max_concurrency=8,
    )


def _info(env: Environment, own: str, peer: str) -> EnvironmentInfo:
    name = env.name or ""
    env_id = name.rsplit("/", 1)[-1]
    sites = {
        s.provider_id.removeprefix("providers/"): s
        for s in env.provider_sites or []
        if s.provider_id
    }
    own_site = sites.get(own)
    peer_site = sites.get(peer)
    return EnvironmentInfo(
        id=env_id,
        own_site=(own_site.site if own_site and own_site.site else own),
        peer_site=(peer_site.site if peer_site and peer_site.site else peer),
        peer_site_name=(peer_site.display_name if peer_site and peer_site.display_name else peer),
        sizes_mbps=tuple(env.supported_connection_size_mbps or ()),
    )
