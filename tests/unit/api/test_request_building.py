"""How the provider client builds each request (api/wire.py, api/base_client.py).

The URL is put together from the base parsed once, the operation's quoted
path and the encoded query, without parsing the whole URL again per call:
it must equal what parsing would give, for hostile ids and queries too. The
headers are built once per client (Host, Accept, User-Agent, a fixed auth
header); Content-Length is set per request as httpx sets it; an auth plugin
with fixed headers runs no per-request flow, one without runs its flow on
every request (SigV4 signs each one).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping
from typing import Any
from urllib.parse import quote, urlencode

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from interconnect_operator.api.auth import BearerToken, NoAuth, SigV4
from interconnect_operator.api.client import ProviderClient
from interconnect_operator.api.wire import join_url as _url
from interconnect_operator.api.wire import query_string
from interconnect_operator.api.wire import segment as _seg
from tests.unit.api.conftest import BASE_URL, CALLER, Peer

E, IC = "env-1", "ic-1"

HOSTILE_IDS = [
    "plain",
    "a b/../c",
    "..",
    ".",
    "...",
    "%2F",
    "a?b#c",
    "~tilde_-.",
    "ünï",
    "semi;colon=1",
    "@host:1",
]


@pytest.mark.parametrize(
    "base", ["https://peer.test", "http://127.0.0.1:8081/api", "https://Peer.Test:443/x"]
)
@pytest.mark.parametrize("ident", HOSTILE_IDS)
@pytest.mark.parametrize(
    "params",
    [None, {"pageSize": "10"}, {"pageToken": "a&b=c+d/é%", "requestId": "r 1"}],
)
def test_url_equals_the_parsed_url(base: str, ident: str, params: Mapping[str, str] | None) -> None:
    path = f"/providers/{_seg(CALLER)}/environments/{_seg(E)}/connections/{_seg(ident)}"
    query = urlencode(params) if params else None
    built = _url(httpx.URL(base), path, query)
    parsed = httpx.URL(f"{base}{path}" + (f"?{query}" if query else ""))
    assert built == parsed
    assert str(built) == str(parsed)
    assert built.raw_path == parsed.raw_path
    assert built.params == parsed.params


@pytest.mark.parametrize("ident", HOSTILE_IDS)
async def test_every_id_is_one_segment_on_the_wire(
    peer: Peer, client: ProviderClient, ident: str
) -> None:
    peer.validate = False  # the spec check reads the decoded path ("%2E%2E" as "..")
    peer.reply(200, {})
    await client.get_connection(E, IC, ident)
    segments = peer.last.url.raw_path.decode().split("/")
    assert segments[:-1] == [
        "",
        "providers",
        CALLER,
        "environments",
        E,
        "interconnects",
        IC,
        "connections",
    ]
    expected = {".": "%2E", "..": "%2E%2E"}.get(ident) or quote(ident, safe="")
    assert segments[-1] == expected


async def test_dot_segment_ids_are_not_removed(peer: Peer, client: ProviderClient) -> None:
    # Sent bare, ".." would be removed by URL normalization: the call would
    # then read the interconnect's connection list instead of one connection.
    peer.validate = False  # the spec check reads the decoded path ("%2E%2E" as "..")
    peer.reply(200, {})
    await client.get_connection(E, IC, "..")
    assert peer.last.url.raw_path.decode().endswith(f"/interconnects/{IC}/connections/%2E%2E")


async def test_headers_built_once_content_length_per_request(
    peer: Peer, client: ProviderClient
) -> None:
    peer.validate = False
    await client.send("POST", "/with-body", content=b'{"a":1}')
    await client.send("POST", "/no-body")
    await client.send("GET", "/read", params={"pageSize": "5"})
    await client.send("DELETE", "/gone")
    post, empty_post, get, delete = peer.requests
    for request in peer.requests:
        assert request.headers["Host"] == "peer.test"
        assert request.headers["Accept"] == "application/json"
        assert request.headers["User-Agent"] == "interconnect-operator"
    assert post.headers["Content-Length"] == "7"
    assert post.headers["Content-Type"] == "application/json"
    assert post.content == b'{"a":1}'
    assert empty_post.headers["Content-Length"] == "0"
    assert "Content-Type" not in empty_post.headers
    assert "Content-Length" not in get.headers
    assert "Content-Length" not in delete.headers
    assert get.content == b""
    assert delete.content == b""
    assert str(get.url) == "https://peer.test/read?pageSize=5"
    # The same request httpx would build from the URL string and the body:
    reference = httpx.Request(
        "POST",
        "https://peer.test/with-body",
        headers={
            "Accept": "application/json",
            "User-Agent": "interconnect-operator",
            "Content-Type": "application/json",
        },
        content=b'{"a":1}',
    )
    assert sorted(post.headers.multi_items()) == sorted(reference.headers.multi_items())


class _NoFlowBearer(BearerToken):
    """A fixed token whose flow must not run (its headers are built in once)."""

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        raise AssertionError("flow ran for a fixed-header auth")
        yield request  # pragma: no cover


async def test_a_fixed_token_is_sent_without_a_flow(
    peer: Peer, make_client: Callable[..., ProviderClient]
) -> None:
    peer.reply(200, {}, times=2)
    async with make_client(auth=_NoFlowBearer("tok-1")) as client:
        await client.get_connection(E, IC, "c1")
        await client.notify_connection_status(E, IC, "c1")
    assert [r.headers["Authorization"] for r in peer.requests] == ["Bearer tok-1"] * 2
    assert "tok-1" not in repr(peer.last.headers)


def test_fixed_headers_of_the_plugins() -> None:
    assert NoAuth().static_headers() == {}
    assert BearerToken("t").static_headers() == {"Authorization": "Bearer t"}
    # Signed per request (the time, the body): no fixed headers.
    assert SigV4(("AKID", "secret"), "us-east-1", "interconnect").static_headers() is None


async def test_sigv4_signs_every_request_through_its_flow(
    peer: Peer, make_client: Callable[..., ProviderClient]
) -> None:
    peer.reply(200, {}, times=2)
    auth = SigV4(("AKIDEXAMPLE", "secret"), "us-east-1", "interconnect")
    async with make_client(auth=auth) as client:
        await client.get_connection(E, IC, "c1")
        await client.notify_connection_status(E, IC, "c1")
    for request in peer.requests:
        assert request.headers["Authorization"].startswith(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"
        )
        assert (
            "host;" in request.headers["Authorization"]
            or "SignedHeaders=host" in (request.headers["Authorization"])
        )
    first, second = (r.headers["Authorization"] for r in peer.requests)
    assert first != second  # different method, path and body: different signatures


@pytest.mark.parametrize("base", ["https://peer.test/?q=1", "https://peer.test/#f", "/relative"])
def test_a_base_url_with_query_fragment_or_no_host_is_refused(base: str) -> None:
    with pytest.raises(ValueError, match="base_url"):
        ProviderClient(base, CALLER, transport=httpx.MockTransport(lambda r: httpx.Response(200)))


def test_base_url_is_kept_for_records() -> None:
    client: Any = ProviderClient(
        f"{BASE_URL}/", CALLER, transport=httpx.MockTransport(lambda r: httpx.Response(200))
    )
    assert client.base_url == BASE_URL


async def test_every_answer_names_its_request(
    peer: Peer, make_client: Callable[..., ProviderClient]
) -> None:
    # MockTransport (like any transport) may hand back a Response without its
    # request; the client sets it, with or without an auth flow.
    peer.validate = False
    for auth in (NoAuth(), SigV4(("AKID", "secret"), "us-east-1", "interconnect")):
        peer.reply(200, {})
        async with make_client(auth=auth) as client:
            response = await client.send("GET", "/x")
        assert response.request is peer.last


class _Chunks(httpx.AsyncByteStream):
    def __init__(self, *chunks: bytes) -> None:
        self._chunks = chunks

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self._chunks:
            yield chunk


async def test_a_streamed_answer_is_read_bounded_and_parsed() -> None:
    # A transport that streams its answer (not read whole, no request set on it).
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, stream=_Chunks(b'{"name": "providers/prov-a/', b'x"}'))

    client = ProviderClient(BASE_URL, CALLER, transport=httpx.MockTransport(handler))
    async with client:
        connection = await client.get_connection(E, IC, "x")
    assert connection.name == "providers/prov-a/x"


@given(
    st.dictionaries(
        st.one_of(st.sampled_from(["requestId", "featureId", "pageToken"]), st.text(max_size=8)),
        st.one_of(
            st.uuids().map(str),
            st.from_regex(r"[A-Za-z0-9_.~-]{0,12}", fullmatch=True),
            # Unreserved but for one character, which urlencode changes.
            st.from_regex(
                r"[A-Za-z0-9_.~-]{0,6}[^A-Za-z0-9_.~-][A-Za-z0-9_.~-]{0,6}", fullmatch=True
            ),
            st.text(),
        ),
        max_size=4,
    )
)
def test_query_string_equals_urlencode(params: dict[str, str]) -> None:
    # Unreserved names and values are joined as they are; any other pair is
    # encoded by urlencode: the query is urlencode's, byte for byte.
    assert query_string(params) == urlencode(params)


def test_segment_quotes_as_before_when_cached() -> None:
    for ident in [*HOSTILE_IDS, *HOSTILE_IDS]:
        assert _seg(ident) == ({".": "%2E", "..": "%2E%2E"}.get(ident) or quote(ident, safe=""))
    with pytest.raises(ValueError, match="empty"):
        _seg("")
