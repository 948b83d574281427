"""Ready links confirmed without a full reconcile while nothing they depend on changed.

A Ready link is looked at again every ``POLL_SLOW`` (a recheck) and after a
restart. A full reconcile of it (gate, Secrets, decision, status built,
redacted and compared) finds the same Ready from the same inputs; this module
says what those inputs are, so that an unchanged link is confirmed from a
comparison instead. The inputs of a Ready link, all of which must equal those
of its last full reconcile:

- the link object: uid and resourceVersion (any write by anyone: spec,
  annotations such as pause and the shared UUID, finalizers, deletion,
  labels, status);
- its pool: name, spec generation, deletion, and the build of its provider
  clients (a rotated credential rebuilds them);
- the provider data its decision read, taken with that decision
  (``reconcile.views.ready_inputs``: both sides' connection and feature
  records of the link, the channels of its interconnect, the deferral
  settings), compared with the latest snapshot;
- its Secrets (activation key, BGP MD5): read again at each confirmation,
  as a full reconcile reads them, and compared by digest (a link without
  Secrets reads nothing);
- the pool's namespace policy for the link's namespace and the shared
  UUID's ownership record (both answered from memory or a short cache).

Any difference, a pool whose first refresh is not done, or a snapshot with
an unreachable side: the full path. Safety net: a full reconcile at least
every 30 to 60 minutes per link (``FULL_LOOK_SECONDS``, drawn at each full
reconcile so that the links of one burst come due spread out).

The basis keeps a hash of that provider data, not the records: a refresh
that replaces a record would otherwise keep the old one alive in every
basis until the link's next full look (~5.9 KiB per link once every record
was replaced, measured with 4 features per side). Equal data hash equal
(the records are frozen dataclasses; an activation key hashes by value);
``provider_digest`` says what a collision would cost.

After a restart nothing is in memory. A Ready status carries
``inputsDigest``: a keyed MAC (``digest_key``: a per-installation key in
the operator's namespace that tenants cannot read) over the link's uid,
generation, annotations and finalizer, its pool's name and generation, the
provider data its Ready was decided from (never a Secret: records keep keys
masked) and the status itself as written (every field but the digest), led
by the key's id (``<key id>.<mac>``). A link whose stored status is Ready
for its current generation, and whose digest verifies against the first
snapshot under the current key, is confirmed (its metrics are set from the
stored status; no write, no call) and remembered as above, its Secrets
unread: its first recheck reads them and takes the full path once. A
status someone else wrote (a tenant granted ``*/status``), a digest of
another key, an unsigned one, or no key at all: the full path, never trust.

The MAC's input is one canonical text (``_text``): the provider records in
a short form of their own (a tag and the ``repr`` of each field, a held key
as present only), channel records (shared by the links of an interconnect)
written once and kept in a small bounded table, then the
status's JSON text, built once. It replaced ``repr`` of the same values
(``DIGEST_VERSION`` 2; ``verified`` was ~37 % of a 10,000-link restart's
samples): a digest stored by an earlier version does not verify, as after
any upgrade (the operator's version is covered), and that link takes the
full path once (the queue, a decision). Nothing verifies that would not
have before: every input is still covered, and two different inputs never
share a text.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import hmac
import ipaddress
import json
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from pydantic import SecretStr

from interconnect_operator import __version__
from interconnect_operator.k8s.settings import FINALIZER
from interconnect_operator.k8s.status import NOT_COMPARED
from interconnect_operator.protocol.types import FeatureFailure
from interconnect_operator.reconcile.records import (
    BgpRecord,
    ChannelInfo,
    ConnectionRecord,
    FeatureRecord,
)

#: Longest a Ready link goes without a full reconcile (drawn uniformly per link).
FULL_LOOK_SECONDS = (1800.0, 3600.0)
#: Changes whenever what the digest covers, its input's form or how the status is
#: built changes.
DIGEST_VERSION = "3"


@dataclass(frozen=True, slots=True)
class ReadyBasis:
    """What a link's last full reconcile found it Ready from (see the module docstring)."""

    link: tuple[str, str]
    pool: tuple[object, ...]
    provider: int
    """``provider_digest`` of the provider data the decision read (not the records)."""
    secrets: tuple[tuple[str, str | None], ...]
    recheck: float
    full_due: float
    """Monotonic time after which the next look is a full reconcile."""


def link_part(body: Mapping[str, Any]) -> tuple[str, str]:
    """The link object's identity and version: any write to it changes this."""
    meta = body.get("metadata") or {}
    return str(meta.get("uid") or ""), str(meta.get("resourceVersion") or "")


def pool_part(
    name: str, body: Mapping[str, Any], generation: int, builds: int
) -> tuple[object, ...]:
    """The pool's spec generation, deletion and the build of its clients."""
    deleting = bool((body.get("metadata") or {}).get("deletionTimestamp"))
    return name, generation, builds, deleting


def full_due(rng: random.Random, now: float | None = None) -> float:
    """When the safety net's full reconcile comes due for a link just reconciled in full."""
    start = time.monotonic() if now is None else now
    return start + rng.uniform(*FULL_LOOK_SECONDS)


def provider_digest(provider: tuple[object, ...]) -> int:
    """A value equal for two provider data whenever they compare equal (module docstring).

    Python's hash of the immutable records: equal records hash equal (an
    activation key by its value), it costs a few microseconds where ``repr``
    costs half a millisecond, and it is salted per process (string hashes are
    randomised), so no one outside can aim at a collision. Different data with
    the same 64-bit hash (chance ~2**-64 per comparison) would be confirmed
    until the link's next full look (``FULL_LOOK_SECONDS``).
    """
    return hash(provider)


@functools.lru_cache(maxsize=8)
def key_id(key: bytes) -> str:
    """A short public name of a signing key (which key signed a digest): reveals nothing of it."""
    return hashlib.blake2b(key, digest_size=4, person=b"ico-key-id").hexdigest()


def digest_key_id(digest: object) -> str | None:
    """The key id a stored digest names (None: not a signed digest)."""
    if not isinstance(digest, str):
        return None
    kid, dot, _ = digest.partition(".")
    return kid if dot else None


def inputs_digest(
    key: bytes,
    body: Mapping[str, Any],
    pool: str,
    pool_generation: int,
    provider: tuple[object, ...],
    *,
    status: Mapping[str, Any],
) -> str:
    """The digest a Ready status carries (``status.inputsDigest``), stable across processes.

    A MAC under the installation's key (``digest_key``) over what a restarted
    operator can check without a read of its own: the link's uid, generation,
    annotations and finalizer, its pool's name and generation, the provider
    data (records, channels, deferral) its Ready was decided from, and the
    status as written (``status_facts``), in one canonical text
    (``_text``: deterministic; a ``SecretStr`` shows as present only).
    """
    inputs = _inputs(key, body, pool, pool_generation, provider)
    return _sealed(key, inputs, status_facts(status))


def _inputs(
    key: bytes,
    body: Mapping[str, Any],
    pool: str,
    pool_generation: int,
    provider: tuple[object, ...],
) -> hashlib.blake2b:
    """The MAC's state over everything but the status (copied for each status text)."""
    meta = body.get("metadata") or {}
    annotations = tuple(sorted((meta.get("annotations") or {}).items()))
    text = _text(
        (
            DIGEST_VERSION,
            __version__,
            str(meta.get("uid") or ""),
            int(meta.get("generation") or 1),
            annotations,
            FINALIZER in (meta.get("finalizers") or []),
            pool,
            pool_generation,
            provider,
        )
    )
    mac = hashlib.blake2b(digest_size=16, key=key)
    mac.update(text.encode())
    mac.update(b"\0")  # the text holds no NUL: the status's text follows
    return mac


def _sealed(key: bytes, inputs: hashlib.blake2b, facts: str) -> str:
    """``<key id>.<mac>`` of ``inputs`` (``_inputs``, left as it is) and the status text."""
    mac = inputs.copy()
    mac.update(facts.encode())
    return f"{key_id(key)}.{mac.hexdigest()}"


def _text(value: object) -> str:
    """The canonical text of ``value`` (``_inputs``): one per value, never two values run
    together.

    Strings, numbers, booleans and None are their ``repr`` (quoted, escaped);
    a tuple or list ``(`` items ``)``; the provider records their own short
    form (``_RECORDS``: a tag letter and the ``repr`` of each field in order, a
    held key as ``K`` (present) only, a subnet ``N<version>:<address>/<length>``,
    the address as a number); any other
    dataclass ``D`` its type name and fields; anything else ``U`` its type name
    and ``repr``, quoted. The text is decodable, so different values never
    share one; it holds no NUL (``repr`` escapes it), which ends it in the MAC.
    """
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None or kind is float:
        return repr(value)
    if kind is tuple or kind is list:
        items = cast(tuple[object, ...], value)
        # Strings and numbers inline: most items of the provider data are.
        return "(" + ",".join([repr(i) if type(i) in _PLAIN else _text(i) for i in items]) + ")"
    record = _RECORDS.get(kind)
    if record is not None:
        return record(value)
    if isinstance(value, SecretStr):
        return "K"  # a key is present; its value never is part of it
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        names = [f.name for f in dataclasses.fields(value)]
        fields = ",".join([_text(getattr(value, name)) for name in names])
        return f"D{kind.__name__!r}({fields})"
    return f"U{kind.__name__!r}{repr(value)!r}"


def _subnet(value: object) -> str:
    """A subnet of a feature record: its version, address (as a number) and prefix length."""
    if value is None:
        return "None"
    if isinstance(value, _NETWORKS):
        return f"N{value.version}:{int(value.network_address)}/{value.prefixlen}"
    return _text(value)


def _connection(r: ConnectionRecord) -> str:
    key = _text(r.activation_key) if r.activation_key is not None else "None"
    return (
        f"C({r.bandwidth_mbps!r},{r.name!r},{r.verification_state!r},{r.admin_state!r},"
        f"{r.deferred!r},{r.counts_against_capacity!r},{key})"
    )


def _bgp(r: BgpRecord) -> str:
    return f"B({r.provider!r},{r.asn!r},{r.host_ipv4!r},{r.host_ipv6!r})"


def _feature(r: FeatureRecord) -> str:
    bgp = ",".join([_bgp(b) if type(b) is BgpRecord else _text(b) for b in r.bgp])
    failure = "None" if r.failure is None else _text(r.failure)
    return (
        f"F({r.name!r},{r.provisioning_state!r},{r.vlan!r},{_subnet(r.ipv4)},"
        f"{_subnet(r.ipv6)},{r.mtu!r},({bgp}),{r.invalid!r},{failure})"
    )


def _failure(r: FeatureFailure) -> str:
    return f"X({r.code!r},{r.message!r},{r.retryable!r},{r.observed_at!r})"


def _channel(r: ChannelInfo) -> str:
    """A channel record (shared by every link of its interconnect: kept)."""
    kept = _CHANNELS.get(id(r))
    if kept is not None and kept[0] is r:
        return kept[1]
    text = f"H({r.id!r},{r.admin_state!r},{r.macsec_manager!r},{r.device_id!r})"
    if len(_CHANNELS) >= _KEPT:
        _CHANNELS.clear()
    _CHANNELS[id(r)] = (r, text)
    return text


#: Kept texts of channel records, by identity; the record is held, so its id is never
#: another's meanwhile. Bounded: cleared when full.
_KEPT = 4096
_CHANNELS: dict[int, tuple[object, str]] = {}
_NETWORKS = (ipaddress.IPv4Network, ipaddress.IPv6Network)
_PLAIN = frozenset({str, int, bool, float, type(None)})


def _records() -> dict[type, Callable[[Any], str]]:
    """The provider records' short forms, each only while its fields are the ones it
    writes (a record given another field falls back to the generic form)."""
    forms: dict[type, tuple[Callable[[Any], str], tuple[str, ...]]] = {
        ConnectionRecord: (
            _connection,
            (
                "bandwidth_mbps",
                "name",
                "verification_state",
                "admin_state",
                "deferred",
                "counts_against_capacity",
                "activation_key",
            ),
        ),
        FeatureRecord: (
            _feature,
            (
                "name",
                "provisioning_state",
                "vlan",
                "ipv4",
                "ipv6",
                "mtu",
                "bgp",
                "invalid",
                "failure",
            ),
        ),
        BgpRecord: (_bgp, ("provider", "asn", "host_ipv4", "host_ipv6")),
        FeatureFailure: (_failure, ("code", "message", "retryable", "observed_at")),
        ChannelInfo: (_channel, ("id", "admin_state", "macsec_manager", "device_id")),
    }
    return {
        kind: form
        for kind, (form, names) in forms.items()
        if tuple(f.name for f in dataclasses.fields(kind)) == names
    }


_RECORDS = _records()


@dataclass(frozen=True, slots=True)
class StatusSigner:
    """Signs the status a Ready decision is written with (``inputs_digest``)."""

    key: bytes = field(repr=False)
    body: Mapping[str, Any] = field(repr=False)
    pool: str
    pool_generation: int
    provider: tuple[object, ...] = field(repr=False)

    @property
    def key_id(self) -> str:
        return key_id(self.key)

    def __call__(self, status: Mapping[str, Any]) -> str:
        return inputs_digest(
            self.key, self.body, self.pool, self.pool_generation, self.provider, status=status
        )


def verified(
    key: bytes | None,
    body: Mapping[str, Any],
    pool: str,
    pool_generation: int,
    provider: tuple[object, ...],
) -> bool:
    """Whether the link's stored Ready status carries a digest this installation's key
    signed for exactly these inputs and this status (no key: never)."""
    stored = stored_ready(body)
    if key is None or stored is None or digest_key_id(stored) != key_id(key):
        return False
    status = body.get("status") or {}
    inputs = _inputs(key, body, pool, pool_generation, provider)
    # As the server stores a status written by this operator (no nulls, integral
    # numbers as ints), its plain sorted text without empty top-level fields (an
    # empty ``pendingRequests`` is stored as written) is the canonical one: tried
    # first, the one-pass canonical text only if that fails (one JSON text per link).
    plain = json.dumps(
        {
            k: v
            for k, v in status.items()
            if k not in NOT_COMPARED and v is not None and v not in ([], {})
        },
        sort_keys=True,
        separators=(",", ":"),
    )
    if hmac.compare_digest(stored, _sealed(key, inputs, plain)):
        return True
    facts = status_facts(status)
    return facts != plain and hmac.compare_digest(stored, _sealed(key, inputs, facts))


def status_facts(status: Mapping[str, Any]) -> str:
    """The status as the API server stores it, without the digest: nulls dropped at any
    depth and empty top-level lists and maps (``status.status_changed``'s reading),
    integral floats as ints (the server's JSON writes 12.0 as 12), keys sorted. The
    same text before and after a write; one pass (it runs per link at a restart)."""
    facts = {
        k: _canonical(v)
        for k, v in status.items()
        if v is not None and k not in NOT_COMPARED and not (isinstance(v, list | dict) and not v)
    }
    return json.dumps(facts, sort_keys=True, separators=(",", ":"))


def _canonical(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_canonical(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def stored_ready(body: Mapping[str, Any]) -> str | None:
    """The stored ``inputsDigest`` of a link whose stored status says Ready for its
    current generation (None otherwise: such a link takes the full path)."""
    digest = (body.get("status") or {}).get("inputsDigest")
    if not isinstance(digest, str) or not answered_ready(body):
        return None
    return digest


def answered_ready(body: Mapping[str, Any]) -> bool:
    """Whether the stored status says Ready for the link's current generation (and the
    link is not being deleted): a link some operator process already brought up."""
    meta = body.get("metadata") or {}
    status = body.get("status") or {}
    if meta.get("deletionTimestamp") or status.get("phase") != "Ready":
        return False
    if status.get("observedGeneration") != int(meta.get("generation") or 1):
        return False
    ready = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"), None)
    return ready is not None and ready.get("status") == "True"
