"""Serve the simulator over HTTP(S) with uvicorn."""

from __future__ import annotations

import logging
import ssl

import uvicorn

from interconnect_operator.simulator.app import SimulatedDrop, create_app
from interconnect_operator.simulator.config import SimulatorConfig

__all__ = ["serve", "serve_async", "uvicorn_config"]


class _DropFilter(logging.Filter):
    """Hide uvicorn's traceback for injected drops: they are intended."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, SimulatedDrop)


def uvicorn_config(config: SimulatorConfig) -> uvicorn.Config:
    """The uvicorn configuration for ``config`` (TLS and mTLS included)."""
    logging.getLogger("uvicorn.error").addFilter(_DropFilter())
    return uvicorn.Config(
        create_app(config),
        host=config.host,
        port=config.port,
        ssl_certfile=config.tls_cert,
        ssl_keyfile=config.tls_key,
        ssl_ca_certs=config.client_ca,
        # P34: with a client CA, only callers holding a certificate it signed
        # get through the TLS handshake.
        ssl_cert_reqs=ssl.CERT_REQUIRED if config.client_ca else ssl.CERT_NONE,
        access_log=config.access_log,
        lifespan="on",
        log_config=None,  # keep the process's logging setup
        # Benchmarks open thousands of connections; default backlog is 2048.
        backlog=4096,
        # Idle connections outlive a client's refresh interval (config.py).
        timeout_keep_alive=config.keep_alive_seconds,
    )


async def serve_async(config: SimulatorConfig) -> None:
    """Serve until cancelled or signalled."""
    await uvicorn.Server(uvicorn_config(config)).serve()


def serve(config: SimulatorConfig) -> None:
    """Serve until SIGINT/SIGTERM (blocking)."""
    uvicorn.Server(uvicorn_config(config)).run()
