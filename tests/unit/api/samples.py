"""Realistic wire documents for the api tests, complete with output-only fields.

Each is checked against the spec's response schema by test_conformance, so
the same documents double as examples of what a conforming server sends.
"""

from __future__ import annotations

from typing import Any

P = "providers/prov-a"
ENV = f"{P}/environments/env-1"
IC = f"{ENV}/interconnects/ic-1"
CH = f"{IC}/channels/ch-1"
CONN = f"{IC}/connections/0b6f2c1e-3b1e-4c55-9d1a-6a1d2b3c4d5e"

PROVIDER: dict[str, Any] = {"name": P, "displayName": "Provider A"}
ENVIRONMENT: dict[str, Any] = {
    "name": ENV,
    "providerSites": [{"providerId": "prov-a", "site": "fra1", "displayName": "Frankfurt"}],
    "apiUri": "https://peer.test",
    "supportedConnectionSizeMbps": [1000, 10000],
    "supportedFeatures": ["FEATURE_TYPE_L3_BASE"],
    "environmentVisibility": "ENVIRONMENT_VISIBILITY_PRIVATE",
    "deferralTimeoutHours": 24,
    "deferConnectionProvisioning": False,
}
INTERCONNECT: dict[str, Any] = {
    "name": IC,
    "supportedConnectionSizeMbps": [1000, 10000],
    "supportedFeatures": ["FEATURE_TYPE_L3_BASE"],
    "state": "INTERCONNECT_STATE_ACTIVE",
    "maxBandwidthMbps": 100000,
}
CHANNEL: dict[str, Any] = {
    "name": CH,
    "macsecManagerProvider": "providers/prov-a",
    "crossConnectManagerProvider": "providers/prov-b",
    "aggregateChannelSizeGbps": 100,
    "channelMemberSizeGbps": 100,
    "obfuscatedDeviceId": "dev-1f3a",
    "demarc": "FRA1-MMR-2-PP-14",
    "adminState": "ADMIN_STATE_ENABLED",
}
CONNECTION: dict[str, Any] = {
    "name": CONN,
    "activationKey": "c2VjcmV0LWtleQ==",
    "bandwidthMbps": 1000,
    "adminState": "ADMIN_STATE_ENABLED",
    "verificationState": "VERIFICATION_STATE_UNVERIFIED",
    "deferProvisioning": False,
}
GUIDANCE: dict[str, Any] = {
    "featureGuidance": [
        {
            "featureType": "FEATURE_TYPE_L3_BASE",
            "channel": CH,
            "channelAdminState": "ADMIN_STATE_ENABLED",
            "l3BaseGuidance": {
                "asnRanges": [
                    {"start": 64512, "stop": 65534},
                    {"start": 4200000000, "stop": 4294967294},
                ],
                "ipv4SubnetGuidance": [
                    {
                        "includeSubnet": "169.254.0.0/16",
                        "excludeSubnets": ["169.254.1.0/28"],
                        "preferredSubnet": "169.254.1.16/30",
                    }
                ],
                "ipv6SubnetGuidance": [{"includeSubnet": "fd20::/16"}],
                "ipv4AllowedSubnetPrefixLengths": [29, 30],
                "ipv6AllowedSubnetPrefixLengths": [64],
                "vlanRanges": [{"start": 1025, "stop": 4094}],
                "mtuRanges": [{"start": 1500, "stop": 8500}],
                "maxReceivedBgpRoutePrefixes": 100,
            },
        }
    ]
}
FEATURE: dict[str, Any] = {
    "name": f"{CONN}/features/f-ch-1",
    "channel": CH,
    "featureConfig": {
        "featureType": "FEATURE_TYPE_L3_BASE",
        "l3BaseConfig": {
            "ipv4Subnet": "169.254.1.16",
            "ipv4SubnetPrefixLength": 30,
            "mtuBytes": 8500,
            "vlanId": 1100,
            "providerBgpConfigs": [
                {"provider": "providers/prov-a", "asn": 64512, "hostIpv4": "169.254.1.17"},
                {"provider": "providers/prov-b", "asn": 4200000001, "hostIpv4": "169.254.1.18"},
            ],
            "md5BgpPassword": "bgp-md5-secret",
        },
    },
    "provisioningState": "PROVISIONING_STATE_PENDING",
}
MAC_SEC_KEY: dict[str, Any] = {
    "name": f"{CH}/macSecKeys/k-2",
    "cak": "0123456789abcdef0123456789abcdef",
    "ckn": "fedcba9876543210fedcba9876543210",
    "startTime": "2026-05-18T10:00:00Z",
    "active": False,
}
MAINTENANCE: dict[str, Any] = {
    "events": [
        {
            "maintenanceId": "m-1",
            "startTime": "2026-06-01T02:00:00Z",
            "endTime": "2026-06-01T04:00:00Z",
        }
    ]
}
ISSUE: dict[str, Any] = {
    "name": f"{P}/issues/iss-1",
    "title": "Features pending",
    "body": "Features of the connection have been PENDING for 2h.",
    "connectionContexts": [{"name": CONN}],
    "channelContexts": [{"name": CH}],
    "featureContexts": [{"name": f"{CONN}/features/f-ch-1"}],
    "interconnectContexts": [{"name": IC}],
    "issueContext": "ISSUE_CONTEXT_CONNECTION_ISSUE",
    "priority": "PRIORITY_P2",
    "remoteContactEmail": "noc@example.com",
    "remoteIssueId": "ours-42",
    "createTime": "2026-05-18T10:00:00Z",
    "localIssueId": "theirs-7",
    "state": "STATE_OPEN",
}
COMMENT: dict[str, Any] = {
    "body": "Still pending after refresh.",
    "createTime": "2026-05-18T11:00:00Z",
    "displayName": "Operator",
    "localCommentId": "c-1",
}
