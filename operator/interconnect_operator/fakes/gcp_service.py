"""The Google transports fake's project: transports, operations, and each method.

What one fake project and location holds (transports, long-running
operations, requestIds) and what each method does with it, in Google's terms:
transport states CREATING, PENDING_KEY, PENDING_CONFIG, ACTIVE, DELETING,
DEPROVISIONED, SUSPENDED; create, patch and delete answer operations that
finish once the transport got where the verb leads. The key handoff and the
link's progress come from :mod:`.handoff`; the REST mapping, Google's error
JSON and the discovery-document checks are :mod:`.gcp_app`'s.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import json
import re
import secrets
from dataclasses import dataclass, field
from typing import Any

from pydantic import SecretStr

from interconnect_operator.api.customer_gcp import BANDWIDTHS
from interconnect_operator.api.errors import ApiError
from interconnect_operator.fakes.handoff import (
    EnvironmentInfo,
    Handoff,
    HandoffLink,
    Progress,
    SimulatorEndpoint,
)

__all__ = [
    "EMPTY_TYPE",
    "TRANSPORT_TYPE",
    "GcpFake",
    "GcpFakeConfig",
    "GoogleError",
    "dispatch",
    "transport_state",
]

TRANSPORT_TYPE = "type.googleapis.com/google.cloud.networkconnectivity.v1.Transport"
METADATA_TYPE = "type.googleapis.com/google.cloud.networkconnectivity.v1.OperationMetadata"
EMPTY_TYPE = "type.googleapis.com/google.protobuf.Empty"
_BY_MBPS = {mbps: name for name, mbps in BANDWIDTHS.items()}
_ID = re.compile(r"[a-z]([-a-z0-9]{0,61}[a-z0-9])?")
_PATCHABLE = {"bandwidth", "description", "labels", "advertisedRoutes", "stackType"}
_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ALREADY_EXISTS",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
}
_RPC_CODE = {"INVALID_ARGUMENT": 3, "FAILED_PRECONDITION": 9, "NOT_FOUND": 5, "INTERNAL": 13}


@dataclass(frozen=True)
class GcpFakeConfig:
    """One fake Google project and location, fronting the ``gcp`` simulator."""

    own: SimulatorEndpoint
    peer: SimulatorEndpoint
    project: str = "demo-project"
    location: str = "us-east4"
    token: str | None = field(default=None, repr=False)
    """The only bearer token accepted; None: any non-empty one."""
    poll_interval: float = 1.0
    drive_timeout: float = 300.0
    mtu_limit: int = 8896


class GoogleError(Exception):
    """An error answered with Google's error JSON."""

    def __init__(
        self,
        code: int,
        message: str,
        status: str | None = None,
        violations: list[tuple[str, str]] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status or _STATUS.get(code, "UNKNOWN")
        self.violations = violations or []


_PROGRESS_STATE = {
    Progress.KEY_ISSUED: "PENDING_KEY",
    Progress.CONFIRMING: "CREATING",
    Progress.PROVISIONING: "PENDING_CONFIG",
    Progress.READY: "ACTIVE",
    Progress.UPDATING: "ACTIVE",
    Progress.DOWN: "PENDING_CONFIG",
    Progress.DELETING: "DELETING",
    Progress.DELETED: "DELETING",
    Progress.REMOTE_DELETED: "DEPROVISIONED",
    Progress.FAILED: "CREATING",
}


def transport_state(progress: Progress) -> str:
    """The vendor's transport state for a link's progress."""
    return _PROGRESS_STATE[progress]


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class _Transport:
    id: str
    name: str
    body: dict[str, Any]
    """The user's fields as given (never a key)."""
    shared_id: str
    environment: EnvironmentInfo
    generated_key: SecretStr | None = field(default=None, repr=False)
    create_time: str = field(default_factory=_now)
    update_time: str = field(default_factory=_now)
    suspended: bool = False
    deleting: bool = False


@dataclass
class _Operation:
    name: str
    verb: str
    target: str
    transport: str
    shared_id: str
    """Of the transport it acts on: a later transport reusing the id is another one."""
    create_time: str = field(default_factory=_now)
    end_time: str | None = None
    error: dict[str, Any] | None = None
    response: dict[str, Any] | None = None


class GcpFake:
    """State and methods of one fake project and location."""

    def __init__(self, config: GcpFakeConfig) -> None:
        self.config = config
        self.parent = f"projects/{config.project}/locations/{config.location}"
        self.handoff = Handoff(
            config.own,
            config.peer,
            poll_interval=config.poll_interval,
            drive_timeout=config.drive_timeout,
        )
        self.transports: dict[str, _Transport] = {}
        self.operations: dict[str, _Operation] = {}
        self.requests: dict[str, tuple[str, str]] = {}
        """requestId -> (request fingerprint, operation name)."""
        self.lock = asyncio.Lock()
        self.requests_total = 0
        self.rejected_requests = 0
        self.invalid_responses = 0
        self.throttle_next = 0

    # ------------------------------------------------------------ rendering

    def link(self, transport: _Transport) -> HandoffLink | None:
        return self.handoff.links.get(transport.shared_id)

    def state(self, transport: _Transport) -> str:
        if transport.deleting:
            return "DELETING"
        if transport.suspended:
            return "SUSPENDED"
        link = self.link(transport)
        return transport_state(link.progress) if link else "CREATING"

    def render(self, transport: _Transport) -> dict[str, Any]:
        body = {k: v for k, v in transport.body.items() if k != "providedActivationKey"}
        link = self.link(transport)
        if link is not None and link.bandwidth_mbps in _BY_MBPS:
            body["bandwidth"] = _BY_MBPS[link.bandwidth_mbps]
        body.update(
            name=transport.name,
            state=self.state(transport),
            createTime=transport.create_time,
            updateTime=transport.update_time,
            mtuLimit=self.config.mtu_limit,
        )
        if transport.generated_key is not None:
            body["generatedActivationKey"] = transport.generated_key.get_secret_value()
        return body

    def profile_body(self, env: EnvironmentInfo) -> dict[str, Any]:
        return {
            "name": f"{self.parent}/remoteTransportProfiles/{self.profile_id(env)}",
            "provider": self.config.peer.provider,
            "providerSite": env.peer_site,
            "displayName": f"{self.config.peer.provider} {env.peer_site_name}",
            "description": f"{self.config.peer.provider} {env.peer_site} to {env.own_site}",
            "supportedBandwidths": [_BY_MBPS[m] for m in env.sizes_mbps if m in _BY_MBPS],
            "flow": "INPUT_OR_OUTPUT",
            "orderState": "OPEN",
            "sla": "HIGH",
        }

    def profile_id(self, env: EnvironmentInfo) -> str:
        return f"{self.config.peer.provider}-{env.peer_site}"

    def operation_body(self, op: _Operation) -> dict[str, Any]:
        self.settle(op)
        metadata: dict[str, Any] = {
            "@type": METADATA_TYPE,
            "createTime": op.create_time,
            "target": op.target,
            "verb": op.verb,
            "requestedCancellation": False,
            "apiVersion": "v1",
        }
        body: dict[str, Any] = {"name": op.name, "metadata": metadata, "done": False}
        if op.end_time is not None:
            metadata["endTime"] = op.end_time
            body["done"] = True
            if op.error is not None:
                body["error"] = op.error
            else:
                body["response"] = op.response
        return body

    # ------------------------------------------------------------ operations (LRO)

    def start_operation(self, verb: str, transport: _Transport) -> _Operation:
        op_id = "operation-" + secrets.token_hex(8)
        op = _Operation(
            name=f"{self.parent}/operations/{op_id}",
            verb=verb,
            target=transport.name,
            transport=transport.id,
            shared_id=transport.shared_id,
        )
        self.operations[op.name] = op
        return op

    def settle(self, op: _Operation) -> None:
        """Finish ``op`` once its transport got where the verb leads."""
        if op.end_time is not None:
            return
        transport = self.transports.get(op.transport)
        if transport is not None and transport.shared_id != op.shared_id:
            transport = None
        link = self.link(transport) if transport else None
        if op.verb == "delete":
            if transport is None:
                self._done(op, response={"@type": EMPTY_TYPE})
            elif link is not None and link.progress is Progress.DELETED:
                del self.transports[op.transport]
                self._done(op, response={"@type": EMPTY_TYPE})
            elif link is not None and link.progress is Progress.FAILED:
                transport.deleting = False
                self._done(op, error=_rpc_error("INTERNAL", link.message or "deletion failed"))
            return
        if transport is None or link is None:
            self._done(op, error=_rpc_error("NOT_FOUND", "the transport is gone"))
            return
        if link.progress is Progress.FAILED and not link.ever_ready:
            del self.transports[op.transport]
            self._done(op, error=_rpc_error("FAILED_PRECONDITION", link.message or "failed"))
            return
        busy = {Progress.CONFIRMING} if op.verb == "create" else {Progress.UPDATING}
        if link.progress not in busy:
            self._done(op, response={"@type": TRANSPORT_TYPE, **self.render(transport)})

    def _done(
        self,
        op: _Operation,
        *,
        response: dict[str, Any] | None = None,
        error: dict[str, Any] | None = None,
    ) -> None:
        op.end_time = _now()
        op.response = response
        op.error = error

    def replay(self, request_id: str | None, fingerprint: str) -> _Operation | None:
        if not request_id or request_id not in self.requests:
            return None
        seen, op_name = self.requests[request_id]
        if seen != fingerprint:
            raise GoogleError(400, "requestId was already used for a different request")
        return self.operations[op_name]

    def remember(self, request_id: str | None, fingerprint: str, op: _Operation) -> None:
        if request_id:
            self.requests[request_id] = (fingerprint, op.name)

    # ------------------------------------------------------------ lookups

    def check_parent(self, project: str, location: str) -> None:
        if project != self.config.project:
            raise GoogleError(
                403, f"Permission denied on resource project {project} (or it may not exist)."
            )
        if location != self.config.location:
            raise GoogleError(404, f"Location {location} is not found or access is unauthorized.")

    def find(self, transport_id: str) -> _Transport:
        transport = self.transports.get(transport_id)
        if transport is None:
            raise GoogleError(
                404, f"Resource '{self.parent}/transports/{transport_id}' was not found"
            )
        return transport

    async def profile(self, name: str) -> EnvironmentInfo:
        short = name.rsplit("/", 1)[-1]
        if "/" in name and not name.startswith(f"{self.parent}/remoteTransportProfiles/"):
            raise GoogleError(400, "remoteProfile must be in the transport's project and location")
        for env in await self.handoff.environments():
            if self.profile_id(env) == short:
                return env
        raise GoogleError(404, f"RemoteTransportProfile '{short}' was not found")

    # ------------------------------------------------------------ methods

    async def create(self, params: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        transport_id = params.get("transportId", "")
        if not _ID.fullmatch(transport_id):
            raise GoogleError(
                400,
                "transportId must be 1-63 characters of [a-z0-9-], starting with a letter",
                violations=[("transportId", "invalid or missing")],
            )
        request_id = params.get("requestId")
        fingerprint = _fingerprint({"id": transport_id, **body})
        async with self.lock:
            replayed = self.replay(request_id, fingerprint)
            if replayed is not None:
                return self.operation_body(replayed)
            if transport_id in self.transports:
                raise GoogleError(
                    409, f"Resource '{self.parent}/transports/{transport_id}' already exists"
                )
            if not body.get("remoteProfile"):
                raise GoogleError(
                    400,
                    "remoteProfile is required",
                    violations=[("transport.remote_profile", "required")],
                )
            env = await self.profile(body["remoteProfile"])
            if not body.get("network") and not body.get("hub"):
                raise GoogleError(
                    400,
                    "one of network or hub is required",
                    violations=[("transport.network", "required")],
                )
            name = f"{self.parent}/transports/{transport_id}"
            provided = body.get("providedActivationKey")
            if provided:
                transport = await self._create_with_key(transport_id, name, body, env, provided)
            else:
                transport = await self._create_for_key(transport_id, name, body, env)
            self.transports[transport_id] = transport
            op = self.start_operation("create", transport)
            self.remember(request_id, fingerprint, op)
        return self.operation_body(op)

    async def _create_with_key(
        self, transport_id: str, name: str, body: dict[str, Any], env: EnvironmentInfo, key: str
    ) -> _Transport:
        check = await self.handoff.check_key(key, self.config.project)
        if not check.valid or check.key is None:
            raise GoogleError(
                400,
                f"providedActivationKey: {check.reason}",
                violations=[("transport.provided_activation_key", check.reason)],
            )
        if check.environment != env.id:
            raise GoogleError(400, "providedActivationKey is for another remote profile")
        wanted = body.get("bandwidth")
        if wanted and BANDWIDTHS.get(wanted) != check.key.connection_size_mbps:
            raise GoogleError(400, "bandwidth differs from the activation key's")
        link = self.handoff.accept(check, key)
        return _Transport(transport_id, name, dict(body), link.uuid, env)

    async def _create_for_key(
        self, transport_id: str, name: str, body: dict[str, Any], env: EnvironmentInfo
    ) -> _Transport:
        bandwidth = body.get("bandwidth")
        mbps = BANDWIDTHS.get(bandwidth or "")
        if mbps is None or mbps not in env.sizes_mbps:
            raise GoogleError(
                400,
                "bandwidth must be one of the remote profile's supportedBandwidths",
                violations=[("transport.bandwidth", "unsupported")],
            )
        account = body.get("remoteAccountId")
        if not account:
            raise GoogleError(
                400,
                "remoteAccountId is required to generate an activation key",
                violations=[("transport.remote_account_id", "required")],
            )
        try:
            uuid, key = await self.handoff.issue_key(env.id, mbps, account)
        except ApiError as error:
            raise GoogleError(400, error.message) from None
        return _Transport(transport_id, name, dict(body), uuid, env, generated_key=key)

    async def patch(
        self, transport_id: str, params: dict[str, Any], body: dict[str, Any]
    ) -> dict[str, Any]:
        mask = [p.strip() for p in params.get("updateMask", "").split(",") if p.strip()]
        if not mask:
            raise GoogleError(
                400, "updateMask is required", violations=[("update_mask", "required")]
            )
        bad = [p for p in mask if p not in _PATCHABLE]
        if bad:
            raise GoogleError(
                400,
                f"fields cannot be updated: {', '.join(bad)}",
                violations=[(p, "immutable or unknown") for p in bad],
            )
        request_id = params.get("requestId")
        fingerprint = _fingerprint({"id": transport_id, "mask": mask, **body})
        async with self.lock:
            replayed = self.replay(request_id, fingerprint)
            if replayed is not None:
                return self.operation_body(replayed)
            transport = self.find(transport_id)
            link = self.link(transport)
            if "bandwidth" in mask:
                mbps = BANDWIDTHS.get(body.get("bandwidth") or "")
                if mbps is None or mbps not in transport.environment.sizes_mbps:
                    raise GoogleError(
                        400, "bandwidth must be one of the remote profile's supportedBandwidths"
                    )
                if link is None or self.state(transport) != "ACTIVE":
                    raise GoogleError(
                        400,
                        "only an ACTIVE transport can change bandwidth",
                        status="FAILED_PRECONDITION",
                    )
                if mbps != link.bandwidth_mbps:
                    self.handoff.update(transport.shared_id, mbps)
            for path in mask:
                if path in body:
                    transport.body[path] = body[path]
                else:
                    transport.body.pop(path, None)
            transport.update_time = _now()
            op = self.start_operation("update", transport)
            self.remember(request_id, fingerprint, op)
        return self.operation_body(op)

    async def delete(self, transport_id: str, params: dict[str, Any]) -> dict[str, Any]:
        request_id = params.get("requestId")
        fingerprint = _fingerprint({"delete": transport_id})
        async with self.lock:
            replayed = self.replay(request_id, fingerprint)
            if replayed is not None:
                return self.operation_body(replayed)
            transport = self.find(transport_id)
            if not transport.deleting:
                transport.deleting = True
                if self.handoff.delete(transport.shared_id) is None:
                    del self.transports[transport_id]
            op = self.start_operation("delete", transport)
            self.remember(request_id, fingerprint, op)
        return self.operation_body(op)


def _rpc_error(status: str, message: str) -> dict[str, Any]:
    return {"code": _RPC_CODE.get(status, 2), "message": message}


def _fingerprint(body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def _page(items: list[dict[str, Any]], query: dict[str, str]) -> tuple[list[dict[str, Any]], str]:
    try:
        size = int(query.get("pageSize") or 50)
        token = query.get("pageToken")
        start = int(base64.urlsafe_b64decode(token.encode()).decode()) if token else 0
    except (ValueError, UnicodeDecodeError):
        raise GoogleError(400, "invalid pageSize or pageToken") from None
    size = max(1, min(size, 1000))
    end = start + size
    following = base64.urlsafe_b64encode(str(end).encode()).decode() if end < len(items) else ""
    return items[start:end], following


async def dispatch(
    fake: GcpFake, method_id: str, path: dict[str, Any], query: dict[str, str], body: dict[str, Any]
) -> dict[str, Any]:
    """Run ``method_id`` (e.g. ``transports.create``) with checked path, query and body."""
    # Operations finish whether or not anyone polls them (a deleted transport goes).
    for operation in list(fake.operations.values()):
        fake.settle(operation)
    if method_id == "transports.create":
        return await fake.create(query, body)
    if method_id == "transports.get":
        return fake.render(fake.find(path["transport"]))
    if method_id == "transports.list":
        items = [fake.render(t) for t in sorted(fake.transports.values(), key=lambda t: t.id)]
        page, token = _page(items, query)
        return {"transports": page, **({"nextPageToken": token} if token else {})}
    if method_id == "transports.patch":
        return await fake.patch(path["transport"], query, body)
    if method_id == "transports.delete":
        return await fake.delete(path["transport"], query)
    if method_id == "remoteTransportProfiles.list":
        profiles = [fake.profile_body(env) for env in await fake.handoff.environments()]
        page, token = _page(profiles, query)
        return {"remoteTransportProfiles": page, **({"nextPageToken": token} if token else {})}
    if method_id == "remoteTransportProfiles.get":
        return fake.profile_body(await fake.profile(path["profile"]))
    if method_id == "operations.get":
        name = f"{fake.parent}/operations/{path['operation']}"
        if name not in fake.operations:
            raise GoogleError(404, f"Operation '{name}' was not found")
        return fake.operation_body(fake.operations[name])
    raise GoogleError(404, "method not found")  # pragma: no cover - routes are fixed
