"""A mutant provider: a real HTTP proxy in front of a simulator that breaks one rule.

Run as a process::

    python -m tests.integration.conformance.proxy --upstream http://127.0.0.1:8081 \\
        --port 8091 --mutant bare-names --caller gcp --token-file token.txt

Every request is forwarded to the simulator unchanged, except where the
mutant named on the command line rewrites the request, answers in the
simulator's place, or rewrites the answer. The simulator is untouched: the
rules stay its own, and each mutant is the smallest change that breaks one.
``mutants.py`` declares them and the checks that must catch each.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from interconnect_operator.conformance.recording import operation_of
from tests.integration.conformance.mutants import MUTANTS


@dataclass
class Call:
    """One request through the proxy and, once forwarded, the simulator's answer."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    operation: str
    status: int = 0
    document: Any = None
    asked_as: str = ""
    """The provider prefix the request came with, when a mutant rewrote it."""


@dataclass
class Context:
    """What a mutant may use: the upstream client, the caller id and its token."""

    upstream: httpx.AsyncClient
    caller: str
    token: str
    placements: dict[str, str] = field(default_factory=dict)
    """connection id -> the interconnect path it was first placed under (refuses-migration)."""


Before = Callable[[Call, Context], Awaitable[bool]]
"""Rewrite the request; answer True to reply with ``call.status``/``document`` directly."""
After = Callable[[Call, Context], Awaitable[None]]
"""Rewrite the simulator's answer in place."""


def _message(call: Call) -> str:
    error = call.document.get("error") if isinstance(call.document, dict) else None
    return str(error.get("message", "")) if isinstance(error, dict) else ""


def _echo(call: Call, key: str, **extra: Any) -> None:
    """Answer 200 with the request body, named as if it had been created."""
    body = dict(call.body) if isinstance(call.body, dict) else {}
    body.pop("cak", None)
    body.pop("ckn", None)
    body["name"] = f"{call.path.strip('/')}/{call.query.get(key, '')}"
    call.status, call.document = 200, {**body, **extra}


async def _vlan_1000(call: Call, ctx: Context) -> bool:
    if call.operation != "CreateFeature" or not isinstance(call.body, dict):
        return False
    vlan = ((call.body.get("featureConfig") or {}).get("l3BaseConfig") or {}).get("vlanId")
    if isinstance(vlan, int) and vlan <= 1024:
        _echo(call, "featureId", provisioningState="PROVISIONING_STATE_PENDING")
        return True
    return False


async def _second_l3(call: Call, ctx: Context) -> None:
    if call.operation == "CreateFeature" and call.status == 409 and "P11" in _message(call):
        _echo(call, "featureId", provisioningState="PROVISIONING_STATE_PENDING")


async def _no_page_token(call: Call, ctx: Context) -> None:
    if isinstance(call.document, dict):
        call.document.pop("nextPageToken", None)


def _strip_names(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            k: (v.rsplit("/", 1)[-1] if k == "name" and isinstance(v, str) else _strip_names(v))
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_strip_names(item) for item in node]
    return node


async def _bare_names(call: Call, ctx: Context) -> None:
    if call.status == 200:
        call.document = _strip_names(call.document)


async def _verifies_early(call: Call, ctx: Context) -> None:
    if call.operation != "GetConnection" or call.status != 200:
        return
    if not str(call.document.get("verificationState", "")).endswith("UNVERIFIED"):
        return
    headers = {"Authorization": call.headers.get("authorization", "")}
    features = await ctx.upstream.get(f"{call.path}/features", headers=headers)
    channels = await ctx.upstream.get(
        call.path.split("/connections/")[0] + "/channels", headers=headers
    )
    listed = features.json().get("features") or []
    count = len(channels.json().get("channels") or [])
    if (
        listed
        and len(listed) >= count
        and all(str(f.get("provisioningState", "")).endswith("FINAL") for f in listed)
    ):
        call.document["verificationState"] = "VERIFICATION_STATE_VERIFIED"


async def _non_manager_macsec(call: Call, ctx: Context) -> None:
    if call.operation == "CreateMacSecKey" and call.status == 403:
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        _echo(call, "macSecKeyId", startTime=now, active=False)


async def _over_allocates(call: Call, ctx: Context) -> None:
    if call.operation == "CreateConnection" and call.status == 409 and "fit" in _message(call):
        _echo(
            call,
            "connectionId",
            verificationState="VERIFICATION_STATE_UNVERIFIED",
            adminState="ADMIN_STATE_ENABLED",
        )


async def _accepts_inactive(call: Call, ctx: Context) -> None:
    message = _message(call)
    # The simulator's refusal of a non-ACTIVE interconnect: "P7: interconnect 'ix3' is ...".
    refused = "P7" in message and " is " in message and "fit" not in message
    if call.operation == "CreateConnection" and call.status == 409 and refused:
        _echo(
            call,
            "connectionId",
            verificationState="VERIFICATION_STATE_UNVERIFIED",
            adminState="ADMIN_STATE_ENABLED",
        )


async def _refuse_migration(call: Call, ctx: Context) -> bool:
    if call.operation != "CreateConnection":
        return False
    placed = ctx.placements.get(call.query.get("connectionId", ""))
    if placed is not None and placed != call.path:
        message = "connection already exists on another interconnect"
        call.status, call.document = 409, {"error": {"code": 409, "message": message}}
        return True
    return False


async def _remember_placement(call: Call, ctx: Context) -> None:
    if call.operation == "CreateConnection" and call.status == 200:
        ctx.placements.setdefault(call.query.get("connectionId", ""), call.path)


async def _updates_any_field(call: Call, ctx: Context) -> None:
    if call.operation == "UpdateConnection" and call.status == 400 and "P16" in _message(call):
        current = await ctx.upstream.get(
            call.path, headers={"Authorization": call.headers.get("authorization", "")}
        )
        call.status, call.document = 200, current.json()


async def _no_authentication(call: Call, ctx: Context) -> bool:
    call.headers.setdefault("authorization", f"Bearer {ctx.token}")
    return False


async def _any_prefix(call: Call, ctx: Context) -> bool:
    parts = call.path.split("/")
    if len(parts) > 2 and parts[1] == "providers" and parts[2] != ctx.caller:
        call.asked_as = parts[2]
        parts[2] = ctx.caller
        call.path = "/".join(parts)
    return False


async def _shared_namespace(call: Call, ctx: Context) -> bool:
    parts = call.path.split("/")
    other = ctx.token and call.headers.get("authorization") not in (None, f"Bearer {ctx.token}")
    if other and len(parts) > 2 and parts[1] == "providers" and parts[2] != ctx.caller:
        # Another provider's request is answered from the caller's namespace...
        call.asked_as = parts[2]
        parts[2] = ctx.caller
        call.path = "/".join(parts)
        call.headers["authorization"] = f"Bearer {ctx.token}"
    return False


def _renamed(node: Any, old: str, new: str) -> Any:
    if isinstance(node, dict):
        return {
            k: (
                v.replace(old, new, 1)
                if k == "name" and isinstance(v, str)
                else _renamed(v, old, new)
            )
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_renamed(item, old, new) for item in node]
    return node


async def _names_as_asked(call: Call, ctx: Context) -> None:
    # ...and its names are spelled under the prefix it asked with, so that only
    # the leak itself shows.
    if call.asked_as:
        call.document = _renamed(
            call.document, f"providers/{ctx.caller}/", f"providers/{call.asked_as}/"
        )


async def _keys_always_valid(call: Call, ctx: Context) -> None:
    if call.operation == "ConfirmActivationKey" and call.status in (200, 400):
        call.status, call.document = 200, {"keyValid": True}


async def _created_201(call: Call, ctx: Context) -> None:
    if call.operation == "CreateConnection" and call.status == 200:
        call.status = 201


def _stringify(node: Any) -> None:
    if isinstance(node, dict) and isinstance(node.get("maxBandwidthMbps"), int):
        node["maxBandwidthMbps"] = str(node["maxBandwidthMbps"])


async def _string_bandwidth(call: Call, ctx: Context) -> None:
    if call.operation == "GetInterconnect":
        _stringify(call.document)
    elif call.operation == "ListInterconnects" and isinstance(call.document, dict):
        for item in call.document.get("interconnects") or []:
            _stringify(item)


BEHAVIOURS: dict[str, tuple[Before | None, After | None]] = {
    "vlan-1000-accepted": (_vlan_1000, None),
    "second-l3-accepted": (None, _second_l3),
    "no-next-page-token": (None, _no_page_token),
    "bare-names": (None, _bare_names),
    "verifies-early": (None, _verifies_early),
    "non-manager-macsec": (None, _non_manager_macsec),
    "over-allocates": (None, _over_allocates),
    "accepts-inactive-interconnect": (None, _accepts_inactive),
    "refuses-migration": (_refuse_migration, _remember_placement),
    "updates-any-field": (None, _updates_any_field),
    "no-authentication": (_no_authentication, None),
    "any-prefix": (_any_prefix, _names_as_asked),
    "shared-namespace": (_shared_namespace, _names_as_asked),
    "keys-always-valid": (None, _keys_always_valid),
    "created-201": (None, _created_201),
    "string-bandwidth": (None, _string_bandwidth),
}
assert set(BEHAVIOURS) == set(MUTANTS), "every declared mutant has a behaviour"


def build_app(upstream_url: str, mutant: str | None, caller: str, token: str) -> Starlette:
    """The proxy app; ``mutant`` None forwards everything unchanged."""
    before, after = BEHAVIOURS[mutant] if mutant else (None, None)
    upstream = httpx.AsyncClient(base_url=upstream_url, timeout=30)
    ctx = Context(upstream, caller, token)

    async def forward(request: Request) -> Response:
        raw = await request.body()
        try:
            body = json.loads(raw) if raw.strip() else None
        except ValueError:
            body = None
        call = Call(
            request.method,
            request.url.path,
            dict(request.query_params),
            {k.lower(): v for k, v in request.headers.items()},
            body,
            operation_of(request.method, request.url.path),
        )
        if before is None or not await before(call, ctx):
            headers = {
                k: v for k, v in call.headers.items() if k in ("authorization", "content-type")
            }
            answer = await upstream.request(
                call.method, call.path, params=call.query, content=raw, headers=headers
            )
            call.status = answer.status_code
            try:
                call.document = answer.json() if answer.content.strip() else None
            except ValueError:
                return Response(answer.content, status_code=answer.status_code)
            if after is not None:
                await after(call, ctx)
        content = json.dumps(call.document).encode() if call.document is not None else b""
        return Response(content, status_code=call.status, media_type="application/json")

    methods = ["GET", "POST", "PATCH", "DELETE", "PUT"]
    return Starlette(routes=[Route("/{path:path}", forward, methods=methods)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--mutant", choices=sorted(MUTANTS))
    parser.add_argument("--caller", default="gcp")
    parser.add_argument("--token-file", required=True)
    args = parser.parse_args()
    token = Path(args.token_file).read_text().strip()
    app = build_app(args.upstream, args.mutant, args.caller, token)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
