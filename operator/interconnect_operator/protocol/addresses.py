"""Subnets as providers list them, parsed cheaply with exactly the stdlib's rules.

A restart's first refresh converts every listed feature (80,000 at 10,000
links, both sides) and parses two subnets per feature that no cache holds
yet. ``ipaddress.IPv4Network("a.b.c.d/p", strict=False)`` parses the text in
Python. Here the address is read by the C library (``socket.inet_pton``)
and the network object filled in directly with what its constructor would
set (``_filled``). Per subnet, interleaved rounds in one minute (40,000
distinct subnets, best of 5, loaded machine): IPv4 3.30-3.60 -> 1.68-1.75
us, IPv6 3.90-4.17 -> 1.79-2.00 us; with the constructor's documented tuple
form (packed address, prefix) instead of filling the fields, 2.44-2.58 and
2.58-3.12 us. Filling the fields relies on the stdlib's private ones, so a
check at import compares both ways' fields and falls back to the tuple form
if they ever differ.

What is accepted and rejected stays the stdlib's: the fast path is taken
only for an address the C library reads *and* prints back as the same text
(``inet_ntop``: the canonical form, which the stdlib reads as the same
address on every platform), with a prefix of one to three ASCII digits
within the family's length; anything else (leading zeros, a scope id,
whitespace, a netmask instead of a prefix, a huge prefix, an embedded IPv4
address printed differently, upper-case hex) is parsed by ``ipaddress`` as
before, so it yields the same network or raises the same ``ValueError``
(``tests/unit/protocol/test_addresses.py`` checks both over hostile strings).

Per feature in the first refresh: ``reconcile/records.py`` (``_ipv4``).
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any, TypeVar

__all__ = ["ipv4_network", "ipv6_network"]

_PTON = socket.inet_pton
_NTOP = socket.inet_ntop
_Net = TypeVar("_Net", ipaddress.IPv4Network, ipaddress.IPv6Network)
_V4 = socket.AF_INET
_V6 = socket.AF_INET6


def _canonical(family: int, address: str) -> bytes | None:
    """The packed address when ``address`` is the C library's canonical text of it."""
    try:
        packed = _PTON(family, address)
    except (OSError, ValueError):  # not an address it reads; NUL: ValueError
        return None
    return packed if _NTOP(family, packed) == address else None


def _prefix(text: str, longest: int) -> int | None:
    """A prefix length of 1-3 ASCII digits within ``longest``; None: let the stdlib decide."""
    if 0 < len(text) <= 3 and text.isascii() and text.isdigit():
        value = int(text)
        if value <= longest:
            return value
    return None


def _by_constructor(cls: Any, packed: bytes, prefix: int) -> Any:
    return cls((packed, prefix), strict=False)


def _filled(cls: Any, packed: bytes, prefix: int) -> Any:
    """``cls((packed, prefix), strict=False)`` without the constructor's generic
    steps: its fields (address with host bits cleared, the shared netmask, the
    prefix length), set as ``__init__`` sets them for a prefix shorter than
    the family's last two (those also get a ``hosts`` of their own)."""
    longest = cls._max_prefixlen
    if prefix >= longest - 1:
        return cls((packed, prefix), strict=False)
    netmask = _NETMASKS[longest][prefix]
    network = _NEW(cls)
    network.network_address = cls._address_class(int.from_bytes(packed, "big") & int(netmask))
    network.netmask = netmask
    network._prefixlen = prefix
    return network


_NEW = object.__new__
_NETMASKS: dict[int, tuple[Any, ...]] = {
    bits: tuple(cls((0, p)).netmask for p in range(bits + 1))
    for cls, bits in ((ipaddress.IPv4Network, 32), (ipaddress.IPv6Network, 128))
}
"""Per family, the netmask of each prefix length: the constructor's shared objects."""


def _same_fields() -> bool:
    """Whether ``_filled`` sets exactly the fields the constructor sets."""
    samples: tuple[tuple[Any, bytes, tuple[int, ...]], ...] = (
        (ipaddress.IPv4Network, b"\xa9\xfe\x01\x07", (0, 1, 24, 29, 30)),
        (ipaddress.IPv6Network, bytes(range(16)), (0, 1, 64, 125, 126)),
    )
    return all(
        vars(_filled(cls, packed, p)) == vars(cls((packed, p), strict=False))
        for cls, packed, ps in samples
        for p in ps
    )


_BUILD = _filled if _same_fields() else _by_constructor


def ipv4_network(cidr: str) -> ipaddress.IPv4Network:
    """``ipaddress.IPv4Network(cidr, strict=False)``: host bits are cleared;
    raises its ``ValueError`` for what it rejects."""
    return _network(ipaddress.IPv4Network, _V4, 32, cidr)


def ipv6_network(cidr: str) -> ipaddress.IPv6Network:
    """``ipaddress.IPv6Network(cidr, strict=False)``: host bits are cleared;
    raises its ``ValueError`` for what it rejects."""
    return _network(ipaddress.IPv6Network, _V6, 128, cidr)


def _network(cls: type[_Net], family: int, bits: int, cidr: str) -> _Net:
    """A canonical ``address/prefix`` read by the C library; anything else by ``cls``."""
    address, slash, length = cidr.partition("/")
    if slash:
        prefix = _prefix(length, bits)
        if prefix is not None:
            packed = _canonical(family, address)
            if packed is not None:
                network: _Net = _BUILD(cls, packed, prefix)
                return network
    return cls(cidr, strict=False)
