"""Build and parse resource names of the Connection Coordinator API.

Names follow the spec's formats (docs/protocol.md, vocabulary)::

    providers/{p}
    providers/{p}/environments/{e}
    providers/{p}/environments/{e}/interconnects/{i}
    providers/{p}/environments/{e}/interconnects/{i}/channels/{c}
    providers/{p}/environments/{e}/interconnects/{i}/channels/{c}/macSecKeys/{m}
    providers/{p}/environments/{e}/interconnects/{i}/connections/{k}
    providers/{p}/environments/{e}/interconnects/{i}/connections/{k}/features/{f}
    providers/{p}/issues/{n}

Environment, interconnect, channel and connection ids are the same on both
sides; only the provider prefix differs (each caller uses its own id, see
P-Objects), hence :func:`with_provider`.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

__all__ = [
    "InvalidResourceName",
    "ResourceName",
    "channel_name",
    "connection_name",
    "environment_name",
    "feature_name",
    "interconnect_name",
    "issue_name",
    "last_id",
    "mac_sec_key_name",
    "parse_name",
    "provider_name",
    "provider_ref_id",
    "with_provider",
]


class InvalidResourceName(ValueError):
    """A string is not a resource name of the API (or an id is malformed)."""


def _check(kind: str, value: str) -> str:
    # An id is one path segment: a slash would silently address another
    # resource, and an empty id addresses the collection.
    if not value or "/" in value:
        raise InvalidResourceName(f"invalid {kind} id {value!r}")
    return value


def provider_name(provider: str) -> str:
    """``providers/{provider}``."""
    return f"providers/{_check('provider', provider)}"


def provider_ref_id(value: str | None) -> str:
    """The provider id of a reference a peer wrote, ``""`` when there is none.

    The spec formats references such as ``ProviderBgpConfig.provider`` as
    ``providers/{p}``; older peers wrote the bare id. Both are read (tolerant
    reader); only :func:`provider_name` is ever written.
    """
    if not value:
        return ""
    return value.removeprefix("providers/")


def environment_name(provider: str, environment: str) -> str:
    """``providers/{p}/environments/{e}``."""
    return f"{provider_name(provider)}/environments/{_check('environment', environment)}"


def interconnect_name(provider: str, environment: str, interconnect: str) -> str:
    """``.../environments/{e}/interconnects/{i}``."""
    base = environment_name(provider, environment)
    return f"{base}/interconnects/{_check('interconnect', interconnect)}"


def channel_name(provider: str, environment: str, interconnect: str, channel: str) -> str:
    """``.../interconnects/{i}/channels/{c}``."""
    base = interconnect_name(provider, environment, interconnect)
    return f"{base}/channels/{_check('channel', channel)}"


def mac_sec_key_name(
    provider: str, environment: str, interconnect: str, channel: str, mac_sec_key: str
) -> str:
    """``.../channels/{c}/macSecKeys/{m}``."""
    base = channel_name(provider, environment, interconnect, channel)
    return f"{base}/macSecKeys/{_check('macSecKey', mac_sec_key)}"


def connection_name(provider: str, environment: str, interconnect: str, connection: str) -> str:
    """``.../interconnects/{i}/connections/{k}``."""
    base = interconnect_name(provider, environment, interconnect)
    return f"{base}/connections/{_check('connection', connection)}"


def feature_name(
    provider: str, environment: str, interconnect: str, connection: str, feature: str
) -> str:
    """``.../connections/{k}/features/{f}``."""
    base = connection_name(provider, environment, interconnect, connection)
    return f"{base}/features/{_check('feature', feature)}"


def issue_name(provider: str, issue: str) -> str:
    """``providers/{p}/issues/{n}``."""
    return f"{provider_name(provider)}/issues/{_check('issue', issue)}"


# Collection keyword -> ResourceName attribute, with the parent keyword each
# collection must follow (None: directly under the provider).
_COLLECTIONS: dict[str, tuple[str, str | None]] = {
    "environments": ("environment", None),
    "interconnects": ("interconnect", "environments"),
    "channels": ("channel", "interconnects"),
    "macSecKeys": ("mac_sec_key", "channels"),
    "connections": ("connection", "interconnects"),
    "features": ("feature", "connections"),
    "issues": ("issue", None),
}


@dataclass(frozen=True, slots=True)
class ResourceName:
    """The ids found in a resource name; unset levels are None."""

    provider: str
    environment: str | None = None
    interconnect: str | None = None
    channel: str | None = None
    mac_sec_key: str | None = None
    connection: str | None = None
    feature: str | None = None
    issue: str | None = None

    @property
    def kind(self) -> str:
        """The innermost resource kind, e.g. ``"feature"``."""
        for kind in (
            "feature",
            "mac_sec_key",
            "connection",
            "channel",
            "interconnect",
            "environment",
            "issue",
        ):
            if getattr(self, kind) is not None:
                return kind
        return "provider"


def parse_name(name: str) -> ResourceName:
    """Split a resource name into its ids; raise InvalidResourceName if malformed."""
    parts = name.split("/")
    if len(parts) < 2 or len(parts) % 2 or parts[0] != "providers":
        raise InvalidResourceName(f"not a resource name: {name!r}")
    values: dict[str, str] = {"provider": _check("provider", parts[1])}
    previous: str | None = None
    for index in range(2, len(parts), 2):
        keyword, value = parts[index], parts[index + 1]
        if keyword not in _COLLECTIONS:
            raise InvalidResourceName(f"unknown collection {keyword!r} in {name!r}")
        attribute, parent = _COLLECTIONS[keyword]
        if parent != previous:
            raise InvalidResourceName(f"{keyword!r} cannot follow {previous!r} in {name!r}")
        values[attribute] = _check(attribute, value)
        previous = keyword
    return ResourceName(**values)


def last_id(name: str) -> str:
    """The final id of a resource name (e.g. the feature id of a feature).

    Interned: the snapshot keys its records by these ids (a channel id per
    feature, a connection id per connection and side, the same text as the
    shared UUID the kept link bodies hold), one copy each instead of one per
    record."""
    return sys.intern(_check("resource", name.rsplit("/", 1)[-1]))


def with_provider(name: str, provider: str) -> str:
    """The same resource name under another provider prefix.

    Used to map a name as one side spells it to how the peer spells it: ids
    below the provider are shared by both sides.
    """
    parse_name(name)  # validate before rewriting
    parts = name.split("/", 2)
    suffix = f"/{parts[2]}" if len(parts) == 3 else ""
    return f"{provider_name(provider)}{suffix}"
