"""The 33 spec operations of the simulated provider, one module per resource group.

:data:`OPERATIONS` maps each (method, path) of the spec to its operationId and
handler; :func:`~interconnect_operator.simulator.app.create_app` routes them.
"""

from __future__ import annotations

from interconnect_operator.simulator.operations.channels import (
    create_macsec_key,
    delete_macsec_key,
    get_macsec_key,
    get_maintenance_events,
    list_macsec_keys,
    notify_maintenance,
    request_rotation,
)
from interconnect_operator.simulator.operations.connections import (
    create_connection,
    create_feature,
    delete_connection,
    delete_feature,
    generate_feature_guidance,
    get_connection,
    get_feature,
    list_connections,
    list_features,
    notify_connection_status,
    update_connection,
)
from interconnect_operator.simulator.operations.environments import (
    confirm_activation_key,
    get_channel,
    get_environment,
    get_interconnect,
    get_provider,
    list_channels,
    list_environments,
    list_interconnects,
    list_providers,
)
from interconnect_operator.simulator.operations.issues import (
    add_comment,
    close_issue,
    create_issue,
    get_issue,
    list_comments,
    list_issues,
)
from interconnect_operator.simulator.runtime import Handler

_P = "/providers/{provider}"
_E = _P + "/environments/{environment}"
_I = _E + "/interconnects/{interconnect}"
_C = _I + "/channels/{channel}"
_K = _I + "/connections/{connection}"

OPERATIONS: list[tuple[str, str, str, Handler]] = [
    ("GET", "/providers", "ListProviders", list_providers),
    ("GET", _P, "GetProvider", get_provider),
    ("GET", _P + "/environments", "ListEnvironments", list_environments),
    ("GET", _E, "GetEnvironment", get_environment),
    ("POST", _E + "/ConfirmActivationKey", "ConfirmActivationKey", confirm_activation_key),
    ("GET", _E + "/interconnects", "ListInterconnects", list_interconnects),
    ("GET", _I, "GetInterconnect", get_interconnect),
    ("GET", _I + "/channels", "ListChannels", list_channels),
    ("GET", _C, "GetChannel", get_channel),
    ("POST", _C + "/NotifyMaintenance", "NotifyMaintenance", notify_maintenance),
    ("POST", _C + "/RequestMacSecKeyRotation", "RequestMacSecKeyRotation", request_rotation),
    ("GET", _C + "/maintenanceEvents", "GetMaintenanceEvents", get_maintenance_events),
    ("POST", _C + "/macSecKeys", "CreateMacSecKey", create_macsec_key),
    ("GET", _C + "/macSecKeys", "ListMacSecKeys", list_macsec_keys),
    ("GET", _C + "/macSecKeys/{macSecKey}", "GetMacSecKey", get_macsec_key),
    ("DELETE", _C + "/macSecKeys/{macSecKey}", "DeleteMacSecKey", delete_macsec_key),
    ("GET", _I + "/connections", "ListConnections", list_connections),
    ("POST", _I + "/connections", "CreateConnection", create_connection),
    ("GET", _K, "GetConnection", get_connection),
    ("PATCH", _K, "UpdateConnection", update_connection),
    ("DELETE", _K, "DeleteConnection", delete_connection),
    ("POST", _K + "/GenerateFeatureGuidance", "GenerateFeatureGuidance", generate_feature_guidance),
    ("POST", _K + "/NotifyConnectionStatus", "NotifyConnectionStatus", notify_connection_status),
    ("GET", _K + "/features", "ListFeatures", list_features),
    ("POST", _K + "/features", "CreateFeature", create_feature),
    ("GET", _K + "/features/{feature}", "GetFeature", get_feature),
    ("DELETE", _K + "/features/{feature}", "DeleteFeature", delete_feature),
    ("GET", _P + "/issues", "ListIssues", list_issues),
    ("POST", _P + "/issues", "CreateIssue", create_issue),
    ("GET", _P + "/issues/{issue}", "GetIssue", get_issue),
    ("POST", _P + "/issues/{issue}/Close", "CloseIssue", close_issue),
    ("POST", _P + "/issues/{issue}/AddComment", "AddComment", add_comment),
    ("GET", _P + "/issues/{issue}/comments", "ListComments", list_comments),
]
"""(method, path, operationId, handler) of every spec operation."""

__all__ = ["OPERATIONS"]
