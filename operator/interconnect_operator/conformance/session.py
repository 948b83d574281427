"""One conformance run's state: configuration, clients, evidence, results and the ledger.

Safety rests here. Every object the kit creates gets an id that starts with
the run's prefix (``{prefix}{run}-``), and is written into the ledger BEFORE
the request leaves, so that cleanup also covers a create whose answer never
arrived. Cleanup deletes exactly the ledger's objects (newest first) and then
looks again: what is still there is reported as a leftover. Nothing outside
the ledger is ever deleted.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, NoReturn, TypeVar

import httpx
from pydantic import SecretStr

from interconnect_operator.api.auth import Auth, NoAuth, Verify, tls_context
from interconnect_operator.api.client import ProviderClient
from interconnect_operator.api.errors import ApiError, NotFound
from interconnect_operator.api.retry import RetryPolicy
from interconnect_operator.conformance.catalog import CATALOG, CheckSpec
from interconnect_operator.conformance.recording import RecordingTransport
from interconnect_operator.conformance.results import CheckResult, Exchange, Outcome

__all__ = ["Blocked", "CheckScope", "KitConfig", "Session", "status_of"]

T = TypeVar("T")


@dataclass(frozen=True)
class KitConfig:
    """What one run was asked to do (from the command line)."""

    endpoint: str
    caller: str
    environment: str
    auth: Auth = field(default_factory=NoAuth)
    verify: Verify = True
    interconnect: str | None = None
    read_only: bool = False
    allow_channel_effects: bool = False
    allow_issues: bool = False
    prefix: str = "icokit-"
    spec_dir: Path | None = None
    activation_key: SecretStr | None = None
    caller_asn: int = 64999
    provisioning_timeout: float = 300.0
    request_timeout: float = 30.0
    other_caller: str | None = None
    """A second provider id, for the checks that need a third party's view."""
    other_auth: Auth | None = None


class Blocked(Exception):
    """A step failed in a way that stops the rest of its scenario."""


class _Skip(Exception):
    pass


@dataclass(frozen=True, slots=True)
class Created:
    """One object in the ledger: its kind and the ids that address it."""

    kind: str  # "connection" | "feature" | "macSecKey" | "issue"
    interconnect: str = ""
    connection: str = ""
    feature: str = ""
    channel: str = ""
    key: str = ""
    issue: str = ""

    def describe(self) -> str:
        """A readable path of the object (ids only)."""
        parts = {
            "connection": f"interconnects/{self.interconnect}/connections/{self.connection}",
            "feature": f"interconnects/{self.interconnect}/connections/{self.connection}"
            f"/features/{self.feature}",
            "macSecKey": f"interconnects/{self.interconnect}/channels/{self.channel}"
            f"/macSecKeys/{self.key}",
            "issue": f"issues/{self.issue}",
        }
        return parts[self.kind]


def status_of(error: BaseException) -> int | None:
    """The HTTP status of a client error (None: no response)."""
    return error.status if isinstance(error, ApiError) else None


class CheckScope:
    """The body of one check: collects requirements, notes and the exchanges made."""

    def __init__(self, session: Session, spec: CheckSpec) -> None:
        self._session = session
        self.spec = spec
        self._failures: list[str] = []
        self._notes: list[str] = []
        self._skip_reason: str | None = None
        self._first_exchange = 0
        self._started = 0.0

    def note(self, text: str) -> None:
        """Something observed, for the report."""
        self._notes.append(text)

    def require(self, condition: bool, failure: str) -> bool:
        """Record ``failure`` unless ``condition``; answers ``condition``."""
        if not condition:
            self._failures.append(failure)
        return condition

    def skip(self, reason: str) -> NoReturn:
        """End the check as SKIP."""
        self._skip_reason = reason
        raise _Skip(reason)

    async def status(self, call: Awaitable[T]) -> tuple[int | None, T | None]:
        """Await a client call; answers (status, result) instead of raising on 4xx/5xx."""
        try:
            result = await call
        except ApiError as error:
            return status_of(error), None
        return 200, result

    async def expect(self, call: Awaitable[T], allowed: set[int], what: str) -> T | None:
        """Await ``call`` and require its status to be in ``allowed``."""
        code, result = await self.status(call)
        self.require(code in allowed, f"{what} answered {code}, expected {_codes(allowed)}")
        return result

    async def __aenter__(self) -> CheckScope:
        self._first_exchange = len(self._session.exchanges)
        self._started = time.monotonic()
        self._session.announce(self.spec)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool:
        exchanges = self._session.exchanges[self._first_exchange :]
        seconds = time.monotonic() - self._started
        if isinstance(exc, _Skip):
            self._session.record(self.spec, Outcome.SKIP, str(exc), exchanges, seconds)
            return True
        if exc is not None and not isinstance(exc, ApiError | Blocked):
            return False  # cancellation and bugs travel on
        if isinstance(exc, ApiError):
            self._failures.append(f"unexpected answer: {exc}")
        elif isinstance(exc, Blocked) and not self._failures:
            self._failures.append(str(exc))
        observed = "; ".join(self._failures or self._notes)
        outcome = Outcome.FAIL if self._failures else Outcome.PASS
        self._session.record(self.spec, outcome, observed, exchanges, seconds)
        if isinstance(exc, ApiError):
            raise Blocked(f"{self.spec.check_id} failed: {exc}") from exc
        return False


def _codes(allowed: set[int]) -> str:
    return " or ".join(str(code) for code in sorted(allowed))


class Session:
    """Clients, evidence, results and the ledger of one run."""

    def __init__(
        self,
        config: KitConfig,
        *,
        progress: Callable[[CheckSpec, CheckResult | None], None] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.config = config
        self.run_id = secrets.token_hex(3)
        self.exchanges: list[Exchange] = []
        self.results: dict[str, CheckResult] = {}
        self.ledger: list[Created] = []
        self.skip_reasons: dict[str, str] = {}
        self.facts: dict[str, Any] = {}
        self._progress = progress
        self._transport = transport
        ssl = config.auth.ssl_context(config.verify)
        self.client = ProviderClient(
            config.endpoint,
            config.caller,
            auth=config.auth,
            transport=self._recording(ssl),
            verify=config.verify,
            timeout=config.request_timeout,
            max_concurrency=4,
            retry=RetryPolicy(max_attempts=3, max_elapsed_s=20.0),
            name="provider",
        )
        self.raw = httpx.AsyncClient(
            base_url=config.endpoint.rstrip("/"),
            auth=config.auth,
            transport=self._recording(ssl),
            timeout=config.request_timeout,
        )
        self.other: ProviderClient | None = None
        if config.other_caller:
            other_auth = config.other_auth or NoAuth()
            self.other = ProviderClient(
                config.endpoint,
                config.other_caller,
                auth=other_auth,
                transport=self._recording(other_auth.ssl_context(config.verify)),
                timeout=config.request_timeout,
                retry=RetryPolicy(max_attempts=1),
                name="provider-as-other",
            )
        # No credentials at all: no auth header and, for mutual TLS, no client
        # certificate either (P34-unauthenticated).
        self.anonymous = httpx.AsyncClient(
            base_url=config.endpoint.rstrip("/"),
            transport=self._recording(tls_context(config.verify)),
            timeout=config.request_timeout,
        )

    def _recording(self, ssl: Any) -> RecordingTransport:
        inner = self._transport or httpx.AsyncHTTPTransport(verify=ssl)
        return RecordingTransport(inner, self.exchanges.append)

    async def aclose(self) -> None:
        """Close every client."""
        await self.client.aclose()
        if self.other is not None:
            await self.other.aclose()
        await self.raw.aclose()
        await self.anonymous.aclose()

    # ------------------------------------------------------------------ ids

    def new_id(self, label: str) -> str:
        """A fresh object id that carries the run's prefix."""
        return f"{self.config.prefix}{self.run_id}-{label}"

    @property
    def id_prefix(self) -> str:
        """What every id this run creates starts with."""
        return f"{self.config.prefix}{self.run_id}-"

    # ------------------------------------------------------------------ results

    def check(self, check_id: str) -> CheckScope:
        """``async with session.check(id) as c:`` runs one check of the catalog."""
        return CheckScope(self, CATALOG[check_id])

    def announce(self, spec: CheckSpec) -> None:
        """Progress: a check starts."""
        if self._progress is not None:
            self._progress(spec, None)

    def record(
        self,
        spec: CheckSpec,
        outcome: Outcome,
        observed: str,
        exchanges: list[Exchange],
        seconds: float = 0.0,
    ) -> None:
        """Store a result (the first one for a check id wins)."""
        if spec.check_id in self.results:
            return
        result = CheckResult(
            spec.check_id,
            spec.rule,
            spec.title,
            outcome,
            spec.expected,
            observed,
            list(exchanges),
            seconds,
        )
        self.results[spec.check_id] = result
        if self._progress is not None:
            self._progress(spec, result)

    def skip(self, check_ids: list[str] | tuple[str, ...], reason: str) -> None:
        """Mark checks SKIP with ``reason`` (those without a result yet)."""
        for check_id in check_ids:
            self.record(CATALOG[check_id], Outcome.SKIP, reason, [])

    # ------------------------------------------------------------------ ledger

    def remember(self, created: Created) -> None:
        """Write an object into the ledger before asking for it."""
        if created not in self.ledger:
            self.ledger.append(created)

    async def delete(self, created: Created) -> bool:
        """Delete one ledger object; answers True when it is gone (404 counts)."""
        env = self.config.environment
        client = self.client
        try:
            if created.kind == "connection":
                await client.delete_connection(env, created.interconnect, created.connection)
            elif created.kind == "feature":
                await client.delete_feature(
                    env, created.interconnect, created.connection, created.feature
                )
            elif created.kind == "macSecKey":
                await client.delete_mac_sec_key(
                    env, created.interconnect, created.channel, created.key
                )
            elif created.kind == "issue":
                return await self._close_issue(created.issue)
        except NotFound:
            return True
        except ApiError:
            return await self._gone(created)
        return True

    async def _close_issue(self, issue: str) -> bool:
        """Issues cannot be deleted: closed is as gone as they get."""
        try:
            state = (await self.client.get_issue(issue)).state or ""
            if not state.upper().endswith("CLOSED"):
                await self.client.close_issue(issue)
        except NotFound:
            return True
        except ApiError:
            return False
        return True

    async def _gone(self, created: Created) -> bool:
        env = self.config.environment
        try:
            if created.kind == "connection":
                await self.client.get_connection(env, created.interconnect, created.connection)
            elif created.kind == "feature":
                await self.client.get_feature(
                    env, created.interconnect, created.connection, created.feature
                )
            elif created.kind == "macSecKey":
                await self.client.get_mac_sec_key(
                    env, created.interconnect, created.channel, created.key
                )
            else:
                return False
        except NotFound:
            return True
        except ApiError:
            return False
        return False

    async def cleanup(self) -> list[str]:
        """Delete the ledger's objects, newest first; answers what is left behind."""
        left: list[str] = []
        for created in reversed(self.ledger):
            if created.kind == "feature" and any(
                other.kind == "connection"
                and other.interconnect == created.interconnect
                and other.connection == created.connection
                for other in self.ledger
            ):
                continue  # deleting the connection deletes its features (P19)
            if not await self.delete(created):
                left.append(created.describe())
        left += await self._sweep()
        self.ledger = [c for c in self.ledger if c.describe() in left]
        return sorted(set(left))

    async def _sweep(self) -> list[str]:
        """Look again at every interconnect the run touched for its own connections."""
        env = self.config.environment
        left: list[str] = []
        ours = {(c.interconnect, c.connection) for c in self.ledger if c.kind == "connection"}
        for interconnect in sorted({c.interconnect for c in self.ledger if c.interconnect}):
            try:
                listed = await self.client.list_connections_all(env, interconnect)
            except ApiError:
                continue
            for connection in listed:
                connection_id = (connection.name or "").rsplit("/", 1)[-1]
                if (interconnect, connection_id) in ours or connection_id.startswith(
                    self.id_prefix
                ):
                    created = Created("connection", interconnect, connection_id)
                    if not await self.delete(created):
                        left.append(created.describe())
        return left
