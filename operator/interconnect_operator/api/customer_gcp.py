"""Async client of Google's Network Connectivity v1 transports (REST over httpx, google-auth).

Covers ``projects.locations.transports`` (create, get, list, patch with
``updateMask``, delete), ``projects.locations.remoteTransportProfiles`` (get,
list) and the long-running operations create, patch and delete return
(:meth:`GoogleTransportsClient.wait`). There is no async GAPIC client for v1
(the Python package has only v1beta over gRPC), so this speaks the documented
REST mapping directly.

Auth: google-auth credentials as an httpx auth plugin
(:class:`~interconnect_operator.api.auth.OAuth2ServiceAccount`): Application
Default Credentials, which include GKE Workload Identity
(``api.ambient.google_ambient_auth``), or a service-account key from a Secret
(``OAuth2ServiceAccount.from_service_account_info``). The endpoint can be
overridden (the local fake, a private endpoint).

Retries follow the project's policy (:mod:`~interconnect_operator.api.retry`):
429 RESOURCE_EXHAUSTED and 503 always (honouring Retry-After and
``google.rpc.RetryInfo``), other 5xx for reads; the mutating calls send a
``requestId`` (:func:`request_id`), so Google deduplicates a retry whose
first attempt did arrive. Errors are the project's
:mod:`~interconnect_operator.api.errors` types with Google's status in the
message. Activation keys stay in ``SecretStr``.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
from pydantic import SecretStr

from interconnect_operator.api.auth import Auth
from interconnect_operator.api.errors import (
    ApiError,
    InvalidResponse,
    OutcomeUnknown,
    ServerError,
    Throttled,
    TransportError,
    error_for_status,
)
from interconnect_operator.api.retry import (
    RetryPolicy,
    is_retryable,
    parse_retry_after,
    retry_after_of,
)

__all__ = [
    "BANDWIDTHS",
    "DEFAULT_ENDPOINT",
    "GoogleTransportsClient",
    "Operation",
    "OperationFailed",
    "RemoteProfile",
    "Transport",
    "TransportSpec",
    "bandwidth_enum",
    "request_id",
]

DEFAULT_ENDPOINT = "https://networkconnectivity.googleapis.com"
BANDWIDTHS: dict[str, int] = {
    "BPS_50M": 50,
    "BPS_100M": 100,
    "BPS_200M": 200,
    "BPS_300M": 300,
    "BPS_400M": 400,
    "BPS_500M": 500,
    "BPS_1G": 1000,
    "BPS_2G": 2000,
    "BPS_5G": 5000,
    "BPS_10G": 10000,
    "BPS_20G": 20000,
    "BPS_50G": 50000,
    "BPS_100G": 100000,
}
_REQUEST_NAMESPACE = uuid.UUID("6b3f0c8e-1d2a-4e57-8a41-3c9d7e5f2b60")
_MAX_MESSAGE = 300


def bandwidth_enum(mbps: int) -> str:
    """1000 -> ``BPS_1G``; ValueError for a size Google does not sell."""
    for name, value in BANDWIDTHS.items():
        if value == mbps:
            return name
    raise ValueError(f"Google transports have no {mbps} Mbps bandwidth")


def request_id(*parts: str) -> str:
    """A ``requestId`` (a UUID, as Google requires) derived from the intent."""
    return str(uuid.uuid5(_REQUEST_NAMESPACE, "/".join(parts)))


@dataclass(frozen=True)
class TransportSpec:
    """What a create sends: Google first (bandwidth and remote account: Google generates the
    key) or partner first (the partner's key)."""

    remote_profile: str
    network: str | None = None
    hub: str | None = None
    bandwidth_mbps: int | None = None
    remote_account_id: str | None = None
    provided_activation_key: SecretStr | None = field(default=None, repr=False)
    advertised_routes: tuple[str, ...] = ()
    stack_type: str | None = None
    description: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"remoteProfile": self.remote_profile}
        optional = {
            "network": self.network,
            "hub": self.hub,
            "bandwidth": bandwidth_enum(self.bandwidth_mbps) if self.bandwidth_mbps else None,
            "remoteAccountId": self.remote_account_id,
            "providedActivationKey": (
                self.provided_activation_key.get_secret_value()
                if self.provided_activation_key
                else None
            ),
            "advertisedRoutes": list(self.advertised_routes) or None,
            "stackType": self.stack_type,
            "description": self.description,
            "labels": dict(self.labels) or None,
        }
        body.update({k: v for k, v in optional.items() if v is not None})
        return body


@dataclass(frozen=True)
class Transport:
    """A transport as the API describes it."""

    name: str
    state: str
    bandwidth_mbps: int | None
    remote_profile: str
    remote_account_id: str | None = None
    network: str | None = None
    hub: str | None = None
    advertised_routes: tuple[str, ...] = ()
    stack_type: str | None = None
    mtu_limit: int | None = None
    description: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    generated_activation_key: SecretStr | None = field(default=None, repr=False)

    @property
    def id(self) -> str:
        return self.name.rsplit("/", 1)[-1]

    @classmethod
    def parse(cls, body: Mapping[str, Any]) -> Transport:
        try:
            key = body.get("generatedActivationKey")
            bandwidth = body.get("bandwidth")
            return cls(
                name=body["name"],
                state=body.get("state", "STATE_UNSPECIFIED"),
                bandwidth_mbps=BANDWIDTHS.get(bandwidth) if bandwidth else None,
                remote_profile=body.get("remoteProfile", ""),
                remote_account_id=body.get("remoteAccountId"),
                network=body.get("network"),
                hub=body.get("hub"),
                advertised_routes=tuple(body.get("advertisedRoutes") or ()),
                stack_type=body.get("stackType"),
                mtu_limit=body.get("mtuLimit"),
                description=body.get("description"),
                labels=dict(body.get("labels") or {}),
                generated_activation_key=SecretStr(key) if key else None,
            )
        except (KeyError, TypeError) as error:
            raise InvalidResponse("Transport", f"unexpected transport: {error}") from None


@dataclass(frozen=True)
class RemoteProfile:
    """A remote transport profile: the partner and site a transport can reach."""

    name: str
    provider: str
    provider_site: str
    supported_mbps: tuple[int, ...]
    flow: str
    order_state: str

    @property
    def id(self) -> str:
        return self.name.rsplit("/", 1)[-1]

    @classmethod
    def parse(cls, body: Mapping[str, Any]) -> RemoteProfile:
        try:
            return cls(
                name=body["name"],
                provider=body.get("provider", ""),
                provider_site=body.get("providerSite", ""),
                supported_mbps=tuple(
                    BANDWIDTHS[b] for b in body.get("supportedBandwidths") or [] if b in BANDWIDTHS
                ),
                flow=body.get("flow", "KEY_PROVISIONING_FLOW_UNSPECIFIED"),
                order_state=body.get("orderState", "STATE_UNSPECIFIED"),
            )
        except (KeyError, TypeError) as error:
            raise InvalidResponse(
                "RemoteTransportProfile", f"unexpected profile: {error}"
            ) from None


@dataclass(frozen=True)
class Operation:
    """A long-running operation; ``response`` is the resource when done without error."""

    name: str
    done: bool
    error_code: int | None = None
    error_message: str = ""
    response: Mapping[str, Any] | None = field(default=None, repr=False)
    verb: str = ""
    target: str = ""

    @classmethod
    def parse(cls, body: Mapping[str, Any]) -> Operation:
        try:
            error = body.get("error") or {}
            metadata = body.get("metadata") or {}
            return cls(
                name=body["name"],
                done=bool(body.get("done", False)),
                error_code=error.get("code") if error else None,
                error_message=str(error.get("message", ""))[:_MAX_MESSAGE] if error else "",
                response=body.get("response"),
                verb=str(metadata.get("verb", "")),
                target=str(metadata.get("target", "")),
            )
        except (KeyError, TypeError, AttributeError) as error:
            raise InvalidResponse("Operation", f"unexpected operation: {error}") from None

    def transport(self) -> Transport | None:
        """The transport a finished create or patch returned."""
        if self.response is None or "name" not in self.response:
            return None
        return Transport.parse(self.response)


class OperationFailed(ApiError):
    """A long-running operation finished with an error (``google.rpc.Status``)."""

    def __init__(self, operation: Operation) -> None:
        super().__init__(operation.verb or "Operation", operation.error_message)
        self.code = operation.error_code
        self.operation_name = operation.name


class GoogleTransportsClient:
    """Transports of one project and location."""

    def __init__(
        self,
        project: str,
        location: str,
        *,
        auth: Auth | None = None,
        endpoint: str = DEFAULT_ENDPOINT,
        transport: httpx.AsyncBaseTransport | None = None,
        retry: RetryPolicy = RetryPolicy(),  # noqa: B008 - frozen dataclass, safe to share
        timeout: float = 30.0,
        max_concurrency: int = 8,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.project = project
        self.location = location
        self.parent = f"projects/{project}/locations/{location}"
        self.retry = retry
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._semaphore = asyncio.Semaphore(max_concurrency)
        self._http = httpx.AsyncClient(
            base_url=endpoint.rstrip("/") + "/v1/",
            auth=auth,
            transport=transport,
            timeout=httpx.Timeout(timeout),
            limits=httpx.Limits(max_connections=max_concurrency),
            headers={"Accept": "application/json"},
            follow_redirects=False,
        )

    def __repr__(self) -> str:
        return f"GoogleTransportsClient(parent={self.parent!r})"

    async def aclose(self) -> None:
        await self._http.aclose()

    # ------------------------------------------------------------ core

    async def _request(
        self,
        operation: str,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Mapping[str, Any] | None = None,
        idempotent: bool,
    ) -> dict[str, Any]:
        started = time.monotonic()
        for attempt in range(1, self.retry.max_attempts + 1):
            try:
                return await self._attempt(
                    operation, method, path, params=params, body=body, idempotent=idempotent
                )
            except ApiError as error:
                last = attempt >= self.retry.max_attempts
                if last or not is_retryable(error, idempotent=idempotent):
                    raise
                delay = self.retry.backoff(attempt, self._rng, retry_after_of(error))
                if time.monotonic() - started + delay > self.retry.max_elapsed_s:
                    raise
                await self._sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _attempt(
        self,
        operation: str,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None,
        body: Mapping[str, Any] | None,
        idempotent: bool,
    ) -> dict[str, Any]:
        async with self._semaphore:
            try:
                response = await self._http.request(
                    method, path, params=dict(params or {}), json=body
                )
            except (httpx.ConnectError, httpx.ConnectTimeout) as error:
                raise TransportError(operation, type(error).__name__) from None
            except httpx.HTTPError as error:
                if idempotent:
                    raise TransportError(operation, type(error).__name__) from None
                raise OutcomeUnknown(operation, type(error).__name__) from None
        if response.is_success:
            try:
                data = response.json() if response.content else {}
            except ValueError:
                raise InvalidResponse(operation, "not JSON", response.status_code) from None
            if not isinstance(data, dict):
                raise InvalidResponse(operation, "not a JSON object", response.status_code)
            return data
        raise _google_error(operation, response)

    async def _all(
        self, operation: str, path: str, key: str, params: Mapping[str, str] | None = None
    ) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        token = ""
        for _ in range(10_000):
            query = dict(params or {})
            if token:
                query["pageToken"] = token
            page = await self._request(operation, "GET", path, params=query, idempotent=True)
            items.extend(page.get(key) or [])
            following = str(page.get("nextPageToken") or "")
            if not following:
                return items
            if following == token:
                raise InvalidResponse(operation, "the server repeated a page token")
            token = following
        raise InvalidResponse(operation, "too many pages")

    # ------------------------------------------------------------ profiles

    async def list_remote_transport_profiles(self) -> list[RemoteProfile]:
        bodies = await self._all(
            "ListRemoteTransportProfiles",
            f"{self.parent}/remoteTransportProfiles",
            "remoteTransportProfiles",
        )
        return [RemoteProfile.parse(b) for b in bodies]

    async def get_remote_transport_profile(self, profile_id: str) -> RemoteProfile:
        body = await self._request(
            "GetRemoteTransportProfile",
            "GET",
            f"{self.parent}/remoteTransportProfiles/{profile_id}",
            idempotent=True,
        )
        return RemoteProfile.parse(body)

    def profile_name(self, profile_id: str) -> str:
        return f"{self.parent}/remoteTransportProfiles/{profile_id}"

    # ------------------------------------------------------------ transports

    async def create_transport(
        self, transport_id: str, spec: TransportSpec, *, request: str
    ) -> Operation:
        """Start creating; ``request`` is the requestId (see :func:`request_id`)."""
        body = await self._request(
            "CreateTransport",
            "POST",
            f"{self.parent}/transports",
            params={"transportId": transport_id, "requestId": request},
            body=spec.body(),
            idempotent=False,
        )
        return Operation.parse(body)

    async def get_transport(self, transport_id: str) -> Transport:
        body = await self._request(
            "GetTransport", "GET", f"{self.parent}/transports/{transport_id}", idempotent=True
        )
        return Transport.parse(body)

    async def list_transports(self) -> list[Transport]:
        """Every transport of the location (all pages)."""
        bodies = await self._all("ListTransports", f"{self.parent}/transports", "transports")
        return [Transport.parse(b) for b in bodies]

    async def patch_transport(
        self, transport_id: str, fields: Mapping[str, Any], *, request: str
    ) -> Operation:
        """Update the named ``fields`` (camelCase; the update mask is their names)."""
        if not fields:
            raise ValueError("nothing to update")
        body = await self._request(
            "UpdateTransport",
            "PATCH",
            f"{self.parent}/transports/{transport_id}",
            params={"updateMask": ",".join(sorted(fields)), "requestId": request},
            body=dict(fields),
            idempotent=False,
        )
        return Operation.parse(body)

    async def set_bandwidth(self, transport_id: str, mbps: int, *, request: str) -> Operation:
        return await self.patch_transport(
            transport_id, {"bandwidth": bandwidth_enum(mbps)}, request=request
        )

    async def delete_transport(self, transport_id: str, *, request: str) -> Operation:
        body = await self._request(
            "DeleteTransport",
            "DELETE",
            f"{self.parent}/transports/{transport_id}",
            params={"requestId": request},
            idempotent=False,
        )
        return Operation.parse(body)

    # ------------------------------------------------------------ operations

    async def get_operation(self, name: str) -> Operation:
        if not name.startswith(f"{self.parent}/operations/"):
            raise ValueError("not an operation of this project and location")
        return Operation.parse(await self._request("GetOperation", "GET", name, idempotent=True))

    async def wait(
        self,
        operation: Operation,
        *,
        timeout: float = 600.0,
        first_delay: float = 0.5,
        max_delay: float = 10.0,
    ) -> Operation:
        """Poll until done (backing off to ``max_delay``); OperationFailed on its error,
        TimeoutError past ``timeout``."""
        deadline = time.monotonic() + timeout
        delay = first_delay
        current = operation
        while not current.done:
            if time.monotonic() + delay > deadline:
                raise TimeoutError(f"operation {current.name} not done after {timeout:.0f} s")
            await self._sleep(delay)
            delay = min(delay * 2, max_delay)
            current = await self.get_operation(current.name)
        if current.error_code is not None:
            raise OperationFailed(current)
        return current


def _google_error(operation: str, response: httpx.Response) -> ApiError:
    """Google's error JSON (``code``, ``status``, ``message``, ``details``) as a typed error."""
    status = response.status_code
    text = ""
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    try:
        document = response.json()
        error = document.get("error", {}) if isinstance(document, dict) else {}
        text = f"{error.get('status', '')}: {error.get('message', '')}"
        for detail in error.get("details") or []:
            if str(detail.get("@type", "")).endswith("google.rpc.RetryInfo"):
                delay = str(detail.get("retryDelay", "")).rstrip("s")
                with contextlib.suppress(ValueError):
                    retry_after = max(retry_after or 0.0, float(delay))
    except (ValueError, AttributeError):
        text = response.text
    text = text[:_MAX_MESSAGE]
    if status == 429:
        return Throttled(operation, text, status, retry_after)
    if status >= 500:
        return ServerError(operation, text, status, retry_after)
    return error_for_status(operation, status, text, retry_after)
