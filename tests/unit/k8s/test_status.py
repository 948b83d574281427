"""Status computation (k8s.status): func(input) = output, no Kubernetes."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from interconnect_operator.k8s import pool_status, status
from interconnect_operator.protocol.conditions import Condition, ConditionStatus
from interconnect_operator.protocol.link_state import LinkStatus, Phase
from interconnect_operator.protocol.types import Side
from interconnect_operator.reconcile.pool import InterconnectReport, PoolReport

T0 = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)
T1 = T0 + dt.timedelta(minutes=5)
PROVIDERS = {Side.NEGOTIATOR: "gcp", Side.RESPONDER: "aws"}


def _link(phase: Phase, *, ready: bool, message: str = "") -> LinkStatus:
    ready_status = ConditionStatus.TRUE if ready else ConditionStatus.FALSE
    return LinkStatus(
        phase=phase,
        conditions=(Condition("Ready", ready_status, phase.value, message, 1),),
        interconnect="ix-1",
        migrating_to=None,
        channels=(),
        providers=(),
        ready=ready,
        message=message,
    )


def _body(link: LinkStatus, old: dict[str, object] | None, now: dt.datetime) -> dict[str, object]:
    return status.link_status_body(
        link,
        old_status=old,
        generation=3,
        providers=PROVIDERS,
        shared_uuid="uuid-1",
        environment="env",
        created_at=T0 - dt.timedelta(seconds=90),
        now=now,
    )


def test_link_status_first_ready_sets_ready_time_and_time_to_ready() -> None:
    body = _body(_link(Phase.READY, ready=True), None, T0)
    assert body["phase"] == "Ready"
    assert body["observedGeneration"] == 3
    assert body["readyTime"] == "2026-01-01T12:00:00Z"
    assert body["timeToReadySeconds"] == 90.0
    assert body["sharedConnectionUuid"] == "uuid-1"


def test_link_status_keeps_ready_time_and_transition_time_while_unchanged() -> None:
    first = _body(_link(Phase.READY, ready=True), None, T0)
    again = _body(_link(Phase.READY, ready=True), first, T1)
    assert again["readyTime"] == first["readyTime"]
    assert again["timeToReadySeconds"] == 90.0
    assert again["conditions"] == first["conditions"]
    assert not status.status_changed(first, again)


def test_link_status_transition_time_moves_on_a_flip_only() -> None:
    ready = _body(_link(Phase.READY, ready=True), None, T0)
    degraded = _body(_link(Phase.DEGRADED, ready=False, message="down"), ready, T1)
    (cond,) = degraded["conditions"]  # type: ignore[misc]
    assert cond["status"] == "False"
    assert cond["lastTransitionTime"] == "2026-01-01T12:05:00Z"
    assert degraded["readyTime"] == ready["readyTime"]  # ever ready stays recorded
    assert status.status_changed(ready, degraded)


def test_link_status_omits_empty_values_and_bounds_the_message() -> None:
    body = _body(_link(Phase.PENDING, ready=False, message="x" * 5000), None, T0)
    assert "readyTime" not in body
    assert "timeToReadySeconds" not in body
    assert len(str(body["message"])) == 1024


def test_simple_link_status_keeps_other_fields_and_sets_reason() -> None:
    old = {"phase": "Ready", "sharedConnectionUuid": "uuid-1", "interconnect": "ix-1"}
    body = status.simple_link_status(
        old_status=old,
        generation=2,
        phase="Pending",
        reason="SecretNotFound",
        message="link a/b: secret a/k not found",
        now=T0,
        stalled=False,
    )
    assert body["phase"] == "Pending"
    assert body["sharedConnectionUuid"] == "uuid-1"
    assert body["interconnect"] == "ix-1"
    by_type = {c["type"]: c for c in body["conditions"]}
    assert by_type["Ready"]["status"] == "False"
    assert by_type["Ready"]["reason"] == "SecretNotFound"
    assert by_type["Stalled"]["status"] == "False"
    assert by_type["Reconciling"]["status"] == "True"


def test_simple_link_status_stalled_for_user_errors() -> None:
    body = status.simple_link_status(
        old_status=None,
        generation=1,
        phase="Failed",
        reason="InvalidSpec",
        message="bad",
        now=T0,
        stalled=True,
    )
    by_type = {c["type"]: c["status"] for c in body["conditions"]}
    assert by_type["Stalled"] == "True"
    assert by_type["Reconciling"] == "False"


def test_status_changed_ignores_empty_values() -> None:
    assert not status.status_changed({"a": 1}, {"a": 1, "b": None, "c": [], "d": {}})
    assert status.status_changed(None, {"a": 1})
    assert status.status_changed({"a": 1}, {"a": 2})


def _report(*, reachable: bool, state: str = "INTERCONNECT_STATE_ACTIVE") -> PoolReport:
    return PoolReport(
        reachable={"gcp": reachable, "aws": True},
        errors={} if reachable else {"gcp": "connection refused"},
        interconnects=(
            InterconnectReport("ix-1", state, 10000, 1000, 9000, (("ch1", "ENABLED", None),)),
        ),
        supported_sizes_mbps=(1000, 10000),
        available_mbps=9000,
        disagreements=(),
        taken_at=T0,
    )


def _pool(report: PoolReport, old: dict[str, object] | None = None) -> dict[str, object]:
    return pool_status.pool_status_body(report, old_status=old, generation=4, link_count=2, now=T0)


def test_pool_status_ready_with_an_active_interconnect() -> None:
    body = _pool(_report(reachable=True))
    by_type = {c["type"]: c for c in body["conditions"]}  # type: ignore[attr-defined]
    assert by_type["Ready"]["status"] == "True"
    assert by_type["Ready"]["message"] == "9000 Mbps available"
    assert by_type["ProvidersReachable"]["status"] == "True"
    assert by_type["InSync"]["status"] == "True"
    assert body["linkCount"] == 2
    assert body["interconnects"] == [
        {
            "id": "ix-1",
            "state": "INTERCONNECT_STATE_ACTIVE",
            "maxMbps": 10000,
            "allocatedMbps": 1000,
            "availableMbps": 9000,
            "channels": [{"id": "ch1", "adminState": "ENABLED"}],
        }
    ]


def test_pool_status_not_ready_without_active_interconnect() -> None:
    body = _pool(_report(reachable=True, state="INTERCONNECT_STATE_PENDING"))
    ready = next(c for c in body["conditions"] if c["type"] == "Ready")  # type: ignore[attr-defined]
    assert ready["status"] == "False"
    assert ready["reason"] == "NoActiveInterconnect"


def test_pool_status_unreachable_keeps_last_known_capacity() -> None:
    before = _pool(_report(reachable=True))
    after = _pool(
        PoolReport(
            reachable={"gcp": False, "aws": True},
            errors={"gcp": "timeout"},
            interconnects=(),
            supported_sizes_mbps=(),
            available_mbps=0,
            disagreements=(),
            taken_at=T1,
        ),
        before,
    )
    by_type = {c["type"]: c for c in after["conditions"]}  # type: ignore[attr-defined]
    assert by_type["Ready"]["reason"] == "ProviderUnreachable"
    assert by_type["ProvidersReachable"]["message"] == "gcp: timeout"
    assert after["availableMbps"] == 9000
    assert after["interconnects"] == before["interconnects"]


def test_pool_status_error_keeps_the_rest_of_the_status() -> None:
    old = {"availableMbps": 9000, "linkCount": 3}
    body = pool_status.pool_status_error(
        old_status=old, generation=2, reason="SecretNotFound", message="no secret", now=T0
    )
    assert body["availableMbps"] == 9000
    assert body["observedGeneration"] == 2
    by_type = {c["type"]: c["status"] for c in body["conditions"]}
    # A missing Secret is retried: not stalled.
    assert by_type == {"Ready": "False", "ProvidersReachable": "Unknown", "Stalled": "False"}


def test_a_terminal_pool_error_is_stalled_until_a_refresh_clears_it() -> None:
    body = pool_status.pool_status_error(
        old_status={},
        generation=3,
        reason="CredentialsRequired",
        message="aws: needs credentials",
        now=T0,
        stalled=True,
    )
    stalled = next(c for c in body["conditions"] if c["type"] == "Stalled")
    assert (stalled["status"], stalled["reason"]) == ("True", "CredentialsRequired")
    assert stalled["observedGeneration"] == 3
    healthy = pool_status.pool_conditions(
        PoolReport(
            reachable={"gcp": True, "aws": True},
            errors={},
            interconnects=(),
            supported_sizes_mbps=(),
            available_mbps=0,
            disagreements=(),
            taken_at=T1,
        ),
        4,
    )
    cleared = next(c for c in healthy if c.type == "Stalled")
    assert (cleared.status.value, cleared.reason) == ("False", "NotStalled")


def test_parse_time_round_trip_and_garbage() -> None:
    assert status.parse_time("2026-01-01T12:00:00Z") == T0
    assert status.parse_time("yesterday") is None
    assert status.parse_time(None) is None


def test_now_is_utc_whole_seconds() -> None:
    now = status.now()
    assert now.tzinfo is dt.UTC
    assert now.microsecond == 0


def test_status_changed_compares_as_the_server_stores_nested_nulls() -> None:
    # A merge patch deletes a null field, and the server prunes nulls of
    # non-nullable fields inside lists: the stored copy never holds them.
    sent = {
        "routing": {"maxPrefixes": None, "limits": [{"provider": "aws", "max": 100}]},
        "providers": [{"provider": "aws", "sourceConnection": None, "state": "ACTIVE"}],
    }
    stored = {
        "routing": {"limits": [{"provider": "aws", "max": 100}]},
        "providers": [{"provider": "aws", "state": "ACTIVE"}],
    }
    assert not status.status_changed(stored, sent)
    # A field the server holds and the new status clears is still a change.
    assert status.status_changed(
        {"routing": {"maxPrefixes": 5}}, {"routing": {"maxPrefixes": None}}
    )
    assert status.status_changed(
        {"providers": [{"provider": "aws", "sourceConnection": "c1"}]},
        {"providers": [{"provider": "aws", "sourceConnection": None}]},
    )


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3) | st.sampled_from(["", "a", "b"]),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["a", "b", "c", "inputsDigest"]), inner, max_size=3)
    ),
    max_leaves=12,
)


@given(
    st.dictionaries(st.sampled_from(["a", "b", "inputsDigest", "phase"]), _JSON, max_size=4),
    st.dictionaries(st.sampled_from(["a", "b", "inputsDigest", "phase"]), _JSON, max_size=4),
)
def test_status_changed_in_place_equals_comparing_the_stored_copies(
    old: dict[str, object], new: dict[str, object]
) -> None:
    by_copies = status.comparable(old) != status.comparable(new)
    assert status._same_stored(old, new) is not by_copies
