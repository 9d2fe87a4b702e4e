"""Container health check for every Omnitrail role (the image's HEALTHCHECK).

HTTP roles (connectors, console) answer ``/healthz`` on ``OMNITRAIL_HTTP_PORT``; the worker
and the webhook sink answer on their metrics port. Healthy when any of the ports this
container is configured with answers 200. Standard library only: it runs in the slim image
without importing the application (fast, and independent of its start-up).
"""

from __future__ import annotations

import os
import sys
import urllib.request

PORT_VARIABLES = ("OMNITRAIL_HTTP_PORT", "OMNITRAIL_WORKER_METRICS_PORT", "OMNITRAIL_WEBHOOKS_METRICS_PORT")


def healthy() -> bool:
    ports = [os.environ.get(name, "8080" if name == "OMNITRAIL_HTTP_PORT" else "0") for name in PORT_VARIABLES]
    for port in filter(lambda p: p not in ("", "0"), ports):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=3) as response:
                if response.status == 200:
                    return True
        except OSError:
            continue
    return False


if __name__ == "__main__":
    sys.exit(0 if healthy() else 1)
