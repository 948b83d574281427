"""Facts the link reconciler reads back from a link's status after a restart."""

from __future__ import annotations

from interconnect_operator.k8s.status import existed_on
from interconnect_operator.protocol.types import Side


def _status(**extra: object) -> dict[str, object]:
    return {
        "interconnect": "ix1",
        "providers": [
            {
                "name": "gcp",
                "role": "Negotiator",
                "connection": "providers/aws/.../c1",
                "verificationState": "VERIFICATION_STATE_VERIFIED",
            },
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


def test_a_connection_seen_only_unsettled_is_not_counted_p19_p33() -> None:
    """During bring-up a status may name a connection whose create was lost and
    undone: its absence later is no deletion by the provider."""
    unsettled = _status(
        providers=[
            {
                "name": "aws",
                "role": "Responder",
                "connection": "providers/gcp/.../c1",
                "verificationState": "VERIFICATION_STATE_UNVERIFIED",
            },
            {"name": "gcp", "role": "Negotiator", "connection": "providers/aws/.../c1"},
        ]
    )
    assert existed_on(unsettled) == {}
    # A link that was Ready held both connections settled at some point.
    assert existed_on({**unsettled, "readyTime": "2026-12-01T10:00:00Z"}) == {
        Side.NEGOTIATOR: "ix1",
        Side.RESPONDER: "ix1",
    }
