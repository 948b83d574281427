"""Steady state and restart write nothing: a Ready link's status stays byte-for-byte the same.

Three links come up; over two pool refreshes their stored status (and its
resourceVersion) does not change, and after an operator restart it does not
change either: the operator recomputes the same status and writes nothing.
The API server's audit log shows no status patch at all in those windows,
not even one the server turns into a no-op (a status the operator thinks
differs from what the server stored, e.g. because the server dropped a null).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.faults.rig import FaultRig, crd_kube, own_control_plane, start_rig

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def steady_rig() -> Iterator[tuple[FaultRig, Path | None]]:
    with own_control_plane("steady", audit=True) as cp:
        kube = crd_kube(cp)
        rig = start_rig(kube, cp.log_dir / "stack", "steady", refresh_interval=5)
        try:
            yield rig, cp.audit_log_path
        finally:
            rig.stop()


def _statuses(rig: FaultRig, namespace: str) -> dict[str, tuple[str, Any]]:
    return {
        o["metadata"]["name"]: (o["metadata"]["resourceVersion"], o.get("status"))
        for o in rig.links(namespace)
    }


def _changed(
    before: dict[str, tuple[str, Any]], after: dict[str, tuple[str, Any]]
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, (version, status) in before.items():
        new_version, new_status = after[name]
        if new_version != version:
            keys = sorted(
                k
                for k in set(status or {}) | set(new_status or {})
                if (status or {}).get(k) != (new_status or {}).get(k)
            )
            old_conditions = {c["type"]: c for c in (status or {}).get("conditions") or []}
            new_conditions = {c["type"]: c for c in (new_status or {}).get("conditions") or []}
            flipped = {
                kind: (old_conditions.get(kind), new_conditions.get(kind))
                for kind in set(old_conditions) | set(new_conditions)
                if old_conditions.get(kind) != new_conditions.get(kind)
            }
            out[name] = {"fields": keys, "conditions": flipped}
    return out


def _status_patches(audit_log: Path | None, namespace: str) -> int:
    """Status patches of links in ``namespace`` in the audit log so far (no-ops included)."""
    assert audit_log is not None
    count = 0
    with audit_log.open() as fh:
        for line in fh:
            event = json.loads(line)
            ref = event.get("objectRef") or {}
            if (
                event.get("stage") == "ResponseComplete"
                and event.get("verb") == "patch"
                and ref.get("resource") == "multicloudlinks"
                and ref.get("subresource") == "status"
                and ref.get("namespace") == namespace
            ):
                count += 1
    return count


def test_ready_links_are_not_rewritten_in_steady_state_or_after_a_restart(
    steady_rig: tuple[FaultRig, Path | None],
) -> None:
    rig, audit_log = steady_rig
    ns = rig.namespace("steady-links")
    names = ["s0", "s1", "s2"]
    rig.apply_links(ns, names)
    rig.wait_ready(ns, names, timeout=120)
    time.sleep(12)  # the bring-up's last refreshes settle
    before = _statuses(rig, ns)
    patches = _status_patches(audit_log, ns)
    time.sleep(40)  # several pool refreshes and one escalation round (30 s)
    steady = _statuses(rig, ns)
    assert _changed(before, steady) == {}, "status rewritten in steady state"
    assert _status_patches(audit_log, ns) == patches, "status patched in steady state"
    assert rig.operator is not None
    rig.operator.restart()
    time.sleep(40)
    after = _statuses(rig, ns)
    changed = _changed(steady, after)
    assert changed == {}, f"status rewritten after a restart: {json.dumps(changed)}"
    assert _status_patches(audit_log, ns) == patches, "status patched after a restart"
