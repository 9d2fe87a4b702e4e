"""deploy/healthcheck.py, the image's HEALTHCHECK: healthy when any configured port answers /healthz."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from omnitrail.local_stack import free_port

SCRIPT = Path(__file__).parents[2] / "deploy" / "healthcheck.py"


class _Healthz(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/healthz" else 404)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # quiet test output
        pass


@pytest.fixture
def serving_port() -> Iterator[int]:
    server = HTTPServer(("127.0.0.1", 0), _Healthz)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def check(**env: str) -> int:
    return subprocess.run([sys.executable, str(SCRIPT)], env=env, timeout=30, check=False).returncode


def test_http_role_is_healthy_when_its_port_answers(serving_port: int) -> None:
    assert check(OMNITRAIL_HTTP_PORT=str(serving_port)) == 0


def test_worker_is_healthy_through_its_metrics_port(serving_port: int) -> None:
    # A worker serves no HTTP app: the HTTP port is closed, the metrics port answers.
    assert check(OMNITRAIL_HTTP_PORT=str(free_port()), OMNITRAIL_WORKER_METRICS_PORT=str(serving_port)) == 0
    assert check(OMNITRAIL_HTTP_PORT=str(free_port()), OMNITRAIL_WEBHOOKS_METRICS_PORT=str(serving_port)) == 0


def test_unhealthy_when_nothing_answers() -> None:
    assert check(OMNITRAIL_HTTP_PORT=str(free_port()), OMNITRAIL_WORKER_METRICS_PORT="0") == 1
