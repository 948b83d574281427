#!/usr/bin/env python3
"""Generate the values table of the chart's README.md from values.yaml comments.

A key is documented by a comment block right above it that starts with
``# -- `` (further ``# `` lines continue the sentence), as helm-docs does. The
table lists every documented key with its type and default; a documented map
stands for all keys below it. A leaf that is neither documented nor under a
documented map is an error, so the table cannot silently miss a value.

The table replaces whatever is between the markers ``<!-- values:start -->``
and ``<!-- values:end -->`` in README.md.

Usage::

    python hack/chart-readme.py            # rewrite README.md
    python hack/chart-readme.py --check    # exit 1 when README.md is stale
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
CHART = REPO / "charts" / "interconnect-operator"
START = "<!-- values:start -->"
END = "<!-- values:end -->"

_KEY = re.compile(r"^(?P<indent>\s*)(?P<key>[A-Za-z0-9_.-]+):(\s|$)")
_DOC_START = re.compile(r"^\s*# -- ?(?P<text>.*)$")
_DOC_MORE = re.compile(r"^\s*#( (?P<text>.*))?$")


@dataclass(frozen=True)
class Entry:
    path: tuple[str, ...]
    description: str


def documented_keys(text: str) -> list[Entry]:
    """Keys with a ``# --`` comment, in file order, with their full dotted path."""
    entries: list[Entry] = []
    stack: list[tuple[int, str]] = []
    doc: list[str] | None = None
    for line in text.splitlines():
        if match := _DOC_START.match(line):
            doc = [match.group("text").strip()]
            continue
        if doc is not None and (match := _DOC_MORE.match(line)):
            doc.append((match.group("text") or "").strip())
            continue
        if not line.strip() or line.lstrip().startswith("#"):
            # A blank line or a plain comment ends a description block.
            doc = None
            continue
        match = _KEY.match(line)
        if match is None:
            continue  # list items and continuation lines of a value
        indent = len(match.group("indent"))
        while stack and stack[-1][0] >= indent:
            stack.pop()
        stack.append((indent, match.group("key")))
        if doc is not None:
            entries.append(Entry(tuple(k for _, k in stack), " ".join(p for p in doc if p)))
        doc = None
    return entries


def _leaves(value: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    if isinstance(value, dict) and value:
        out: list[tuple[str, ...]] = []
        for key, sub in value.items():
            out.extend(_leaves(sub, (*path, str(key))))
        return out
    return [path]


def _lookup(values: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        values = values[key]
    return values


def _type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    return "object"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render_table(values_text: str) -> str:
    values = yaml.safe_load(values_text) or {}
    entries = documented_keys(values_text)
    documented = {e.path for e in entries}
    undocumented = [
        ".".join(leaf)
        for leaf in _leaves(values)
        if not any(leaf[:n] in documented for n in range(1, len(leaf) + 1))
    ]
    if undocumented:
        raise SystemExit(
            "chart-readme: values without a '# --' comment: " + ", ".join(undocumented)
        )
    rows = ["| Key | Type | Default | Description |", "|-----|------|---------|-------------|"]
    for entry in entries:
        default = _lookup(values, entry.path)
        shown = json.dumps(default, separators=(",", ":"))
        rows.append(
            f"| `{'.'.join(entry.path)}` | {_type(default)} | `{_cell(shown)}` "
            f"| {_cell(entry.description)} |"
        )
    return "\n".join(rows) + "\n"


def render_readme(readme: str, table: str) -> str:
    try:
        head, rest = readme.split(START, 1)
        _, tail = rest.split(END, 1)
    except ValueError:
        raise SystemExit(f"chart-readme: README.md lacks the {START} / {END} markers") from None
    return f"{head}{START}\n{table}{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when README.md is stale")
    parser.add_argument("--chart", type=Path, default=CHART, help="chart directory")
    args = parser.parse_args(argv)
    readme_path = args.chart / "README.md"
    table = render_table((args.chart / "values.yaml").read_text(encoding="utf-8"))
    current = readme_path.read_text(encoding="utf-8")
    wanted = render_readme(current, table)
    if wanted == current:
        return 0
    if args.check:
        sys.stderr.write(f"chart-readme: {readme_path} is stale, run hack/chart-readme.py\n")
        return 1
    readme_path.write_text(wanted, encoding="utf-8")
    sys.stderr.write(f"chart-readme: wrote {readme_path}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
