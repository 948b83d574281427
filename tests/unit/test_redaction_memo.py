"""Redaction remembers its answers only while nothing held changes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from interconnect_operator import redaction

KEY = "ak-Zx91-secret-activation-key"
TEXT = f"confirming {KEY} for the link"


@pytest.fixture(autouse=True)
def _clean() -> Iterator[None]:
    redaction.release("memo-test")
    redaction.release("memo-test-2")
    yield
    redaction.release("memo-test")
    redaction.release("memo-test-2")


def test_a_value_held_after_an_answer_was_remembered_is_masked() -> None:
    redaction.hold("memo-test-2", ["unrelated-value-xyz"])
    assert redaction.redact(TEXT) == TEXT  # remembered: nothing to mask
    assert redaction.redact(TEXT) == TEXT
    redaction.hold("memo-test", [KEY])
    assert KEY not in redaction.redact(TEXT)
    assert redaction.redact(TEXT) == f"confirming {redaction.MASK} for the link"


def test_a_released_value_is_no_longer_masked() -> None:
    redaction.hold("memo-test", [KEY])
    assert KEY not in redaction.redact(TEXT)
    redaction.release("memo-test")
    redaction.hold("memo-test-2", ["unrelated-value-xyz"])
    assert redaction.redact(TEXT) == TEXT


def test_answers_depend_on_the_context() -> None:
    redaction.hold("memo-test", [KEY], scope="team-a")
    assert KEY not in redaction.redact(TEXT, "team-a")
    assert redaction.redact(TEXT, "team-b") == TEXT
    assert KEY not in redaction.redact(TEXT, "team-a")
