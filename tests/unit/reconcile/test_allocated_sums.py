"""Each interconnect's allocated bandwidth is kept, not summed per placement (P7).

``SideView`` keeps one sum per interconnect, moved as connections are filed,
changed and dropped (``PoolRuntime.record_connection``, ``record_verified``,
``forget_connection``) and carried into the next refresh's snapshot by the
records that differ (``PoolSnapshot.carry``), including answers recorded while
a read is in flight (replayed onto the new snapshot) and a side that could not
be read (its view kept). After any sequence of these, every kept sum must equal
the sum from scratch by the rule: every connection's bandwidth, whatever its
state, except TEST and MONITORING connections (upstream PR #57). The sums are
read at random along the way, so a path that moves a connection without moving
a kept sum leaves a stale figure that the check sees.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from interconnect_operator.api import models
from interconnect_operator.protocol.types import Side
from interconnect_operator.reconcile.pool import PoolRuntime
from interconnect_operator.reconcile.records import ConnectionRecord, SideView
from interconnect_operator.reconcile.snapshot import PoolSnapshot
from tests.support.offline_pool import offline_runtime

IXS = ("ix1", "ix2", "ix3")
UUIDS = ("u0", "u1", "u2")
TYPES = (
    None,
    "CONNECTION_TYPE_PRODUCTION",
    "CONNECTION_TYPE_TEST",
    "CONNECTION_TYPE_MONITORING",
    "CONNECTION_TYPE_SOMETHING_NEW",
)
EXEMPT = {"CONNECTION_TYPE_TEST", "CONNECTION_TYPE_MONITORING"}


def _runtime() -> PoolRuntime:
    runtime = offline_runtime()
    sides = [SideView(provider="gcp"), SideView(provider="aws")]
    for view in sides:
        view.interconnects = {
            ix: models.Interconnect(name=f"x/{ix}", state="INTERCONNECT_STATE_ACTIVE") for ix in IXS
        }
    runtime.snapshot = PoolSnapshot("e", sides[0], sides[1], taken_at=datetime.now(UTC))
    return runtime


# The truth the check compares against: the rule, applied to the wire values
# each connection was last filed with (what the provider holds).
Truth = dict[tuple[Side, str, str], tuple[int | None, str | None]]


def _expected(truth: Truth, side: Side, ix: str) -> int:
    return sum(
        bandwidth or 0
        for (s, i, _), (bandwidth, kind) in truth.items()
        if s is side and i == ix and kind not in EXEMPT
    )


def _check(snapshot: PoolSnapshot, truth: Truth) -> None:
    for side in Side:
        for ix in IXS:
            assert snapshot.allocated_mbps(side, ix) == _expected(truth, side, ix), (side, ix)
        views = {v.id: v.allocated_mbps for v in snapshot.interconnect_views(side)}
        assert views == {ix: _expected(truth, side, ix) for ix in IXS}


def _reread(old: SideView, rewrite: bool) -> SideView:
    """The view the reader builds from pages listing what ``old`` holds: new
    dicts, a record equal to the previous one is that object; with
    ``rewrite``, every record is a new (equal) object, as after a restart."""
    new = SideView(provider=old.provider)
    new.interconnects = dict(old.interconnects)
    new.channels = dict(old.channels)
    for ix, by_id in old.connections.items():
        new.connections[ix] = {u: replace(r) if rewrite else r for u, r in by_id.items()}
    for ix, by_uuid in old.features.items():
        new.features[ix] = dict(by_uuid)
    return new


Op = tuple[Any, ...]
ops = st.one_of(
    st.tuples(
        st.just("file"),
        st.sampled_from(list(Side)),
        st.sampled_from(IXS),
        st.sampled_from(UUIDS),
        st.one_of(st.none(), st.sampled_from((50, 1000, 2000, 10000))),
        st.sampled_from(TYPES),
    ),
    st.tuples(
        st.just("drop"), st.sampled_from(list(Side)), st.sampled_from(IXS), st.sampled_from(UUIDS)
    ),
    st.tuples(st.just("verify"), st.sampled_from(IXS), st.sampled_from(UUIDS)),
    st.tuples(st.just("read"), st.sampled_from(list(Side)), st.sampled_from(IXS)),
    st.tuples(st.just("views"), st.sampled_from(list(Side))),
    st.tuples(st.just("begin_refresh")),
    st.tuples(
        st.just("end_refresh"),
        st.one_of(st.none(), st.sampled_from(list(Side))),
        st.booleans(),
        st.one_of(
            st.none(),
            st.tuples(
                st.sampled_from(list(Side)),
                st.sampled_from(IXS),
                st.sampled_from(UUIDS),
                st.sampled_from((100, 5000)),
                st.sampled_from(TYPES),
            ),
        ),
    ),
)


def _connection(uuid: str, bandwidth: int | None, kind: str | None) -> models.Connection:
    body: dict[str, Any] = {
        "name": f"providers/p/environments/e/interconnects/x/connections/{uuid}"
    }
    if bandwidth is not None:
        body["bandwidthMbps"] = bandwidth
    if kind is not None:
        body["connectionType"] = kind
    return models.Connection.model_validate(body)


@settings(max_examples=200, deadline=None)
@given(st.lists(ops, max_size=60))
def test_kept_sums_equal_the_sums_from_scratch(steps: list[Op]) -> None:
    runtime = _runtime()
    assert runtime.snapshot is not None
    truth: Truth = {}
    _check(runtime.snapshot, truth)  # every sum kept from the start
    listed: PoolSnapshot | None = None
    for step in steps:
        snapshot = runtime.snapshot
        assert snapshot is not None
        kind = step[0]
        if kind == "file":
            _, side, ix, uuid, bandwidth, ctype = step
            runtime.record_connection(side, ix, uuid, _connection(uuid, bandwidth, ctype))
            truth[(side, ix, uuid)] = (bandwidth, ctype)
        elif kind == "drop":
            _, side, ix, uuid = step
            runtime.forget_connection(side, ix, uuid)
            truth.pop((side, ix, uuid), None)
        elif kind == "verify":
            _, ix, uuid = step
            runtime.record_verified(ix, uuid)  # no bandwidth moves
        elif kind == "read":
            _, side, ix = step
            assert snapshot.allocated_mbps(side, ix) == _expected(truth, side, ix)
        elif kind == "views":
            snapshot.interconnect_views(step[1])
        elif kind == "begin_refresh" and listed is None:
            # The read lists what the providers hold now; answers recorded
            # from here on are journaled and replayed onto its snapshot.
            runtime._journal = []
            listed = PoolSnapshot(
                "e",
                _reread(snapshot.negotiator, False),
                _reread(snapshot.responder, False),
                taken_at=datetime.now(UTC),
            )
        elif kind == "end_refresh":
            _, failed, rewrite, moved = step
            if listed is None:
                runtime._journal = []
                listed = PoolSnapshot(
                    "e",
                    _reread(snapshot.negotiator, rewrite),
                    _reread(snapshot.responder, rewrite),
                    taken_at=datetime.now(UTC),
                )
            fresh = listed
            if moved is not None and not runtime._journal:
                # A provider changed a connection out of band (seen by this read;
                # only with nothing journaled, which would be replayed over it).
                side, ix, uuid, bandwidth, ctype = moved
                record = ConnectionRecord.of(_connection(uuid, bandwidth, ctype))
                fresh.side(side).connections.setdefault(ix, {})[uuid] = record
                if failed is not side:
                    truth[(side, ix, uuid)] = (bandwidth, ctype)
            if failed is Side.NEGOTIATOR:
                fresh.negotiator = snapshot.negotiator
            elif failed is Side.RESPONDER:
                fresh.responder = snapshot.responder
            fresh.carry(snapshot)
            runtime.snapshot = fresh
            journal = runtime._journal or []
            runtime._journal = None
            for change in journal:
                change(fresh)
            listed = None
        if listed is None:
            _check(runtime.snapshot, truth)
    assert runtime.snapshot is not None
    _check(runtime.snapshot, truth)


def test_a_filed_connection_moves_the_kept_sum_without_summing_again() -> None:
    """The sum is read once from the connections, then only moved (O(1) per change)."""
    view = SideView(provider="gcp")
    view.connections["ix1"] = {f"u{n}": ConnectionRecord(bandwidth_mbps=1000) for n in range(5)}
    assert view.allocated_mbps("ix1") == 5000
    # Behind the view's back: a kept sum does not see it ...
    view.connections["ix1"]["ghost"] = ConnectionRecord(bandwidth_mbps=7)
    assert view.allocated_mbps("ix1") == 5000
    # ... filed, changed and dropped through the view: it does.
    view.file_connection("ix1", "u9", ConnectionRecord(bandwidth_mbps=2000))
    view.file_connection("ix1", "u0", ConnectionRecord(bandwidth_mbps=50))
    view.file_connection(
        "ix1", "u1", ConnectionRecord(bandwidth_mbps=1000, counts_against_capacity=False)
    )
    view.drop_connection("ix1", "u2")
    view.drop_connection("ix1", "absent")
    assert view.allocated_mbps("ix1") == 5000 + 2000 - 950 - 1000 - 1000
    view.forget_allocated("ix1")
    assert view.allocated_mbps("ix1") == 5000 + 2000 - 950 - 1000 - 1000 + 7
