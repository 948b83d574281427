"""The `/metrics` HTTP endpoint and the text exposition."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from wsgiref.simple_server import WSGIServer

from prometheus_client import (
    generate_latest,
)
from prometheus_client import start_http_server as _start_http_server

from interconnect_operator.metrics.exporter import OperatorMetrics

logger = logging.getLogger(__name__)


def render(metrics: OperatorMetrics) -> bytes:
    """The text exposition of `metrics`, as a scrape would receive it."""
    return generate_latest(metrics.registry)


@dataclass
class MetricsServer:
    """A running metrics HTTP server (a daemon thread); `shutdown()` stops it."""

    server: WSGIServer
    thread: threading.Thread

    @property
    def port(self) -> int:
        """The bound port (useful when started with port 0)."""
        return int(self.server.server_address[1])

    def shutdown(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def serve_metrics(metrics: OperatorMetrics, port: int, host: str = "0.0.0.0") -> MetricsServer:
    """Serve `/metrics` for `metrics` on host:port in a daemon thread."""
    server, thread = _start_http_server(port, addr=host, registry=metrics.registry)
    logger.info("serving metrics", extra={"host": host, "port": server.server_address[1]})
    return MetricsServer(server=server, thread=thread)
