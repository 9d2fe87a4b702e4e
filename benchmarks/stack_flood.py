"""The whole stack on one box under a webhook flood: does the timeline keep pace with what is acknowledged?

``omnitrail up`` (supervisor, HTTP server with every route, and its worker with the suggestions agent, as it
starts by default) against an external broker and PostgreSQL on the same machine, ready by ``/readyz`` (the
worker holds its partitions), then wrk posts signed Twilio SMS for ``seconds``. Ingest is the 2xx count over
the flood; the timeline's rate is the rows over the time from the first request received to the last committed row, so
a timeline that falls behind the webhooks shows as a ratio below 1. Every 2xx must be one row.

Usage: run from benchmarks/run.py (it needs a database); ``python benchmarks/stack_flood.py URL`` alone.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

import corpus
import httpx
import psycopg
import webhook_load

from omnitrail import memory_tuning
from omnitrail.local_stack import free_port


@dataclass(frozen=True)
class Flood:
    acknowledged: int
    ingest_rate: float
    rows: int
    distinct: int
    timeline_rate: float

    def line(self) -> str:
        return (
            f"stack      : omnitrail up, {self.ingest_rate:5.0f} webhooks/s acknowledged (2xx {self.acknowledged});"
            f" timeline {self.timeline_rate:5.0f}/s from the first request to the last row;"
            f" rows {self.rows} dup {self.rows - self.distinct} missing {max(0, self.acknowledged - self.distinct)}\n"
            f"             timeline / ingest = {self.timeline_rate / max(self.ingest_rate, 1):.2f}"
        )

    @property
    def correct(self) -> bool:
        return self.rows == self.distinct >= self.acknowledged  # a request in flight when wrk stopped counts too


#: Distinct signed requests per second of flood: well above what one box acknowledges (3,204/s measured).
DISTINCT_PER_SECOND = 12_000


def run(url: str, seconds: float = 10, connections: int = 64) -> Flood:
    port = free_port()
    public_url = f"http://127.0.0.1:{port}"
    work = tempfile.mkdtemp(prefix="omnitrail-stack-bench-")
    # Every request a distinct SMS: a replayed one is deduplicated into no row, so the script must hold more than
    # the flood can send (20,000 did until the connector reached 3,204/s, when 12,042 2xx were replays).
    script = webhook_load.wrk_script(public_url, work, count=int(seconds * DISTINCT_PER_SECOND))
    with corpus.broker(partitions=4) as bootstrap:
        env = {k: v for k, v in os.environ.items() if not k.startswith("OMNITRAIL_")}
        env.update(memory_tuning.MALLOC_ENV)
        env.update(
            OMNITRAIL_KAFKA_BOOTSTRAP=bootstrap,
            OMNITRAIL_KAFKA_IDEMPOTENCE="false",
            OMNITRAIL_KAFKA_SESSION_TIMEOUT_S="6",
            OMNITRAIL_KAFKA_HEARTBEAT_INTERVAL_S="1",
            OMNITRAIL_KAFKA_REBALANCE_TIMEOUT_S="6",
            OMNITRAIL_DATABASE_URL=url,
            OMNITRAIL_TWILIO_AUTH_TOKEN=webhook_load.TOKEN,
            OMNITRAIL_TWILIO_ACCOUNT_SID=webhook_load.ACCOUNT_SID,
            OMNITRAIL_PUBLIC_URL=public_url,
            OMNITRAIL_HTTP_PORT=str(port),
            OMNITRAIL_API_TOKENS="bench-agent:agent",
            OMNITRAIL_LOG_LEVEL="warning",
            OMNITRAIL_DATA_DIR=os.path.join(work, ".omnitrail"),
        )
        up = subprocess.Popen(
            [sys.executable, "-m", "omnitrail", "up"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            _ready(public_url, up)
            with psycopg.connect(url, autocommit=True) as conn:
                acknowledged = webhook_load.flood(public_url, script, seconds, connections)
                deadline = time.monotonic() + 120
                rows = 0
                while rows < acknowledged and time.monotonic() < deadline:
                    time.sleep(0.2)
                    row = conn.execute("SELECT count(*) FROM interactions").fetchone()
                    rows = int(row[0]) if row else 0
                time.sleep(1.0)  # requests in flight when wrk stopped (it counts only completed ones) land too
                # From the first request the connector received (not from wrk's start: loading its script of
                # 120,000 signed requests takes a while) to the last row the worker committed.
                row = conn.execute(
                    "SELECT count(*), count(DISTINCT interaction_id),"
                    " extract(epoch FROM max(stored_at) - min(received_at))"
                    " FROM interactions"
                ).fetchone()
                assert row is not None
        finally:
            up.send_signal(signal.SIGINT)
            try:
                up.wait(60)
            except subprocess.TimeoutExpired:
                up.kill()
    rows, distinct, span = int(row[0]), int(row[1]), float(row[2] or 0)
    return Flood(acknowledged, acknowledged / seconds, rows, distinct, rows / span if span > 0 else 0.0)


def _ready(public_url: str, up: subprocess.Popen[bytes], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if up.poll() is not None:
            raise RuntimeError(f"omnitrail up exited {up.returncode}")
        try:
            if httpx.get(public_url + "/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"omnitrail up not ready in {timeout:.0f}s")


if __name__ == "__main__":
    print(run(sys.argv[1]).line())
