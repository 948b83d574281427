"""The reference provider: one provider's implementation of the Connection
Coordinator API, with the protocol's rules, provisioning delays, fault
injection, a customer endpoint that issues activation keys and optional
persistence. Used by tests, the demo and the benchmark (docs/simulator.md).

Public surface: :class:`SimulatorConfig`, :func:`create_app` (an ASGI app for
httpx's ASGITransport or any server), :func:`serve` (uvicorn, blocking) and
the CLI in :mod:`.cli`.
"""

from interconnect_operator.simulator.app import SimulatedDrop, Simulator, create_app
from interconnect_operator.simulator.config import SimulatorConfig
from interconnect_operator.simulator.server import serve, serve_async

__all__ = ["SimulatedDrop", "Simulator", "SimulatorConfig", "create_app", "serve", "serve_async"]
