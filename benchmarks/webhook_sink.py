"""Webhook sink delivery rate next to the ceiling of one HTTP client posting the same bodies.

ceiling: a plain httpx client POSTing the events one after the other (what one subscriber's
         in-order delivery can at best do against this receiver), no Kafka, no signing
sink:    the real `omnitrail sink webhooks` process: consume the timeline topic, filter, sign,
         POST, commit; timed from the first delivery to the last (steady) and from process start

The receiver is a separate process that verifies every signature and counts what it accepted.
Usage: python benchmarks/webhook_sink.py [--events 5000]
Needs PostgreSQL on 127.0.0.1:5432 (user postgres, trust) for the dead-letter table; starts its own broker.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime

import httpx
from aiokafka import AIOKafkaProducer

from omnitrail.local_stack import EmbeddedBroker, free_port
from schemas import topics
from schemas.identifiers import Identifier, IdentifierKind
from schemas.interaction import Channel, Direction, Interaction, Party, Provider
from schemas.timeline import TimelineEvent, TimelineEventType
from sinks.kafka import clients
from sinks.kafka.settings import KafkaSettings
from sinks.scratch_database import scratch_database

SECRET = "benchmark-secret-0123456789"  # noqa: S105  # a throw-away key for a local receiver
RECEIVER = """
import hashlib, hmac, sys
import uvicorn
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
secret, port, seen = sys.argv[1].encode(), int(sys.argv[2]), {"ok": 0, "bad": 0}
async def hook(request):
    body, ts = await request.body(), request.headers.get("omnitrail-timestamp", "0")
    expected = "v1=" + hmac.new(secret, ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    signed = hmac.compare_digest(request.headers.get("omnitrail-signature", ""), expected)
    seen["ok" if signed else "bad"] += 1
    return Response(status_code=204)
async def count(request):
    return PlainTextResponse(f"{seen['ok']} {seen['bad']}")
app = Starlette(routes=[Route("/hook", hook, methods=["POST"]), Route("/count", count)])
uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
"""


def events(n: int) -> list[TimelineEvent]:
    now = datetime.now(UTC)
    out = []
    for k in range(n):
        phone = f"+3519{10_000_000 + k % 5000}"
        interaction = Interaction.build(
            channel=Channel.sms,
            provider=Provider.twilio,
            account="+351210000000",
            direction=Direction.inbound,
            occurred_at=now,
            received_at=now,
            external_id=f"SMB{k:012d}",
            sender=Party(identifiers=[Identifier(kind=IdentifierKind.phone, value=phone)]),
            text="olá, a minha encomenda ainda não chegou; podem ajudar?",
        )
        out.append(
            TimelineEvent(
                event_id=uuid.uuid4(),
                type=TimelineEventType.interaction_added,
                contact_id=uuid.uuid5(uuid.NAMESPACE_URL, phone),
                occurred_at=now,
                interaction=interaction,
            )
        )
    return out


async def produce(bootstrap: str, items: list[TimelineEvent]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    try:
        for e in items:
            await producer.send(topics.TIMELINE, e.model_dump_json().encode(), key=str(e.contact_id).encode())
        await producer.flush()
    finally:
        await producer.stop()


def received(port: int) -> tuple[int, int]:
    ok, bad = httpx.get(f"http://127.0.0.1:{port}/count", timeout=5).text.split()
    return int(ok), int(bad)


async def ceiling(port: int, items: list[TimelineEvent]) -> float:
    bodies = [e.model_dump_json().encode() for e in items]
    async with httpx.AsyncClient() as client:
        started = time.perf_counter()
        for body in bodies:
            ts = str(int(time.time()))
            sig = "v1=" + hmac.new(SECRET.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
            headers = {"Omnitrail-Timestamp": ts, "Omnitrail-Signature": sig, "Content-Type": "application/json"}
            (await client.post(f"http://127.0.0.1:{port}/hook", content=body, headers=headers)).raise_for_status()
        return len(bodies) / (time.perf_counter() - started)


def run_sink(bootstrap: str, database_url: str, port: int, expected: int) -> tuple[float, float, float]:
    """(events/s incl. start, events/s first..last delivery, seconds to the first delivery)."""
    subscriber = {"name": "bench", "url": f"http://127.0.0.1:{port}/hook", "secret": SECRET}
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMNITRAIL_")}
    env.update(
        OMNITRAIL_KAFKA_BOOTSTRAP=bootstrap,
        OMNITRAIL_KAFKA_IDEMPOTENCE="false",
        OMNITRAIL_DATABASE_URL=database_url,
        OMNITRAIL_WEBHOOKS_SUBSCRIBERS=json.dumps([subscriber]),
        OMNITRAIL_WEBHOOKS_START_FROM="earliest",
        OMNITRAIL_LOG_LEVEL="warning",
    )
    base = received(port)[0]
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "omnitrail", "sink", "webhooks"], env=env)
    first = None
    try:
        while True:
            count = received(port)[0] - base
            now = time.perf_counter()
            if count and first is None:
                first = (now, count)
            if count >= expected:
                break
            if now - started > 600 or proc.poll() is not None:
                raise RuntimeError(f"sink delivered {count}/{expected}")
            time.sleep(0.05)
    finally:
        proc.terminate()
        proc.wait(30)
    assert first is not None
    return expected / (now - started), (expected - first[1]) / (now - first[0]), first[0] - started


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=5000)
    args = parser.parse_args()
    items = events(args.events)
    port = free_port()
    receiver = subprocess.Popen([sys.executable, "-c", RECEIVER, SECRET, str(port)])
    broker = EmbeddedBroker()
    broker.start()
    try:
        for _ in range(100):
            try:
                received(port)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        asyncio.run(clients.create_topics(KafkaSettings(partitions=3), broker.bootstrap))
        asyncio.run(produce(broker.bootstrap, items))
        ceil = asyncio.run(ceiling(port, items))
        with scratch_database("omnitrail_bench") as url:
            total, steady, join = run_sink(broker.bootstrap, url, port, len(items))
        ok, bad = received(port)
    finally:
        receiver.terminate()
        receiver.wait(10)
        broker.stop()
    avg = sum(len(e.model_dump_json()) for e in items[:200]) / 200
    print(f"events     : {len(items)} interaction.added, {avg / 1024:.1f} KB avg, 3 partitions, 1 subscriber")
    print(f"ceiling    : {ceil:8.0f} events/s  (one httpx client POSTing the same bodies in order)")
    print(f"sink       : {steady:8.0f} events/s  first..last delivery;  {total:.0f}/s incl. {join:.1f}s start + join")
    print(f"ratio      : sink/ceiling = {steady / ceil:.2f} (steady), {total / ceil:.2f} (incl. start)")
    print(f"receiver   : {ok} accepted with a valid signature, {bad} with an invalid one")
    return 0 if bad == 0 and ok == 2 * len(items) else 1


if __name__ == "__main__":
    sys.exit(main())
