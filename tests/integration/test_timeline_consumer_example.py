"""docs/examples/timeline_consumer.py against the real broker: valid, newer-producer and invalid events."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import NewTopic

from omnitrail.local_stack import EmbeddedBroker
from schemas import topics
from schemas.export import COMMITTED_DIR
from sinks.kafka import clients
from sinks.kafka.settings import KafkaSettings
from tests.conftest import TEST_PARTITIONS
from tests.timeline_events import customer_events, produce

pytestmark = pytest.mark.integration
EXAMPLE = Path(__file__).parents[2] / "docs" / "examples" / "timeline_consumer.py"


async def test_consumer_example_validates_with_the_published_schema(broker: EmbeddedBroker) -> None:
    # A topic of its own: the invalid records below must not reach tests that read the real timeline topic.
    topic = f"{topics.TIMELINE}.example-{uuid.uuid4().hex[:8]}"
    await clients.create_topics(KafkaSettings(), broker.bootstrap, [NewTopic(topic, TEST_PARTITIONS, 1)])
    events = customer_events(880_000)
    await produce(broker.bootstrap, events, topic=topic)
    # What a newer v1 producer may send: an extra optional field and a channel this schema does not list.
    newer = json.loads(events[1].model_dump_json())
    newer.update(event_id=str(uuid.uuid4()), language="pt")
    newer["interaction"]["channel"] = "x"
    # What no v1 producer may send: an event without its contact.
    broken = json.loads(events[0].model_dump_json())
    broken.update(event_id=str(uuid.uuid4()))
    del broken["contact_id"]
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
    await producer.start()
    try:
        for record in (newer, broken):
            await producer.send_and_wait(topic, json.dumps(record).encode(), key=b"example")
        await producer.send_and_wait(topic, b"not json at all", key=b"example")
    finally:
        await producer.stop()

    command = [
        sys.executable,
        str(EXAMPLE),
        "--bootstrap",
        broker.bootstrap,
        "--group",
        f"example-{uuid.uuid4().hex[:8]}",
        "--schema",
        str(COMMITTED_DIR / "timeline_event.v1.json"),
        "--topic",
        topic,
        "--from-beginning",
        "--exit-at-end",
    ]
    done = await asyncio.to_thread(subprocess.run, command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    by_id = {line["event_id"]: line for line in lines if line["event_id"]}
    assert [by_id[str(e.event_id)]["status"] for e in events] == ["valid", "valid", "valid"]
    assert by_id[str(events[1].event_id)]["type"] == "interaction.added"
    assert by_id[newer["event_id"]]["status"] == "newer"
    assert by_id[broken["event_id"]]["status"] == "invalid"
    assert any("contact_id" in message for message in by_id[broken["event_id"]]["errors"])
    assert any(line["status"] == "invalid" and "not JSON" in line["errors"][0] for line in lines)
    assert "handled" in done.stderr
