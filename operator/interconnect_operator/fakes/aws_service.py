"""The AWS ``interconnect`` fake's account: connections, their states, and each operation.

What one fake account holds (connections, idempotency tokens, counters) and
what each of the 13 operations of the model does with it, in the vendor's
terms: connection states requested -> pending -> available (updating,
deleting, deleted, failed, down), deleted connections stay listed, a
connection or attach point that does not exist is 403 AccessDenied, 402 past
the quota. The key handoff and the link's progress come from
:mod:`.handoff`; the wire format and the model checks are :mod:`.aws_app`'s.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import secrets
import string
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import SecretStr

from interconnect_operator.api.customer_aws import bandwidth_mbps, bandwidth_text
from interconnect_operator.api.errors import ApiError
from interconnect_operator.fakes.handoff import (
    EnvironmentInfo,
    Handoff,
    HandoffLink,
    Progress,
    SimulatorEndpoint,
)

__all__ = [
    "DEFAULT_GATEWAY",
    "OPERATIONS",
    "AwsError",
    "AwsFake",
    "AwsFakeConfig",
    "aws_state",
]

PRODUCT_TYPE = "multicloud"
DEFAULT_GATEWAY = "5f0c6b8e-3a8f-4c1e-9d27-6b1d2e4f7a10"
_ID_ALPHABET = string.ascii_lowercase + string.digits


@dataclass(frozen=True)
class AwsFakeConfig:
    """One fake AWS account in one region, fronting the ``aws`` simulator."""

    own: SimulatorEndpoint
    peer: SimulatorEndpoint
    account: str = "111122223333"
    region: str = "us-east-1"
    gateways: tuple[str, ...] = (DEFAULT_GATEWAY,)
    connection_quota: int = 50
    access_keys: frozenset[str] = frozenset()
    """Access key ids accepted in the SigV4 scope (signature not checked)."""
    secret_keys: Mapping[str, SecretStr] = field(default_factory=dict, repr=False)
    """Access key id -> secret: these requests' signatures are verified.
    With neither set, any access key id is accepted."""
    poll_interval: float = 1.0
    drive_timeout: float = 300.0


class AwsError(Exception):
    """An error the API answers with one of the model's error shapes."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


_PROGRESS_STATE = {
    Progress.KEY_ISSUED: "requested",
    Progress.CONFIRMING: "pending",
    Progress.PROVISIONING: "pending",
    Progress.READY: "available",
    Progress.UPDATING: "updating",
    Progress.DOWN: "down",
    Progress.DELETING: "deleting",
    Progress.DELETED: "deleted",
    Progress.REMOTE_DELETED: "down",
    Progress.FAILED: "failed",
}


def aws_state(progress: Progress) -> str:
    """The vendor's connection state for a link's progress."""
    return _PROGRESS_STATE[progress]


@dataclass
class _Connection:
    id: str
    arn: str
    shared_id: str
    description: str
    attach_point: dict[str, str]
    environment: EnvironmentInfo
    activation_key: SecretStr = field(repr=False)
    tags: dict[str, str] = field(default_factory=dict)
    override: str | None = None
    deleted: bool = False


@dataclass
class _Counters:
    requests: int = 0
    rejected_requests: int = 0
    invalid_responses: int = 0
    throttle_next: int = 0
    by_operation: dict[str, int] = field(default_factory=dict)


class AwsFake:
    """State and operations of one fake account."""

    def __init__(self, config: AwsFakeConfig) -> None:
        self.config = config
        self.handoff = Handoff(
            config.own,
            config.peer,
            poll_interval=config.poll_interval,
            drive_timeout=config.drive_timeout,
        )
        self.connections: dict[str, _Connection] = {}
        self.tokens: dict[str, tuple[str, str]] = {}
        """clientToken -> (request fingerprint, connection id)."""
        self.counters = _Counters()
        self.lock = asyncio.Lock()

    # ------------------------------------------------------------ rendering

    def link(self, connection: _Connection) -> HandoffLink | None:
        return self.handoff.links.get(connection.shared_id)

    def state(self, connection: _Connection) -> str:
        if connection.deleted:
            return "deleted"
        if connection.override:
            return connection.override
        link = self.link(connection)
        return aws_state(link.progress) if link else "failed"

    def summary(self, connection: _Connection) -> dict[str, Any]:
        link = self.link(connection)
        bandwidth = link.bandwidth_mbps if link else 0
        return {
            "id": connection.id,
            "arn": connection.arn,
            "description": connection.description,
            "bandwidth": bandwidth_text(bandwidth) if bandwidth else "0Mbps",
            "attachPoint": dict(connection.attach_point),
            "environmentId": connection.environment.id,
            "provider": {"cloudServiceProvider": self.config.peer.provider},
            "location": connection.environment.peer_site,
            "type": PRODUCT_TYPE,
            "state": self.state(connection),
            "sharedId": connection.shared_id,
        }

    def full(self, connection: _Connection) -> dict[str, Any]:
        body = self.summary(connection)
        body["ownerAccount"] = self.config.account
        body["activationKey"] = connection.activation_key.get_secret_value()
        if connection.tags:
            body["tags"] = dict(connection.tags)
        return body

    def environment_body(self, env: EnvironmentInfo) -> dict[str, Any]:
        sizes = [bandwidth_text(mbps) for mbps in env.sizes_mbps]
        return {
            "provider": {"cloudServiceProvider": self.config.peer.provider},
            "location": env.peer_site,
            "environmentId": env.id,
            "state": "available",
            "bandwidths": {"available": sizes, "supported": sizes},
            "type": PRODUCT_TYPE,
            "remoteIdentifierType": "account",
        }

    # ------------------------------------------------------------ lookups

    def find(self, identifier: str) -> _Connection:
        connection = self.connections.get(identifier)
        if connection is None:
            # The vendor answers 403 for "does not exist" as for "not allowed".
            raise AwsError(
                "AccessDeniedException",
                "The calling principal is not allowed to access the resource, or it does not exist",
            )
        return connection

    def find_arn(self, arn: str) -> _Connection:
        for connection in self.connections.values():
            if connection.arn == arn:
                return connection
        return self.find("")

    async def environment(self, environment_id: str) -> EnvironmentInfo:
        env = await self.handoff.environment(environment_id)
        if env is None:
            raise AwsError("ResourceNotFoundException", f"environment {environment_id} not found")
        return env

    def gateway(self, attach_point: dict[str, str]) -> dict[str, str]:
        gateway = attach_point.get("directConnectGateway")
        if gateway is None and "arn" in attach_point:
            gateway = attach_point["arn"].rsplit("/", 1)[-1]
        if gateway not in self.config.gateways:
            raise AwsError(
                "AccessDeniedException",
                "The attach point does not exist or is not accessible to the caller",
            )
        return {"directConnectGateway": gateway}

    def check_quota(self) -> None:
        live = sum(1 for c in self.connections.values() if self.state(c) != "deleted")
        if live >= self.config.connection_quota:
            raise AwsError(
                "ServiceQuotaExceededException",
                f"connection quota of {self.config.connection_quota} reached",
            )

    def replay(self, token: str | None, fingerprint: str) -> _Connection | None:
        if not token or token not in self.tokens:
            return None
        seen, connection_id = self.tokens[token]
        if seen != fingerprint:
            raise AwsError(
                "InterconnectClientException",
                "clientToken was already used with different parameters",
            )
        return self.connections[connection_id]

    def add(
        self,
        shared_id: str,
        *,
        key: SecretStr,
        env: EnvironmentInfo,
        params: dict[str, Any],
        attach_point: dict[str, str],
        token: str | None,
        fingerprint: str,
    ) -> _Connection:
        connection_id = "mcc-" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(8))
        arn = (
            f"arn:aws:interconnect:{self.config.region}:{self.config.account}:"
            f"connection/{connection_id}"
        )
        connection = _Connection(
            id=connection_id,
            arn=arn,
            shared_id=shared_id,
            description=params.get("description") or connection_id,
            attach_point=attach_point,
            environment=env,
            activation_key=key,
            tags=dict(params.get("tags") or {}),
        )
        self.connections[connection_id] = connection
        if token:
            self.tokens[token] = (fingerprint, connection_id)
        return connection

    # ------------------------------------------------------------ operations

    async def list_environments(self, params: dict[str, Any]) -> dict[str, Any]:
        envs = await self.handoff.environments()
        provider = (params.get("provider") or {}).get("cloudServiceProvider")
        location = params.get("location")
        bodies = [
            self.environment_body(env)
            for env in envs
            if (provider is None or provider == self.config.peer.provider)
            and (location is None or location == env.peer_site)
        ]
        page, token = _page(bodies, params)
        return {"environments": page, **({"nextToken": token} if token else {})}

    async def get_environment(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"environment": self.environment_body(await self.environment(params["id"]))}

    async def list_attach_points(self, params: dict[str, Any]) -> dict[str, Any]:
        await self.environment(params["environmentId"])
        points = [
            {"type": "DirectConnectGateway", "identifier": gw, "name": f"dxgw-{gw[:8]}"}
            for gw in self.config.gateways
        ]
        page, token = _page(points, params)
        return {"attachPoints": page, **({"nextToken": token} if token else {})}

    async def create_connection(self, params: dict[str, Any]) -> dict[str, Any]:
        token = params.get("clientToken")
        fingerprint = _fingerprint(params)
        async with self.lock:
            replayed = self.replay(token, fingerprint)
            if replayed is not None:
                return {"connection": self.full(replayed)}
            env = await self.environment(params["environmentId"])
            attach_point = self.gateway(params["attachPoint"])
            mbps = _supported(params["bandwidth"], env)
            remote = (params.get("remoteAccount") or {}).get("identifier")
            if not remote:
                raise AwsError(
                    "InterconnectValidationException",
                    "remoteAccount.identifier is required: the partner's account receives the key",
                )
            self.check_quota()
            try:
                shared_id, key = await self.handoff.issue_key(env.id, mbps, remote)
            except ApiError as error:
                raise AwsError("InterconnectValidationException", error.message) from None
            connection = self.add(
                shared_id,
                key=key,
                env=env,
                params=params,
                attach_point=attach_point,
                token=token,
                fingerprint=fingerprint,
            )
        return {"connection": self.full(connection)}

    async def describe_connection_proposal(self, params: dict[str, Any]) -> dict[str, Any]:
        check = await self.handoff.check_key(params["activationKey"], self.config.account)
        if not check.valid or check.key is None or check.environment is None:
            raise AwsError("InterconnectValidationException", f"activation key: {check.reason}")
        env = await self.environment(check.environment)
        return {
            "bandwidth": bandwidth_text(check.key.connection_size_mbps),
            "environmentId": env.id,
            "provider": {"cloudServiceProvider": self.config.peer.provider},
            "location": env.peer_site,
        }

    async def accept_connection_proposal(self, params: dict[str, Any]) -> dict[str, Any]:
        token = params.get("clientToken")
        fingerprint = _fingerprint(params)
        encoded = params["activationKey"]
        async with self.lock:
            replayed = self.replay(token, fingerprint)
            if replayed is not None:
                return {"connection": self.full(replayed)}
            attach_point = self.gateway(params["attachPoint"])
            check = await self.handoff.check_key(encoded, self.config.account)
            if not check.valid or check.key is None or check.environment is None:
                raise AwsError("InterconnectValidationException", f"activation key: {check.reason}")
            env = await self.environment(check.environment)
            self.check_quota()
            link = self.handoff.accept(check, encoded)
            connection = self.add(
                link.uuid,
                key=SecretStr(encoded),
                env=env,
                params=params,
                attach_point=attach_point,
                token=token,
                fingerprint=fingerprint,
            )
        return {"connection": self.full(connection)}

    async def get_connection(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"connection": self.full(self.find(params["identifier"]))}

    async def list_connections(self, params: dict[str, Any]) -> dict[str, Any]:
        wanted_state = params.get("state")
        wanted_env = params.get("environmentId")
        provider = (params.get("provider") or {}).get("cloudServiceProvider")
        attach = params.get("attachPoint")
        bodies = [
            self.summary(c)
            for c in self.connections.values()
            if (wanted_state is None or self.state(c) == wanted_state)
            and (wanted_env is None or c.environment.id == wanted_env)
            and (provider is None or provider == self.config.peer.provider)
            and (attach is None or attach == c.attach_point)
        ]
        page, token = _page(bodies, params)
        return {"connections": page, **({"nextToken": token} if token else {})}

    async def update_connection(self, params: dict[str, Any]) -> dict[str, Any]:
        async with self.lock:
            connection = self.find(params["identifier"])
            if "description" in params:
                connection.description = params["description"]
            if "bandwidth" in params:
                link = self.link(connection)
                mbps = _supported(params["bandwidth"], connection.environment)
                state = self.state(connection)
                if link is None or state != "available":
                    raise AwsError(
                        "InterconnectClientException",
                        f"the connection is {state}; only an available connection can be resized",
                    )
                if mbps != link.bandwidth_mbps:
                    self.handoff.update(connection.shared_id, mbps)
        return {"connection": self.full(connection)}

    async def delete_connection(self, params: dict[str, Any]) -> dict[str, Any]:
        async with self.lock:
            connection = self.find(params["identifier"])
            if not connection.deleted and self.state(connection) != "deleting":
                connection.override = None
                link = self.handoff.delete(connection.shared_id)
                if link is None:
                    connection.deleted = True
        return {"connection": self.full(connection)}

    async def tag_resource(self, params: dict[str, Any]) -> dict[str, Any]:
        self.find_arn(params["arn"]).tags.update(params["tags"])
        return {}

    async def untag_resource(self, params: dict[str, Any]) -> dict[str, Any]:
        connection = self.find_arn(params["arn"])
        for key in params["tagKeys"]:
            connection.tags.pop(key, None)
        return {}

    async def list_tags_for_resource(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"tags": dict(self.find_arn(params["arn"]).tags)}


Operation = Callable[[AwsFake, dict[str, Any]], Awaitable[dict[str, Any]]]

OPERATIONS: dict[str, Operation] = {
    "AcceptConnectionProposal": AwsFake.accept_connection_proposal,
    "CreateConnection": AwsFake.create_connection,
    "DeleteConnection": AwsFake.delete_connection,
    "DescribeConnectionProposal": AwsFake.describe_connection_proposal,
    "GetConnection": AwsFake.get_connection,
    "GetEnvironment": AwsFake.get_environment,
    "ListAttachPoints": AwsFake.list_attach_points,
    "ListConnections": AwsFake.list_connections,
    "ListEnvironments": AwsFake.list_environments,
    "ListTagsForResource": AwsFake.list_tags_for_resource,
    "TagResource": AwsFake.tag_resource,
    "UntagResource": AwsFake.untag_resource,
    "UpdateConnection": AwsFake.update_connection,
}


def _supported(text: str, env: EnvironmentInfo) -> int:
    try:
        mbps = bandwidth_mbps(text)
    except ValueError as error:
        raise AwsError("InterconnectValidationException", str(error)) from None
    if mbps not in env.sizes_mbps:
        raise AwsError(
            "InterconnectValidationException",
            f"bandwidth {text} is not offered in environment {env.id}",
        )
    return mbps


def _fingerprint(params: dict[str, Any]) -> str:
    body = {k: v for k, v in params.items() if k != "clientToken"}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def _page(items: list[dict[str, Any]], params: dict[str, Any]) -> tuple[list[dict[str, Any]], str]:
    size = int(params.get("maxResults") or 100)
    start = 0
    token = params.get("nextToken")
    if token:
        try:
            start = int(base64.urlsafe_b64decode(token.encode()).decode())
        except (ValueError, UnicodeDecodeError):
            raise AwsError("InterconnectValidationException", "invalid nextToken") from None
    end = start + size
    following = base64.urlsafe_b64encode(str(end).encode()).decode() if end < len(items) else ""
    return items[start:end], following
