"""The broker frozen for 30 s while signed Twilio webhooks keep arriving: every one is answered 2xx,
`/readyz` says the process is degraded but ready, and afterwards each event is in the timeline exactly
once, in the order each customer sent them.

The broker is a private tansu for this module (the session's is shared by other tests); it is
frozen with SIGSTOP/SIGCONT because restarting tansu would lose its in-memory log. `omnitrail up`
is the real process tree (HTTP, spool, pipeline worker).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from omnitrail.local_stack import EmbeddedBroker
from schemas import topics
from schemas.ids import interaction_id_for
from sinks.connection import Conn
from sinks.kafka import clients
from sinks.kafka.settings import KafkaSettings
from tests.helpers import inbound_sms, signed
from tests.integration.rows import one
from tests.integration.stack import Stack, StartStack, at_least, eventually, read_topic

pytestmark = pytest.mark.integration
CUSTOMERS = 8
INTERVAL_S = 0.25  # per customer: ~32 webhooks/s in all
BEFORE_S, OUTAGE_S, AFTER_S = 4.0, 30.0, 4.0
OUR_NUMBER = "+351210000000"


@pytest.fixture(scope="module")
def private_broker() -> Iterator[EmbeddedBroker]:
    broker = EmbeddedBroker()
    broker.start()
    asyncio.run(clients.create_topics(KafkaSettings(partitions=2), broker.bootstrap))
    yield broker
    if broker.proc is not None:
        os.kill(broker.proc.pid, signal.SIGCONT)  # never leave it frozen, even when the test failed
    broker.stop()


@pytest.fixture(scope="module")
def database_url(private_database_url: str) -> str:
    """A database of this module's own: the session's stacks drain the outbox of the database they
    share, and would publish this module's timeline events to the session broker instead of ours."""
    return private_database_url


@pytest.fixture(scope="module")
def stack(private_broker: EmbeddedBroker, start_stack: StartStack) -> Stack:
    # The broker first: set up before the stack, so torn down after it.
    return start_stack(bootstrap=private_broker.bootstrap, OMNITRAIL_SPOOL_ACK_TIMEOUT_S="1")


async def test_broker_frozen_30s_loses_nothing_duplicates_nothing_keeps_order(
    stack: Stack, private_broker: EmbeddedBroker, db: Conn
) -> None:
    assert private_broker.proc is not None
    url = stack.url + "/webhooks/twilio/messages"
    run = uuid.uuid4().hex[:12]
    phones = [f"+3519{n:02d}{uuid.uuid4().int % 10**6:06d}" for n in range(CUSTOMERS)]
    sent: dict[str, list[str]] = defaultdict(list)  # phone -> MessageSids in the order sent
    statuses: list[int] = []
    stop_at = time.monotonic() + BEFORE_S + OUTAGE_S + AFTER_S

    async def customer(client: httpx.AsyncClient, phone: str) -> None:
        n = 0
        while time.monotonic() < stop_at:
            sid = f"SM{run}{phone[-8:]}{n:06d}"
            body, headers = signed(url, inbound_sms(sid, phone, body=f"pedido {n}"))
            response = await client.post(url, content=body, headers=headers)
            statuses.append(response.status_code)
            if response.status_code == 200:
                sent[phone].append(sid)
            n += 1
            await asyncio.sleep(INTERVAL_S)

    readiness: list[dict[str, Any]] = []

    async def outage(client: httpx.AsyncClient) -> None:
        assert private_broker.proc is not None  # started
        pid = private_broker.proc.pid
        await asyncio.sleep(BEFORE_S)
        os.kill(pid, signal.SIGSTOP)
        try:
            await asyncio.sleep(OUTAGE_S / 2)
            response = await client.get(stack.url + "/readyz")
            readiness.append({"status": response.status_code, **response.json()})
            await asyncio.sleep(OUTAGE_S / 2)
        finally:
            os.kill(pid, signal.SIGCONT)

    async with httpx.AsyncClient(timeout=20) as client:
        await asyncio.gather(outage(client), *(customer(client, p) for p in phones))

    # Every webhook answered 2xx, including the ~30 s in which the broker did not answer at all.
    assert statuses
    assert set(statuses) == {200}, {s: statuses.count(s) for s in set(statuses)}
    [during] = readiness
    # The broker outage does not gate readiness (webhooks are still taken durably); whether the pipeline
    # worker's heartbeat kept going through the freeze is its own check, reported beside it.
    others_ok = all(v == "ok" for k, v in during["checks"].items() if k != "broker")
    assert during["ready"] is others_ok, during
    assert during["status"] == (200 if others_ok else 503)
    assert during["degraded"] is True
    assert during["checks"]["broker"].startswith("unavailable")
    assert during["spool"]["state"] == "spooling"
    assert during["spool"]["depth"] > 0

    print(f"outage: {len(statuses)} webhooks, all 200; spool depth at mid-outage {during['spool']['depth']}")
    ids = {sid: interaction_id_for("sms", OUR_NUMBER, sid) for sids in sent.values() for sid in sids}
    total = len(ids)
    assert total > CUSTOMERS * (OUTAGE_S / INTERVAL_S) / 2, "the load must cover the outage"

    async def stored() -> int:
        cur = await db.execute(
            "SELECT count(*) FROM interactions WHERE interaction_id = ANY(%s)", (list(ids.values()),)
        )
        return int((await one(cur))[0])

    await eventually(lambda: at_least(stored, total), timeout=120, what=f"all {total} webhooks in the timeline")

    # In the timeline, in order per customer (occurred_at is the receipt time of each webhook).
    for phone, sids in sent.items():
        cur = await db.execute(
            "SELECT document->>'external_id' FROM interactions WHERE interaction_id = ANY(%s)"
            " ORDER BY occurred_at, interaction_id",
            ([ids[s] for s in sids],),
        )
        assert [row[0] for row in await cur.fetchall()] == sids, f"customer {phones.index(phone)} out of order"

    # On the interactions topic, each customer's events first appear in the order they were sent
    # (a spooled event may appear twice: the pipeline writes it once, checked below).
    first_seen: dict[str, list[str]] = defaultdict(list)
    for _, value in await read_topic(private_broker.bootstrap, topics.INTERACTIONS):
        assert value is not None  # every record on these topics has a value
        record = json.loads(value)
        sid = record["external_id"]
        if sid in ids:
            phone = record["sender"]["identifiers"][0]["value"]
            if sid not in first_seen[phone]:
                first_seen[phone].append(sid)
    assert dict(first_seen) == dict(sent)

    # Exactly once: one interaction.added per webhook on the timeline topic. The worker's outbox is
    # at-least-once towards the broker (a publish cut by the outage is repeated), so a copy with the
    # same event_id may appear; a second, distinct event would be a duplicate.
    async def added() -> dict[str, set[str]] | None:
        events: dict[str, set[str]] = defaultdict(set)
        wanted = {str(i) for i in ids.values()}
        for _, value in await read_topic(private_broker.bootstrap, topics.TIMELINE):
            assert value is not None  # every record on these topics has a value
            event = json.loads(value)
            if event["type"] == "interaction.added" and event["interaction"]["interaction_id"] in wanted:
                events[event["interaction"]["interaction_id"]].add(event["event_id"])
        return events if len(events) == len(wanted) else None

    events = await eventually(added, timeout=60, what="interaction.added for every webhook")
    assert {len(event_ids) for event_ids in events.values()} == {1}

    async with httpx.AsyncClient(timeout=10) as client:
        ready = (await client.get(stack.url + "/readyz")).json()
    assert ready["spool"] == {"state": "direct", "depth": 0, "broker": "ok"}
    assert ready["degraded"] is False
