"""A long-lived operator keeps seeing watch events after its watches end and restart.

Every watch the operator holds (the CapacityPools, the MulticloudLinks of
each namespace it was given, one per pool-referenced Secret) is ended by the
API server after its ``timeoutSeconds`` and started again by the operator.
A watch that is not started again, or started and never read, loses every
later event silently: a deleted pool's loop runs on, a new link is never
acted on, a rotated Secret is never used. This file runs one operator, with
its watch timeout shortened (``ICO_WATCH_SECONDS``) and more watches open
than the Kubernetes client's connection limit (42 Secret watches, one per
pool, plus the pool watch and four link watches), past several ends of every
watch, counted in the API server's audit log, and then checks that it still
sees:

- a new link in every watched namespace (it becomes Ready);
- a pool's deletion (the operator lets go of the pool's finalizer, so the
  pool is gone), also one deleted together with its last link, after which a
  new pool and its link must still come up (the pool watch waits while a
  deleted pool's loop stops: a loop that outlived its cancellation, k8s/waits.py,
  stopped every later pool event);
- a pool's Secret rotated to a token the provider refuses (only a Secret
  watch event makes the pool use it: its clients are rebuilt and the pool's
  ``ProvidersReachable`` turns False; the old token keeps working otherwise).
"""

from __future__ import annotations

import base64
import json
import secrets
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from tests.e2e.faults.rig import FaultRig, crd_kube, own_control_plane, start_rig
from tests.support.stack import (
    OperatorProcess,
    condition,
    is_ready,
    link_manifest,
    pool_manifests,
    start_operator,
    wait_for,
)

pytestmark = pytest.mark.e2e

WATCH_SECONDS = 6
"""The operator's watch timeout here: pool and link watches last 3-6 s, Secret watches 6 s."""
EXTRA_POOLS = 40
"""Pools besides the rig's, each with its own credentials Secret (a Secret watch each)."""
LINK_NAMESPACES = ("wl-a", "wl-b", "wl-c", "wl-d")
WATCH_ENDS = 3
"""Ends every watch kind must have seen before the checks."""
OPERATOR_USER = "system:serviceaccount:{namespace}:interconnect-operator"


@pytest.fixture(scope="module")
def lifetime_rig() -> Iterator[tuple[FaultRig, Path]]:
    with own_control_plane("watchlife", audit=True) as cp:
        kube = crd_kube(cp)
        rig = start_rig(kube, cp.log_dir / "stack", "watchlife", operator=False)
        try:
            assert cp.audit_log_path is not None
            yield rig, cp.audit_log_path
        finally:
            rig.stop()


def _extra_pool(index: int) -> str:
    return f"wl-pool-{index:02d}"


def _start(rig: FaultRig) -> OperatorProcess:
    args: list[str] = []
    for namespace in LINK_NAMESPACES:
        rig.namespace(namespace)
        args += ["--namespace", namespace]
    operator = start_operator(
        rig.identity,
        log_dir=rig.log_dir,
        operator_namespace=rig.operator_namespace,
        extra_args=args,
        env={"ICO_WATCH_SECONDS": str(WATCH_SECONDS)},
        name="watchlife-operator",
    )
    rig.operator = operator
    return operator


def _watch_ends(audit_log: Path, user: str) -> Counter[tuple[str, str]]:
    """Watches of ``user`` the server has ended so far, by (resource, namespace)."""
    ends: Counter[tuple[str, str]] = Counter()
    with audit_log.open() as fh:
        for line in fh:
            try:
                event = json.loads(line)
            except ValueError:
                continue  # a line still being written
            if (
                event.get("stage") == "ResponseComplete"
                and event.get("verb") == "watch"
                and (event.get("user") or {}).get("username") == user
            ):
                ref = event.get("objectRef") or {}
                ends[(str(ref.get("resource")), str(ref.get("namespace") or ""))] += 1
    return ends


def _reachable(rig: FaultRig, pool: str) -> str | None:
    cond = condition(rig.kube.try_get("cpool", pool), "ProvidersReachable")
    return str(cond.get("status")) if cond else None


def _wait_pools_ready(rig: FaultRig, pools: Sequence[str]) -> None:
    def all_ready() -> bool:
        items = rig.kube.get("cpool")["items"]
        return set(pools) <= {o["metadata"]["name"] for o in items if is_ready(o)}

    wait_for(all_ready, 90, f"{len(pools)} pools Ready", 1.0)


def test_events_are_seen_after_many_watches_ended_and_restarted(
    lifetime_rig: tuple[FaultRig, Path],
) -> None:
    rig, audit_log = lifetime_rig
    kube = rig.kube
    extra = [_extra_pool(i) for i in range(EXTRA_POOLS)]
    docs = []
    for name in extra:
        # A long refresh interval: these pools only hold Secret watches open.
        docs += pool_manifests(
            name,
            negotiator=rig.gcp,
            responder=rig.aws,
            operator_namespace=rig.operator_namespace,
            refresh_interval=600,
        )
    # The pool deleted with its last link refreshes every 600 s too: the last
    # link's release must end its loop's wait, not its next round.
    doomed = "wl-doomed-pool"
    docs += pool_manifests(
        doomed,
        negotiator=rig.gcp,
        responder=rig.aws,
        operator_namespace=rig.operator_namespace,
        refresh_interval=600,
    )
    kube.apply(docs)
    operator = _start(rig)
    user = OPERATOR_USER.format(namespace=rig.operator_namespace)

    # Before any watch ended: a link per namespace Ready, every pool Ready.
    for namespace in LINK_NAMESPACES:
        rig.apply_links(namespace, ["before"])
    for namespace in LINK_NAMESPACES:
        rig.wait_ready(namespace, ["before"], timeout=90)
    _wait_pools_ready(rig, [rig.pool, doomed, *extra])

    # Every watch ends and is started again, several times over.
    def ended_enough() -> Counter[tuple[str, str]] | None:
        ends = _watch_ends(audit_log, user)
        kinds = [("capacitypools", "")]
        kinds += [("multicloudlinks", ns) for ns in LINK_NAMESPACES]
        secret_ends = ends[("secrets", rig.operator_namespace)]
        if all(ends[k] >= WATCH_ENDS for k in kinds) and secret_ends >= WATCH_ENDS * (
            EXTRA_POOLS + 2
        ):
            return ends
        return None

    ends = wait_for(ended_enough, 90, f"every watch ended {WATCH_ENDS} times", 2.0)
    assert ends[("secrets", rig.operator_namespace)] >= WATCH_ENDS * (EXTRA_POOLS + 2)

    # New links in every namespace are seen and acted on.
    for namespace in LINK_NAMESPACES:
        rig.apply_links(namespace, ["after"])
    for namespace in LINK_NAMESPACES:
        rig.wait_ready(namespace, ["after"], timeout=60)

    # A pool's deletion is seen: the operator lets go of its finalizer.
    deleted = extra[0]
    kube.delete("cpool", deleted)
    wait_for(lambda: kube.try_get("cpool", deleted) is None, 60, f"pool {deleted} gone")

    # A pool deleted together with its last link (the link's release wakes the
    # pool's loop as the deletion stops it), then a pool created after it: the
    # pool watch still delivers, so the new pool's link comes up.
    late = "wl-late-pool"
    kube.apply([link_manifest("doomed", LINK_NAMESPACES[0], doomed)])
    rig.wait_ready(LINK_NAMESPACES[0], ["doomed"], timeout=60)
    kube.run("delete", "mcl", "doomed", "-n", LINK_NAMESPACES[0], "--wait=false")
    kube.delete("cpool", doomed)
    wait_for(lambda: kube.try_get("cpool", doomed) is None, 60, f"pool {doomed} gone")
    kube.apply(
        pool_manifests(
            late,
            negotiator=rig.gcp,
            responder=rig.aws,
            operator_namespace=rig.operator_namespace,
            refresh_interval=600,
        )
    )
    kube.apply([link_manifest("on-late", LINK_NAMESPACES[1], late)])
    rig.wait_ready(LINK_NAMESPACES[1], ["on-late"], timeout=60)

    # Rotated Secrets are seen: the pools use the refused token from then on.
    rotated = [extra[-1], extra[len(extra) // 2]]
    for pool in rotated:
        assert _reachable(rig, pool) == "True"
        refused = base64.b64encode(secrets.token_hex(16).encode()).decode()
        kube.run(
            "patch",
            "secret",
            f"{pool}-credentials",
            "-n",
            rig.operator_namespace,
            "--type=merge",
            "-p",
            json.dumps({"data": {"responder-token": refused}}),
        )
    for pool in rotated:
        wait_for(lambda p=pool: _reachable(rig, p) == "False", 60, f"pool {pool} on the new token")
    log = operator.log()
    for pool in rotated:
        assert f"secret {pool}-credentials changed" in log
    # No loop outlived its pool (it would write the status of a pool that is gone).
    assert "pool status write failed: 404" not in log
    assert operator.alive()
