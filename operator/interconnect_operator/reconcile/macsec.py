"""MACsec key rotation of one pool (P26-P31): read both sides, decide, act.

The pool timer calls :meth:`MacsecDriver.run_once`. Per interconnect it lists
the channels and each channel's keys on both providers, builds the pure view
of :mod:`interconnect_operator.protocol.macsec`, and applies the decisions of
``next_action`` one at a time, re-reading the channel after each, until the
rules say "wait" (P29) or nothing is due. Then, for the channels the PEER
manages, it asks for a rotation when our key is too old (P30).

Where the keys live. ``CreateMacSecKey`` is sent by a channel's MACsec
manager to the other provider's server (P27, P28), so the keys of a channel
we manage are listed by the peer's server (the responder client), and the
keys of a channel the peer manages by our own server (the negotiator client,
which calls it as the peer). Both are read and merged by key id, so a
provider that also lists its own keys is understood too.

Installing on our side first (P28). In the coordinator model the operator
calls our provider's server *as the peer*, and the server only accepts keys
from the channel's manager (P27), so the standby install on our own routers
cannot go through the symmetric API. It is the ``install_standby`` hook
(our provider's device API); when given, it runs before ``CreateMacSecKey``
and a failure there stops the rotation before the peer hears of it.
Without it the operator relies on the provider's own systems to pick the key
up from the server (the simulator's model).

Activation is observed, never set: each side marks a key ``active`` when its
router uses it (P28). A new key that is not active within
``activation_timeout`` is treated as failed and skipped forward: deleted
(it is never the active one) and replaced by a fresh key, never rolled back
to the old one (P31).

Secrets: the CAK/CKN exist only in the request built for the peer and the
``install_standby`` call. Logs and the :class:`MacsecReport` hold key names,
ages and flags only (P31).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from pydantic import SecretStr

from interconnect_operator.api.client import ProviderClient
from interconnect_operator.api.errors import (
    ApiError,
    AuthError,
    Conflict,
    InvalidRequest,
    NotFound,
    OutcomeUnknown,
)
from interconnect_operator.api.models import Channel, MacSecKey
from interconnect_operator.api.names import InvalidResourceName, last_id, parse_name
from interconnect_operator.protocol import macsec as rules
from interconnect_operator.protocol.macsec import (
    ChannelMacsecView,
    CreateKey,
    DeleteKey,
    InterconnectMacsecView,
    MacsecKeyMaterial,
    MacsecKeyView,
    NoAction,
)

__all__ = [
    "ChannelMacsecStatus",
    "KeyStatus",
    "MacsecActionRecord",
    "MacsecDriver",
    "MacsecReport",
    "StandbyKey",
]

logger = logging.getLogger(__name__)

# One interconnect of N channels needs at most N first keys plus a cleanup per
# channel in one run; the bound only guards against a server that never
# changes what it lists.
_STEPS_PER_CHANNEL = 3


@dataclass(frozen=True)
class StandbyKey:
    """A key to install in standby on our own routers before the peer hears of it (P28)."""

    environment: str
    interconnect: str
    channel: str
    key_id: str
    material: MacsecKeyMaterial = field(repr=False)


StandbyInstaller = Callable[[StandbyKey], Awaitable[None]]


@dataclass(frozen=True)
class KeyStatus:
    """A key as the report shows it: never the CAK/CKN (P31)."""

    name: str
    age_seconds: float | None
    active: bool


@dataclass(frozen=True)
class ChannelMacsecStatus:
    """One channel after a run: keys, who manages them, what happens next."""

    interconnect: str
    channel: str
    manager: str | None
    managed_by_us: bool
    keys: tuple[KeyStatus, ...]
    rotating: bool
    fail_closed: bool
    next_eligible: datetime | None
    """Ours: when a rotation is next due and allowed (P29 bake time included).
    The peer's: when we may next ask for one (P30, once per interval)."""
    reason: str
    message: str


@dataclass(frozen=True)
class MacsecActionRecord:
    """One call made (or refused) during a run."""

    interconnect: str
    channel: str
    kind: str  # CreateKey, DeleteKey, RequestRotation, InstallStandby
    key: str | None
    outcome: str  # Done, Declined, Failed
    message: str = ""


@dataclass(frozen=True)
class MacsecReport:
    """What one run saw and did; safe to copy into status and logs."""

    taken_at: datetime
    channels: tuple[ChannelMacsecStatus, ...]
    actions: tuple[MacsecActionRecord, ...]
    errors: dict[str, str]
    """Interconnect id -> why it could not be read or acted on."""

    def channel(self, interconnect: str, channel: str) -> ChannelMacsecStatus:
        for status in self.channels:
            if status.interconnect == interconnect and status.channel == channel:
                return status
        raise KeyError((interconnect, channel))


@dataclass(frozen=True)
class _ChannelInfo:
    id: str
    manager: str | None
    disputed: bool


def _provider_id(value: str | None) -> str | None:
    """``providers/aws`` or ``aws`` -> ``aws``."""
    if not value:
        return None
    if "/" not in value:
        return value
    try:
        return parse_name(value).provider
    except InvalidResourceName:
        return None


def _utcnow() -> datetime:
    return datetime.now(UTC)


class MacsecDriver:
    """Runs MACsec rotation for the channels of one pool.

    ``negotiator`` calls our provider's server (as the peer), ``responder``
    the peer's server (as ``our_provider``). ``enabled`` is the pool's
    switch for rotating the keys of the channels we manage; finishing a
    rotation already begun and repairing a failed key happen regardless,
    since leaving them half done is worse (P28, P31). Requests toward the
    peer (P30) are sent only when enabled, too.
    """

    def __init__(
        self,
        negotiator: ProviderClient,
        responder: ProviderClient,
        environment: str,
        our_provider: str,
        peer_provider: str,
        *,
        rotation_interval: timedelta,
        enabled: bool,
        clock: Callable[[], datetime] = _utcnow,
        activation_timeout: timedelta = timedelta(minutes=30),
        install_standby: StandbyInstaller | None = None,
    ) -> None:
        if our_provider == peer_provider:
            raise ValueError("our_provider and peer_provider must differ")
        self.negotiator = negotiator
        self.responder = responder
        self.environment = environment
        self.our_provider = our_provider
        self.peer_provider = peer_provider
        self.rotation_interval = rotation_interval
        self.enabled = enabled
        self.activation_timeout = activation_timeout
        self._clock = clock
        self._install_standby = install_standby
        # (interconnect, channel) -> when we last asked the peer to rotate (P30).
        self._requested_at: dict[tuple[str, str], datetime] = {}
        # Channels of ours that must rotate regardless of age: a failed key was
        # skipped forward (P31) or someone asked (see request_rotation).
        self._rotation_wanted: set[tuple[str, str]] = set()

    def request_rotation(self, interconnect: str, channel: str) -> None:
        """Rotate this channel of ours at the next allowed moment (e.g. the
        peer's P30 request, relayed by our provider)."""
        self._rotation_wanted.add((interconnect, channel))

    async def run_once(self, interconnects: Iterable[str] | None = None) -> MacsecReport:
        """One pass over ``interconnects`` (default: all the negotiator lists)."""
        errors: dict[str, str] = {}
        actions: list[MacsecActionRecord] = []
        statuses: list[ChannelMacsecStatus] = []
        if interconnects is None:
            try:
                listed = await self.negotiator.list_interconnects_all(self.environment)
            except ApiError as error:
                errors["*"] = str(error)
                logger.warning("MACsec: cannot list interconnects: %s", error)
                return MacsecReport(self._clock(), (), (), errors)
            ix_ids = sorted(last_id(ix.name) for ix in listed if ix.name)
        else:
            ix_ids = sorted(set(interconnects))
        for ix in ix_ids:
            try:
                statuses.extend(await self._interconnect(ix, actions))
            except ApiError as error:
                # One unreachable interconnect must not stop the others.
                errors[ix] = str(error)
                logger.warning("MACsec on %s: %s", ix, error)
        return MacsecReport(self._clock(), tuple(statuses), tuple(actions), errors)

    # ------------------------------------------------------------------ reading

    async def _channels(self, ix: str) -> list[_ChannelInfo]:
        ours, theirs = await asyncio.gather(
            self.negotiator.list_channels_all(self.environment, ix),
            self.responder.list_channels_all(self.environment, ix),
        )

        def managers(channels: Sequence[Channel]) -> dict[str, str | None]:
            return {
                last_id(c.name): _provider_id(c.macsec_manager_provider) for c in channels if c.name
            }

        mine, peer = managers(ours), managers(theirs)
        result = []
        for ch in sorted(mine.keys() | peer.keys()):
            a, b = mine.get(ch), peer.get(ch)
            # A channel the two sides describe differently is nobody's to touch:
            # acting on a guess could violate P27 on one of them.
            disputed = a is not None and b is not None and a != b
            result.append(_ChannelInfo(ch, None if disputed else (a or b), disputed))
        return result

    async def _read_channel(self, ix: str, info: _ChannelInfo, now: datetime) -> ChannelMacsecView:
        ours, theirs = await asyncio.gather(
            self.negotiator.list_mac_sec_keys_all(self.environment, ix, info.id),
            self.responder.list_mac_sec_keys_all(self.environment, ix, info.id),
        )
        merged: dict[str, tuple[datetime | None, bool]] = {}
        for key in (*ours, *theirs):
            if not key.name:
                continue
            key_id = last_id(key.name)
            start, active = merged.get(key_id, (None, False))
            start = start or key.start_time
            # Active on either side means in use: never delete it (P28).
            merged[key_id] = (start, active or bool(key.active))
        keys = tuple(
            MacsecKeyView(
                name=key_id,
                start_time=start,
                active=active,
                failed=self._failed(start, active, now),
            )
            for key_id, (start, active) in sorted(merged.items())
        )
        managed = info.manager == self.our_provider
        wanted = managed and (ix, info.id) in self._rotation_wanted
        return ChannelMacsecView(info.id, managed, keys, rotation_requested=wanted)

    def _failed(self, start: datetime | None, active: bool, now: datetime) -> bool:
        return not active and start is not None and now - start >= self.activation_timeout

    async def _read_view(
        self, ix: str, infos: Sequence[_ChannelInfo], now: datetime
    ) -> InterconnectMacsecView:
        channels = await asyncio.gather(*(self._read_channel(ix, i, now) for i in infos))
        return InterconnectMacsecView(ix, tuple(channels))

    # ------------------------------------------------------------------ acting

    async def _interconnect(
        self, ix: str, actions: list[MacsecActionRecord]
    ) -> list[ChannelMacsecStatus]:
        infos = await self._channels(ix)
        by_id = {i.id: i for i in infos}
        now = self._clock()
        view = await self._read_view(ix, infos, now)
        blocked: dict[str, NoAction] = {}
        for _ in range(_STEPS_PER_CHANNEL * max(1, len(infos))):
            action = rules.next_action(view, now, self.rotation_interval, self.enabled)
            if isinstance(action, NoAction):
                if action.channel is not None:
                    blocked[action.channel] = action
                break
            if isinstance(action, CreateKey):
                done = await self._create_key(ix, action.channel, actions, blocked)
            else:
                done = await self._delete_key(ix, action, actions, blocked)
            if not done:
                break  # declined or failed: wait for the next run
            now = self._clock()
            fresh = await self._read_channel(ix, by_id[action.channel], now)
            view = replace(
                view,
                channels=tuple(fresh if c.channel == fresh.channel else c for c in view.channels),
            )
        if self.enabled:
            await self._ask_peer(ix, view, by_id, now, actions)
        return [self._status(ix, view, by_id[c.channel], now, blocked) for c in view.channels]

    def _key_id(self, now: datetime) -> str:
        # Time-ordered for people reading a listing; random suffix so that two
        # operators (or a retry after a crash) never collide on an id.
        return f"mk-{now.strftime('%Y%m%dt%H%M%S')}-{secrets.token_hex(3)}"

    async def _create_key(
        self,
        ix: str,
        channel: str,
        actions: list[MacsecActionRecord],
        blocked: dict[str, NoAction],
    ) -> bool:
        now = self._clock()
        key_id = self._key_id(now)
        material = rules.generate_key()  # OS CSPRNG
        if self._install_standby is not None:
            try:
                await self._install_standby(
                    StandbyKey(self.environment, ix, channel, key_id, material)
                )
            except Exception as error:  # the device API is not ours to type
                # P28 order: the peer must not get a key our routers lack.
                message = f"standby install failed: {type(error).__name__}"
                actions.append(
                    MacsecActionRecord(ix, channel, "InstallStandby", key_id, "Failed", message)
                )
                blocked[channel] = NoAction(channel, "StandbyInstallFailed", message)
                logger.warning("MACsec %s/%s: %s", ix, channel, message)
                return False
        request = MacSecKey(
            cak=SecretStr(material.cak.reveal()), ckn=SecretStr(material.ckn.reveal())
        )
        try:
            await self._create_at_peer(ix, channel, key_id, request)
        except (Conflict, AuthError, InvalidRequest) as error:
            # 409: P29/P26 say wait (the peer's view of the bake time may be
            # longer than ours); 403: P27, the peer disagrees that we manage it.
            reason = {409: "PeerSaysWait", 403: "PeerSaysNotManager"}.get(
                error.status or 0, "PeerRefused"
            )
            actions.append(
                MacsecActionRecord(ix, channel, "CreateKey", key_id, "Declined", error.message)
            )
            blocked[channel] = NoAction(channel, reason, error.message)
            logger.info("MACsec %s/%s: CreateMacSecKey declined: %s", ix, channel, error)
            return False
        actions.append(MacsecActionRecord(ix, channel, "CreateKey", key_id, "Done"))
        self._rotation_wanted.discard((ix, channel))
        logger.info("MACsec %s/%s: key %s created at %s", ix, channel, key_id, self.peer_provider)
        return True

    async def _create_at_peer(self, ix: str, channel: str, key_id: str, key: MacSecKey) -> None:
        try:
            await self.responder.create_mac_sec_key(self.environment, ix, channel, key_id, key)
        except OutcomeUnknown:
            # P33: read first; the same id and body on retry, never a second key.
            try:
                await self.responder.get_mac_sec_key(self.environment, ix, channel, key_id)
                return
            except NotFound:
                pass
            await self.responder.create_mac_sec_key(self.environment, ix, channel, key_id, key)

    async def _delete_key(
        self,
        ix: str,
        action: DeleteKey,
        actions: list[MacsecActionRecord],
        blocked: dict[str, NoAction],
    ) -> bool:
        try:
            await self.responder.delete_mac_sec_key(
                self.environment, ix, action.channel, action.key
            )
        except NotFound:
            pass  # already gone (a retry, or the peer cleaned up): the goal holds
        except (Conflict, AuthError, InvalidRequest) as error:
            # 409: the peer still uses it (active, P28): wait until it switches.
            actions.append(
                MacsecActionRecord(
                    ix, action.channel, "DeleteKey", action.key, "Declined", error.message
                )
            )
            blocked[action.channel] = NoAction(action.channel, "DeleteDeclined", error.message)
            logger.info("MACsec %s/%s: DeleteMacSecKey declined: %s", ix, action.channel, error)
            return False
        if action.then_rotate:
            # P31: skipped forward; the next CreateKey replaces the failed key.
            self._rotation_wanted.add((ix, action.channel))
        actions.append(
            MacsecActionRecord(ix, action.channel, "DeleteKey", action.key, "Done", action.reason)
        )
        logger.info(
            "MACsec %s/%s: key %s deleted (%s)", ix, action.channel, action.key, action.reason
        )
        return True

    async def _ask_peer(
        self,
        ix: str,
        view: InterconnectMacsecView,
        infos: dict[str, _ChannelInfo],
        now: datetime,
        actions: list[MacsecActionRecord],
    ) -> None:
        """P30: ask the peer to rotate its channels whose key is overdue, once per interval."""
        for ch in view.channels:
            info = infos[ch.channel]
            if info.manager != self.peer_provider:
                continue
            if not rules.rotation_due(ch, now, self.rotation_interval):
                continue
            last = self._requested_at.get((ix, ch.channel))
            if last is not None and now - last < self.rotation_interval:
                continue
            reason = "no MACsec key" if not ch.keys else "key older than the rotation interval"
            try:
                await self.responder.request_mac_sec_key_rotation(
                    self.environment, ix, ch.channel, reason=reason
                )
            except ApiError as error:
                actions.append(
                    MacsecActionRecord(
                        ix, ch.channel, "RequestRotation", None, "Failed", error.message
                    )
                )
                logger.warning("MACsec %s/%s: RequestMacSecKeyRotation: %s", ix, ch.channel, error)
                continue
            self._requested_at[(ix, ch.channel)] = now
            actions.append(
                MacsecActionRecord(ix, ch.channel, "RequestRotation", None, "Done", reason)
            )
            logger.info(
                "MACsec %s/%s: asked %s to rotate (P30)", ix, ch.channel, self.peer_provider
            )

    # ------------------------------------------------------------------ report

    # Long on purpose: one branch per MACsec key state the status reports.
    def _status(
        self,
        ix: str,
        view: InterconnectMacsecView,
        info: _ChannelInfo,
        now: datetime,
        blocked: dict[str, NoAction],
    ) -> ChannelMacsecStatus:
        ch = view.channel(info.id)
        keys = tuple(
            KeyStatus(
                k.name,
                (now - k.start_time).total_seconds() if k.start_time else None,
                k.active,
            )
            for k in ch.keys
        )
        newest = max((k.start_time for k in ch.keys if k.start_time), default=None)
        due = newest + self.rotation_interval if newest is not None else now
        next_eligible: datetime | None
        if info.disputed:
            reason, message, next_eligible = (
                "ManagerDisputed",
                "the providers name different MACsec managers (P27)",
                None,
            )
        elif ch.managed_by_us:
            bake = rules.bake_ends(view)
            next_eligible = max(due, bake) if bake is not None and ch.keys else due
            if not self.enabled:
                next_eligible = None
            note = blocked.get(info.id)
            if note is not None:
                reason, message = note.reason, note.message
            elif ch.rotating:
                reason, message = "Rotating", "waiting for the new key to become active (P28)"
            elif self.enabled and rules.rotation_due(ch, now, self.rotation_interval):
                # Due but not taken this run: say which rule holds it (P26, P29).
                verdict = rules.may_rotate(view, info.id, now)
                reason, message = verdict.reason, verdict.message
                if verdict.not_before is not None and next_eligible is not None:
                    next_eligible = max(next_eligible, verdict.not_before)
            elif rules.fail_closed(ch):
                reason, message = "NoActiveKey", "no active key: fail closed (P31)"
            else:
                reason, message = "UpToDate", "key within the rotation interval"
        elif info.manager == self.peer_provider:
            last = self._requested_at.get((ix, info.id))
            next_eligible = max(due, last + self.rotation_interval) if last else due
            reason, message = "PeerManaged", f"{self.peer_provider} rotates this channel (P27)"
            if last is not None:
                reason = "RotationRequested"
                message = f"asked {self.peer_provider} to rotate at {last.isoformat()} (P30)"
        else:
            reason, message, next_eligible = "UnknownManager", "no MACsec manager listed", None
        return ChannelMacsecStatus(
            interconnect=ix,
            channel=info.id,
            manager=info.manager,
            managed_by_us=ch.managed_by_us,
            keys=keys,
            rotating=ch.rotating,
            fail_closed=rules.fail_closed(ch),
            next_eligible=next_eligible,
            reason=reason,
            message=message,
        )
