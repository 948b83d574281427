"""Configuration of one simulated provider (:class:`SimulatorConfig`)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from interconnect_operator.simulator.faults import FaultConfig
from interconnect_operator.simulator.inventory import Inventory

__all__ = ["ANY_PROVIDER", "SimulatorConfig"]

ANY_PROVIDER = "*"
"""In a token's allowed provider ids: the token may use any caller prefix."""


@dataclass(slots=True)
class SimulatorConfig:
    """Everything :func:`create_app` and :func:`serve` need.

    ``tokens`` maps a bearer token to the provider ids whose prefix it may use
    (``{"s3cret": frozenset({"gcp"})}``; ``"*"`` for any). Empty: no
    authentication at all. ``clock`` returns epoch seconds; tests pass a fake
    one to move provisioning, verification, key activation and bake time
    forward without sleeping.
    """

    provider_id: str = "aws"
    host: str = "127.0.0.1"
    port: int = 8081
    inventory: Inventory | None = None  # None: default_inventory(provider_id)
    state_path: str | None = None  # SQLite file; None: in memory only
    provisioning_delay: float = 0.0  # seconds a feature stays PENDING (P13)
    bake_time: float = 7200.0  # seconds between MACsec rotations (P29)
    tokens: Mapping[str, frozenset[str]] = field(default_factory=dict, repr=False)
    tls_cert: str | None = None
    tls_key: str | None = None
    client_ca: str | None = None  # set: clients must present a certificate (mTLS)
    faults: FaultConfig | None = None
    access_log: bool = False
    # Seconds an idle client connection is kept open. As a provider's front end
    # would (AWS ALB 60 s, nginx 75 s; uvicorn's own default is 5 s): clients
    # that keep connections across their refreshes can reuse them.
    keep_alive_seconds: int = 75
    clock: Callable[[], float] = time.time
