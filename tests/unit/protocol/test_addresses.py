"""``protocol.addresses`` accepts and rejects what ``ipaddress`` does, with equal results."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from interconnect_operator.protocol import addresses
from interconnect_operator.protocol.addresses import ipv4_network, ipv6_network


def _outcome(parse: Callable[[str], Any], text: str) -> tuple[str, Any]:
    try:
        network = parse(text)
    except ValueError as error:  # AddressValueError, NetmaskValueError
        return "rejected", (type(error), str(error))
    fields = {k: v for k, v in vars(network).items() if k != "hosts"}
    # /31, /32, /127, /128 get a ``hosts`` of their own (a fresh bound method or closure)
    own_hosts = list(network.hosts()) if "hosts" in vars(network) else None
    return "accepted", (type(network), str(network), fields, own_hosts)


def _old_v4(text: str) -> ipaddress.IPv4Network:
    return ipaddress.IPv4Network(text, strict=False)


def _old_v6(text: str) -> ipaddress.IPv6Network:
    return ipaddress.IPv6Network(text, strict=False)


def _same(text: str) -> None:
    assert _outcome(ipv4_network, text) == _outcome(_old_v4, text), text
    assert _outcome(ipv6_network, text) == _outcome(_old_v6, text), text


_OCTET = st.one_of(
    st.integers(0, 255).map(str),
    st.sampled_from(["0", "00", "01", "010", "255", "256", "999", "0255", "1234", "", " 1", "1 "]),
    st.sampled_from(["\u0661", "\uff11", "1\x00", "+1", "-1", "0x1", "1_0", "\t", "\n"]),
)
_V4 = st.lists(_OCTET, min_size=3, max_size=5).map(".".join)
_HEXTET = st.one_of(
    st.integers(0, 0xFFFF).map(lambda n: f"{n:x}"),
    st.integers(0, 0xFFFF).map(lambda n: f"{n:04X}"),
    st.sampled_from(["", "0", "00", "0000", "00000", "fffff", "g", "FFFF", " a", "a ", "\uff41"]),
)
_V6 = st.one_of(
    st.lists(_HEXTET, min_size=1, max_size=10).map(":".join),
    st.tuples(
        st.lists(_HEXTET, max_size=8).map(":".join),
        st.lists(_HEXTET, max_size=8).map(":".join),
    ).map(lambda t: f"{t[0]}::{t[1]}"),
    st.tuples(st.lists(_HEXTET, max_size=7).map(":".join), _V4).map(lambda t: f"{t[0]}::{t[1]}"),
    st.tuples(st.lists(_HEXTET, min_size=5, max_size=7).map(":".join), _V4).map(
        lambda t: f"{t[0]}:{t[1]}"
    ),
)
_SCOPE = st.sampled_from(["", "", "", "%eth0", "%1", "%", "%%", "%a/b"])
_ADDRESS = st.one_of(_V4, st.tuples(_V6, _SCOPE).map("".join), st.text(max_size=12))
_PREFIX = st.one_of(
    st.integers(0, 130).map(str),
    st.sampled_from(["", "030", "0030", "-1", "+30", " 30", "30 ", "3_0", "\u0663\u0660", "1e1"]),
    st.sampled_from(["9" * 50, "9" * 5000, "255.255.255.252", "0.0.0.3", "255.0.255.0", "/30"]),
    st.text(alphabet="0123456789./ ", max_size=8),
)
_TEXT = st.one_of(
    st.tuples(_ADDRESS, _PREFIX).map(lambda t: f"{t[0]}/{t[1]}"),
    _ADDRESS,
    st.tuples(st.sampled_from([" ", "\t", "\n", "\x00"]), _ADDRESS, _PREFIX).map(
        lambda t: f"{t[0]}{t[1]}/{t[2]}"
    ),
    st.text(alphabet="0123456789abcdefABCDEF:.%/ x", max_size=40),
)


@settings(max_examples=3000, deadline=None)
@given(_TEXT)
@example("169.254.0.0/30")
@example("169.254.0.5/30")  # host bits set: cleared (strict=False)
@example("fd20::1:10/126")
@example("fd20::1:13/126")
@example("fe80::1%eth0/64")  # a scope id is kept by the stdlib when no host bit is set
@example("fe80::%eth0/64")
@example("::ffff:169.254.0.1/126")  # embedded IPv4, printed as ::ffff:a9fe:1 by the stdlib
@example("::169.254.0.1/126")
@example("169.254.00.1/30")  # leading zeros
@example("169.254.0.1/030")
@example("169.254.0.1/33")
@example("169.254.0.1/31")
@example("169.254.0.1/32")
@example("fd20::1/127")
@example("fd20::1/128")
@example("fd20::1/129")
@example("169.254.0.1/255.255.255.252")  # a netmask instead of a prefix (IPv4 only)
@example("169.254.0.1/0.0.0.3")
@example("fd20::1/ffff::")
@example(" 169.254.0.1/30")
@example("169.254.0.1 /30")
@example("169.254.0.1/ 30")
@example("169.254.0.1/30/30")
@example("/30")
@example("169.254.0.1/")
@example("169.254.0.1")
@example("fd20::1")
@example("FD20::1/126")
@example("fd20:0:0:0:0:0:0:1/126")
@example("1::2:3:4:5:6:7:8/64")
@example("1:2:3:4:5:6:7::/64")
@example("1:2:3:4:5:6:7:1.2.3.4/64")
@example("1:2:3:4:5:6:1.2.3.4/64")
@example("\u0661.2.3.4/30")
@example("169.254.0.1/" + "9" * 5000)
@example("169.254.0.1\x00/30")
@example("0.0.0.0/0")
@example("::/0")
def test_parses_as_the_stdlib_does(text: str) -> None:
    _same(text)


@pytest.mark.parametrize("prefix", range(33))
def test_every_ipv4_prefix_matches(prefix: int) -> None:
    for address in ("0.0.0.0", "169.254.7.5", "255.255.255.255"):
        _same(f"{address}/{prefix}")


@pytest.mark.parametrize("prefix", range(129))
def test_every_ipv6_prefix_matches(prefix: int) -> None:
    for address in ("::", "fd20::a9fe:705", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"):
        _same(f"{address}/{prefix}")


def test_canonical_subnets_take_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """The subnets the operator writes (canonical text) never reach the stdlib's
    text parser; a non-canonical one does, and the result is the same."""
    calls: list[str] = []
    v4 = ipaddress.IPv4Network("169.254.3.4/30")
    v6 = ipaddress.IPv6Network("fd20::1:10/126")
    for family in (ipaddress._BaseV4, ipaddress._BaseV6):
        parse = family._ip_int_from_string

        def spy(cls: Any, text: str, parse: Any = parse) -> int:
            calls.append(text)
            return int(parse(text))

        monkeypatch.setattr(family, "_ip_int_from_string", classmethod(spy))
    assert ipv4_network("169.254.3.6/30") == v4
    assert ipv6_network("fd20::1:13/126") == v6
    assert calls == []
    assert ipv6_network("fd20::1:013/126") == v6
    assert calls == ["fd20::1:013"]


def test_fields_are_filled_as_the_constructor_fills_them() -> None:
    """On this interpreter the fields are set directly (the import-time check passed)."""
    assert addresses._BUILD is addresses._filled


@settings(max_examples=1000, deadline=None)
@given(
    st.integers(0, 2**32 - 1),
    st.integers(0, 2**128 - 1),
    st.integers(-1, 130),
)
def test_valid_addresses_in_every_spelling(v4: int, v6: int, prefix: int) -> None:
    """Valid addresses (the fast path's usual input), canonical or spelled otherwise."""
    four, six = ipaddress.IPv4Address(v4), ipaddress.IPv6Address(v6)
    texts = [str(four), str(six), six.exploded, six.exploded.upper(), f"::ffff:{four}"]
    for text in texts:
        _same(f"{text}/{prefix}")
        _same(f"{text}/{prefix:03d}")  # leading zeros in the prefix
