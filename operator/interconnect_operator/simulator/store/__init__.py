"""State and rules of the simulated provider (the server side of P3-P30).

One class per rule group (:mod:`.connections`, :mod:`.features`,
:mod:`.macsec`, :mod:`.maintenance`, :mod:`.issues`) over one shared state
(:mod:`.base`); :class:`Store` combines them.

Everything dynamic lives here in plain dicts with the indexes each rule needs,
so that every operation costs O(1) or O(objects of one connection/channel):
the benchmark drives thousands of links through one simulator.

Time-driven behaviour is computed from timestamps when read, never by tasks:
a feature is FINAL once ``provisioning_delay`` has passed since it was
(re)provisioned (P13), a connection is VERIFIED when all its features are
FINAL and the peer's NotifyConnectionStatus arrived after the last change
(P14), a MACsec key is active once its router had ``provisioning_delay`` to
switch to it (P28).

Methods take ``now`` (epoch seconds) from the caller's clock and raise
:class:`SimError` with the status of P32 on refusal. They never await, so in
the single-threaded event loop each is atomic; the app still wraps mutations
in one lock to serialise reservations explicitly (P10).
"""

from interconnect_operator.simulator.store.connections import ConnectionRules
from interconnect_operator.simulator.store.features import FeatureRules
from interconnect_operator.simulator.store.issues import IssueRules
from interconnect_operator.simulator.store.macsec import MacSecRules
from interconnect_operator.simulator.store.maintenance import MaintenanceRules
from interconnect_operator.simulator.store.records import (
    ActivationKeyRecord,
    CommentRecord,
    ConnectionRecord,
    FeatureFailureRecord,
    FeatureRecord,
    IssueRecord,
    MacSecKeyRecord,
    MaintenanceRecord,
    PeerMaintenanceRecord,
    RotationRequestRecord,
    SimError,
)

__all__ = [
    "ActivationKeyRecord",
    "CommentRecord",
    "ConnectionRecord",
    "FeatureFailureRecord",
    "FeatureRecord",
    "IssueRecord",
    "MacSecKeyRecord",
    "MaintenanceRecord",
    "PeerMaintenanceRecord",
    "RotationRequestRecord",
    "SimError",
    "Store",
]


class Store(ConnectionRules, FeatureRules, MacSecRules, MaintenanceRules, IssueRules):
    """All dynamic state of one simulated provider and the rules over it."""
