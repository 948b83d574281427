"""What the link work queue's parts share: the per-link memory and a step's stop.

``links`` (gate, prepare, persist), ``ready`` (the Ready confirmation path)
and ``link_reports`` (status, Events, refusals) read and write the same
per-link memory; a reconcile step that ends the reconcile says so with
``Stop``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from interconnect_operator.k8s import confirm
from interconnect_operator.k8s.publish import EventMemory

SECRET_RETRY = (5.0, 300.0)
#: Longest a link waits for its pool's first refresh before it reports and requeues.
POOL_READY_WAIT_SECONDS = 30.0


@dataclass(slots=True)
class LinkState(EventMemory):
    """What the operator keeps per link between reconciles (never a secret).

    Slotted, as is its ``basis``: no per-instance dict (~100 bytes each per
    link); the basis holds a 16-byte digest of the provider data, not the
    records (``confirm``).
    """

    secret_backoff: float = SECRET_RETRY[0]
    claimed: set[str] = field(default_factory=set)
    """UUIDs this process recorded for the link (released with it, even if never annotated)."""
    basis: confirm.ReadyBasis | None = None
    """What the last full reconcile found the link Ready from (None: not Ready)."""


@dataclass(frozen=True)
class Stop:
    """The reconcile ends here; ``retry``: seconds until the link is looked at again."""

    retry: float | None
