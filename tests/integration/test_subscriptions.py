"""`omnitrail sink webhooks` against the real broker, PostgreSQL and real HTTP receivers on loopback."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from omnitrail.local_stack import EmbeddedBroker, free_port
from schemas import topics
from sinks.connection import Conn
from sinks.subscriptions import undelivered
from sinks.subscriptions.delivery import Delivery
from tests.conftest import TEST_PARTITIONS
from tests.integration.stack import clean_env, eventually, stop_processes
from tests.metrics_text import samples, value
from tests.timeline_events import customer_events, produce
from tests.webhook_receiver import SECRETS, Receivers, running_receivers

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def broker(private_broker: EmbeddedBroker) -> EmbeddedBroker:
    """Timeline events of this module only: the sink's subscribers start from the topic's beginning."""
    return private_broker


@pytest.fixture(scope="module")
def database_url(private_database_url: str) -> str:
    """Dead letters of this module's subscribers only (the test counts them)."""
    return private_database_url


@pytest.fixture
async def receivers() -> AsyncIterator[Receivers]:
    async with running_receivers() as state:
        yield state


def sink_env(broker: EmbeddedBroker, database_url: str, receivers: Receivers, metrics_port: int) -> dict[str, str]:
    subscribers = [
        {"name": "ok", "url": f"{receivers.url}/hooks/ok", "secret": SECRETS["ok"]},
        {"name": "flaky", "url": f"{receivers.url}/hooks/flaky", "secret": SECRETS["flaky"]},
        {"name": "broken", "url": f"{receivers.url}/hooks/broken", "secret": SECRETS["broken"]},
        {
            "name": "whatsapp",
            "url": f"{receivers.url}/hooks/whatsapp",
            "secret": SECRETS["whatsapp"],
            "event_types": ["interaction.added"],
            "channels": ["whatsapp"],
        },
    ]
    return clean_env(
        OMNITRAIL_KAFKA_BOOTSTRAP=broker.bootstrap,
        OMNITRAIL_KAFKA_IDEMPOTENCE="false",
        OMNITRAIL_DATABASE_URL=database_url,
        OMNITRAIL_WEBHOOKS_SUBSCRIBERS=json.dumps(subscribers),
        OMNITRAIL_WEBHOOKS_MAX_ATTEMPTS="3",
        OMNITRAIL_WEBHOOKS_BACKOFF_INITIAL_S="0.05",
        OMNITRAIL_WEBHOOKS_BACKOFF_MAX_S="0.2",
        OMNITRAIL_WEBHOOKS_START_FROM="latest",
        OMNITRAIL_WEBHOOKS_METRICS_PORT=str(metrics_port),
    )


@pytest.fixture
def sink(
    broker: EmbeddedBroker, database_url: str, receivers: Receivers, tmp_path: Path
) -> Iterator[tuple[str, dict[str, str]]]:
    port = free_port()
    env = sink_env(broker, database_url, receivers, port)
    log = (tmp_path / "sink.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "omnitrail", "sink", "webhooks"], env=env, stdout=log, stderr=log)
    yield f"http://127.0.0.1:{port}/metrics", env
    stop_processes([proc])
    log.close()


async def scrape(url: str) -> str | None:
    try:
        async with httpx.AsyncClient(timeout=2) as client:
            response = await client.get(url)
    except httpx.HTTPError:
        return None
    return response.text if response.status_code == 200 else None


async def omnitrail(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "omnitrail", *args], env=env, capture_output=True, text=True, timeout=60
    )


async def test_signed_delivery_retries_dead_letters_and_filters(
    sink: tuple[str, dict[str, str]], receivers: Receivers, broker: EmbeddedBroker, db: Conn
) -> None:
    metrics_url, env = sink

    async def every_group_assigned() -> bool:
        text = await scrape(metrics_url) or ""
        groups = [lab["group"] for n, lab, _ in samples(text) if n == "omnitrail_consumer_lag"]
        return all(groups.count(f"omnitrail-webhooks-{name}") == TEST_PARTITIONS for name in SECRETS)

    await eventually(every_group_assigned, timeout=60, what="every subscriber's consumer assigned")
    events = customer_events(770_000)
    ids = {str(e.event_id) for e in events}
    whatsapp_id = str(events[2].event_id)
    await produce(broker.bootstrap, events)

    def mine(name: str) -> set[str]:
        return {str(e["event_id"]) for e in receivers.accepted[name]} & ids

    async def settled() -> str | None:
        text = await scrape(metrics_url) or ""
        dead = value(text, "omnitrail_webhook_sink_deliveries_total", subscriber="broken", outcome="dead_lettered")
        done = mine("ok") == ids and mine("flaky") == ids and mine("whatsapp") == {whatsapp_id} and dead >= 3
        return text if done else None

    text = await eventually(settled, timeout=60, what="delivered to ok/flaky/whatsapp, 3 undelivered for broken")
    assert receivers.bad_signatures == 0
    # In order of the partition (one contact): created, then the two messages.
    assert [str(e["event_id"]) for e in receivers.accepted["ok"] if str(e["event_id"]) in ids] == [
        str(e.event_id) for e in events
    ]
    assert [e["type"] for e in receivers.accepted["whatsapp"]] == ["interaction.added"]
    assert {receivers.attempts[("flaky", i)] for i in ids} == {3}  # two 503s, then accepted
    assert {receivers.attempts[("broken", i)] for i in ids} == {3}  # max attempts, then kept undelivered
    assert value(text, "omnitrail_webhook_sink_responses_total", subscriber="broken", status="5xx") >= 9
    assert value(text, "omnitrail_webhook_sink_deliveries_total", subscriber="whatsapp", outcome="filtered") >= 2

    # The operator sees the broken subscriber's undelivered events, mends the receiver and sends them again.
    cur = await db.execute("SELECT DISTINCT contact_id FROM webhook_deadletters WHERE event_id = ANY(%s)", (list(ids),))
    assert await cur.fetchall() == [(str(events[0].contact_id),)]  # so erasure can find them
    listed = await omnitrail(env, "sink", "deadletters", "broken")
    assert listed.returncode == 0, listed.stderr
    assert ids <= set(listed.stdout.split())
    assert "HTTP 500" in listed.stdout
    receivers.mended = True
    replayed = await omnitrail(env, "sink", "redeliver", "broken")
    assert replayed.returncode == 0, replayed.stderr
    # Ours are three; other tests' events on the shared topic may have reached `broken` too.
    delivered = re.search(r"delivered: (\d+), still failing: 0", replayed.stdout)
    assert delivered, replayed.stdout
    assert int(delivered[1]) >= 3
    assert mine("broken") == ids
    assert receivers.bad_signatures == 0
    after = await omnitrail(env, "sink", "deadletters", "broken")
    assert not ids & set(after.stdout.split())


async def test_erasing_a_contact_deletes_its_undelivered_webhook_bodies(db: Conn) -> None:
    kept, erased = str(uuid.uuid4()), str(uuid.uuid4())
    failure = Delivery(False, 8, 500, "HTTP 500")
    for n, contact in enumerate((kept, erased, erased)):
        origin = undelivered.Origin(topics.TIMELINE, 0, 10_000_000 + n, contact, str(uuid.uuid4()), "interaction.added")
        await undelivered.add(db, "erasure-test", origin, b'{"text": "personal"}', failure)
    assert await undelivered.forget(db, [erased]) == 2
    cur = await db.execute("SELECT contact_id FROM webhook_deadletters WHERE subscriber = 'erasure-test'")
    assert await cur.fetchall() == [(kept,)]


async def test_undelivered_events_of_redacted_interactions_are_deleted_whoever_they_were_for(db: Conn) -> None:
    redacted, other = uuid.uuid4(), uuid.uuid4()
    failure, subscriber = Delivery(False, 8, 500, "HTTP 500"), f"redaction-{uuid.uuid4().hex}"
    bodies = [
        json.dumps({"type": "interaction.added", "interaction": {"interaction_id": str(redacted)}}).encode(),  # goes
        json.dumps({"type": "interaction.added", "interaction": {"interaction_id": str(other)}}).encode(),
        json.dumps({"type": "interaction.added", "interaction": {"in_reply_to": str(redacted)}}).encode(),
        f"not json {redacted}".encode(),  # cannot fail the erasure
    ]
    for n, body in enumerate(bodies):
        origin = undelivered.Origin(topics.TIMELINE, 0, 20_000_000 + n, str(uuid.uuid4()), str(n), "interaction.added")
        await undelivered.add(db, subscriber, origin, body, failure)
    assert await undelivered.forget_interactions(db, [redacted]) == 1
    cur = await db.execute("SELECT event_id FROM webhook_deadletters WHERE subscriber = %s ORDER BY 1", (subscriber,))
    assert await cur.fetchall() == [("1",), ("2",), ("3",)]
