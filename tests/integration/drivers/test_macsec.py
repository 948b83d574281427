"""MacsecDriver against two simulators: P26-P31 end to end."""

from __future__ import annotations

import dataclasses
import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from interconnect_operator import redaction
from interconnect_operator.api.models import MacSecKey
from interconnect_operator.reconcile.macsec import MacsecDriver, MacsecReport, StandbyKey
from tests.integration.drivers.conftest import ENV, OURS, PEER, MakePair, Pair, write_inventory

DAY = timedelta(days=1)
BAKE = 7200.0
CHANNELS = ("ch1", "ch2", "ch3", "ch4")


def make_driver(pair: Pair, **kwargs: Any) -> MacsecDriver:
    kwargs.setdefault("rotation_interval", DAY)
    kwargs.setdefault("enabled", True)
    return MacsecDriver(
        pair.negotiator, pair.responder, ENV, OURS, PEER, clock=pair.clock.datetime, **kwargs
    )


def peer_keys(pair: Pair, channel: str, ix: str = "ix1") -> dict[str, Any]:
    """Keys the peer's server holds on a channel (where our CreateMacSecKey lands)."""
    return dict(pair.peer.store.macsec.get((ENV, ix, channel), {}))


def all_ours(tmp_path: Path) -> Path:
    return write_inventory(
        tmp_path, [{"id": ch, "macsecManagerProvider": OURS} for ch in CHANNELS], "all-ours"
    )


def created(report: MacsecReport) -> list[str]:
    return [a.channel for a in report.actions if a.kind == "CreateKey" and a.outcome == "Done"]


def deleted(report: MacsecReport) -> list[str]:
    return [a.channel for a in report.actions if a.kind == "DeleteKey" and a.outcome == "Done"]


async def test_first_keys_only_on_channels_we_manage_P27_P29(make_pair: MakePair) -> None:
    pair = make_pair()  # default inventory: aws manages ch1/ch3, gcp ch2/ch4
    report = await make_driver(pair).run_once(["ix1"])

    # P29: first keys may be set in parallel; P27: only where we are manager.
    assert sorted(created(report)) == ["ch2", "ch4"]
    assert len(peer_keys(pair, "ch2")) == 1
    assert len(peer_keys(pair, "ch4")) == 1
    assert peer_keys(pair, "ch1") == {}
    assert peer_keys(pair, "ch3") == {}
    # Nothing was written on our own server for the peer's channels either.
    assert not any(pair.ours.store.macsec.values())
    ch2 = report.channel("ix1", "ch2")
    assert ch2.managed_by_us
    assert ch2.manager == OURS
    assert [k.active for k in ch2.keys] == [True]
    assert report.channel("ix1", "ch1").managed_by_us is False
    assert report.errors == {}
    # Generated here: the operator holds every CAK/CKN it sent for redaction (P31).
    for record in peer_keys(pair, "ch2").values():
        assert (
            redaction.redact(f"{record.cak} {record.ckn}") == f"{redaction.MASK} {redaction.MASK}"
        )


async def test_disabled_pool_creates_no_keys(make_pair: MakePair) -> None:
    pair = make_pair()
    report = await make_driver(pair, enabled=False).run_once(["ix1"])
    assert created(report) == []
    assert all(peer_keys(pair, ch) == {} for ch in CHANNELS)
    assert report.channel("ix1", "ch2").next_eligible is None


async def test_disputed_manager_is_left_alone_P27(make_pair: MakePair, tmp_path: Path) -> None:
    # Our server says we manage ch1, the peer's says it does: touch nothing.
    ours = write_inventory(
        tmp_path, [{"id": ch, "macsecManagerProvider": OURS} for ch in CHANNELS], "ours"
    )
    theirs = write_inventory(
        tmp_path,
        [{"id": "ch1", "macsecManagerProvider": PEER}]
        + [{"id": ch, "macsecManagerProvider": OURS} for ch in CHANNELS[1:]],
        "theirs",
    )
    pair = make_pair(ours_inventory=ours, peer_inventory=theirs)
    report = await make_driver(pair).run_once(["ix1"])
    assert "ch1" not in created(report)
    assert peer_keys(pair, "ch1") == {}
    status = report.channel("ix1", "ch1")
    assert status.reason == "ManagerDisputed"
    assert status.manager is None
    assert sorted(created(report)) == ["ch2", "ch3", "ch4"]


async def test_rotation_one_channel_at_a_time_with_bake_time_P28_P29(
    make_pair: MakePair, tmp_path: Path
) -> None:
    pair = make_pair(
        ours_inventory=all_ours(tmp_path),
        peer_inventory=all_ours(tmp_path),
        provisioning_delay=60.0,  # a new key becomes active one minute after creation
    )
    driver = make_driver(pair)
    first = await driver.run_once(["ix1"])
    assert sorted(created(first)) == list(CHANNELS)
    initial = {ch: set(peer_keys(pair, ch)) for ch in CHANNELS}

    pair.clock.advance(DAY.total_seconds())  # every key is now due
    rotations: list[tuple[str, float]] = []  # (channel, creation time)
    completions: list[float] = []
    for _ in range(120):  # 10-minute steps: 20 hours, ample for 4 rotations + bakes
        report = await driver.run_once(["ix1"])
        assert report.errors == {}
        assert len(created(report)) <= 1
        rotations.extend((ch, pair.clock.now) for ch in created(report))
        completions.extend(pair.clock.now for _ in deleted(report))
        # P29: never two channels rotating (holding two keys) at once.
        assert sum(len(peer_keys(pair, ch)) == 2 for ch in CHANNELS) <= 1
        assert sum(len(peer_keys(pair, ch)) for ch in CHANNELS) <= len(CHANNELS) + 1  # P26
        if len(rotations) == len(CHANNELS) and len(completions) == len(CHANNELS):
            break
        pair.clock.advance(600)

    assert sorted(ch for ch, _ in rotations) == list(CHANNELS)
    # P29: each rotation waits the bake time after the previous one completed.
    for (_, started), done in zip(rotations[1:], completions, strict=False):
        assert started >= done + BAKE
    # P28: each channel ends with one key, new and active; the old one is gone.
    for ch in CHANNELS:
        keys = peer_keys(pair, ch)
        assert len(keys) == 1
        assert not (set(keys) & initial[ch])
    final = await driver.run_once(["ix1"])
    assert all(k.active for s in final.channels for k in s.keys)


async def test_rotating_and_bake_time_shown_then_peer_409_is_a_wait_P29(
    make_pair: MakePair, tmp_path: Path
) -> None:
    pair = make_pair(
        ours_inventory=all_ours(tmp_path),
        peer_inventory=all_ours(tmp_path),
        provisioning_delay=60.0,
    )
    driver = make_driver(pair)
    await driver.run_once(["ix1"])
    pair.clock.advance(DAY.total_seconds())

    report = await driver.run_once(["ix1"])
    [rotating] = created(report)
    started = pair.clock.now
    assert report.channel("ix1", rotating).rotating
    others = [ch for ch in CHANNELS if ch != rotating]
    # Held by P29 (one rotating) or by P26 (4 channels: at most 5 keys).
    held = {report.channel("ix1", ch).reason for ch in others}
    assert held
    assert held <= {"OtherChannelRotating", "InterconnectKeyLimit"}

    # Not active yet: the old key stays (an active key is never deleted, P28).
    again = await driver.run_once(["ix1"])
    assert created(again) == []
    assert deleted(again) == []
    assert len(peer_keys(pair, rotating)) == 2

    pair.clock.advance(60)  # the new key is active: the old one goes, the bake starts
    done = await driver.run_once(["ix1"])
    assert deleted(done) == [rotating]
    assert created(done) == []
    waiting = done.channel("ix1", others[0])
    assert waiting.reason == "BakeTime"
    assert waiting.next_eligible is not None
    assert waiting.next_eligible.timestamp() == pytest.approx(started + BAKE)

    # Our bake time (from the key's start) ends before the peer's (from the
    # deletion): the peer's 409 is a wait, not an error.
    pair.clock.advance(BAKE - 30)
    declined = await driver.run_once(["ix1"])
    assert created(declined) == []
    [refusal] = [a for a in declined.actions if a.outcome == "Declined"]
    assert refusal.kind == "CreateKey"
    assert "P29" in refusal.message
    assert declined.channel("ix1", refusal.channel).reason == "PeerSaysWait"
    assert declined.errors == {}

    pair.clock.advance(60)
    assert len(created(await driver.run_once(["ix1"]))) == 1


async def test_request_rotation_toward_peer_once_per_interval_P30(make_pair: MakePair) -> None:
    pair = make_pair()
    # The peer (aws) manages ch1 and installed a key on our server.
    await pair.negotiator.create_mac_sec_key(
        ENV, "ix1", "ch1", "aws-k1", MacSecKey(cak="a" * 64, ckn="b" * 64)
    )
    driver = make_driver(pair)

    def requests(channel: str) -> int:
        return len(pair.peer.store.rotation_requests.get((ENV, "ix1", channel), []))

    fresh = await driver.run_once(["ix1"])
    assert requests("ch1") == 0  # our key is young
    assert requests("ch3") == 1  # no key at all on a peer channel: ask
    assert fresh.channel("ix1", "ch1").reason == "PeerManaged"

    pair.clock.advance(DAY.total_seconds() + 1)
    report = await driver.run_once(["ix1"])
    assert requests("ch1") == 1
    status = report.channel("ix1", "ch1")
    assert status.reason == "RotationRequested"
    assert status.next_eligible is not None
    assert status.next_eligible.timestamp() == pytest.approx(pair.clock.now + DAY.total_seconds())

    for _ in range(3):  # at most once per interval
        pair.clock.advance(3600)
        await driver.run_once(["ix1"])
    assert requests("ch1") == 1

    pair.clock.advance(DAY.total_seconds())
    await driver.run_once(["ix1"])
    assert requests("ch1") == 2
    # We never created keys on the peer's channels (P27).
    assert "ch1" not in {a.channel for a in report.actions if a.kind == "CreateKey"}


async def test_standby_install_precedes_create_at_peer_P28(make_pair: MakePair) -> None:
    pair = make_pair()
    seen: list[tuple[str, bool]] = []

    async def install(key: StandbyKey) -> None:
        # The peer must not know the key yet when our routers get it.
        seen.append((key.channel, key.key_id in peer_keys(pair, key.channel)))
        assert len(key.material.cak.reveal()) == 64
        assert key.material.cak.reveal() not in repr(key)

    report = await make_driver(pair, install_standby=install).run_once(["ix1"])
    assert sorted(seen) == [("ch2", False), ("ch4", False)]
    assert sorted(created(report)) == ["ch2", "ch4"]


async def test_failed_standby_install_sends_nothing_to_peer_P28(make_pair: MakePair) -> None:
    pair = make_pair()

    async def broken(key: StandbyKey) -> None:
        raise RuntimeError("device unreachable")

    report = await make_driver(pair, install_standby=broken).run_once(["ix1"])
    assert created(report) == []
    assert all(peer_keys(pair, ch) == {} for ch in CHANNELS)
    failed = [a for a in report.actions if a.outcome == "Failed"]
    assert failed
    assert failed[0].kind == "InstallStandby"
    assert report.channel("ix1", failed[0].channel).reason == "StandbyInstallFailed"


async def test_failed_key_is_skipped_forward_not_rolled_back_P31(
    make_pair: MakePair, tmp_path: Path
) -> None:
    pair = make_pair(
        ours_inventory=all_ours(tmp_path),
        peer_inventory=all_ours(tmp_path),
        provisioning_delay=3600.0,  # keys take an hour to come up ...
    )
    driver = make_driver(pair, activation_timeout=timedelta(minutes=30))  # ... we wait 30 min
    await driver.run_once(["ix1"])
    pair.clock.advance(DAY.total_seconds())
    report = await driver.run_once(["ix1"])
    [channel] = created(report)
    [(failed_id, _)] = [
        (k, v) for k, v in peer_keys(pair, channel).items() if v.start_time == pair.clock.now
    ]
    [old_id] = set(peer_keys(pair, channel)) - {failed_id}

    pair.clock.advance(31 * 60)  # the new key is not active in time: it failed
    repair = await driver.run_once(["ix1"])
    assert [a.key for a in repair.actions if a.kind == "DeleteKey" and a.outcome == "Done"] == [
        failed_id
    ]
    # The active old key stays; a fresh key (never the failed one) follows as
    # soon as the peer's bake time allows.
    assert set(peer_keys(pair, channel)) == {old_id}
    for _ in range(30):
        pair.clock.advance(600)
        if created(await driver.run_once(["ix1"])):
            break
    keys = set(peer_keys(pair, channel))
    assert old_id in keys
    assert failed_id not in keys
    assert len(keys) == 2


async def test_keys_never_in_report_or_logs_P31(
    make_pair: MakePair, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    pair = make_pair(ours_inventory=all_ours(tmp_path), peer_inventory=all_ours(tmp_path))
    driver = make_driver(pair)
    reports = [await driver.run_once(["ix1"])]
    pair.clock.advance(DAY.total_seconds())
    reports.append(await driver.run_once(["ix1"]))
    reports.append(await driver.run_once(["ix1"]))

    secrets = [
        value
        for ch in CHANNELS
        for record in peer_keys(pair, ch).values()
        for value in (record.cak, record.ckn)
    ]
    assert len(secrets) == 2 * len(CHANNELS)
    assert all(len(s) == 64 for s in secrets)
    assert len(set(secrets)) == len(secrets)  # fresh CSPRNG material every time
    logged = caplog.text
    assert "CreateMacSecKey" in logged  # the client did log its calls ...
    dumped = " ".join(repr(r) + str(dataclasses.asdict(r)) for r in reports)
    for secret in secrets:
        assert secret not in logged  # ... but never the material
        assert secret not in dumped
