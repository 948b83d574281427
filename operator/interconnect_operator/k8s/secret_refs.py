"""Which Secrets pools and links reference, and who references each one.

Pure bookkeeping for the Secret watch (pools) and the Secret recheck (links):
the names a pool's spec points at in the operator's namespace, the
``(namespace, name)`` pairs a link's spec points at in its own namespace, an
index from each Secret to its referrers, and a digest of a Secret's data that
says whether its content changed. Specs are read as raw mappings so that a
spec the models reject still has its references tracked (or none).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any, Generic, TypeVar

R = TypeVar("R")
"""A referrer: a pool name, or a link's (namespace, name)."""
S = TypeVar("S")
"""A Secret: a name (pools: the operator's namespace), or (namespace, name) (links)."""


def _name_at(obj: Any, *path: str) -> str | None:
    for step in path:
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(step)
    return obj if isinstance(obj, str) and obj else None


def pool_secret_names(spec: Mapping[str, Any] | None) -> frozenset[str]:
    """Secrets (in the operator's namespace) a pool's providers name for auth and TLS CA."""
    names: set[str] = set()
    providers = (spec or {}).get("providers")
    for provider in providers if isinstance(providers, list) else ():
        for path in (("auth", "secretRef", "name"), ("tls", "caSecretRef", "name")):
            name = _name_at(provider, *path)
            if name is not None:
                names.add(name)
    return frozenset(names)


def link_secret_refs(namespace: str, spec: Mapping[str, Any] | None) -> frozenset[tuple[str, str]]:
    """Secrets (in the link's own namespace) a link names: activation key and BGP MD5."""
    refs: set[tuple[str, str]] = set()
    for path in (("activationKey", "secretRef", "name"), ("bgp", "md5SecretRef", "name")):
        name = _name_at(spec or {}, *path)
        if name is not None:
            refs.add((namespace, name))
    return frozenset(refs)


def data_digest(data: Mapping[str, Any] | None) -> str:
    """A digest of a Secret's ``data`` (as the API serves it): equal iff the content is.

    Used to tell a rotation from a no-op update (labels, annotations, a
    re-apply) and to compare what a pool was built from with what is there now.
    """
    hasher = hashlib.sha256()
    for key in sorted(data or {}):
        value = (data or {})[key]
        hasher.update(key.encode())
        hasher.update(b"\0")
        hasher.update(str(value).encode())
        hasher.update(b"\0")
    return hasher.hexdigest()


class SecretReferrers(Generic[R, S]):
    """Secret -> referrers and referrer -> Secrets, kept consistent both ways."""

    def __init__(self) -> None:
        self._by_referrer: dict[R, frozenset[S]] = {}
        self._by_secret: dict[S, set[R]] = {}

    def set(self, referrer: R, secrets: Iterable[S]) -> None:
        """``referrer`` now references exactly ``secrets`` (an empty set forgets it)."""
        new = frozenset(secrets)
        old = self._by_referrer.pop(referrer, frozenset())
        for secret in old - new:
            users = self._by_secret.get(secret)
            if users is not None:
                users.discard(referrer)
                if not users:
                    del self._by_secret[secret]
        for secret in new:
            self._by_secret.setdefault(secret, set()).add(referrer)
        if new:
            self._by_referrer[referrer] = new

    def drop(self, referrer: R) -> None:
        self.set(referrer, ())

    def referrers(self, secret: S) -> frozenset[R]:
        return frozenset(self._by_secret.get(secret, ()))

    def secrets_of(self, referrer: R) -> frozenset[S]:
        return self._by_referrer.get(referrer, frozenset())

    def secrets(self) -> frozenset[S]:
        """Every Secret someone references (what to watch)."""
        return frozenset(self._by_secret)

    def __len__(self) -> int:
        return len(self._by_secret)


#: The label a Secret carries to be usable by links (their activation key, BGP MD5).
LINK_SECRET_LABEL = "interconnect.io/link-secret"


def link_secret_digest(body: Mapping[str, Any]) -> str:
    """A digest of what decides whether a link can use a Secret: its data and its opt-in.

    Adding the ``LINK_SECRET_LABEL`` label to an existing Secret changes it,
    so a link refused for a Secret that had not opted in is woken by the label
    alone, as it is by a new value.
    """
    labels = (body.get("metadata") or {}).get("labels") or {}
    opted_in = labels.get(LINK_SECRET_LABEL) == "true"
    return ("opted-in:" if opted_in else "not-opted-in:") + data_digest(body.get("data"))
