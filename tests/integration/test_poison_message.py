"""A record that passes the schema but makes a stage fail for good is dead-lettered alone with its
partition and offset; the records around it, and those after it on the same partition, reach the
timeline. The schema makes every text it accepts storable (tests/unit/test_storable_text.py), so the
failure here is the database's own: a trigger that refuses this one record, as a constraint would."""

from __future__ import annotations

import base64
import json
import random
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from omnitrail.local_stack import EmbeddedBroker
from schemas import topics
from sinks.connection import Conn
from tests import fresh
from tests.helpers import sms_interaction
from tests.integration.rows import one
from tests.integration.stack import Stack, eventually, read_topic

pytestmark = pytest.mark.integration


async def test_stage_failure_is_isolated_and_the_partition_keeps_flowing(
    webhook_stack: Stack, broker: EmbeddedBroker, db: Conn
) -> None:
    phone = fresh.phone()  # one customer: one routing key, one partition
    base = random.randint(10**6, 10**7) * 100
    before = [sms_interaction(base + n, phone, text=f"ok {n}") for n in range(20)]
    poison = sms_interaction(base + 20, phone, text=f"poison {base}")
    await db.execute(
        f"""
        CREATE OR REPLACE FUNCTION refuse_poison_{base}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.document->>'text' = 'poison {base}' THEN
                RAISE EXCEPTION 'refused by the database' USING ERRCODE = 'check_violation';
            END IF;
            RETURN NEW;
        END $$;
        CREATE TRIGGER refuse_poison_{base} BEFORE INSERT ON interactions
            FOR EACH ROW EXECUTE FUNCTION refuse_poison_{base}();
        """
    )
    after = [sms_interaction(base + 21 + n, phone, text=f"later {n}") for n in range(5)]
    good = before + after
    try:
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, acks="all", linger_ms=20)
        await producer.start()
        try:
            futures = [
                await producer.send(topics.INTERACTIONS, i.model_dump_json().encode(), key=i.routing_key())
                for i in [*before, poison]
            ]
            poison_meta = await futures[-1]
            for i in after:
                await producer.send_and_wait(topics.INTERACTIONS, i.model_dump_json().encode(), key=i.routing_key())
        finally:
            await producer.stop()

        async def stored() -> int | None:
            cur = await db.execute(
                "SELECT count(*) FROM interactions WHERE interaction_id = ANY(%s)", ([i.interaction_id for i in good],)
            )
            count = (await one(cur))[0]
            return count if count == len(good) else None

        await eventually(stored, timeout=60, what="the 25 good interactions around the poison one")
        cur = await db.execute("SELECT count(*) FROM interactions WHERE interaction_id = %s", (poison.interaction_id,))
        assert (await one(cur))[0] == 0

        async def dead_letter() -> dict[str, Any] | None:
            for _, value in await read_topic(broker.bootstrap, topics.DEADLETTER):
                assert value is not None  # every record on these topics has a value
                letter: dict[str, Any] = json.loads(value)
                if letter["source"] == "pipeline.stage" and base64.b64decode(letter["raw_base64"]) == (
                    poison.model_dump_json().encode()
                ):
                    return letter
            return None

        letter = await eventually(dead_letter, timeout=30, what="the poison record's dead letter")
        assert (letter["topic"], letter["partition"], letter["offset"]) == (
            topics.INTERACTIONS,
            poison_meta.partition,
            poison_meta.offset,
        )
        assert letter["error_type"] == "CheckViolation"
        assert phone not in letter["reason"]
    finally:
        await db.execute(f"DROP TRIGGER refuse_poison_{base} ON interactions; DROP FUNCTION refuse_poison_{base}()")
