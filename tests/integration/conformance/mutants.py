"""The mutant providers: one rule broken at a time, and the checks that must catch it.

Pure declarations (no I/O), read by three parties: the proxy
(``proxy.py``, which implements each mutant by rewriting requests or
responses in front of a real simulator), the test that runs the kit against
each mutant and asserts that exactly ``expected`` fails
(``test_mutants.py``), and ``hack/readme-reference.py``, which renders
:func:`readme_table` into the README's generated section.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

__all__ = ["MUTANTS", "Mutant", "readme_table"]


@dataclass(frozen=True)
class Mutant:
    """One broken rule: what the proxy does, and the checks that must FAIL."""

    name: str
    breaks: str
    behaviour: str
    expected: tuple[str, ...]


MUTANTS: dict[str, Mutant] = {
    m.name: m
    for m in (
        Mutant(
            "vlan-1000-accepted",
            "P9",
            "answers 200 to a CreateFeature with VLAN 1024 or lower",
            ("P9-vlan-floor",),
        ),
        Mutant(
            "second-l3-accepted",
            "P11",
            "answers 200 instead of 409 for a second L3 base feature on a channel",
            ("P11-second-l3",),
        ),
        Mutant(
            "shared-namespace",
            "Objects",
            "serves a third provider the caller's connections",
            ("OBJ-third-party",),
        ),
        Mutant(
            "no-next-page-token",
            "pagination",
            "drops nextPageToken from every list answer",
            ("PAGE-next-token",),
        ),
        Mutant(
            "bare-names",
            "Objects",
            "returns bare ids instead of full resource names",
            ("OBJ-names",),
        ),
        Mutant(
            "verifies-early",
            "P14",
            "reports VERIFIED once every channel's feature is FINAL, before the notification",
            ("P14-not-verified-before-notify",),
        ),
        Mutant(
            "non-manager-macsec",
            "P27",
            "lets a caller that is not the channel's MACsec manager create a key",
            ("P27-non-manager-create",),
        ),
        Mutant(
            "over-allocates",
            "P7",
            "accepts a connection larger than the room left on the interconnect",
            ("P7-over-capacity",),
        ),
        Mutant(
            "accepts-inactive-interconnect",
            "P7",
            "places connections on an interconnect that is not ACTIVE",
            ("P7-inactive-interconnect",),
        ),
        Mutant(
            "refuses-migration",
            "P18",
            "answers 409 to a connection id already placed on another interconnect",
            ("P18-migration",),
        ),
        Mutant(
            "updates-any-field",
            "P16",
            "answers 200 to an UpdateConnection of a field other than bandwidthMbps",
            ("P16-only-bandwidth",),
        ),
        Mutant(
            "no-authentication",
            "P34",
            "serves requests that carry no credentials",
            ("P34-unauthenticated",),
        ),
        Mutant(
            "any-prefix",
            "P34",
            "serves the caller under any provider prefix",
            ("P34-foreign-prefix",),
        ),
        Mutant(
            "keys-always-valid",
            "P3",
            "answers keyValid true to every ConfirmActivationKey",
            ("P3-key-mismatch", "P3-malformed-key", "P3-unknown-key", "P3-used-key"),
        ),
        Mutant(
            "created-201",
            "P32",
            "answers 201 instead of 200 to CreateConnection",
            ("P32-status-codes",),
        ),
        Mutant(
            "string-bandwidth",
            "schemas",
            "sends an interconnect's maxBandwidthMbps as a string",
            ("SCHEMA-GetInterconnect", "SCHEMA-ListInterconnects"),
        ),
    )
}


def readme_table(observed: Mapping[str, Iterable[str]] | None = None) -> str:
    """The README table: mutant -> rule broken -> checks that FAIL.

    ``observed`` (mutant -> failing check ids from real runs) replaces the
    declared expectations when given; the test asserts both are the same.
    """
    lines = [
        "| mutant | rule broken | what the proxy does | checks that FAIL |",
        "| --- | --- | --- | --- |",
    ]
    for mutant in MUTANTS.values():
        failing = sorted(observed[mutant.name]) if observed else sorted(mutant.expected)
        checks = ", ".join(f"`{check}`" for check in failing) or "(none)"
        lines.append(f"| `{mutant.name}` | {mutant.breaks} | {mutant.behaviour} | {checks} |")
    lines.append("| (none: the plain simulator) | - | forwards everything | (none) |")
    return "\n".join(lines) + "\n"
