"""MACsec keys of the simulated provider (P26-P30)."""

from __future__ import annotations

import dataclasses

from interconnect_operator.simulator.store.base import StoreBase
from interconnect_operator.simulator.store.records import (
    MacSecKeyRecord,
    RotationRequestRecord,
    SimError,
)


class MacSecRules(StoreBase):
    """Create, delete and rotate MACsec keys under the manager and bake-time rules."""

    # ----------------------------------------------------------- MACsec (P26-P30)

    def create_macsec_key(
        self,
        caller: str,
        environment: str,
        interconnect: str,
        channel: str,
        key_id: str,
        *,
        cak: str | None,
        ckn: str | None,
        now: float,
    ) -> MacSecKeyRecord:
        """P26-P29: the manager adds a key; limits, one rotation at a time, bake time."""
        env, ix, ch = self.channel(caller, environment, interconnect, channel)
        if caller != ch.macsec_manager:
            raise SimError(403, f"P27: only {ch.macsec_manager} manages MACsec keys here")
        if not key_id or "/" in key_id:
            raise SimError(400, "macSecKeyId is required")
        if not cak or not ckn:
            raise SimError(400, "cak and ckn are required")
        ch_key = (environment, interconnect, channel)
        keys = self.macsec.get(ch_key, {})
        if key_id in keys:
            raise SimError(409, f"MACsec key {key_id!r} already exists")
        if len(keys) >= 2:
            raise SimError(409, "P26: a channel holds at most 2 MACsec keys")
        ix_key = (environment, interconnect)
        if self.macsec_count[ix_key] >= len(ix.channels) + 1:
            raise SimError(409, "P26: the interconnect holds at most N+1 MACsec keys")
        if keys:
            # A second key on a keyed channel is a rotation (first keys may go
            # in parallel).
            for other in ix.channels:
                if other.id != channel and len(self.macsec.get((*ix_key, other.id), {})) >= 2:
                    raise SimError(409, f"P29: channel {other.id!r} is rotating")
            done = self.last_rotation_done.get(ix_key)
            if done is not None and now < done + self.bake_time:
                raise SimError(409, "P29: bake time after the last rotation has not passed")
        record = MacSecKeyRecord(
            environment=environment,
            interconnect=interconnect,
            channel=channel,
            id=key_id,
            start_time=now,
            cak=cak,
            ckn=ckn,
        )
        self._index_macsec(record)
        self._put("macsec", f"{environment}/{interconnect}/{channel}/{key_id}", record)
        del env
        return record

    def macsec_key(
        self, caller: str, environment: str, interconnect: str, channel: str, key_id: str
    ) -> MacSecKeyRecord:
        """A MACsec key, else 404."""
        self.channel(caller, environment, interconnect, channel)
        record = self.macsec.get((environment, interconnect, channel), {}).get(key_id)
        if record is None:
            raise SimError(404, f"MACsec key {key_id!r} not found")
        return record

    def delete_macsec_key(
        self,
        caller: str,
        environment: str,
        interconnect: str,
        channel: str,
        key_id: str,
        *,
        now: float,
    ) -> None:
        """P27-P28: the manager deletes a key that is not active."""
        _, _, ch = self.channel(caller, environment, interconnect, channel)
        if caller != ch.macsec_manager:
            raise SimError(403, f"P27: only {ch.macsec_manager} manages MACsec keys here")
        record = self.macsec_key(caller, environment, interconnect, channel, key_id)
        ch_key = (environment, interconnect, channel)
        if self.active_macsec_key(ch_key, now) == key_id:
            raise SimError(409, "P28: the active MACsec key cannot be deleted")
        keys = self.macsec[ch_key]
        rotating = len(keys) >= 2
        del keys[key_id]
        ix_key = (environment, interconnect)
        self.macsec_count[ix_key] -= 1
        self._delete("macsec", f"{environment}/{interconnect}/{channel}/{record.id}")
        if rotating:
            # Removing the old key completes a rotation: the bake time starts.
            self.last_rotation_done[ix_key] = now
            if self._state is not None:
                self._state.put(
                    "rotation_done",
                    f"{environment}/{interconnect}",
                    {"environment": environment, "interconnect": interconnect, "at": now},
                )

    def request_rotation(
        self,
        caller: str,
        environment: str,
        interconnect: str,
        channel: str,
        *,
        reason: str,
        now: float,
    ) -> None:
        """P30: the non-manager asks the manager to rotate."""
        _, _, ch = self.channel(caller, environment, interconnect, channel)
        if caller == ch.macsec_manager:
            raise SimError(400, "P30: the MACsec manager rotates keys itself")
        ch_key = (environment, interconnect, channel)
        requests = self.rotation_requests.setdefault(ch_key, [])
        requests.append(
            RotationRequestRecord(
                environment, interconnect, channel, requested_at=now, reason=reason
            )
        )
        del requests[:-20]  # keep the recent ones: a peer may ask repeatedly
        if self._state is not None:
            self._state.put(
                "rotation_requests",
                "/".join(ch_key),
                {"requests": [dataclasses.asdict(r) for r in requests]},
            )
