"""event_body: events.k8s.io/v1 bodies (who reported, from which pod) and repeats as a series."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from interconnect_operator.k8s.event_body import (
    NOTE_LIMIT,
    SERIES_WINDOW,
    EventSeries,
    micro_time,
    new_event,
    reporting_instance,
    series_patch,
)

NOW = dt.datetime(2026, 12, 1, 10, 0, 0, 123456, tzinfo=dt.UTC)
LINK: dict[str, Any] = {
    "apiVersion": "interconnect.io/v1alpha1",
    "kind": "MulticloudLink",
    "metadata": {"name": "web", "namespace": "team-a", "uid": "u-1", "resourceVersion": "7"},
}


def _event(
    reason: str = "NoCapacity",
    message: str = "P7: no room",
    *,
    involved: Mapping[str, Any] = LINK,
    now: dt.datetime = NOW,
) -> dict[str, Any]:
    return new_event(
        involved,
        type_="Warning",
        reason=reason,
        message=message,
        controller="interconnect-operator",
        instance="interconnect-operator-7d9f-abcde",
        now=now,
    )


def test_a_new_event_names_the_controller_and_the_pod() -> None:
    body = _event()
    assert body["apiVersion"] == "events.k8s.io/v1"
    assert body["reportingController"] == "interconnect-operator"
    assert body["reportingInstance"] == "interconnect-operator-7d9f-abcde"
    assert body["eventTime"] == "2026-12-01T10:00:00.123456Z"
    assert body["regarding"] == {
        "apiVersion": "interconnect.io/v1alpha1",
        "kind": "MulticloudLink",
        "name": "web",
        "namespace": "team-a",
        "uid": "u-1",
        "resourceVersion": "7",
    }
    assert (body["type"], body["reason"], body["action"], body["note"]) == (
        "Warning",
        "NoCapacity",
        "NoCapacity",
        "P7: no room",
    )
    assert body["metadata"]["namespace"] == "team-a"
    assert body["metadata"]["name"].startswith("web.")
    # None of the deprecated core/v1 fields: the API server would refuse them.
    assert not {"source", "count", "firstTimestamp", "involvedObject"} & set(body)


def test_cluster_scoped_objects_report_into_default_and_notes_are_bounded() -> None:
    pool = {
        "apiVersion": "interconnect.io/v1alpha1",
        "kind": "CapacityPool",
        "metadata": {"name": "p"},
    }
    body = _event(involved=pool, message="é" * NOTE_LIMIT)
    assert body["metadata"]["namespace"] == "default"
    assert "namespace" not in body["regarding"]
    assert len(body["note"].encode()) <= NOTE_LIMIT
    assert body["note"] == "é" * (NOTE_LIMIT // 2)  # never a cut character


def test_the_reporting_instance_is_the_pod() -> None:
    assert reporting_instance({"POD_NAME": "ico-5c9-x2"}) == "ico-5c9-x2"
    assert reporting_instance({"POD_NAME": "p" * 300}) == "p" * 128
    assert reporting_instance({})  # the hostname: a pod's is its name


def test_a_repeat_within_the_window_joins_the_series() -> None:
    series = EventSeries()
    first = _event()
    assert series.repeat_of(first, NOW) is None
    series.created(first, NOW)
    later = NOW + dt.timedelta(minutes=1)
    again = _event(now=later)
    namespace, name, count = series.repeat_of(again, later) or ("", "", 0)
    assert (namespace, name, count) == ("team-a", first["metadata"]["name"], 2)
    series.repeated(again, count, later)
    assert series.repeat_of(again, later) == ("team-a", first["metadata"]["name"], 3)
    assert series_patch(2, later) == {"series": {"count": 2, "lastObservedTime": micro_time(later)}}


def test_other_reasons_notes_and_old_events_start_afresh() -> None:
    series = EventSeries()
    series.created(_event(), NOW)
    assert series.repeat_of(_event(reason="PolicyDenied"), NOW) is None
    assert series.repeat_of(_event(message="P7: still no room"), NOW) is None
    stale = NOW + SERIES_WINDOW + dt.timedelta(seconds=1)
    assert series.repeat_of(_event(now=stale), stale) is None
    series.forget(_event())
    assert series.repeat_of(_event(), NOW) is None


def test_memory_is_bounded() -> None:
    series = EventSeries(max_remembered=2)
    bodies = [_event(reason=f"Reason{i}") for i in range(3)]
    for body in bodies:
        series.created(body, NOW)
    assert series.repeat_of(bodies[0], NOW) is None
    assert series.repeat_of(bodies[2], NOW) is not None
