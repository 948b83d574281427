"""Fixtures of the api unit tests: a scripted peer behind httpx.MockTransport.

Every request the client sends through the ``peer`` fixture is checked
against the pinned spec when the test ends (conformance part b), so any test
that drives the client also tests that what goes on the wire is valid.
"""

from __future__ import annotations

import json
import random
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from interconnect_operator.api.client import ProviderClient, RequestRecord
from interconnect_operator.api.retry import RetryPolicy
from tests.support.clock import FakeClock
from tests.support.spec import validate_request

BASE_URL = "https://peer.test"
CALLER = "prov-a"

Reply = httpx.Response | Callable[[httpx.Request], httpx.Response] | BaseException


@dataclass
class Peer:
    """Scripted peer: replies in order, then a default 200 ``{}``."""

    replies: deque[Reply] = field(default_factory=deque)
    requests: list[httpx.Request] = field(default_factory=list)
    validate: bool = True

    def reply(
        self,
        status: int = 200,
        body: Any = None,
        headers: dict[str, str] | None = None,
        times: int = 1,
    ) -> None:
        for _ in range(times):
            self.replies.append(
                httpx.Response(status, json=body if body is not None else {}, headers=headers)
            )

    def fail(self, error: BaseException, times: int = 1) -> None:
        for _ in range(times):
            self.replies.append(error)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if not self.replies:
            return httpx.Response(200, json={})
        reply = self.replies.popleft()
        if isinstance(reply, BaseException):
            raise reply
        if isinstance(reply, httpx.Response):
            return reply
        return reply(request)

    @property
    def last(self) -> httpx.Request:
        return self.requests[-1]


def request_body(request: httpx.Request) -> Any:
    return json.loads(request.content) if request.content else None


def check_against_spec(request: httpx.Request) -> None:
    path = request.url.path
    validate_request(request.method, path, dict(request.url.params), request_body(request))


@pytest.fixture
def peer() -> Iterator[Peer]:
    scripted = Peer()
    yield scripted
    if scripted.validate:
        for request in scripted.requests:
            check_against_spec(request)


@pytest.fixture
def fake_time() -> FakeClock:
    return FakeClock(start=0.0)


@pytest.fixture
def records() -> list[RequestRecord]:
    return []


@pytest.fixture
def make_client(
    peer: Peer, fake_time: FakeClock, records: list[RequestRecord]
) -> Callable[..., ProviderClient]:
    def factory(**overrides: Any) -> ProviderClient:
        options: dict[str, Any] = {
            "transport": httpx.MockTransport(peer.handle),
            "retry": RetryPolicy(max_attempts=4, max_elapsed_s=60.0, base_delay_s=0.5),
            "on_request": records.append,
            "sleep": fake_time.sleep,
            "clock": fake_time,
            "rng": random.Random(7),
        }
        options.update(overrides)
        return ProviderClient(BASE_URL, CALLER, **options)

    return factory


@pytest.fixture
async def client(make_client: Callable[..., ProviderClient]) -> AsyncIterator[ProviderClient]:
    async with make_client() as created:
        yield created
