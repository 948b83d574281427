"""P21 verdicts: only the operator's own unfinished leftovers, only after seven days."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from interconnect_operator.protocol.cleanup import Leftover, decide_cleanup
from interconnect_operator.protocol.types import Side

T0 = datetime(2027, 1, 1, tzinfo=UTC)
LATER = T0 + timedelta(days=7, seconds=1)
BOTH = frozenset(Side)
ONE = frozenset({Side.NEGOTIATOR})


def verdict(leftover: Leftover, **kwargs: object) -> tuple[bool, str]:
    values: dict[str, object] = {
        "record_uid": "uid-gone",
        "record_created": T0,
        "live_uids": {"uid-live"},
        "first_seen": T0,
        "now": LATER,
    }
    values.update(kwargs)
    result = decide_cleanup(leftover, **values)  # type: ignore[arg-type]
    return result.delete, result.reason


def test_p21_unfinished_or_one_sided_of_a_vanished_link_after_seven_days() -> None:
    assert verdict(Leftover("u", "ix1", BOTH, frozenset())) == (True, "P21NeverFinalised")
    assert verdict(Leftover("u", "ix1", BOTH, ONE)) == (True, "P21NeverFinalised")
    assert verdict(Leftover("u", "ix1", ONE, ONE)) == (True, "P21OneSided")


def test_p21_what_is_kept_and_why() -> None:
    unfinished = Leftover("u", "ix1", BOTH, frozenset())
    assert verdict(unfinished, record_uid=None) == (False, "NotCreatedByUs")
    assert verdict(unfinished, record_uid="uid-live") == (False, "LinkExists")
    assert verdict(Leftover("u", "ix1", BOTH, BOTH)) == (False, "Finalised")
    young = (False, "YoungerThanSevenDays")
    assert verdict(unfinished, record_created=None) == young
    assert verdict(unfinished, record_created=T0 + timedelta(days=1)) == young
    assert verdict(unfinished, first_seen=T0 + timedelta(days=1)) == young
