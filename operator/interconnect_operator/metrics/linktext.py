"""Per-link exposition lines, rendered once per change of a link's health.

A scrape exports ~24 series per link (`LINK_FAMILIES`); formatting them through
prometheus-client's sample objects on every scrape cost ~0.25 ms of CPU per link
(a quarter of a second per scrape at 1,000 links, seconds at 10,000). Here each
link's lines are rendered once, kept with the health record they were rendered
from, and reused until `set_link` stores a different record (the record's
identity is the link's version: `OperatorMetrics.set_link` keeps the stored
record when an equal one arrives). A scrape joins the kept strings.

The lines are the ones prometheus-client writes for the same samples, in the
text format 0.0.4 and in OpenMetrics alike (a gauge sample is written the same
way in both when names need no escaping): label names sorted, values escaped
(backslash, newline, double quote), numbers by `floatToGoString`. The unit tests
compare the two byte for byte; `collector.reference_link_families` is the
straightforward renderer they compare against.

Label values pass `safe_label` (P31: a held secret is exported as `redacted`).
Its verdicts depend on the secrets held, so each link keeps the verdicts it was
rendered with; when the secret registry's generation moves, the verdicts are
checked again (once per distinct value and tenant) and only links whose labels
now read differently are rendered again.
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
    #: The distinct label values and the values exported for them.
    verdicts: tuple[tuple[str, str], ...]
    #: One string per family of `LINK_FAMILIES` (its lines for this link), UTF-8.
    lines: tuple[bytes, ...]


#: Label verdicts shared by the links rendered under one generation of the
#: secret registry: tenant -> value -> (exported value, escaped).
Memo = dict[str, dict[str, tuple[str, str]]]

#: Values kept in a `Memo` before it is dropped (it holds each link's name).
_MEMO_LIMIT = 100_000


class _Labels:
    """`safe_label` for one link's tenant, escaped; remembers this link's verdicts."""

    def __init__(self, tenant: str, memo: Memo) -> None:
        self.tenant = tenant
        self.shared = memo.setdefault(tenant, {})
        #: value -> exported value, for the values this link's lines carry.
        self.verdicts: dict[str, str] = {}
        #: Values added to the memo.
        self.added = 0

    def __call__(self, value: str) -> str:
        known = self.shared.get(value)
        if known is None:
            safe = safe_label(value, tenant=self.tenant)
            known = self.shared[value] = (safe, _escape(safe))
            self.added += 1
        self.verdicts[value] = known[0]
        return known[1]


# Long on purpose: one block per family, in the order of LINK_FAMILIES.
def render_link(
    link: LinkHealth, *, with_uuid: bool, memo: Memo | None = None
) -> tuple[tuple[str, ...], _Labels]:
    """The link's lines per family of `LINK_FAMILIES`, and its labels' verdicts.

    ``memo``: verdicts to share with other links rendered under the same
    generation of the secret registry.

    Label names are written in sorted order, as prometheus-client writes them:
    ``channel < environment < interconnect < name < namespace < phase < pool <
    provider < shared_uuid < state``.
    """
    # The tenant's own Secrets may mask its series' labels, nobody else's.
    label = _Labels(link.namespace, {} if memo is None else memo)
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
    return lines, label


class LinkText:
    """The per-link families' text, kept per link and joined when a link changed.

    The links are kept in key order (namespace, name) with one column of lines
    per family, so a change costs a render and a list insertion, and a scrape
    after changes joins the columns (C speed, no Python loop over the links).
    Thread-safe: scrapes may run concurrently (one thread per request); hold
    `lock` from taking the changes to reading `bodies`.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._with_uuid = False
        self._generation = redaction.generation()
        self._keys: list[LinkKey] = []
        self._entries: dict[LinkKey, _Rendered] = {}
        self._columns: tuple[list[bytes], ...] = tuple([] for _ in LINK_FAMILIES)
        self._bodies: tuple[bytes, ...] = tuple(b"" for _ in LINK_FAMILIES)
        self._joined = True
        # How many kept links were rendered with each (tenant, value, exported
        # value): what a change of the secrets held could make stale.
        self._verdicts: dict[tuple[str, str, str], int] = {}
        self._memo: Memo = {}
        self._memo_size = 0
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
        if generation != self._generation or self._memo_size > _MEMO_LIMIT:
            self._memo, self._memo_size = {}, 0
        if generation != self._generation:
            self._generation = generation
            for key in self._recheck():
                self._apply(key, self._entries[key].health, again=True)
        for key, health in changes.items():
            self._apply(key, health)

    def bodies(self) -> tuple[bytes, ...]:
        """Each family's sample lines, all links in key order, UTF-8."""
        if not self._joined:
            self._bodies = tuple(b"".join(column) for column in self._columns)
            self._joined = True
        return self._bodies

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
            self._count(key, entry, -1)
        else:
            rendered = self._render(health)
            self._count(key, rendered, +1)
            if entry is not None:
                self._count(key, entry, -1)
                for column, lines in zip(self._columns, rendered.lines, strict=True):
                    column[position] = lines
            else:
                self._keys.insert(position, key)
                for column, lines in zip(self._columns, rendered.lines, strict=True):
                    column.insert(position, lines)
            self._entries[key] = rendered
        self._joined = False

    def _render(self, link: LinkHealth) -> _Rendered:
        self.renders += 1
        lines, labels = render_link(link, with_uuid=self._with_uuid, memo=self._memo)
        self._memo_size += labels.added
        return _Rendered(
            health=link,
            verdicts=tuple(labels.verdicts.items()),
            lines=tuple(text.encode() for text in lines),
        )

    def _count(self, key: LinkKey, entry: _Rendered, step: int) -> None:
        tenant = key[0]
        verdicts = self._verdicts
        for value, safe in entry.verdicts:
            counted = (tenant, value, safe)
            refs = verdicts.get(counted, 0) + step
            if refs:
                verdicts[counted] = refs
            else:
                del verdicts[counted]

    def _recheck(self) -> list[LinkKey]:
        """Links whose label values read differently under the secrets held now.

        Each distinct (tenant, value) is asked once; links are looked at only
        when one of them now reads differently (a secret appeared in, or left,
        a label value).
        """
        changed = {
            (tenant, value, safe)
            for tenant, value, safe in self._verdicts
            if safe_label(value, tenant=tenant) != safe
        }
        if not changed:
            return []
        return [
            key
            for key, entry in self._entries.items()
            if any((key[0], value, safe) in changed for value, safe in entry.verdicts)
        ]
