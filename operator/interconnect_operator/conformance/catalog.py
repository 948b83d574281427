"""Every check the kit knows: id, rule, title, what is expected and why, and what it needs.

The catalog is fixed in advance so that a report always lists every check:
one that a run could not reach (read-only mode, a missing flag, an earlier
step that failed) is reported SKIP with the reason, never silently left out.

Modes say what a check may do to the provider:

- ``READ``: reads only (and ConfirmActivationKey, which changes nothing);
  runs in ``--read-only`` mode;
- ``WRITE``: creates objects whose ids carry the run's prefix, and deletes
  them again; also attempts writes the provider must decline;
- ``CHANNEL``: acts on shared channel state (asks the MACsec manager to
  rotate a key); only with ``--allow-channel-effects``;
- ``ISSUES``: opens an issue, which the API can close but never delete; only
  with ``--allow-issues``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from interconnect_operator.api.client import OPERATIONS

__all__ = ["CATALOG", "CheckSpec", "Mode", "catalog_markdown", "schema_check_id"]


class Mode(StrEnum):
    """What a check may do to the provider."""

    READ = "read"
    WRITE = "write"
    CHANNEL = "channel"
    ISSUES = "issues"


@dataclass(frozen=True, slots=True)
class CheckSpec:
    """One check: ``expected`` states the behaviour and the rule's reason."""

    check_id: str
    rule: str
    title: str
    expected: str
    mode: Mode = Mode.READ
    needs: str = ""
    """What the check needs beyond the endpoint (a flag), if anything."""


def schema_check_id(operation_id: str) -> str:
    """The id of the schema check of one operation."""
    return f"SCHEMA-{operation_id}"


_R, _W = Mode.READ, Mode.WRITE

_CHECKS: tuple[CheckSpec, ...] = (
    # --- objects, names, pagination, identity ---------------------------------
    CheckSpec(
        "OBJ-environment",
        "Objects",
        "the environment is readable under the caller's prefix",
        "GetEnvironment answers 200 with supportedConnectionSizeMbps and both providers' sites: "
        "an environment is a pair of sites both providers agreed on, with the sizes it sells.",
    ),
    CheckSpec(
        "OBJ-channels",
        "Objects",
        "channels name their MACsec and cross-connect managers",
        "every channel of the interconnect names a macsecManagerProvider and a "
        "crossConnectManagerProvider that is one of the environment's two providers, and an "
        "adminState: P27 and P24 depend on these fields.",
    ),
    CheckSpec(
        "OBJ-names",
        "Objects",
        "every returned name is a full resource name under the caller's prefix",
        "each `name` in a response is `providers/{caller}/...` with the collection keywords of "
        "the spec and names the object that was asked for: a caller always uses its own "
        "provider id as prefix, and names are how the two sides refer to the same objects.",
    ),
    CheckSpec(
        "OBJ-third-party",
        "Objects",
        "a third provider does not see the caller's connection",
        "with another provider's credentials and prefix, GetConnection of the kit's connection "
        "answers 401, 403 or 404 and ListConnections does not list it: an environment belongs "
        "to the pair of providers that agreed on it.",
        Mode.WRITE,
        needs="--other-caller and --other-token-file (credentials of a second provider)",
    ),
    CheckSpec(
        "PAGE-next-token",
        "Spec: pagination",
        "lists are paged with nextPageToken",
        "ListChannels with pageSize=1 over an interconnect of several channels answers one "
        "channel and a nextPageToken; following the tokens yields every channel exactly once, "
        "the same set as one unpaged list.",
    ),
    CheckSpec(
        "PAGE-bad-token",
        "Spec: pagination",
        "a forged page token is refused",
        "ListChannels with a pageToken the server never issued answers 400 (invalid request), "
        "not a page of something else.",
    ),
    CheckSpec(
        "P32-not-found",
        "P32",
        "unknown resources are 404",
        "GetInterconnect and GetConnection of ids that do not exist answer 404.",
    ),
    CheckSpec(
        "P34-unauthenticated",
        "P34",
        "a request without credentials is refused",
        "the same read without credentials answers 401 or 403: authentication is each "
        "provider's own, and every partner call carries it.",
        needs="credentials (--auth other than None)",
    ),
    CheckSpec(
        "P34-foreign-prefix",
        "P34",
        "the caller cannot act under another provider's prefix",
        "a read under a provider id that is not the caller's, with the caller's credentials, "
        "answers 401, 403 or 404: the prefix is the caller's identity.",
        needs="credentials (--auth other than None)",
    ),
    # --- capacity, keys and maintenance as read ---------------------------------
    CheckSpec(
        "P7-capacity-read",
        "P7",
        "no interconnect carries more than its maximum",
        "for every interconnect of the environment, the bandwidth of the connections listed "
        "to the caller adds up to at most maxBandwidthMbps.",
    ),
    CheckSpec(
        "P26-macsec-read",
        "P26",
        "MACsec key limits hold on every channel",
        "each channel lists at most 2 MACsec keys and at most one active (P28); an "
        "interconnect of N channels at most N+1.",
    ),
    CheckSpec(
        "P25-maintenance-read",
        "P25",
        "channels of one interconnect are not in maintenance together",
        "the maintenance windows of different channels of one interconnect do not overlap "
        "(emergency maintenance excepted; the API does not mark it, so an overlap is "
        "reported for a person to judge).",
    ),
    # --- activation keys ----------------------------------------------------------
    CheckSpec(
        "P3-malformed-key",
        "P3",
        "a malformed activation key is not valid",
        "ConfirmActivationKey with an encodedKey that is not base64 JSON answers keyValid "
        "false (or 400): the negotiator must not proceed on it.",
    ),
    CheckSpec(
        "P3-unknown-key",
        "P3",
        "a key naming no connection is not valid",
        "a well-formed key whose shared connection UUID the provider never issued answers "
        "keyValid false (or 400/404): A answers keyValid only if the UUID names a connection "
        "that still exists.",
    ),
    CheckSpec(
        "P3-valid-key",
        "P3",
        "a fresh activation key is valid",
        "ConfirmActivationKey with the key the provider issued answers keyValid true.",
        needs="--activation-key-file (a key the provider issued for --environment)",
    ),
    CheckSpec(
        "P3-key-mismatch",
        "P3",
        "a key with another size is not valid",
        "the issued key re-encoded with a different connection size answers keyValid false: "
        "size and environment must match.",
        needs="--activation-key-file",
    ),
    CheckSpec(
        "P3-used-key",
        "P3",
        "a used key is not valid",
        "once a connection was created with the key's UUID, ConfirmActivationKey answers "
        "keyValid false: a key is used once.",
        _W,
        needs="--activation-key-file",
    ),
    # --- connections ------------------------------------------------------------------
    CheckSpec(
        "P6-create-connection",
        "P6",
        "CreateConnection places a connection",
        "CreateConnection of a supported size on an ACTIVE interconnect answers 200 with the "
        "bandwidth asked for and verificationState UNVERIFIED; GetConnection and "
        "ListConnections then return it.",
        _W,
    ),
    CheckSpec(
        "P6-duplicate-connection",
        "P6",
        "the same connection id twice on one interconnect is a conflict",
        "a second CreateConnection with the same id on the same interconnect answers 409.",
        _W,
    ),
    CheckSpec(
        "P32-unsupported-size",
        "P32",
        "an unsupported connection size is refused",
        "CreateConnection with a bandwidth the environment does not sell answers 400.",
        _W,
    ),
    CheckSpec(
        "P32-bad-body",
        "P32",
        "a body that is not JSON is refused",
        "CreateConnection with a body that is not JSON answers 400, not 5xx.",
        _W,
    ),
    CheckSpec(
        "P7-over-capacity",
        "P7",
        "an interconnect never takes more than its maximum",
        "CreateConnection of a size larger than the room left on the interconnect answers "
        "409: a connection reserves its bandwidth, and an interconnect never carries more "
        "than maxBandwidthMbps.",
        _W,
    ),
    CheckSpec(
        "P7-inactive-interconnect",
        "P7",
        "only ACTIVE interconnects take new connections",
        "CreateConnection on an interconnect whose state is not ACTIVE answers 409 (or 400).",
        _W,
        needs="an interconnect that is not ACTIVE in the environment",
    ),
    CheckSpec(
        "P18-migration",
        "P18",
        "a connection can be placed on a second interconnect to migrate",
        "CreateConnection with the same connection id on another ACTIVE interconnect answers "
        "200 (make before break: the shared UUID is placed twice while migrating); deleting "
        "that placement leaves the first one in place.",
        _W,
        needs="a second ACTIVE interconnect in the environment",
    ),
    CheckSpec(
        "P16-only-bandwidth",
        "P16",
        "only the bandwidth can be updated",
        "UpdateConnection with updateMask=deferProvisioning answers 400.",
        _W,
    ),
    CheckSpec(
        "P16-update-bandwidth",
        "P16",
        "a bandwidth update that fits is accepted",
        "UpdateConnection with updateMask=bandwidthMbps to another supported size that fits "
        "answers 200, and GetConnection then shows the new bandwidth.",
        _W,
    ),
    CheckSpec(
        "P22-deferral",
        "P22",
        "a deferral request is accepted or refused cleanly",
        "CreateConnection with deferProvisioning true answers 200 (and the connection says "
        "deferProvisioning true) or 400 (refused); nothing else.",
        _W,
    ),
    # --- features ----------------------------------------------------------------------
    CheckSpec(
        "P8-guidance",
        "P8",
        "guidance has one entry per channel",
        "GenerateFeatureGuidance answers one L3 base guidance per channel of the interconnect, "
        "each naming that channel, with VLAN ranges above 1024, MTU ranges, IPv4 include "
        "subnets and allowed prefix lengths.",
        _W,
    ),
    CheckSpec(
        "P9-feature-accepted",
        "P9",
        "a feature that follows the guidance is accepted in full",
        "CreateFeature with parameters inside the guidance answers 200, echoing the proposed "
        "VLAN, subnet and MTU (P10: accepted in full).",
        _W,
    ),
    CheckSpec(
        "P9-vlan-floor",
        "P9",
        "VLAN 1024 and lower are refused",
        "CreateFeature with VLAN 1000 answers 400: VLANs must be above 1024.",
        _W,
    ),
    CheckSpec(
        "P9-subnet-excluded",
        "P9",
        "a subnet inside an excluded subnet is refused",
        "CreateFeature with an IPv4 subnet inside one of the guidance's exclude subnets answers "
        "400 (P10: guidance not followed).",
        _W,
    ),
    CheckSpec(
        "P10-vlan-in-use",
        "P10",
        "a VLAN already used on the channel is a conflict",
        "CreateFeature on a second connection with the VLAN a feature of the first already "
        "uses on that channel answers 409: something else took that space.",
        _W,
    ),
    CheckSpec(
        "P11-second-l3",
        "P11",
        "one L3 base feature per connection and channel",
        "a second L3 base feature for the same connection and channel answers 409.",
        _W,
    ),
    CheckSpec(
        "P13-final",
        "P13",
        "features reach FINAL",
        "accepted features move from PENDING to FINAL within --provisioning-timeout.",
        _W,
    ),
    CheckSpec(
        "P12-three-of-four",
        "P12",
        "features on all channels but one do not verify",
        "with FINAL features on every channel but one and a NotifyConnectionStatus sent, the "
        "connection stays UNVERIFIED: 3 of 4 is neither full redundancy nor verification.",
        _W,
    ),
    CheckSpec(
        "P14-not-verified-before-notify",
        "P14",
        "no verification before the peer's notification",
        "with FINAL features on every channel but no NotifyConnectionStatus since the last "
        "feature change, the connection is UNVERIFIED: VERIFIED needs both notifications.",
        _W,
    ),
    CheckSpec(
        "P14-verified-after-notify",
        "P14",
        "the notification completes verification",
        "NotifyConnectionStatus answers 200 and the connection turns VERIFIED within "
        "--provisioning-timeout.",
        _W,
    ),
    CheckSpec(
        "P20-delete-feature",
        "P20",
        "a single feature can be deleted",
        "DeleteFeature answers 200 and GetFeature then answers 404.",
        _W,
    ),
    CheckSpec(
        "P19-delete-connection",
        "P19",
        "DeleteConnection removes the connection and its features",
        "DeleteConnection answers 200; GetConnection then answers 404, ListConnections no longer "
        "lists it and its features are gone.",
        _W,
    ),
    # --- MACsec ---------------------------------------------------------------------------
    CheckSpec(
        "P27-non-manager-create",
        "P27",
        "only the MACsec manager creates keys",
        "CreateMacSecKey on a channel whose macsecManagerProvider is not the caller answers "
        "400 or 403.",
        _W,
    ),
    CheckSpec(
        "P30-rotation-request",
        "P30",
        "the non-manager may request a rotation",
        "RequestMacSecKeyRotation on a channel managed by the provider answers 200.",
        Mode.CHANNEL,
        needs="--allow-channel-effects (the provider will rotate that channel's key)",
    ),
    # --- issues ---------------------------------------------------------------------------
    CheckSpec(
        "ISSUE-lifecycle",
        "Issues",
        "an issue can be opened, commented on and closed",
        "CreateIssue answers 200 (state OPEN); GetIssue returns it; AddComment answers 200 and "
        "ListComments lists the comment; CloseIssue answers 200 and the issue is CLOSED.",
        Mode.ISSUES,
        needs="--allow-issues (issues can be closed, never deleted)",
    ),
    # --- the whole run --------------------------------------------------------------------
    CheckSpec(
        "P32-status-codes",
        "P32",
        "every status code is one of the protocol's",
        "every response of the run used 200, 400, 401, 403, 404, 409, 429 or 503: success is "
        "200, errors use the codes P32 lists.",
    ),
    *(
        CheckSpec(
            schema_check_id(operation_id),
            "Spec: schemas",
            f"{operation_id} responses match the spec",
            f"every 200 response of {operation_id} in this run validates against the schema "
            "the spec declares for it (types, enums, formats).",
        )
        for operation_id in OPERATIONS
    ),
)

CATALOG: dict[str, CheckSpec] = {check.check_id: check for check in _CHECKS}
"""check id -> CheckSpec, in report order."""


_MODE_TEXT = {
    Mode.READ: "read",
    Mode.WRITE: "write (skipped by --read-only)",
    Mode.CHANNEL: "channel effect (opt-in)",
    Mode.ISSUES: "issue (opt-in)",
}


def catalog_markdown() -> str:
    """The catalog as a Markdown table (``conformance --list-checks``; docs/conformance.md)."""
    lines = [
        "| check | rule | mode | expected (and why) | needs |",
        "| --- | --- | --- | --- | --- |",
    ]
    schema_rows = 0
    for check in CATALOG.values():
        if check.rule == "Spec: schemas":
            schema_rows += 1
            continue
        expected = " ".join(check.expected.split()).replace("|", "\\|")
        lines.append(
            f"| `{check.check_id}` | {check.rule} | {_MODE_TEXT[check.mode]} | {expected} | "
            f"{check.needs or '-'} |"
        )
    lines.append(
        f"| `SCHEMA-<operationId>` ({schema_rows}, one per operation) | Spec: schemas | read | "
        "every 200 response of that operation in the run validates against the spec's schema; "
        "SKIP when the run got no 200 from it | the spec (--spec-dir or INTERCONNECT_SPEC_DIR) |"
    )
    return "\n".join(lines) + "\n"
