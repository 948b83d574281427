"""ListFeatures pages from each feature's JSON, kept while its view cannot differ.

A feature's view (``views.feature_view``) depends on the caller (names carry
its prefix), the record's identity fields and channel, the featureConfig as
accepted, the admin API's failure, and its provisioning state now (P13). The
store never changes a record's config or identity in place: a change is a
new record, a new config or failure object, or a state that the view
computes afresh on every read. So one feature's JSON is kept with the
objects it was built from and used again while the record, its config and
its failure are the same objects and its state is the same; anything else
builds it again through the models, exactly as before.

At N=10,000 (40,000 features on each side), a pool refresh lists every page;
building 1,000 Feature models per page was 60 % of a simulator's samples in
a burst, after the page's serialization had been made one pass
(``runtime.wire_json``). A provider's serving cost is not the operator's:
what the operator asks for is counted separately (list calls per
interconnect per refresh), and nothing a client can see changes here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from interconnect_operator.api.models import to_wire_json
from interconnect_operator.simulator import views
from interconnect_operator.simulator.store import Store
from interconnect_operator.simulator.store.records import FeatureRecord

__all__ = ["FeatureJson"]

#: Entries held before the first prune (then twice what the last prune kept, plus this).
SLACK = 1024


@dataclass(frozen=True, slots=True)
class _Held:
    record: FeatureRecord
    config: object
    failure: object
    state: str
    body: bytes


class FeatureJson:
    """Each listed feature's JSON by (caller, record), with what it was built from."""

    def __init__(self) -> None:
        self._held: dict[tuple[str, int], _Held] = {}
        self._limit = SLACK

    @property
    def held(self) -> int:
        """Features whose JSON is kept (a property, not ``__len__``: an empty
        cache must not read as a missing one)."""
        return len(self._held)

    def page(
        self,
        caller: str,
        records: Sequence[FeatureRecord],
        token: str | None,
        store: Store,
        now: float,
    ) -> bytes:
        """One ListFeatures answer: the same document as ``ListFeaturesResponse``
        of these records' views and ``token`` serialized (``to_wire_json``)."""
        items = b",".join(self.feature(caller, record, store, now) for record in records)
        tail = b"" if token is None else b',"nextPageToken":' + json.dumps(token).encode()
        return b'{"features":[' + items + b"]" + tail + b"}"

    def feature(self, caller: str, record: FeatureRecord, store: Store, now: float) -> bytes:
        state = views.feature_state(record, store, now)
        key = (caller, id(record))
        held = self._held.get(key)
        if (
            held is not None
            and held.record is record
            and held.config is record.config
            and held.failure is record.failure
            and held.state == state
        ):
            return held.body
        body = to_wire_json(views.feature_view(caller, record, store, now))
        # The entry holds the record, so its id names no other record meanwhile.
        self._held[key] = _Held(record, record.config, record.failure, state, body)
        return body

    def prune(self, stored: Mapping[tuple[str, str, str], Mapping[str, FeatureRecord]]) -> None:
        """Drop the entries of records the store no longer holds (``stored``: its
        features by connection), once the entries have doubled since the last prune."""
        if len(self._held) <= self._limit:
            return
        alive = {id(record) for by_id in stored.values() for record in by_id.values()}
        self._held = {key: held for key, held in self._held.items() if key[1] in alive}
        self._limit = 2 * len(self._held) + SLACK
