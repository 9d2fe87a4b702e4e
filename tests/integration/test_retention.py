"""`omnitrail gdpr purge`: content of interactions older than their channel's maximum age is purged;
newer ones and channels without a maximum age keep theirs."""

from __future__ import annotations

import random
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from omnitrail.local_stack import EmbeddedBroker
from schemas import topics
from schemas.interaction import Channel, Interaction
from sinks.connection import Conn
from tests import fresh
from tests.helpers import sms_interaction
from tests.integration.rows import one
from tests.integration.stack import Stack, clean_env, eventually
from tests.interactions import interaction

pytestmark = pytest.mark.integration


def aged(interaction: Interaction, days: int) -> Interaction:
    at = datetime.now(UTC) - timedelta(days=days)
    return interaction.model_copy(update={"occurred_at": at, "received_at": at})


def old_email(n: int, days: int) -> Interaction:
    return interaction(
        Channel.email,
        f"old{n}@example.org",
        at=datetime.now(UTC) - timedelta(days=days),
        external_id=f"<retention-{n}@mail.example>",
        recipients=[],
        subject="Encomenda antiga",
        text="texto antigo",
    )


async def test_purge_removes_old_content_per_channel(
    webhook_stack: Stack, broker: EmbeddedBroker, database_url: str, db: Conn
) -> None:
    n = random.randint(10**8, 10**9)
    old_sms = aged(sms_interaction(n, fresh.phone(), text="mensagem velha"), 400)
    new_sms = aged(sms_interaction(n + 1, fresh.phone(), text="mensagem nova"), 10)
    email = old_email(n, 400)
    interactions = [old_sms, new_sms, email]
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
    await producer.start()
    try:
        for i in interactions:
            await producer.send_and_wait(topics.INTERACTIONS, i.model_dump_json().encode(), key=i.routing_key())
    finally:
        await producer.stop()
    ids = [i.interaction_id for i in interactions]

    async def stored() -> bool:
        cur = await db.execute("SELECT count(*) FROM interactions WHERE interaction_id = ANY(%s)", (ids,))
        return bool((await one(cur))[0] == 3)

    await eventually(stored, what="the three interactions")

    def purge(*args: str) -> str:
        env = clean_env(
            OMNITRAIL_KAFKA_BOOTSTRAP=broker.bootstrap,
            OMNITRAIL_DATABASE_URL=database_url,
            OMNITRAIL_GDPR_RETENTION_DAYS="sms=365, whatsapp=365",
            OMNITRAIL_LOG_LEVEL="warning",
        )
        done = subprocess.run(
            [sys.executable, "-m", "omnitrail", "gdpr", "purge", *args], env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert "sms: would purge" in purge("--dry-run")
    cur = await db.execute(
        "SELECT document ? 'text' FROM interactions WHERE interaction_id = %s", (old_sms.interaction_id,)
    )
    assert (await one(cur))[0] is True  # a dry run changes nothing
    out = purge()
    assert "older than 365 days" in out

    async def document(i: Interaction) -> dict[str, Any]:
        cur = await db.execute("SELECT document FROM interactions WHERE interaction_id = %s", (i.interaction_id,))
        doc: dict[str, Any] = (await one(cur))[0]
        return doc

    purged = await document(old_sms)
    assert "text" not in purged
    assert purged["interaction_id"] == str(old_sms.interaction_id)
    assert purged["channel"] == "sms"
    assert (await document(new_sms))["text"] == "mensagem nova"
    kept = await document(email)  # no maximum age for email
    assert (kept["text"], kept["subject"]) == ("texto antigo", "Encomenda antiga")
    assert "sms: purged 0" in purge()  # idempotent
