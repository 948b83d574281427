"""Per-link exposition lines, rendered once per change of a link's health.

A scrape exports ~24 series per link (`LINK_FAMILIES`); formatting them through
prometheus-client's sample objects on every scrape cost ~0.25 ms of CPU per link
(a quarter of a second per scrape at 1,000 links, seconds at 10,000). Here each
link's lines are rendered once, kept with the health record they were rendered
from, and reused until `set_link` stores a different record (the record's
identity is the link's version: `OperatorMetrics.set_link` keeps the stored
record when an equal one arrives). A scrape copies the kept strings in key
order; no joined copy is kept between scrapes (it would double the memory).

The lines are the ones prometheus-client writes for the same samples, in the
text format 0.0.4 and in OpenMetrics alike (a gauge sample is written the same
way in both when names need no escaping): label names sorted, values escaped
(backslash, newline, double quote), numbers by `floatToGoString`. The unit tests
compare the two byte for byte; `collector.reference_link_families` is the
straightforward renderer they compare against.

Label values pass `safe_label` (P31: a held secret is exported as `redacted`).
Its verdicts depend on the secrets held, so one verdict per (tenant, value) is
kept for as long as a kept link carries that value, and every link carrying it
was rendered with it. When the secret registry's generation moves, each is
asked again and only links carrying a value that now reads differently are
rendered again.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from prometheus_client.utils import floatToGoString

from interconnect_operator import redaction
from interconnect_operator.metrics.health import LinkHealth
from interconnect_operator.metrics.labels import safe_label
from interconnect_operator.metrics.names import (
    LINK_BANDWIDTH,
    LINK_CHANNEL_UP,
    LINK_DEGRADED,
    LINK_FEATURES,
    LINK_INFO,
    LINK_PHASE,
    LINK_PHASES,
    LINK_READY,
    LINK_VERIFIED,
    MBPS_TO_BYTES_PER_SECOND,
)

#: The per-link families, in the order a scrape writes them.
LINK_FAMILIES: tuple[str, ...] = (
    LINK_READY,
    LINK_DEGRADED,
    LINK_INFO,
    LINK_PHASE,
    LINK_BANDWIDTH,
    LINK_VERIFIED,
    LINK_FEATURES,
    LINK_CHANNEL_UP,
)

#: prometheus-client's number format (Go's: ``1.0``, ``1.25e+08``), typed.
_number: Callable[[float], str] = floatToGoString
_ONE = _number(1.0)
_ZERO = _number(0.0)

LinkKey = tuple[str, str]


def phases_with(current: str) -> tuple[str, ...]:
    """The phases `interconnect_link_phase` exports for a link in ``current``."""
    return LINK_PHASES if current in LINK_PHASES else (*LINK_PHASES, current)


def _escape(value: str) -> str:
    # prometheus-client's escaping of a label value (both formats).
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


def _flag(value: bool) -> str:
    return _ONE if value else _ZERO


@dataclass(slots=True)
class _Rendered:
    """One link's lines per family, and what they were rendered from."""

    health: LinkHealth
    #: The distinct label values the lines carry.
    values: tuple[str, ...]
    #: One string per family of `LINK_FAMILIES` (its lines for this link), UTF-8.
    lines: tuple[bytes, ...]


@dataclass(slots=True)
class _Verdict:
    """What a label value of a tenant's links is exported as, and by how many links."""

    safe: str
    escaped: str
    links: int = 0


#: (tenant, label value) -> verdict.
Verdicts = dict[tuple[str, str], _Verdict]


class _Labels:
    """`safe_label` for one link's tenant, escaped, from the kept verdicts (added to)."""

    def __init__(self, tenant: str, verdicts: Verdicts) -> None:
        self.tenant = tenant
        self.kept = verdicts
        #: The distinct values this link's lines carry.
        self.values: dict[str, None] = {}

    def __call__(self, value: str) -> str:
        key = (self.tenant, value)
        verdict = self.kept.get(key)
        if verdict is None:
            safe = safe_label(value, tenant=self.tenant)
            verdict = self.kept[key] = _Verdict(safe, _escape(safe))
        self.values[value] = None
        return verdict.escaped


# Long on purpose: one block per family, in the order of LINK_FAMILIES.
def render_link(
    link: LinkHealth, *, with_uuid: bool, verdicts: Verdicts | None = None
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The link's lines per family of `LINK_FAMILIES`, and the label values they carry.

    ``verdicts``: the label verdicts to use, and to add new values' to.

    Label names are written in sorted order, as prometheus-client writes them:
    ``channel < environment < interconnect < name < namespace < phase < pool <
    provider < shared_uuid < state``.
    """
    # The tenant's own Secrets may mask its series' labels, nobody else's.
    label = _Labels(link.namespace, {} if verdicts is None else verdicts)
    base = f'name="{label(link.name)}",namespace="{label(link.namespace)}"'
    pool = f'pool="{label(link.pool)}"'
    common = f"{base},{pool}"
    ready = f"{LINK_READY}{{{common}}} {_flag(link.ready)}\n"
    degraded = f"{LINK_DEGRADED}{{{common}}} {_flag(link.degraded)}\n"
    uuid = f',shared_uuid="{label(link.shared_uuid)}"' if with_uuid else ""
    info = (
        f'{LINK_INFO}{{environment="{label(link.environment)}",'
        f'interconnect="{label(link.interconnect)}",{common}{uuid}}} {_ONE}\n'
    )
    phase = "".join(
        f'{LINK_PHASE}{{{base},phase="{label(name)}",{pool}}} {_flag(name == link.phase)}\n'
        for name in phases_with(link.phase)
    )
    bandwidth_value = _number(float(link.bandwidth_mbps * MBPS_TO_BYTES_PER_SECOND))
    bandwidth = f"{LINK_BANDWIDTH}{{{common}}} {bandwidth_value}\n"
    verified = "".join(
        f'{LINK_VERIFIED}{{{common},provider="{label(provider)}"}} {_flag(ok)}\n'
        for provider, ok in sorted(link.verified.items())
    )
    features = "".join(
        f'{LINK_FEATURES}{{{common},provider="{label(provider)}",state="{label(state)}"}} '
        f"{_number(float(count))}\n"
        for (provider, state), count in sorted(link.features.items())
    )
    channel_up = "".join(
        f'{LINK_CHANNEL_UP}{{channel="{label(channel)}",{common}}} {_flag(up)}\n'
        for channel, up in sorted(link.channels_up.items())
    )
    lines = (ready, degraded, info, phase, bandwidth, verified, features, channel_up)
    return lines, tuple(label.values)


class LinkText:
    """The per-link families' text, kept per link in key order.

    The links are kept in key order (namespace, name) with one column of lines
    per family, so a change costs a render and a list insertion, and a scrape
    copies the columns (no Python loop over the links).
    Thread-safe: scrapes may run concurrently (one thread per request); hold
    `lock` from taking the changes to reading `columns`.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._with_uuid = False
        self._generation = redaction.generation()
        self._keys: list[LinkKey] = []
        self._entries: dict[LinkKey, _Rendered] = {}
        self._columns: tuple[list[bytes], ...] = tuple([] for _ in LINK_FAMILIES)
        self._verdicts: Verdicts = {}
        #: Links rendered since creation (a scrape renders only changed links).
        self.renders = 0

    def healths(self) -> list[LinkHealth]:
        """The records the kept text was rendered from, in key order."""
        with self.lock:
            return [self._entries[key].health for key in self._keys]

    def update(
        self,
        changes: Mapping[LinkKey, LinkHealth | None],
        everything: Sequence[LinkHealth] | None = None,
        *,
        with_uuid: bool,
    ) -> None:
        """Apply ``changes`` (None: removed), or replace the links by ``everything``.

        ``with_uuid``: whether ``interconnect_link_info`` carries ``shared_uuid``.
        """
        if everything is not None:
            changes = self._differences(everything)
        if with_uuid != self._with_uuid:
            # Every link's info line changes: render them all again.
            self._with_uuid = with_uuid
            kept = {key: entry.health for key, entry in self._entries.items()}
            self._keys, self._entries, self._verdicts = [], {}, {}
            self._columns = tuple([] for _ in LINK_FAMILIES)
            changes = {**kept, **changes}
        generation = redaction.generation()
        if generation != self._generation:
            self._generation = generation
            for key in self._recheck():
                self._apply(key, self._entries[key].health, again=True)
        for key, health in changes.items():
            self._apply(key, health)

    def columns(self) -> tuple[list[bytes], ...]:
        """Each family's lines, one item per link in key order (copies), UTF-8."""
        return tuple(list(column) for column in self._columns)

    def _differences(self, links: Sequence[LinkHealth]) -> dict[LinkKey, LinkHealth | None]:
        changes: dict[LinkKey, LinkHealth | None] = dict.fromkeys(self._entries)
        for link in links:
            key = (link.namespace, link.name)
            entry = self._entries.get(key)
            if entry is not None and entry.health is link:
                del changes[key]
            else:
                changes[key] = link
        return changes

    def _apply(self, key: LinkKey, health: LinkHealth | None, *, again: bool = False) -> None:
        """Insert, replace (``again``: also the same record) or remove a link's lines."""
        entry = self._entries.get(key)
        if entry is not None and entry.health is health and not again:
            return
        position = bisect.bisect_left(self._keys, key)
        if health is None:
            if entry is None:
                return
            del self._keys[position]
            for column in self._columns:
                del column[position]
            del self._entries[key]
            self._release(key[0], entry.values)
            return
        rendered = self._render(health)
        if entry is not None:
            self._release(key[0], entry.values)
            for column, lines in zip(self._columns, rendered.lines, strict=True):
                column[position] = lines
        else:
            self._keys.insert(position, key)
            for column, lines in zip(self._columns, rendered.lines, strict=True):
                column.insert(position, lines)
        self._entries[key] = rendered

    def _render(self, link: LinkHealth) -> _Rendered:
        self.renders += 1
        lines, values = render_link(link, with_uuid=self._with_uuid, verdicts=self._verdicts)
        tenant = link.namespace
        for value in values:
            self._verdicts[(tenant, value)].links += 1
        return _Rendered(health=link, values=values, lines=tuple(text.encode() for text in lines))

    def _release(self, tenant: str, values: tuple[str, ...]) -> None:
        for value in values:
            key = (tenant, value)
            verdict = self._verdicts[key]
            verdict.links -= 1
            if not verdict.links:
                del self._verdicts[key]

    def _recheck(self) -> list[LinkKey]:
        """Links whose label values read differently under the secrets held now.

        Each kept (tenant, value) long enough to hold a secret is asked once (a
        restart moves the generation at every link: at 10,000 links that is
        ~10,000 questions per scrape); links are looked at only when one of them
        now reads differently (a secret appeared in, or left, a label value).
        The new verdicts are kept before any link is rendered.
        """
        changed: set[tuple[str, str]] = set()
        for (tenant, value), verdict in self._verdicts.items():
            if len(value) < redaction.MIN_SECRET_LENGTH:
                continue  # no held value is this short (phases, providers, states)
            safe = safe_label(value, tenant=tenant)
            if safe != verdict.safe:
                verdict.safe, verdict.escaped = safe, _escape(safe)
                changed.add((tenant, value))
        if not changed:
            return []
        return [
            key
            for key, entry in self._entries.items()
            if any((key[0], value) in changed for value in entry.values)
        ]
