"""`omnitrail verify`: the interactions topic against the timeline over a time range. Clean -> exit 0;
a lost row -> a gap naming its id; two rows for one provider message -> a duplicate."""

from __future__ import annotations

import random
import re
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from aiokafka import AIOKafkaProducer

from omnitrail.local_stack import EmbeddedBroker
from schemas import topics
from sinks.connection import Conn
from tests import fresh
from tests.helpers import sms_interaction
from tests.integration.rows import one
from tests.integration.stack import StartStack, clean_env, eventually

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def broker(private_broker: EmbeddedBroker) -> EmbeddedBroker:
    """A broker and a database of this module's own: verify counts every timeline row of the range, and
    other modules write rows into the session database whose records are on their own brokers."""
    return private_broker


@pytest.fixture(scope="module")
def database_url(private_database_url: str) -> str:
    return private_database_url


async def test_verify_reports_gaps_and_duplicates(
    start_stack: StartStack, broker: EmbeddedBroker, database_url: str, db: Conn
) -> None:
    start_stack()
    since = (datetime.now(UTC) - timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%S")
    base = random.randint(10**8, 10**9) * 10
    corpus = [sms_interaction(base + n, fresh.phone()) for n in range(50)]
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, acks="all", linger_ms=5)
    await producer.start()
    try:
        for i in [*corpus, *corpus[:10]]:  # ten redeliveries
            await producer.send(topics.INTERACTIONS, i.model_dump_json().encode(), key=i.routing_key())
        await producer.flush()
    finally:
        await producer.stop()
    ids = [i.interaction_id for i in corpus]

    async def stored() -> bool:
        cur = await db.execute("SELECT count(*) FROM interactions WHERE interaction_id = ANY(%s)", (ids,))
        return bool((await one(cur))[0] == len(ids))

    await eventually(stored, what="the 50 interactions")

    def verify() -> subprocess.CompletedProcess[str]:
        env = clean_env(
            OMNITRAIL_KAFKA_BOOTSTRAP=broker.bootstrap,
            OMNITRAIL_DATABASE_URL=database_url,
            OMNITRAIL_LOG_LEVEL="warning",
        )
        return subprocess.run(
            [sys.executable, "-m", "omnitrail", "verify", "--since", since],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    clean = verify()
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "gaps: 0; duplicates: 0" in clean.stdout
    # Other tests' records may share the range (the session broker is shared): at least ours are there.
    counted = re.search(r"in range: (\d+) \((\d+) redeliveries", clean.stdout)
    assert counted is not None, clean.stdout
    produced, redelivered = map(int, counted.groups())
    assert produced >= 60
    assert redelivered >= 10

    lost, twin = corpus[7], corpus[21]
    await db.execute("DELETE FROM interactions WHERE interaction_id = %s", (lost.interaction_id,))
    await db.execute(
        "INSERT INTO interactions (interaction_id, contact_id, channel, direction, kind, occurred_at, received_at,"
        " document) SELECT %s, contact_id, channel, direction, kind, occurred_at, received_at, document"
        " FROM interactions WHERE interaction_id = %s",
        (uuid.uuid4(), twin.interaction_id),
    )
    try:
        broken = verify()
        assert broken.returncode == 1
        assert "gaps: 1; duplicates: 1" in broken.stdout
        assert f"gap: interaction {lost.interaction_id}" in broken.stdout
        assert f"duplicate: sms +351210000000 {twin.external_id}: 2 rows" in broken.stdout
    finally:
        await db.execute(
            "DELETE FROM interactions WHERE document->>'external_id' = %s AND interaction_id <> %s",
            (twin.external_id, twin.interaction_id),
        )
