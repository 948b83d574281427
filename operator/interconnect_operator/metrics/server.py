"""The `/metrics` HTTP endpoint and the text exposition.

The endpoint answers as prometheus-client's own WSGI app does (content
negotiation between the text format and OpenMetrics, gzip when accepted,
``name[]`` filters, OPTIONS and 405 for other methods), with one difference:
a scrape is written by `exposition.exposition`, which copies the per-link
families' kept text instead of formatting every sample again, and is
compressed at gzip's fastest level (`GZIP_LEVEL`). Everything but a plain GET
of the whole scrape is left to prometheus-client's app.
"""

from __future__ import annotations

import gzip
import logging
import socket
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client.exposition import (
    ThreadingWSGIServer,
    choose_encoder,
    gzip_accepted,
    make_wsgi_app,
)

from interconnect_operator.metrics.exporter import OperatorMetrics
from interconnect_operator.metrics.exposition import exposition

logger = logging.getLogger(__name__)

#: gzip level of a compressed scrape (Prometheus asks for gzip). The fastest:
#: prometheus-client's default (9) took ~60 ms of CPU for the 2.4 MB scrape of
#: 1,000 links, ten times the rest of the scrape; level 1 takes ~4 ms and the
#: answer grows from ~100 to ~130 KiB.
GZIP_LEVEL = 1

StartResponse = Callable[[str, list[tuple[str, str]]], Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def render(metrics: OperatorMetrics) -> bytes:
    """The text exposition of `metrics`, as a scrape would receive it."""
    return exposition(metrics.registry)


def metrics_app(metrics: OperatorMetrics) -> WsgiApp:
    """The WSGI app serving `metrics`' scrapes."""
    fallback: WsgiApp = make_wsgi_app(metrics.registry)

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        params = parse_qs(environ.get("QUERY_STRING", ""))
        plain_get = (
            environ["REQUEST_METHOD"] == "GET"
            and environ.get("PATH_INFO") != "/favicon.ico"
            and "name[]" not in params
        )
        if not plain_get:
            return fallback(environ, start_response)
        # Like prometheus-client's app, any path serves the scrape.
        encoder, content_type = choose_encoder(environ.get("HTTP_ACCEPT", ""))
        output = exposition(metrics.registry, encoder)
        headers = [("Content-Type", content_type)]
        if gzip_accepted(environ.get("HTTP_ACCEPT_ENCODING", "")):
            output = gzip.compress(output, compresslevel=GZIP_LEVEL)
            headers.append(("Content-Encoding", "gzip"))
        start_response("200 OK", headers)
        return [output]

    return app


class _QuietHandler(WSGIRequestHandler):
    """Logs no line per request (a scrape every few seconds is not news)."""

    def log_message(self, format: str, *args: Any) -> None:
        pass


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
    # As prometheus-client's start_http_server: the address family follows the
    # host (an IPv6 address binds an IPv6 socket).
    family, _, _, _, sockaddr = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]

    class _Server(ThreadingWSGIServer):
        address_family = family

    server = make_server(
        str(sockaddr[0]), port, metrics_app(metrics), _Server, handler_class=_QuietHandler
    )
    thread = threading.Thread(target=server.serve_forever, name="metrics-server", daemon=True)
    thread.start()
    logger.info("serving metrics", extra={"host": host, "port": server.server_address[1]})
    return MetricsServer(server=server, thread=thread)
