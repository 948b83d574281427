"""Async client of the AWS ``interconnect`` customer API (botocore in a bounded executor).

botocore is synchronous; every call runs in a small thread pool of this
client's own (``max_workers`` threads, so outbound concurrency is bounded and
the event loop never blocks). botocore does the rest as it does for any AWS
service: the awsJson 1.0 wire format (``X-Amz-Target: Interconnect.<Op>``),
SigV4 with signing name ``interconnect``, ``endpoint_url`` overrides, and
retries in its ``standard`` mode, which backs off on ThrottlingException and
429 and retries 5xx (safe for the mutating calls: each carries a
``clientToken``, see :func:`idempotency_token`).

Credentials: botocore's chain (environment, IRSA web identity, EKS Pod
Identity, instance profile) unless static keys from a Secret are given.

Errors become the project's :mod:`~interconnect_operator.api.errors` types.
The vendor answers 403 both for "not allowed" and "does not exist": reads and
writes of one connection raise :class:`MissingOrDenied` for it, and a caller
that must know which asks :meth:`AwsInterconnectClient.list_connections`.
Activation keys are kept in ``SecretStr`` and never appear in errors or reprs.
"""

from __future__ import annotations

import asyncio
import functools
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from interconnect_operator import __version__
from interconnect_operator.api.errors import (
    ApiError,
    AuthError,
    Forbidden,
    InvalidRequest,
    InvalidResponse,
    NotFound,
    OutcomeUnknown,
    ServerError,
    Throttled,
    TransportError,
    UnexpectedStatus,
    error_for_status,
)

if TYPE_CHECKING:
    import botocore.exceptions

__all__ = [
    "AwsConnection",
    "AwsCredentials",
    "AwsEnvironment",
    "AwsInterconnectClient",
    "ConnectionProposal",
    "MissingOrDenied",
    "QuotaExceeded",
    "bandwidth_mbps",
    "bandwidth_text",
    "idempotency_token",
]

SERVICE = "interconnect"
_TOKEN_NAMESPACE = uuid.UUID("0f6c3a52-6a55-4a38-9b5e-2f8f2d7c1e11")
_MUTATING = frozenset(
    {
        "AcceptConnectionProposal",
        "CreateConnection",
        "DeleteConnection",
        "TagResource",
        "UntagResource",
        "UpdateConnection",
    }
)


class QuotaExceeded(ApiError):
    """402 ServiceQuotaExceededException: the account's connection quota is reached."""


class MissingOrDenied(Forbidden):
    """403 for one connection: it does not exist, or the caller may not see it (the vendor's
    answer is the same for both)."""


@dataclass(frozen=True)
class AwsCredentials:
    """Static keys from a Secret; without them botocore's credential chain is used."""

    access_key_id: str
    secret_access_key: SecretStr = field(repr=False)
    session_token: SecretStr | None = field(default=None, repr=False)

    @classmethod
    def from_secret(cls, data: Mapping[str, str]) -> AwsCredentials:
        """From a Secret's decoded data (``AWS_ACCESS_KEY_ID``... or lower-case keys)."""
        lowered = {k.lower(): v for k, v in data.items()}
        key_id = lowered.get("aws_access_key_id") or lowered.get("accesskeyid")
        secret = lowered.get("aws_secret_access_key") or lowered.get("secretaccesskey")
        token = lowered.get("aws_session_token") or lowered.get("sessiontoken")
        if not key_id or not secret:
            raise ValueError("the Secret needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
        return cls(key_id, SecretStr(secret), SecretStr(token) if token else None)


def bandwidth_text(mbps: int) -> str:
    """1000 -> ``1Gbps``, 500 -> ``500Mbps`` (the model's ``\\d+[MG]bps``)."""
    return f"{mbps // 1000}Gbps" if mbps % 1000 == 0 else f"{mbps}Mbps"


def bandwidth_mbps(text: str) -> int:
    """``1Gbps`` -> 1000, ``500Mbps`` -> 500; ValueError otherwise."""
    number, unit = text[:-4], text[-4:]
    if not number.isdigit() or unit not in ("Gbps", "Mbps"):
        raise ValueError(f"not a bandwidth: {text!r}")
    return int(number) * (1000 if unit == "Gbps" else 1)


def idempotency_token(*parts: str) -> str:
    """A ``clientToken`` derived from what identifies the intent (e.g. link uid, action,
    generation), so a retry after a crash repeats the same request."""
    return str(uuid.uuid5(_TOKEN_NAMESPACE, "/".join(parts)))


@dataclass(frozen=True)
class AwsConnection:
    """A connection as the API describes it."""

    id: str
    arn: str
    shared_id: str
    state: str
    bandwidth_mbps: int
    environment_id: str
    attach_point: Mapping[str, str]
    description: str
    provider: str
    location: str
    owner_account: str | None = None
    activation_key: SecretStr | None = field(default=None, repr=False)
    tags: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, body: Mapping[str, Any]) -> AwsConnection:
        try:
            key = body.get("activationKey")
            provider = body.get("provider") or {}
            return cls(
                id=body["id"],
                arn=body["arn"],
                shared_id=body["sharedId"],
                state=body["state"],
                bandwidth_mbps=bandwidth_mbps(body["bandwidth"]),
                environment_id=body["environmentId"],
                attach_point=dict(body.get("attachPoint") or {}),
                description=body.get("description", ""),
                provider=next(iter(provider.values()), ""),
                location=body.get("location", ""),
                owner_account=body.get("ownerAccount"),
                activation_key=SecretStr(key) if key else None,
                tags=dict(body.get("tags") or {}),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise InvalidResponse("Connection", f"unexpected connection: {error}") from None


@dataclass(frozen=True)
class AwsEnvironment:
    """An environment: the partner, its location and the bandwidths offered."""

    id: str
    provider: str
    location: str
    state: str
    available_mbps: tuple[int, ...]
    supported_mbps: tuple[int, ...]


@dataclass(frozen=True)
class ConnectionProposal:
    """What DescribeConnectionProposal tells about a partner's key."""

    bandwidth_mbps: int
    environment_id: str
    provider: str
    location: str


_ERRORS: dict[str, Callable[[str, str, int | None], ApiError]] = {
    "AccessDeniedException": Forbidden,
    "ResourceNotFoundException": NotFound,
    "InterconnectValidationException": InvalidRequest,
    "InterconnectClientException": InvalidRequest,
    "ServiceQuotaExceededException": QuotaExceeded,
    "ThrottlingException": Throttled,
    "InterconnectServerException": ServerError,
}


class AwsInterconnectClient:
    """The ``interconnect`` API of one account and region."""

    def __init__(
        self,
        region: str,
        *,
        endpoint_url: str | None = None,
        credentials: AwsCredentials | None = None,
        max_workers: int = 4,
        max_attempts: int = 5,
        connect_timeout: float = 10.0,
        read_timeout: float = 30.0,
    ) -> None:
        if max_workers < 1:
            raise ValueError("max_workers must be at least 1")
        # botocore (~23 MiB once imported) is loaded by the first AWS pool's client,
        # not by every operator process at start.
        import botocore.config
        import botocore.session

        session = botocore.session.Session()
        if credentials is not None:
            session.set_credentials(
                credentials.access_key_id,
                credentials.secret_access_key.get_secret_value(),
                credentials.session_token.get_secret_value() if credentials.session_token else None,
            )
        config = botocore.config.Config(
            region_name=region,
            retries={"mode": "standard", "max_attempts": max_attempts},
            max_pool_connections=max_workers,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            user_agent_extra=f"interconnect-operator/{__version__}",
        )
        self.region = region
        self.endpoint_url = endpoint_url
        self.botocore_client = session.create_client(
            SERVICE, region_name=region, endpoint_url=endpoint_url, config=config
        )
        self._executor = ThreadPoolExecutor(max_workers, thread_name_prefix="aws-interconnect")

    def __repr__(self) -> str:
        return f"AwsInterconnectClient(region={self.region!r}, endpoint_url={self.endpoint_url!r})"

    async def aclose(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
        self.botocore_client.close()

    async def _call(self, operation: str, **params: Any) -> dict[str, Any]:
        import botocore.exceptions  # loaded with the client (see __init__)

        method = getattr(self.botocore_client, _snake(operation))
        loop = asyncio.get_running_loop()
        try:
            result: dict[str, Any] = await loop.run_in_executor(
                self._executor, functools.partial(method, **params)
            )
        except botocore.exceptions.ClientError as error:
            raise _api_error(operation, error) from None
        except botocore.exceptions.NoCredentialsError:
            raise AuthError(operation, "no AWS credentials found (chain or Secret)") from None
        except botocore.exceptions.ParamValidationError as error:
            raise InvalidRequest(operation, f"rejected before sending: {error}") from None
        except (
            botocore.exceptions.ReadTimeoutError,
            botocore.exceptions.ConnectionClosedError,
        ) as error:
            if operation in _MUTATING:
                raise OutcomeUnknown(operation, type(error).__name__) from None
            raise TransportError(operation, type(error).__name__) from None
        except botocore.exceptions.EndpointConnectionError as error:
            raise TransportError(operation, type(error).__name__) from None
        result.pop("ResponseMetadata", None)
        return result

    async def _pages(self, operation: str, key: str, **params: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        token: str | None = None
        for _ in range(10_000):  # bounded: a server repeating tokens cannot loop us forever
            page = await self._call(operation, **params, **({"nextToken": token} if token else {}))
            items.extend(page.get(key) or [])
            following = page.get("nextToken")
            if not following:
                return items
            if following == token:
                raise InvalidResponse(operation, "the server repeated a page token")
            token = following
        raise InvalidResponse(operation, "too many pages")

    # ------------------------------------------------------------ environments

    async def list_environments(self) -> list[AwsEnvironment]:
        return [_environment(e) for e in await self._pages("ListEnvironments", "environments")]

    async def get_environment(self, environment_id: str) -> AwsEnvironment:
        return _environment((await self._call("GetEnvironment", id=environment_id))["environment"])

    async def list_attach_points(self, environment_id: str) -> list[dict[str, str]]:
        """Direct Connect gateways (type, identifier, name) usable in the environment."""
        points = await self._pages("ListAttachPoints", "attachPoints", environmentId=environment_id)
        return [dict(p) for p in points]

    # ------------------------------------------------------------ connections

    async def create_connection(
        self,
        *,
        environment_id: str,
        bandwidth_mbps: int,
        gateway: str,
        remote_account: str,
        client_token: str,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> AwsConnection:
        """AWS first: create here; the returned connection carries the key for the partner."""
        params: dict[str, Any] = {
            "environmentId": environment_id,
            "bandwidth": bandwidth_text(bandwidth_mbps),
            "attachPoint": {"directConnectGateway": gateway},
            "remoteAccount": {"identifier": remote_account},
            "clientToken": client_token,
        }
        _optional(params, description=description, tags=dict(tags) if tags else None)
        return AwsConnection.parse((await self._call("CreateConnection", **params))["connection"])

    async def describe_connection_proposal(self, activation_key: SecretStr) -> ConnectionProposal:
        """What a partner's key proposes (bandwidth, environment), before accepting it."""
        body = await self._call(
            "DescribeConnectionProposal", activationKey=activation_key.get_secret_value()
        )
        try:
            return ConnectionProposal(
                bandwidth_mbps=bandwidth_mbps(body["bandwidth"]),
                environment_id=body["environmentId"],
                provider=next(iter((body.get("provider") or {}).values()), ""),
                location=body.get("location", ""),
            )
        except (KeyError, ValueError) as error:
            raise InvalidResponse("DescribeConnectionProposal", str(error)) from None

    async def accept_connection_proposal(
        self,
        *,
        activation_key: SecretStr,
        gateway: str,
        client_token: str,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> AwsConnection:
        """Partner first: accept the partner's key onto a Direct Connect gateway."""
        params: dict[str, Any] = {
            "activationKey": activation_key.get_secret_value(),
            "attachPoint": {"directConnectGateway": gateway},
            "clientToken": client_token,
        }
        _optional(params, description=description, tags=dict(tags) if tags else None)
        body = await self._call("AcceptConnectionProposal", **params)
        return AwsConnection.parse(body["connection"])

    async def get_connection(self, connection_id: str) -> AwsConnection:
        body = await self._one("GetConnection", identifier=connection_id)
        return AwsConnection.parse(body["connection"])

    async def list_connections(
        self, *, state: str | None = None, environment_id: str | None = None
    ) -> list[AwsConnection]:
        """Every connection of the account (all pages), deleted ones included."""
        params: dict[str, Any] = {}
        _optional(params, state=state, environmentId=environment_id)
        summaries = await self._pages("ListConnections", "connections", **params)
        return [AwsConnection.parse(s) for s in summaries]

    async def update_connection(
        self,
        connection_id: str,
        *,
        client_token: str,
        bandwidth_mbps: int | None = None,
        description: str | None = None,
    ) -> AwsConnection:
        params: dict[str, Any] = {"identifier": connection_id, "clientToken": client_token}
        _optional(
            params,
            bandwidth=bandwidth_text(bandwidth_mbps) if bandwidth_mbps else None,
            description=description,
        )
        return AwsConnection.parse((await self._one("UpdateConnection", **params))["connection"])

    async def delete_connection(self, connection_id: str, *, client_token: str) -> AwsConnection:
        body = await self._one(
            "DeleteConnection", identifier=connection_id, clientToken=client_token
        )
        return AwsConnection.parse(body["connection"])

    async def tag_resource(self, arn: str, tags: Mapping[str, str]) -> None:
        await self._one("TagResource", arn=arn, tags=dict(tags))

    async def untag_resource(self, arn: str, keys: list[str]) -> None:
        await self._one("UntagResource", arn=arn, tagKeys=list(keys))

    async def list_tags_for_resource(self, arn: str) -> dict[str, str]:
        return dict((await self._one("ListTagsForResource", arn=arn)).get("tags") or {})

    async def _one(self, operation: str, **params: Any) -> dict[str, Any]:
        """A call about one connection: 403 means missing or denied."""
        try:
            return await self._call(operation, **params)
        except Forbidden as error:
            raise MissingOrDenied(operation, error.message, error.status) from None


def _snake(operation: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in operation).lstrip("_")


def _optional(params: dict[str, Any], **values: Any) -> None:
    params.update({k: v for k, v in values.items() if v is not None})


def _api_error(operation: str, error: botocore.exceptions.ClientError) -> ApiError:
    details = error.response.get("Error", {})
    code = str(details.get("Code", ""))
    message = str(details.get("Message", ""))
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    factory = _ERRORS.get(code)
    if factory is not None:
        return factory(operation, message, status)
    if status is None:
        return UnexpectedStatus(operation, f"{code}: {message}", status)
    # Errors common to every AWS service (UnrecognizedClientException,
    # InvalidSignatureException...) are not in the model: go by status.
    return error_for_status(operation, status, f"{code}: {message}")


def _environment(body: Mapping[str, Any]) -> AwsEnvironment:
    try:
        bandwidths = body.get("bandwidths") or {}
        return AwsEnvironment(
            id=body["environmentId"],
            provider=next(iter((body.get("provider") or {}).values()), ""),
            location=body.get("location", ""),
            state=body["state"],
            available_mbps=tuple(bandwidth_mbps(b) for b in bandwidths.get("available") or []),
            supported_mbps=tuple(bandwidth_mbps(b) for b in bandwidths.get("supported") or []),
        )
    except (KeyError, ValueError) as error:
        raise InvalidResponse("Environment", f"unexpected environment: {error}") from None
