"""Prometheus exposition for processes that serve no HTTP app of their own (worker, sinks).

The HTTP roles (connectors, console, ``up``) answer ``/metrics`` on their FastAPI app; the
worker and the webhook sink have no such app, so they start prometheus_client's own
small server on a port of their settings. It answers every path, ``/metrics`` and
``/healthz`` included, which makes it the liveness probe of those processes too: it stops
answering only when the process is gone.
"""

from __future__ import annotations

import structlog
from prometheus_client import start_http_server

log = structlog.get_logger(__name__)


def serve_metrics(port: int, host: str, *, role: str) -> None:
    """Serve the process's metrics on ``host:port`` in a daemon thread; port 0 means off."""
    if port == 0:
        return
    start_http_server(port, addr=host)
    log.info("metrics.serving", role=role, port=port)
