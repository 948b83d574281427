"""One case per operationId of the spec: the client call, the request it must send, a canned answer.

Shared by test_client_operations (the wire format of each call) and
test_conformance (the table covers every operation of the spec).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr

from interconnect_operator.api.client import ProviderClient, collect
from interconnect_operator.api.models import (
    AddCommentResponse,
    Comment,
    ConfirmActivationKeyResponse,
    Connection,
    Feature,
    FeatureConfig,
    FeatureType,
    GenerateFeatureGuidanceResponse,
    Issue,
    IssueContext,
    L3BaseConfig,
    MacSecKey,
    MaintenanceEvent,
    NotifyMaintenanceRequest,
    Priority,
    ProviderBgpConfig,
    to_wire,
)
from tests.unit.api import samples

E, IC, C, K = "env-1", "ic-1", "ch-1", "0b6f2c1e-3b1e-4c55-9d1a-6a1d2b3c4d5e"
PFX = "/providers/prov-a"
ENVP = f"{PFX}/environments/{E}"
ICP = f"{ENVP}/interconnects/{IC}"
CHP = f"{ICP}/channels/{C}"
CONNP = f"{ICP}/connections/{K}"


@dataclass
class Case:
    operation_id: str
    call: Callable[[ProviderClient], Awaitable[Any]]
    method: str
    path: str
    query: dict[str, str]
    body: Any
    response: Any
    check: Callable[[Any], bool]


NEW_FEATURE = Feature(
    channel=samples.CH,
    feature_config=FeatureConfig(
        feature_type=FeatureType.L3_BASE,
        l3_base_config=L3BaseConfig(
            ipv4_subnet="169.254.1.16",
            ipv4_subnet_prefix_length=30,
            mtu_bytes=8500,
            vlan_id=1100,
            provider_bgp_configs=[ProviderBgpConfig(provider=samples.P, asn=64512)],
            md5_bgp_password=SecretStr("bgp-md5-secret"),
        ),
    ),
    provisioning_state="PROVISIONING_STATE_FINAL",  # output-only: must not be sent
)
NEW_KEY = MacSecKey(cak=SecretStr("c" * 32), ckn=SecretStr("d" * 32), active=True)
NEW_ISSUE = Issue(
    title="Stuck",
    body="Features pending",
    priority=Priority.P2,
    issue_context=IssueContext.CONNECTION_ISSUE,
    state="STATE_OPEN",  # output-only
)

CASES = [
    Case(
        "ListProviders",
        lambda c: collect(c.list_providers()),
        "GET",
        "/providers",
        {},
        None,
        {"environments": [samples.PROVIDER]},
        lambda r: [p.name for p in r] == [samples.P],
    ),
    Case(
        "GetProvider",
        lambda c: c.get_provider(),
        "GET",
        PFX,
        {},
        None,
        samples.PROVIDER,
        lambda r: r.display_name == "Provider A",
    ),
    Case(
        "ListEnvironments",
        lambda c: collect(c.list_environments(page_size=10)),
        "GET",
        f"{PFX}/environments",
        {"pageSize": "10"},
        None,
        {"environments": [samples.ENVIRONMENT]},
        lambda r: r[0].supported_connection_size_mbps == [1000, 10000],
    ),
    Case(
        "GetEnvironment",
        lambda c: c.get_environment(E),
        "GET",
        ENVP,
        {},
        None,
        samples.ENVIRONMENT,
        lambda r: r.deferral_timeout_hours == 24 and r.provider_sites[0].site == "fra1",
    ),
    Case(
        "ConfirmActivationKey",
        lambda c: c.confirm_activation_key(E, SecretStr("ZW5jb2RlZA==")),
        "POST",
        f"{ENVP}/ConfirmActivationKey",
        {},
        {"encodedKey": "ZW5jb2RlZA=="},
        {"keyValid": True},
        lambda r: isinstance(r, ConfirmActivationKeyResponse) and r.key_valid is True,
    ),
    Case(
        "ListInterconnects",
        lambda c: c.list_interconnects_all(E),
        "GET",
        f"{ENVP}/interconnects",
        {},
        None,
        {"interconnects": [samples.INTERCONNECT]},
        lambda r: r[0].max_bandwidth_mbps == 100000 and r[0].state == "INTERCONNECT_STATE_ACTIVE",
    ),
    Case(
        "GetInterconnect",
        lambda c: c.get_interconnect(E, IC),
        "GET",
        ICP,
        {},
        None,
        samples.INTERCONNECT,
        lambda r: r.supported_features == ["FEATURE_TYPE_L3_BASE"],
    ),
    Case(
        "ListChannels",
        lambda c: c.list_channels_all(E, IC),
        "GET",
        f"{ICP}/channels",
        {},
        None,
        {"channels": [samples.CHANNEL, samples.CHANNEL]},
        lambda r: len(r) == 2 and r[0].macsec_manager_provider == "providers/prov-a",
    ),
    Case(
        "GetChannel",
        lambda c: c.get_channel(E, IC, C),
        "GET",
        CHP,
        {},
        None,
        samples.CHANNEL,
        lambda r: r.demarc == "FRA1-MMR-2-PP-14" and r.admin_state == "ADMIN_STATE_ENABLED",
    ),
    Case(
        "NotifyMaintenance",
        lambda c: c.notify_maintenance(E, IC, C, NotifyMaintenanceRequest()),
        "POST",
        f"{CHP}/NotifyMaintenance",
        {},
        {},
        {},
        lambda r: r is None,
    ),
    Case(
        "GetMaintenanceEvents",
        lambda c: c.get_maintenance_events(E, IC, C),
        "GET",
        f"{CHP}/maintenanceEvents",
        {},
        None,
        samples.MAINTENANCE,
        lambda r: isinstance(r[0], MaintenanceEvent) and r[0].maintenance_id == "m-1",
    ),
    Case(
        "RequestMacSecKeyRotation",
        lambda c: c.request_mac_sec_key_rotation(E, IC, C, reason="key age (P30)"),
        "POST",
        f"{CHP}/RequestMacSecKeyRotation",
        {},
        {"reason": "key age (P30)"},
        {},
        lambda r: r is None,
    ),
    Case(
        "CreateMacSecKey",
        lambda c: c.create_mac_sec_key(E, IC, C, "k-2", NEW_KEY),
        "POST",
        f"{CHP}/macSecKeys",
        {"macSecKeyId": "k-2"},
        {"cak": "c" * 32, "ckn": "d" * 32},
        samples.MAC_SEC_KEY,
        lambda r: r.start_time is not None and r.cak.get_secret_value().startswith("0123"),
    ),
    Case(
        "ListMacSecKeys",
        lambda c: c.list_mac_sec_keys_all(E, IC, C),
        "GET",
        f"{CHP}/macSecKeys",
        {},
        None,
        {"macSecKeys": [samples.MAC_SEC_KEY]},
        lambda r: r[0].active is False,
    ),
    Case(
        "GetMacSecKey",
        lambda c: c.get_mac_sec_key(E, IC, C, "k-2"),
        "GET",
        f"{CHP}/macSecKeys/k-2",
        {},
        None,
        samples.MAC_SEC_KEY,
        lambda r: r.name.endswith("/macSecKeys/k-2"),
    ),
    Case(
        "DeleteMacSecKey",
        lambda c: c.delete_mac_sec_key(E, IC, C, "k-1"),
        "DELETE",
        f"{CHP}/macSecKeys/k-1",
        {},
        None,
        {},
        lambda r: r is None,
    ),
    Case(
        "ListConnections",
        lambda c: c.list_connections_all(E, IC, page_size=5),
        "GET",
        f"{ICP}/connections",
        {"pageSize": "5"},
        None,
        {"connections": [samples.CONNECTION]},
        lambda r: r[0].bandwidth_mbps == 1000,
    ),
    Case(
        "CreateConnection",
        lambda c: c.create_connection(
            E,
            IC,
            K,
            Connection(
                bandwidth_mbps=1000,
                activation_key=SecretStr("c2VjcmV0LWtleQ=="),
                defer_provisioning=False,
                admin_state="ADMIN_STATE_ENABLED",  # output-only: must not be sent
            ),
        ),
        "POST",
        f"{ICP}/connections",
        {"connectionId": K},
        {"bandwidthMbps": 1000, "activationKey": "c2VjcmV0LWtleQ==", "deferProvisioning": False},
        samples.CONNECTION,
        lambda r: r.verification_state == "VERIFICATION_STATE_UNVERIFIED",
    ),
    Case(
        "DeleteConnection",
        lambda c: c.delete_connection(E, IC, K),
        "DELETE",
        CONNP,
        {},
        None,
        {},
        lambda r: r is None,
    ),
    Case(
        "GetConnection",
        lambda c: c.get_connection(E, IC, K),
        "GET",
        CONNP,
        {},
        None,
        samples.CONNECTION,
        lambda r: r.name == samples.CONN,
    ),
    Case(
        "UpdateConnection",
        lambda c: c.update_connection(
            E, IC, K, Connection(bandwidth_mbps=10000), update_mask=["bandwidthMbps"]
        ),
        "PATCH",
        CONNP,
        {"updateMask": "bandwidthMbps"},
        {"bandwidthMbps": 10000},
        {**samples.CONNECTION, "bandwidthMbps": 10000},
        lambda r: r.bandwidth_mbps == 10000,
    ),
    Case(
        "GenerateFeatureGuidance",
        lambda c: c.generate_feature_guidance(E, IC, K),
        "POST",
        f"{CONNP}/GenerateFeatureGuidance",
        {},
        {},
        samples.GUIDANCE,
        lambda r: (
            isinstance(r, GenerateFeatureGuidanceResponse)
            and to_wire(r)["featureGuidance"][0]["l3BaseGuidance"]["asnRanges"][1]["stop"]
            == 4294967294
        ),
    ),
    Case(
        "NotifyConnectionStatus",
        lambda c: c.notify_connection_status(E, IC, K),
        "POST",
        f"{CONNP}/NotifyConnectionStatus",
        {},
        {},
        {},
        lambda r: r is None,
    ),
    Case(
        "ListFeatures",
        lambda c: c.list_features_all(E, IC, K),
        "GET",
        f"{CONNP}/features",
        {},
        None,
        {"features": [samples.FEATURE]},
        lambda r: r[0].feature_config.l3_base_config.vlan_id == 1100,
    ),
    Case(
        "CreateFeature",
        lambda c: c.create_feature(E, IC, K, "f-ch-1", NEW_FEATURE),
        "POST",
        f"{CONNP}/features",
        {"featureId": "f-ch-1"},
        {
            "channel": samples.CH,
            "featureConfig": {
                "featureType": "FEATURE_TYPE_L3_BASE",
                "l3BaseConfig": {
                    "ipv4Subnet": "169.254.1.16",
                    "ipv4SubnetPrefixLength": 30,
                    "mtuBytes": 8500,
                    "vlanId": 1100,
                    "providerBgpConfigs": [{"provider": samples.P, "asn": 64512}],
                    "md5BgpPassword": "bgp-md5-secret",
                },
            },
        },
        samples.FEATURE,
        lambda r: r.provisioning_state == "PROVISIONING_STATE_PENDING",
    ),
    Case(
        "DeleteFeature",
        lambda c: c.delete_feature(E, IC, K, "f-ch-1"),
        "DELETE",
        f"{CONNP}/features/f-ch-1",
        {},
        None,
        {},
        lambda r: r is None,
    ),
    Case(
        "GetFeature",
        lambda c: c.get_feature(E, IC, K, "f-ch-1"),
        "GET",
        f"{CONNP}/features/f-ch-1",
        {},
        None,
        samples.FEATURE,
        lambda r: r.feature_config.l3_base_config.provider_bgp_configs[1].asn == 4200000001,
    ),
    Case(
        "ListIssues",
        lambda c: c.list_issues_all(page_size=50),
        "GET",
        f"{PFX}/issues",
        {"pageSize": "50"},
        None,
        {"issues": [samples.ISSUE]},
        lambda r: r[0].state == "STATE_OPEN" and r[0].connection_contexts[0].name == samples.CONN,
    ),
    Case(
        "CreateIssue",
        lambda c: c.create_issue("iss-1", NEW_ISSUE),
        "POST",
        f"{PFX}/issues",
        {"issueId": "iss-1"},
        {
            "title": "Stuck",
            "body": "Features pending",
            "priority": "PRIORITY_P2",
            "issueContext": "ISSUE_CONTEXT_CONNECTION_ISSUE",
        },
        samples.ISSUE,
        lambda r: r.local_issue_id == "theirs-7",
    ),
    Case(
        "GetIssue",
        lambda c: c.get_issue("iss-1"),
        "GET",
        f"{PFX}/issues/iss-1",
        {},
        None,
        samples.ISSUE,
        lambda r: r.priority == Priority.P2,
    ),
    Case(
        "CloseIssue",
        lambda c: c.close_issue("iss-1"),
        "POST",
        f"{PFX}/issues/iss-1/Close",
        {},
        {},
        {**samples.ISSUE, "state": "STATE_CLOSED"},
        lambda r: r.state == "STATE_CLOSED",
    ),
    Case(
        "AddComment",
        lambda c: c.add_comment("iss-1", Comment(body="More detail", display_name="x")),
        "POST",
        f"{PFX}/issues/iss-1/AddComment",
        {},
        {"comment": {"body": "More detail"}},
        {"comment": samples.COMMENT},
        lambda r: (
            isinstance(r, AddCommentResponse) and to_wire(r)["comment"]["localCommentId"] == "c-1"
        ),
    ),
    Case(
        "ListComments",
        lambda c: c.list_comments_all("iss-1"),
        "GET",
        f"{PFX}/issues/iss-1/comments",
        {},
        None,
        {"comments": [samples.COMMENT]},
        lambda r: r[0].display_name == "Operator",
    ),
]
