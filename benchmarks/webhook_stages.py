"""The webhook request path stage by stage, in µs of CPU per request, in one process.

Where ``webhook_load.py`` measures the whole server under wrk, this times each stage of a signed
Twilio SMS alone, on the same requests: verify (X-Twilio-Signature), parse (the form), normalize
(form -> validated interaction), serialize (the record's key and JSON), the ASGI path (fast path,
body read, everything up to the answer, with an in-memory emitter: no broker), and, with a private
broker, produce-and-ack (64 concurrent one-record deliveries through the spooling emitter, as 64
connections make them, process CPU per acknowledged record). ``--http`` also floods our HTTP server (uvicorn with
``BoundedHttpProtocol``) serving an ASGI app that only reads the body and answers, to separate
the server's cost from the connector's.

Usage: python benchmarks/webhook_stages.py [--requests 20000] [--no-broker] [--http]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import corpus
import psutil
import webhook_load
from pydantic import SecretStr
from starlette.types import Message

from connectors.emitter import KafkaEmitter, Record
from connectors.spool import SpoolFile, SpoolingEmitter
from connectors.testing import InMemoryEmitter
from connectors.twilio.connector import TwilioConnector
from connectors.twilio.settings import TwilioSettings
from connectors.twilio.signature import form_signature
from connectors.webhook import RawRequest, WebhookIngest, serve
from omnitrail import event_loop, memory_tuning
from omnitrail.local_stack import free_port, wait_for_port
from omnitrail.webhook_fast_path import WebhookFastPath
from schemas.interaction import Interaction
from sinks.kafka import clients
from sinks.kafka.settings import KafkaSettings

T = TypeVar("T")

PUBLIC_URL = "http://127.0.0.1:8080"
PATH = "/webhooks/twilio/messages"


def cpu_us(fn: Callable[[T], object], make_inputs: Callable[[], list[T]], repeat: int = 3) -> float:
    """Best of ``repeat`` runs of ``fn`` over fresh ``make_inputs()`` (results dropped): CPU µs per input.

    The collector is set as the server sets it (:func:`omnitrail.memory_tuning.tune`: what exists is frozen),
    and no result is kept, so the timings are not a walk over this benchmark's own heap.
    """
    best = float("inf")
    for _ in range(repeat):
        inputs = make_inputs()
        memory_tuning.tune()
        started = time.process_time()
        for item in inputs:
            fn(item)
        best = min(best, time.process_time() - started)
        gc.unfreeze()
    return best * 1e6 / len(inputs)


def raw_requests(signed: list[tuple[str, str]]) -> list[RawRequest]:
    return [
        RawRequest(
            body=body.encode(),
            headers={"x-twilio-signature": sig, "content-type": "application/x-www-form-urlencoded"},
            public_url=PUBLIC_URL + PATH,
            received_at=datetime.now(UTC),
            content_type="application/x-www-form-urlencoded",
        )
        for sig, body in signed
    ]


def connector() -> TwilioConnector:
    settings = TwilioSettings(auth_token=SecretStr(webhook_load.TOKEN), account_sid=webhook_load.ACCOUNT_SID)
    return TwilioConnector(settings, default_region="PT")


def in_process(signed: list[tuple[str, str]]) -> dict[str, float]:
    twilio = connector()
    route = next(r for r in twilio.routes() if r.path == PATH)

    def parsed() -> list[RawRequest]:
        requests = raw_requests(signed)
        for r in requests:
            r.form()  # as the signature check leaves it
        return requests

    def normalized() -> list[Interaction]:
        return [i for r in parsed() for i in route.normalize(r)]  # type: ignore[union-attr]

    def fields() -> list[dict[str, Any]]:
        return [i.model_dump() for i in normalized()]

    key = webhook_load.TOKEN.encode()
    return {
        "verify (incl. parse)": cpu_us(route.verify, lambda: raw_requests(signed)),
        "  of which parse": cpu_us(RawRequest.form, lambda: raw_requests(signed)),
        "normalize (form parsed)": cpu_us(route.normalize, parsed),
        "serialize": cpu_us(Record.of, normalized),
        "ASGI app path, no broker": asgi_path(twilio, signed),
        # The least any implementation does: one HMAC over the signed string, one validation of the
        # interaction's fields, one JSON encoding (floor = these + parse + produce-and-ack + the HTTP server).
        "floor: HMAC of URL + sorted form": cpu_us(lambda r: form_signature(key, r.public_url, r.form()), parsed),
        "floor: validate the fields": cpu_us(Interaction.model_validate, fields),
        "floor: JSON of the interaction": cpu_us(Interaction.model_dump_json, normalized),
    }


class Discarding(InMemoryEmitter):
    """Takes interactions and keeps none (the server's heap does not grow with requests either)."""

    async def emit_many(self, interactions: list[Interaction]) -> None:
        pass


def asgi_path(twilio: TwilioConnector, signed: list[tuple[str, str]]) -> float:
    """Everything from the ASGI call to the last ``send``, with an in-memory emitter."""
    emitter = Discarding()
    ingest = WebhookIngest(emitter, public_url=PUBLIC_URL, max_body_bytes=65536, body_timeout_s=10)
    _, endpoints = serve(twilio.routes(), twilio.answers(), ingest)
    app = WebhookFastPath(None, endpoints)  # type: ignore[arg-type]  # only webhook POSTs reach it here
    requests = []
    for sig, body in signed:
        data = body.encode()
        headers = [
            (b"host", b"127.0.0.1:8080"),
            (b"content-type", b"application/x-www-form-urlencoded"),
            (b"x-twilio-signature", sig.encode()),
            (b"content-length", str(len(data)).encode()),
        ]
        requests.append((headers, data))
    statuses: list[int] = []

    async def one(headers: list[tuple[bytes, bytes]], data: bytes) -> None:
        scope: dict[str, Any] = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "server": ("127.0.0.1", 8080),
            "client": ("127.0.0.1", 50000),
            "scheme": "http",
            "method": "POST",
            "root_path": "",
            "path": PATH,
            "raw_path": PATH.encode(),
            "query_string": b"",
            "headers": headers,
            "state": {},
        }
        message: Message = {"type": "http.request", "body": data, "more_body": False}

        async def receive() -> Message:
            return message

        async def send(msg: Message) -> None:
            if msg["type"] == "http.response.start":
                statuses.append(msg["status"])

        await app(scope, receive, send)

    async def all_of_them() -> None:
        for headers, data in requests:
            await one(headers, data)

    def run(_: object) -> None:
        event_loop.run(all_of_them())

    us = cpu_us(run, lambda: [None]) / len(requests)
    assert set(statuses) == {200}, set(statuses)
    return us


async def produce(bootstrap: str, signed: list[tuple[str, str]], concurrency: int = 64, spooled: bool = True) -> float:
    """Process CPU µs per record for ``concurrency`` tasks each sending one record and awaiting its ack
    (``spooled``: through the spooling emitter, as the server; else straight to aiokafka, the floor)."""
    twilio = connector()
    route = next(r for r in twilio.routes() if r.path == PATH)
    records = [Record.of(i) for r in raw_requests(signed) for i in route.normalize(r)]  # type: ignore[union-attr]
    producer = clients.producer(KafkaSettings(idempotence=False), bootstrap)
    await producer.start()
    spool = SpoolFile(Path(tempfile.mkdtemp(prefix="omnitrail-stages-")) / "spool.sqlite3")
    emitter = SpoolingEmitter(KafkaEmitter(producer), spool, ack_timeout_s=10, drain_batch=100)  # as the server
    deliver = emitter.deliver if spooled else emitter.inner.send_all
    try:
        await deliver(records[:10])  # connect, learn the partitions
        queue = iter(records)

        async def worker() -> None:
            for record in queue:
                await deliver([record])

        memory_tuning.tune()
        started = time.process_time()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return (time.process_time() - started) * 1e6 / len(records)
    finally:
        await producer.stop()
        emitter.close()


ECHO_APP = """
import sys
from omnitrail import event_loop, memory_tuning
from omnitrail.http_server import server_config
from omnitrail.settings import AppSettings
import uvicorn

EMPTY = b'<?xml version="1.0" encoding="UTF-8"?><Response />'
START = {"type": "http.response.start", "status": 200,
         "headers": [(b"content-type", b"text/xml; charset=utf-8"), (b"content-length", str(len(EMPTY)).encode())]}
BODY = {"type": "http.response.body", "body": EMPTY}

async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send(START)
    await send(BODY)

config = server_config(app, AppSettings(http_host="127.0.0.1", http_port=int(sys.argv[1])))
config.lifespan = "off"
event_loop.run(uvicorn.Server(config).serve())
"""


def http_floor(seconds: float, connections: int) -> tuple[float, float]:
    """Our HTTP server (uvicorn + BoundedHttpProtocol) with an app that reads the body and answers: /s, CPU-ms/1k."""
    port = free_port()
    public_url = f"http://127.0.0.1:{port}"
    work = tempfile.mkdtemp(prefix="omnitrail-webhook-http-")
    script = webhook_load.wrk_script(public_url, work)
    app = os.path.join(work, "echo.py")
    with open(app, "w") as fh:
        fh.write(ECHO_APP)
    server = subprocess.Popen([sys.executable, app, str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    watched = psutil.Process(server.pid)
    try:
        wait_for_port("127.0.0.1", port, 30, server)
        before = watched.cpu_times()
        ok = webhook_load.flood(public_url, script, seconds, connections)
        after = watched.cpu_times()
    finally:
        server.terminate()
        server.wait(30)
    cpu = (after.user + after.system) - (before.user + before.system)
    return ok / seconds, cpu * 1e6 / max(ok, 1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--no-broker", action="store_true")
    parser.add_argument("--http", action="store_true", help="also flood the bare HTTP server (wrk, 10 s)")
    args = parser.parse_args()
    signed = webhook_load.signed_requests(PUBLIC_URL, args.requests)
    stages = in_process(signed)
    if not args.no_broker:
        with corpus.broker(partitions=4) as bootstrap:
            stages["produce and ack (64 concurrent)"] = event_loop.run(produce(bootstrap, signed))
            stages["floor: aiokafka send and ack"] = event_loop.run(produce(bootstrap, signed, spooled=False))
    for name, us in stages.items():
        print(f"  {name:<34}{us:8.1f} µs CPU per request")
    if args.http:
        rate, cpu = http_floor(10, 64)
        print(f"  {'HTTP server, app answers only':<34}{cpu:8.1f} µs CPU per request ({rate:.0f}/s under wrk)")
        rate, cpu = webhook_load.bare(10, 64)
        print(f"  {'bare aiohttp reference':<34}{cpu:8.1f} µs CPU per request ({rate:.0f}/s under wrk)")


if __name__ == "__main__":
    main()
