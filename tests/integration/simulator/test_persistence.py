"""``--state``: a restarted simulator serves exactly what it had acknowledged."""

from __future__ import annotations

import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.integration.simulator.conftest import MakePeer, Peer


def _strip_now(state: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in state.items() if k != "now"}


async def test_state_survives_a_restart(make_peer: MakePeer, tmp_path: Path) -> None:
    path = str(tmp_path / "aws.sqlite")
    first: Peer = await make_peer(state_path=path, provisioning_delay=10)
    issued = await first.issue_key(bandwidth=50000)
    uuid = issued["sharedConnectionUuid"]
    await first.create_full_link(uuid, 50000)
    await first.create_full_link("other", 1000)
    assert (await first.client.delete(first.conn("other"))).status_code == 200
    await first.client.post(f"{first.conn(uuid)}/NotifyConnectionStatus", json={})
    keys = f"{first.ix()}/channels/ch2/macSecKeys"
    await first.client.post(keys, params={"macSecKeyId": "k1"}, json={"cak": "a", "ckn": "b"})
    await first.client.post(
        "/providers/gcp/issues", params={"issueId": "i1"}, json={"title": "t", "body": "b"}
    )
    await first.client.post("/providers/gcp/issues/i1/AddComment", json={"comment": {"body": "c"}})
    start = datetime.fromtimestamp(first.clock.now, UTC) + timedelta(hours=1)
    await first.client.post(
        "/admin/maintenance",
        json={
            "environment": first.env,
            "interconnect": "ix1",
            "channel": "ch1",
            "startTime": start.isoformat(),
            "endTime": (start + timedelta(hours=1)).isoformat(),
        },
    )
    before = _strip_now(await first.state())
    first.sim.close()

    second: Peer = await make_peer(state_path=path, provisioning_delay=10)
    assert _strip_now(await second.state()) == before
    # Indexes are rebuilt too: capacity, VLANs in use, the used key.
    assert (await second.create_connection("big", 100000)).status_code == 409
    assert (await second.create_connection("c3", 20000)).status_code == 200
    clash = second.l3(vlan=1101)  # the first feature's VLAN on ch1
    assert (await second.create_feature("c3", "f1", "ch1", clash)).status_code == 409
    assert (await second.confirm(issued["encodedKey"])).json() == {"keyValid": False}
    # Time-derived state continues from stored timestamps.
    second.clock.advance(10)
    got = (await second.client.get(second.conn(uuid))).json()
    assert got["verificationState"] == "VERIFICATION_STATE_VERIFIED"
    comments = (await second.client.get("/providers/gcp/issues/i1/comments")).json()
    assert [c["body"] for c in comments["comments"]] == ["c"]
    # New ids continue where the first process stopped.
    await second.client.post(
        "/providers/gcp/issues", params={"issueId": "i2"}, json={"title": "t", "body": "b"}
    )
    ids = [
        i["localIssueId"]
        for i in (await second.client.get("/providers/gcp/issues")).json()["issues"]
    ]
    assert ids == ["AWS-000001", "AWS-000002"]


async def test_state_file_is_private(make_peer: MakePeer, tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    await make_peer(state_path=str(path))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


async def test_refused_operation_writes_nothing(make_peer: MakePeer, tmp_path: Path) -> None:
    path = str(tmp_path / "aws.sqlite")
    first: Peer = await make_peer(state_path=path)
    assert (await first.create_connection("c1", 100000)).status_code == 200
    assert (await first.create_connection("c2", 1000)).status_code == 409
    first.sim.close()
    second: Peer = await make_peer(state_path=path)
    assert [c["connection"] for c in (await second.state())["connections"]] == ["c1"]
