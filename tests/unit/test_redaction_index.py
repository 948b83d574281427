"""Redaction's index: values sharing a prefix (every encoded activation key starts
with the same base64 of ``{"``) are found by one look-up per length, and masking
is exactly the literal, longest-first, scope-aware rule."""

from __future__ import annotations

import base64
import json

from hypothesis import given, settings
from hypothesis import strategies as st

from interconnect_operator import redaction
from interconnect_operator.redaction import _Registry

PREFIX = "eyJzaGFy"  # base64 of '{"shar': what encoded activation keys begin with


def _reference(held: dict[str, tuple[str | None, frozenset[str]]], text: str, context: str) -> str:
    """The rule, spelled out: at each position the longest held value that
    starts there and may mask ``context`` is masked, then the scan goes on after it."""
    scopes: dict[str, set[str | None]] = {}
    for scope, values in held.values():
        for value in values:
            scopes.setdefault(value, set()).add(scope)

    def applies(value: str) -> bool:
        found = scopes[value]
        if None in found or context == redaction.ANYWHERE:
            return True
        return context != redaction.OPERATOR_ONLY and context in found

    ordered = sorted(scopes, key=len, reverse=True)
    out: list[str] = []
    i = 0
    while i < len(text):
        hit = next((v for v in ordered if text.startswith(v, i) and applies(v)), None)
        if hit is None:
            out.append(text[i])
            i += 1
        else:
            out.append(redaction.MASK)
            i += len(hit)
    return "".join(out)


def _masked(registry: _Registry, text: str, context: str) -> str:
    spans = registry.spans(text, context)
    pieces: list[str] = []
    last = 0
    for start, stop in spans:
        pieces += [text[last:start], redaction.MASK]
        last = stop
    pieces.append(text[last:])
    return "".join(pieces)


_tails = st.text(alphabet="abAB01+/=", min_size=0, max_size=6)
_values = st.builds(lambda tail: PREFIX + tail, _tails) | st.text(
    alphabet="abAB01", min_size=8, max_size=12
)
_holds = st.lists(
    st.tuples(
        st.sampled_from(["o1", "o2", "o3", "o4"]),
        st.frozensets(_values, max_size=4),
        st.sampled_from([None, "team-a", "team-b"]),
    ),
    max_size=8,
)


@settings(max_examples=300, deadline=None)
@given(
    holds=_holds,
    released=st.sets(st.sampled_from(["o1", "o2", "o3", "o4"])),
    filler=st.lists(_values | st.text(alphabet="ab01 ", max_size=5), max_size=8),
    context=st.sampled_from([redaction.ANYWHERE, redaction.OPERATOR_ONLY, "team-a", "team-b"]),
)
def test_masking_follows_the_literal_longest_first_rule(
    holds: list[tuple[str, frozenset[str], str | None]],
    released: set[str],
    filler: list[str],
    context: str,
) -> None:
    registry = _Registry()
    held: dict[str, tuple[str | None, frozenset[str]]] = {}
    for owner, values, scope in holds:
        registry.hold(owner, values, scope)
        if values:
            held[owner] = (scope, values)
        else:
            held.pop(owner, None)
    for owner in released:
        registry.release(owner)
        held.pop(owner, None)
    text = "".join(filler)
    assert _masked(registry, text, context) == _reference(held, text, context)


def _key(n: int) -> str:
    body = json.dumps({"sharedConnectionUuid": f"{n:08d}-aaaa-bbbb-cccc-dddddddddddd"})
    return base64.b64encode(body.encode()).decode()


def test_keys_sharing_a_prefix_are_one_set_per_length() -> None:
    registry = _Registry()
    keys = [_key(n) for n in range(2000)]
    assert len({k[: redaction.MIN_SECRET_LENGTH] for k in keys}) == 1
    for n, key in enumerate(keys):
        registry.hold(f"key-{n}", frozenset({key}), None)
    prefix = keys[0][: redaction.MIN_SECRET_LENGTH]
    # One length, so a scan tries one slice per position where the prefix
    # occurs, not each of the 2,000 values.
    assert registry._lengths[prefix] == (len(keys[0]),)
    assert len(registry._by_prefix[prefix][len(keys[0])]) == 2000
    text = f"key {keys[1234]} and {keys[7]}."
    assert _masked(registry, text, "team-a") == f"key {redaction.MASK} and {redaction.MASK}."
    for n in range(2000):
        registry.release(f"key-{n}")
    assert prefix not in registry._by_prefix
    assert prefix not in registry._lengths
    assert registry.spans(text, redaction.ANYWHERE) == []
