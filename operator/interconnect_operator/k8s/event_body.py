"""Events as ``events.k8s.io/v1`` objects: the body of a new Event and of a repeat.

Pure: the Kubernetes client (``kube.py``) posts and patches what this module
builds. The component is the ``reportingController``, the pod the
``reportingInstance`` (as the API conventions ask: who decided, and which
replica). A repeat of the same Event (same object, type, reason, action and
note) becomes a ``series`` on the first one, as client-go's recorder does,
instead of a new object: :class:`EventSeries` remembers the Events it created
(bounded) and says whether the next one is new or a repeat.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import socket
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: The API server rejects notes above 1 kB.
NOTE_LIMIT = 1024
#: reportingInstance and action are limited to 128 characters.
FIELD_LIMIT = 128
#: A repeat within this time joins the first Event's series (client-go: 6 minutes);
#: later it is a new Event (the old one may have expired, TTL 1 h by default).
SERIES_WINDOW = dt.timedelta(minutes=6)
#: Event identities remembered for series (oldest forgotten first).
MAX_REMEMBERED = 4096


def reporting_instance(environ: Mapping[str, str] | None = None) -> str:
    """The pod's name (``POD_NAME`` from the downward API, else the hostname: the pod's)."""
    env = os.environ if environ is None else environ
    name = env.get("POD_NAME") or socket.gethostname() or "interconnect-operator"
    return name[:FIELD_LIMIT]


def micro_time(when: dt.datetime) -> str:
    """A MicroTime, as ``eventTime`` and ``series.lastObservedTime`` need."""
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _action(reason: str) -> str:
    # A short verb-like phrase is expected; the reason (CamelCase) is the best we have.
    return (re.sub(r"[^A-Za-z0-9]", "", reason) or "Reconcile")[:FIELD_LIMIT]


def new_event(
    involved: Mapping[str, Any],
    *,
    type_: str,
    reason: str,
    message: str,
    controller: str,
    instance: str,
    now: dt.datetime,
) -> dict[str, Any]:
    """A new ``events.k8s.io/v1`` Event about ``involved`` (apiVersion, kind, metadata)."""
    meta = involved.get("metadata") or {}
    namespace = meta.get("namespace") or "default"
    regarding = {
        "apiVersion": involved.get("apiVersion"),
        "kind": involved.get("kind"),
        "name": meta.get("name"),
        "namespace": meta.get("namespace"),
        "uid": meta.get("uid"),
        "resourceVersion": meta.get("resourceVersion"),
    }
    stamp = int(now.timestamp() * 1_000_000_000)
    return {
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": {"name": f"{meta.get('name', 'object')}.{stamp:x}", "namespace": namespace},
        "eventTime": micro_time(now),
        "reportingController": controller,
        "reportingInstance": instance[:FIELD_LIMIT],
        "action": _action(reason),
        "reason": reason[:FIELD_LIMIT],
        "regarding": {k: v for k, v in regarding.items() if v is not None},
        "note": _note(message),
        "type": type_,
    }


def _note(message: str) -> str:
    encoded = message.encode()
    if len(encoded) <= NOTE_LIMIT:
        return message
    return encoded[:NOTE_LIMIT].decode(errors="ignore")


def series_patch(count: int, now: dt.datetime) -> dict[str, Any]:
    """The merge patch that records one more occurrence on an existing Event."""
    return {"series": {"count": count, "lastObservedTime": micro_time(now)}}


@dataclass
class _Seen:
    namespace: str
    name: str
    count: int
    last: dt.datetime


class EventSeries:
    """Which Events were created, to turn repeats into a series (bounded memory)."""

    def __init__(self, max_remembered: int = MAX_REMEMBERED) -> None:
        self._seen: OrderedDict[tuple[str, ...], _Seen] = OrderedDict()
        self._max = max_remembered

    @staticmethod
    def key(body: Mapping[str, Any]) -> tuple[str, ...]:
        regarding = body.get("regarding") or {}
        return (
            str(regarding.get("uid") or ""),
            str(regarding.get("kind") or ""),
            str(regarding.get("namespace") or ""),
            str(regarding.get("name") or ""),
            str(body.get("type")),
            str(body.get("reason")),
            str(body.get("action")),
            str(body.get("note")),
        )

    def repeat_of(self, body: Mapping[str, Any], now: dt.datetime) -> tuple[str, str, int] | None:
        """(namespace, name, next count) when ``body`` repeats a recent Event, else None."""
        seen = self._seen.get(self.key(body))
        if seen is None or now - seen.last > SERIES_WINDOW:
            return None
        return seen.namespace, seen.name, seen.count + 1

    def created(self, body: Mapping[str, Any], now: dt.datetime) -> None:
        meta = body["metadata"]
        key = self.key(body)
        self._seen[key] = _Seen(meta["namespace"], meta["name"], 1, now)
        self._seen.move_to_end(key)
        while len(self._seen) > self._max:
            self._seen.popitem(last=False)

    def repeated(self, body: Mapping[str, Any], count: int, now: dt.datetime) -> None:
        seen = self._seen.get(self.key(body))
        if seen is not None:
            seen.count, seen.last = count, now
            self._seen.move_to_end(self.key(body))

    def forget(self, body: Mapping[str, Any]) -> None:
        self._seen.pop(self.key(body), None)
