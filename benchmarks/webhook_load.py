"""Webhook ingestion: signed Twilio SMS through the real HTTP server to the broker's acknowledgement.

Starts a private broker and ``omnitrail connector twilio`` (one process), then Debian's ``wrk``
(a separate C process) replays precomputed requests signed exactly as Twilio signs them (the
``twilio`` package's RequestValidator over the public URL and the sorted form parameters), each
with its own MessageSid. Every 2xx is an interaction the broker acknowledged (acks=all), so the
records on the topic are checked against the 2xx count wrk saw.

Usage: python benchmarks/webhook_load.py [--seconds 10] [--connections 64] [--profile DIR] [--before DIR]
       [--server-env OMNITRAIL_KAFKA_LINGER_MS=20 ...]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from urllib.parse import urlencode

import corpus
import httpx
import psutil
from aiokafka import AIOKafkaConsumer, TopicPartition
from twilio.request_validator import RequestValidator

from omnitrail import memory_tuning
from omnitrail.local_stack import free_port, wait_for_port
from schemas import topics
from sinks.scratch_database import ADMIN_PG

TOKEN = "bench-twilio-token"  # noqa: S105  # a throw-away token for a private server
ACCOUNT_SID = "AC" + "0" * 32

LUA = """
local requests = {}
local n = 0
for line in io.lines("%(path)s") do
  local sig, body = line:match("^(%%S+) (.*)$")
  n = n + 1
  requests[n] = wrk.format("POST", "/webhooks/twilio/messages",
    {["Host"] = "127.0.0.1", ["Content-Type"] = "application/x-www-form-urlencoded",
     ["X-Twilio-Signature"] = sig}, body)
end
local i = 0
request = function()
  i = i %% n + 1
  return requests[i]
end
"""


def signed_requests(public_url: str, count: int) -> list[tuple[str, str]]:
    """(signature, body) for ``count`` distinct inbound SMS, as Twilio would post them."""
    validator = RequestValidator(TOKEN)
    url = f"{public_url}/webhooks/twilio/messages"
    out = []
    for n in range(count):
        params = {
            "MessageSid": f"SM{n:032d}",
            "SmsSid": f"SM{n:032d}",
            "AccountSid": ACCOUNT_SID,
            "MessagingServiceSid": "MG" + "1" * 32,
            "From": f"+35191{1_000_000 + n % 10_000}",
            "To": corpus.ACCOUNT,
            "Body": "Olá, preciso de ajuda com a encomenda número " + str(n),
            "NumMedia": "0",
            "NumSegments": "1",
            "FromCountry": "PT",
            "ToCountry": "PT",
            "ApiVersion": "2010-04-01",
            "SmsStatus": "received",
        }
        out.append((validator.compute_signature(url, params), urlencode(params)))
    return out


async def records_on(bootstrap: str) -> int:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        numbers = consumer.partitions_for_topic(topics.INTERACTIONS) or []
        parts = [TopicPartition(topics.INTERACTIONS, p) for p in numbers]
        ends = await consumer.end_offsets(parts)
        return sum(ends.values())
    finally:
        await consumer.stop()


def wrk_script(public_url: str, work: str, count: int = 20_000) -> str:
    """A wrk Lua script replaying ``count`` distinct signed requests for ``public_url``."""
    requests_path = os.path.join(work, "requests.txt")
    with open(requests_path, "w") as fh:
        fh.writelines(f"{sig} {body}\n" for sig, body in signed_requests(public_url, count))
    script = os.path.join(work, "twilio.lua")
    with open(script, "w") as fh:
        fh.write(LUA % {"path": requests_path})
    return script


def flood(public_url: str, script: str, seconds: float, connections: int) -> int:
    """wrk against ``public_url`` for ``seconds``; the 2xx count."""
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("wrk not found: apt-get install -y wrk")
    done = subprocess.run(
        [wrk, "-t", "1", "-c", str(connections), "-d", f"{seconds:.0f}s", "-s", script, public_url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    total = int(re.search(r"(\d+) requests in", done).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", done)
    return total - (int(bad.group(1)) if bad else 0)


def bare(seconds: float, connections: int) -> tuple[float, float]:
    """The reference server (benchmarks/bare_webhook.py): requests/s, server CPU-ms per 1,000 requests."""
    port = free_port()
    public_url = f"http://127.0.0.1:{port}"
    script = wrk_script(public_url, tempfile.mkdtemp(prefix="omnitrail-webhook-bare-"))
    cmd = [sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), "bare_webhook.py"), str(port)]
    server = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    watched = psutil.Process(server.pid)
    try:
        wait_for_port("127.0.0.1", port, 30, server)
        before = watched.cpu_times()
        ok = flood(public_url, script, seconds, connections)
        after = watched.cpu_times()
    finally:
        server.terminate()
        server.wait(30)
    cpu = (after.user + after.system) - (before.user + before.system)
    return ok / seconds, cpu * 1000 / max(ok, 1) * 1000


def _broker_process(bootstrap: str) -> psutil.Process:
    """The private broker :func:`corpus.broker` started (a child of this process, listening on ``bootstrap``)."""
    port = int(bootstrap.rsplit(":", 1)[1])
    for child in psutil.Process().children(recursive=True):
        if any(c.laddr.port == port and c.status == psutil.CONN_LISTEN for c in child.net_connections()):
            return child
    raise RuntimeError(f"no child process listens on {bootstrap}")


def _cpu(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def run(
    seconds: float,
    connections: int,
    profile: str | None = None,
    code_dir: str | None = None,
    server_env: dict[str, str] | None = None,
) -> tuple[float, int, int, float, float]:
    """requests/s with 2xx, 2xx count, records on the topic, server and broker CPU-ms per 1,000 requests."""
    port = free_port()
    public_url = f"http://127.0.0.1:{port}"
    work = tempfile.mkdtemp(prefix="omnitrail-webhook-bench-")
    script = wrk_script(public_url, work)
    with corpus.broker(partitions=4) as bootstrap:
        env = {k: v for k, v in os.environ.items() if not k.startswith("OMNITRAIL_")}
        env.update(memory_tuning.MALLOC_ENV)  # as the image starts it
        env.update(
            OMNITRAIL_KAFKA_BOOTSTRAP=bootstrap,
            OMNITRAIL_KAFKA_IDEMPOTENCE="false",
            OMNITRAIL_DATABASE_URL=ADMIN_PG,  # not opened: a push connector needs no database
            OMNITRAIL_TWILIO_AUTH_TOKEN=TOKEN,
            OMNITRAIL_TWILIO_ACCOUNT_SID=ACCOUNT_SID,
            OMNITRAIL_PUBLIC_URL=public_url,
            OMNITRAIL_HTTP_PORT=str(port),
            OMNITRAIL_LOG_LEVEL="warning",
            OMNITRAIL_DATA_DIR=work,
        )
        env.update(server_env or {})
        if code_dir:
            env["PYTHONPATH"] = code_dir  # another checkout's code, ahead of the editable install
        cmd = [sys.executable, *(["-P"] if code_dir else []), "-m", "omnitrail", "connector", "twilio"]
        if profile:
            spy = os.path.join(os.path.dirname(sys.executable), "py-spy")
            out = os.path.join(profile, f"webhook-{int(time.time())}.folded")
            cmd = [spy, "record", "--nonblocking", "--rate", "100", "--format", "raw", "-o", out, "--", *cmd]
        server = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        watched = psutil.Process(server.pid)
        try:
            wait_for_port("127.0.0.1", port, 30, server)
            _warm_up(public_url)
            if profile:
                watched = watched.children()[0]  # py-spy's child is the server
            broker = _broker_process(bootstrap)
            before, broker_before = _cpu(watched), _cpu(broker)
            ok = flood(public_url, script, seconds, connections)
            after, broker_after = _cpu(watched), _cpu(broker)
        finally:
            watched.send_signal(signal.SIGTERM)
            server.wait(30)
        on_topic = asyncio.run(records_on(bootstrap))
    per_1k = 1000 / max(ok, 1) * 1000
    return ok / seconds, ok, on_topic - 1, (after - before) * per_1k, (broker_after - broker_before) * per_1k


def _warm_up(public_url: str) -> None:
    """One signed request before timing: the producer connects and learns the partitions."""
    sig, body = signed_requests(public_url, 1)[0]
    headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": sig}
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.post(f"{public_url}/webhooks/twilio/messages", content=body, headers=headers).is_success:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError("the connector did not accept a signed request in 30s")


def main(
    seconds: float = 10,
    connections: int = 64,
    profile: str | None = None,
    before: str | None = None,
    server_env: dict[str, str] | None = None,
) -> tuple[float, float]:
    """Print the runs; (the connector's requests/s, the bare server's)."""
    runs = [("now", None), ("before", before), ("now", None)] if before else [("now", None)]
    results: dict[str, list[tuple[float, int, int, float, float]]] = {}
    references = []
    for label, code in runs:  # before/after interleaved: now, before, now; the bare server after each "now"
        results.setdefault(label, []).append(run(seconds, connections, profile, code, server_env))
        if label == "now":
            references.append(bare(seconds, connections))
    for label, measured in results.items():
        rate, ok, on_topic, cpu, broker_cpu = max(measured)
        print(
            f"webhook    : {rate:7.0f} signed Twilio SMS/s acknowledged by the broker ({label}; wrk, {connections}"
            f" connections, {seconds:.0f}s); 2xx {ok}, records on the topic {on_topic}; server CPU {cpu:.0f} ms/1k"
            f" (broker {broker_cpu:.0f})"
        )
    bare_rate, bare_cpu = max(references)
    now_rate = max(results["now"])[0]
    print(
        f"webhook ref:  {bare_rate:7.0f} requests/s on a bare aiohttp server (reads the body, answers 200; one process,"
        f" uvloop; server CPU {bare_cpu:.0f} ms/1k)"
    )
    print(f"             connector / bare aiohttp = {now_rate / bare_rate:.2f}")
    if before:
        now, old = max(results["now"]), results["before"][0]
        print(
            f"             now / before = {now[0] / old[0]:.2f} requests/s, {old[3] / now[3]:.2f}x less CPU per request"
        )
    return now_rate, bare_rate


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--profile", metavar="DIR")
    parser.add_argument("--before", metavar="DIR", help="also run this checkout's server, interleaved")
    parser.add_argument(
        "--server-env", action="append", default=[], metavar="KEY=VALUE", help="a setting of the servers measured"
    )
    args = parser.parse_args()
    server_env = dict(item.split("=", 1) for item in args.server_env)
    main(args.seconds, args.connections, args.profile, args.before, server_env)
