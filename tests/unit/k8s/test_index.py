"""The link index (k8s.index): which watch events are work, UUID claims, release memory."""

from __future__ import annotations

from typing import Any

from interconnect_operator.k8s.index import LinkIndex, shared_uuid
from interconnect_operator.k8s.settings import UUID_ANNOTATION

KEY = ("team-a", "link")


def _body(
    rv: str = "10", *, generation: int = 1, pool: str = "pool", **meta: Any
) -> dict[str, Any]:
    return {
        "metadata": {
            "namespace": "team-a",
            "name": "link",
            "uid": "u-1",
            "resourceVersion": rv,
            "generation": generation,
            **meta,
        },
        "spec": {"poolRef": {"name": pool}},
    }


def test_a_new_link_is_work_and_filed_under_its_pool() -> None:
    index = LinkIndex()
    assert index.observe(_body()) is True
    assert index.keys_of_pool("pool") == [KEY]
    assert index.count_of_pool("pool") == 1


def test_an_echo_of_our_own_status_write_is_not_work() -> None:
    index = LinkIndex()
    index.observe(_body("10"))
    echoed = {**_body("11"), "status": {"phase": "Ready"}}
    assert index.observe(echoed) is False
    assert index.links[KEY]["status"] == {"phase": "Ready"}


def test_a_spec_change_or_deletion_is_work() -> None:
    index = LinkIndex()
    index.observe(_body("10"))
    assert index.observe(_body("11", generation=2)) is True
    assert index.observe(_body("12", generation=2, deletionTimestamp="now")) is True


def test_an_older_event_never_replaces_a_newer_copy() -> None:
    index = LinkIndex()
    index.observe(_body("20", generation=2))
    assert index.observe(_body("15", generation=1)) is False
    assert index.links[KEY]["metadata"]["generation"] == 2


def test_moving_pools_refiles_the_link() -> None:
    index = LinkIndex()
    index.observe(_body("10", pool="one"))
    index.observe(_body("11", generation=2, pool="two"))
    assert index.keys_of_pool("one") == []
    assert index.keys_of_pool("two") == [KEY]


def test_the_first_link_to_record_a_uuid_keeps_it() -> None:
    index = LinkIndex()
    first = _body(annotations={UUID_ANNOTATION: "uuid-1"})
    index.observe(first)
    other = {
        "metadata": {"namespace": "team-b", "name": "copy", "resourceVersion": "5"},
        "spec": {"poolRef": {"name": "pool"}},
        "status": {"sharedConnectionUuid": "uuid-1"},
    }
    index.observe(other)
    assert index.key_for_uuid("uuid-1") == KEY
    assert index.uuid_owner("uuid-1", ("team-b", "copy")) == KEY
    assert index.uuid_owner("uuid-1", KEY) is None


def test_unclaim_only_by_the_holder() -> None:
    index = LinkIndex()
    index.claim("uuid-1", KEY)
    index.unclaim("uuid-1", ("team-b", "other"))
    assert index.key_for_uuid("uuid-1") == KEY
    index.unclaim("uuid-1", KEY)
    assert index.key_for_uuid("uuid-1") is None


def test_drop_forgets_the_link_and_its_uuid() -> None:
    index = LinkIndex()
    index.observe(_body(annotations={UUID_ANNOTATION: "uuid-1"}))
    assert index.drop(KEY) is not None
    assert index.links == {}
    assert index.keys_of_pool("pool") == []
    assert index.key_for_uuid("uuid-1") is None


def test_late_events_of_a_released_link_are_ignored() -> None:
    index = LinkIndex()
    body = _body()
    index.observe(body)
    index.release(body)
    index.drop(KEY)
    assert index.observe(_body("30", generation=3)) is False
    assert KEY not in index.links


def test_shared_uuid_prefers_the_annotation() -> None:
    body = {
        "metadata": {"annotations": {UUID_ANNOTATION: "from-annotation"}},
        "status": {"sharedConnectionUuid": "from-status"},
    }
    assert shared_uuid(body) == "from-annotation"
    assert shared_uuid({"status": {"sharedConnectionUuid": "s"}}) == "s"
    assert shared_uuid({"metadata": {}}) is None
