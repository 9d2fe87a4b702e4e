"""``/readyz`` of ``omnitrail up`` answers 200 only once its worker holds the interactions partitions: on a first
start the worker's group join takes seconds, and a stack that said ready before it moved nothing onto the
timeline for ~14 s."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from omnitrail.local_stack import EmbeddedBroker
from schemas import topics
from sinks.connection import Conn
from tests.conftest import TEST_PARTITIONS
from tests.helpers import sms_interaction
from tests.integration.stack import eventually, start_up

pytestmark = pytest.mark.integration


async def test_ready_means_the_worker_holds_its_partitions(
    private_broker: EmbeddedBroker, private_database_url: str, private_db: Conn, tmp_path: Path
) -> None:
    stack = start_up(tmp_path, bootstrap=private_broker.bootstrap, database_url=private_database_url)  # waits for 200
    try:
        cur = await private_db.execute("SELECT assignment FROM pipeline_workers WHERE assignment <> ''")
        held = sorted(int(p) for (assignment,) in await cur.fetchall() for p in assignment.split(","))
        assert held == list(range(TEST_PARTITIONS))  # what the worker reported when /readyz said ready
        async with httpx.AsyncClient() as client:
            ready = (await client.get(stack.url + "/readyz", timeout=5)).json()
        assert ready["checks"]["pipeline"] == "ok"
        interaction = sms_interaction(int(time.time() * 1000), "+351912000111", "right after ready")
        producer = AIOKafkaProducer(bootstrap_servers=private_broker.bootstrap, acks="all")
        await producer.start()
        try:
            await producer.send_and_wait(
                topics.INTERACTIONS, interaction.model_dump_json().encode(), key=interaction.routing_key()
            )
        finally:
            await producer.stop()
        sent = time.monotonic()

        async def stored() -> bool:
            cur = await private_db.execute(
                "SELECT 1 FROM interactions WHERE interaction_id = %s", (interaction.interaction_id,)
            )
            return await cur.fetchone() is not None

        # A worker that holds its partitions takes a record in well under a second (fetches wait 100 ms).
        await eventually(stored, timeout=2, what="the interaction on the timeline 2 s after /readyz said ready")
        print(f"stored {time.monotonic() - sent:.2f} s after /readyz said ready")
    finally:
        stack.stop()
