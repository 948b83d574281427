"""Facts the link reconciler reads back from a link's status after a restart."""

from __future__ import annotations

from interconnect_operator.k8s.status import existed_on
from interconnect_operator.protocol.types import Side


def _status(**extra: object) -> dict[str, object]:
    return {
        "interconnect": "ix1",
        "providers": [
            {"name": "gcp", "role": "Negotiator", "connection": "providers/aws/.../c1"},
            {"name": "aws", "role": "Responder", "connection": None},
        ],
        **extra,
    }


def test_existed_on_reads_the_connections_the_status_recorded() -> None:
    assert existed_on(_status()) == {Side.NEGOTIATOR: "ix1"}
    assert existed_on(None) == {}


def test_a_link_reported_as_deleted_by_a_provider_existed_on_both_sides() -> None:
    stalled = {"type": "Stalled", "status": "True", "reason": "DeletedByResponder"}
    assert existed_on(_status(conditions=[stalled])) == {
        Side.NEGOTIATOR: "ix1",
        Side.RESPONDER: "ix1",
    }
