"""The 33 operations of the pinned spec: method, path template, retry class.

A table, read by the client for every call and by tests against the spec's
own paths.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["OPERATIONS", "Operation"]

_PREFIX = "/providers/{provider}"
_ENV = _PREFIX + "/environments/{environment}"
_IC = _ENV + "/interconnects/{interconnect}"
_CH = _IC + "/channels/{channel}"
_CONN = _IC + "/connections/{connection}"
_ISSUE = _PREFIX + "/issues/{issue}"


@dataclass(frozen=True, slots=True)
class Operation:
    """One operation of the spec: HTTP method, path template, retry class.

    ``idempotent`` marks calls safe to repeat after an unknown outcome: the
    GETs, plus POSTs that only read (GenerateFeatureGuidance) or are refresh
    hints (NotifyConnectionStatus, NotifyMaintenance; P14, P24).
    """

    operation_id: str
    method: str
    path: str
    idempotent: bool


def _op(operation_id: str, method: str, path: str, idempotent: bool | None = None) -> Operation:
    return Operation(
        operation_id, method, path, method == "GET" if idempotent is None else idempotent
    )


OPERATIONS: dict[str, Operation] = {
    op.operation_id: op
    for op in (
        _op("ListProviders", "GET", "/providers"),
        _op("GetProvider", "GET", _PREFIX),
        _op("ListEnvironments", "GET", _PREFIX + "/environments"),
        _op("GetEnvironment", "GET", _ENV),
        _op("ConfirmActivationKey", "POST", _ENV + "/ConfirmActivationKey"),
        _op("ListInterconnects", "GET", _ENV + "/interconnects"),
        _op("GetInterconnect", "GET", _IC),
        _op("ListChannels", "GET", _IC + "/channels"),
        _op("GetChannel", "GET", _CH),
        _op("NotifyMaintenance", "POST", _CH + "/NotifyMaintenance", idempotent=True),
        _op("GetMaintenanceEvents", "GET", _CH + "/maintenanceEvents"),
        _op("RequestMacSecKeyRotation", "POST", _CH + "/RequestMacSecKeyRotation"),
        _op("CreateMacSecKey", "POST", _CH + "/macSecKeys"),
        _op("ListMacSecKeys", "GET", _CH + "/macSecKeys"),
        _op("GetMacSecKey", "GET", _CH + "/macSecKeys/{macSecKey}"),
        _op("DeleteMacSecKey", "DELETE", _CH + "/macSecKeys/{macSecKey}"),
        _op("ListConnections", "GET", _IC + "/connections"),
        _op("CreateConnection", "POST", _IC + "/connections"),
        _op("DeleteConnection", "DELETE", _CONN),
        _op("GetConnection", "GET", _CONN),
        _op("UpdateConnection", "PATCH", _CONN),
        _op("GenerateFeatureGuidance", "POST", _CONN + "/GenerateFeatureGuidance", idempotent=True),
        _op("NotifyConnectionStatus", "POST", _CONN + "/NotifyConnectionStatus", idempotent=True),
        _op("ListFeatures", "GET", _CONN + "/features"),
        _op("CreateFeature", "POST", _CONN + "/features"),
        _op("DeleteFeature", "DELETE", _CONN + "/features/{feature}"),
        _op("GetFeature", "GET", _CONN + "/features/{feature}"),
        _op("ListIssues", "GET", _PREFIX + "/issues"),
        _op("CreateIssue", "POST", _PREFIX + "/issues"),
        _op("GetIssue", "GET", _ISSUE),
        _op("CloseIssue", "POST", _ISSUE + "/Close"),
        _op("AddComment", "POST", _ISSUE + "/AddComment"),
        _op("ListComments", "GET", _ISSUE + "/comments"),
    )
}
"""operationId -> Operation, for all 33 operations of the pinned spec."""
