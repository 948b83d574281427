"""docs/protocol.md covers P1-P35 and every test it cites exists."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOC = (REPO / "docs" / "protocol.md").read_text(encoding="utf-8")


def test_every_rule_has_an_entry() -> None:
    entries = [int(n) for n in re.findall(r"^\*\*P(\d+)\.", DOC, flags=re.MULTILINE)]
    assert entries == list(range(1, 36))


def test_every_cited_test_exists() -> None:
    cited = re.findall(r"`((?:unit|integration|e2e)/[\w/]+\.py)::(\w+)`", DOC)
    assert len(cited) > 60
    missing = [
        f"{path}::{name}"
        for path, name in cited
        if not (REPO / "tests" / path).is_file()
        or not re.search(rf"^(async )?def {name}\(", (REPO / "tests" / path).read_text(), re.M)
    ]
    assert missing == []
