"""The exposition: prometheus-client's encoders, with pre-rendered families passed through.

`RenderedFamily` is a gauge family whose sample lines are already written (the
per-link families, `linktext`). `exposition` walks the registry like
prometheus-client's ``generate_latest`` and hands every ordinary family, and
each rendered family's ``# HELP``/``# TYPE`` header, to the encoder that the
scrape negotiated (text 0.0.4 or OpenMetrics); a rendered family's lines are
copied as they are. The bytes equal the encoder's own output for the same
samples (unit tests compare them), so what Prometheus reads does not depend on
which path wrote it.

Encoders that would write the lines differently (metric or label names
escaped with ``dots`` or ``values``) and readers of ``registry.collect()``
(``get_sample_value``, ``name[]`` filtering) get the samples themselves:
`RenderedFamily.samples` builds them on first use.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from prometheus_client import exposition as text_format
from prometheus_client.metrics_core import Metric
from prometheus_client.openmetrics import exposition as openmetrics
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample

Encoder = Callable[[Any], bytes]

_EOF = b"# EOF\n"

#: Escapings under which the names of our families are written unchanged, so the
#: rendered lines hold (UNDERSCORES: the default; ALLOWUTF8: Prometheus 3).
_PLAIN_ESCAPINGS = frozenset({openmetrics.UNDERSCORES, openmetrics.ALLOWUTF8})


class RenderedFamily(Metric):
    """A gauge family carrying its sample lines as text; samples are built on demand.

    ``lines``: the family's sample lines, UTF-8, as prometheus-client would
    write them, in chunks (one per link) that the scrape concatenates.
    ``build``: returns the same samples as objects, for readers of
    ``samples`` (called at most once).
    """

    def __init__(
        self,
        name: str,
        documentation: str,
        lines: Sequence[bytes],
        build: Callable[[], list[Sample]],
    ) -> None:
        self._built: list[Sample] | None = None
        super().__init__(name, documentation, "gauge")
        self._built = None
        self.lines = lines
        self._build = build

    @property
    def samples(self) -> list[Sample]:
        if self._built is None:
            self._built = self._build()
        return self._built

    @samples.setter
    def samples(self, value: list[Sample]) -> None:
        self._built = value

    def header(self) -> Metric:
        """The family without samples: what the encoder writes as its header."""
        return Metric(self.name, self.documentation, self.type)


class _Families:
    """A collector of a fixed list of families (one encoder call)."""

    def __init__(self, families: list[Metric]) -> None:
        self._families = families

    def collect(self) -> Iterable[Metric]:
        return self._families


def line_format(encoder: Encoder) -> str | None:
    """``"text"`` or ``"openmetrics"`` when ``encoder`` writes a gauge sample line
    exactly as `RenderedFamily` holds it, else None."""
    func: object = encoder
    keywords: dict[str, Any] = {}
    if isinstance(encoder, functools.partial):
        if encoder.args:
            return None
        func, keywords = encoder.func, dict(encoder.keywords)
    if keywords.get("escaping", openmetrics.UNDERSCORES) not in _PLAIN_ESCAPINGS:
        return None
    if func is text_format.generate_latest:
        return "text"
    if func is openmetrics.generate_latest:
        return "openmetrics"
    return None


def exposition(registry: Collector, encoder: Encoder = text_format.generate_latest) -> bytes:
    """The scrape of ``registry`` written by ``encoder`` (one of prometheus-client's)."""
    kind = line_format(encoder)
    if kind is None:
        return encoder(registry)
    parts: list[bytes] = []
    pending: list[Metric] = []
    for family in registry.collect():
        if not isinstance(family, RenderedFamily):
            pending.append(family)
            continue
        pending.append(family.header())
        head = encoder(_Families(pending))
        if kind == "openmetrics":
            # One stream: only the last part keeps OpenMetrics' end marker.
            head = head.removesuffix(_EOF)
        parts.append(head)
        parts.extend(family.lines)
        pending = []
    parts.append(encoder(_Families(pending)))
    return b"".join(parts)
