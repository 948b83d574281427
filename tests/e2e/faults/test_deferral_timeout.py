"""A deferred link that was Ready stays up past the deferral timeout (P22-P23).

The simulators are passive peers: they accept a deferred connection but never
drive it, so a deferred link cannot come up on them. The link is therefore
brought up in an environment without deferral; then, with the operator
stopped, both providers restart (same state) in an environment that demands
deferral with a one-hour timeout, the link's recorded ``deferredSince`` is
moved thirty days back (a deferred link that has simply been running that
long), and a feature at the responder goes back to PENDING (P15: it must
finalise again). A fresh operator process takes over. P23 rolls back only a
deferral that never finalised: the link must be judged deferred, observed
with the PENDING feature, and keep both connections, with no DeleteConnection
at either provider.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable
from typing import Any

import pytest
import yaml

from tests.e2e.faults.rig import FaultRig, record_summary
from tests.support.stack import condition, wait_for

pytestmark = pytest.mark.e2e

ENV = "aws-gcp-us-east"
PROVISIONING_DELAY = 15.0
"""Seconds a feature stays PENDING: long enough for the operator to see it."""


def _inventory(deferred: bool) -> dict[str, Any]:
    environment: dict[str, Any] = {
        "id": ENV,
        "interconnects": [
            {"id": "ix1", "state": "ACTIVE", "maxBandwidthMbps": 10000, "channels": 4},
        ],
    }
    if deferred:
        environment |= {"deferConnectionProvisioning": True, "deferralTimeoutHours": 1}
    return {"environments": [environment]}


def _calls(rig: FaultRig, operation: str) -> int:
    total = 0
    for sim in rig.sims:
        by_op = sim.stats().get("byOperation") or {}
        total += int((by_op.get(operation) or {}).get("total", 0))
    return total


def _connections(rig: FaultRig, uuid: str) -> tuple[list[Any], list[Any]]:
    """(negotiator's, responder's) connections under ``uuid``."""
    neg, res = (
        [c for c in sim.state()["connections"] if c["connection"] == uuid]
        for sim in (rig.gcp, rig.aws)
    )
    return neg, res


def test_a_ready_deferred_link_outlives_the_deferral_timeout_p23(
    rig_factory: Callable[..., FaultRig],
) -> None:
    rig = rig_factory(
        "deferred", inventory=_inventory(deferred=False), provisioning_delay=PROVISIONING_DELAY
    )
    ns = rig.namespace("deferred-links")
    rig.apply_links(ns, ["old"])
    (ready,) = rig.wait_ready(ns, ["old"], timeout=180)
    uuid = ready["status"]["sharedConnectionUuid"]
    assert rig.operator is not None

    # Thirty days later, in an environment that demands deferral (P22).
    rig.operator.stop()
    (rig.log_dir / "deferred-inventory.yaml").write_text(yaml.safe_dump(_inventory(deferred=True)))
    for sim in rig.sims:
        sim.restart()
    month_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=30)
    since = month_ago.strftime("%Y-%m-%dT%H:%M:%SZ")
    rig.kube.run(
        "patch", "mcl", "old", "-n", ns, "--subresource=status", "--type=merge",
        "-p", json.dumps({"status": {"deferredSince": since}}),
    )  # fmt: skip
    # P15: a responder feature must finalise again.
    feature = next(f for f in rig.aws.state()["features"] if f["connection"] == uuid)
    name = (
        f"providers/gcp/environments/{ENV}/interconnects/{feature['interconnect']}"
        f"/connections/{uuid}/features/{feature['feature']}"
    )
    rig.aws.admin("/admin/lose-feature", {"name": name, "mode": "pending"})
    deletes_before = _calls(rig, "DeleteConnection")

    rig.operator.restart()
    reasons: set[str] = set()

    def pending_seen() -> Any:
        obj = rig.kube.try_get("mcl", "old", ns)
        for cond in (obj or {}).get("status", {}).get("conditions", []):
            reasons.add(str(cond.get("reason")))
        provisioned = condition(obj, "Provisioned")
        deferred = (obj or {}).get("status", {}).get("deferredSince") == since
        return obj if deferred and provisioned and provisioned["status"] == "False" else None

    # The new process judged the link deferred and saw the PENDING feature.
    wait_for(pending_seen, 60, "the PENDING feature observed on the deferred link")
    time.sleep(PROVISIONING_DELAY)  # several pool refreshes: a rollback would happen here
    after = rig.kube.try_get("mcl", "old", ns)
    for cond in after["status"].get("conditions", []):
        reasons.add(str(cond.get("reason")))

    assert "DeferralTimeout" not in reasons
    assert after["status"]["phase"] != "Failed"
    assert _calls(rig, "DeleteConnection") == deletes_before == 0
    neg, res = _connections(rig, uuid)
    assert len(neg) == 1
    assert len(res) == 1
    record_summary(
        "deferred link past the deferral timeout (P23)",
        deferred_since=since,
        phase=after["status"]["phase"],
        reasons=sorted(reasons),
        delete_connection_calls=_calls(rig, "DeleteConnection"),
    )
