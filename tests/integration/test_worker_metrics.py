"""`omnitrail worker` serves Prometheus metrics: per-channel outcomes, latency and consumer lag."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from omnitrail.local_stack import EmbeddedBroker, free_port
from schemas import topics
from sinks.connection import Conn
from tests.conftest import TEST_PARTITIONS
from tests.helpers import sms_interaction
from tests.integration.stack import FAST_GROUP, clean_env, eventually, stop_processes
from tests.metrics_text import samples, value

pytestmark = pytest.mark.integration


@pytest.fixture
def worker(private_broker: EmbeddedBroker, private_database_url: str, tmp_path: Path) -> Iterator[str]:
    """A worker alone in its consumer group: on the shared broker, the workers of other test stacks
    would take some of the partitions and count what they process."""
    port = free_port()
    env = clean_env(
        OMNITRAIL_KAFKA_BOOTSTRAP=private_broker.bootstrap,
        OMNITRAIL_KAFKA_IDEMPOTENCE="false",
        OMNITRAIL_DATABASE_URL=private_database_url,
        OMNITRAIL_WORKER_METRICS_PORT=str(port),
        OMNITRAIL_WORKER_BATCH_WINDOW_MS="20",
        **FAST_GROUP,
    )
    log = (tmp_path / "worker.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "omnitrail", "worker"], env=env, stdout=log, stderr=log)
    yield f"http://127.0.0.1:{port}/metrics"
    stop_processes([proc])
    log.close()


async def test_worker_metrics_count_per_channel_and_report_lag(
    worker: str, private_broker: EmbeddedBroker, private_db: Conn
) -> None:
    # A pull connector that last advanced its checkpoint ten minutes ago.
    connector = f"test-pull-{uuid.uuid4().hex[:8]}"
    written = time.monotonic()
    await private_db.execute(
        "INSERT INTO connector_checkpoints (connector, account, scope, state, updated_at)"
        " VALUES (%s, 'support@example.com', 'INBOX', '{}', now() - interval '10 minutes')",
        (connector,),
    )

    async def scrape() -> str | None:
        try:
            async with httpx.AsyncClient(timeout=2) as client:
                response = await client.get(worker)
        except httpx.HTTPError:
            return None
        return response.text if response.status_code == 200 else None

    before = await eventually(scrape, timeout=60, what="worker metrics endpoint")
    inserted_before = value(before, "omnitrail_pipeline_interactions_total", outcome="inserted", channel="sms")
    duplicates_before = value(before, "omnitrail_pipeline_interactions_total", outcome="duplicate", channel="sms")

    corpus = [sms_interaction(900_000 + n, f"+35191{n:07d}") for n in range(20)]
    producer = AIOKafkaProducer(bootstrap_servers=private_broker.bootstrap, acks="all")
    await producer.start()
    try:
        for interaction in [*corpus, corpus[0], corpus[1]]:  # Twilio-style redeliveries of two of them
            await producer.send_and_wait(
                topics.INTERACTIONS, interaction.model_dump_json().encode(), key=interaction.routing_key()
            )
    finally:
        await producer.stop()

    async def settled() -> str | None:
        text = await scrape()
        if text is None:
            return None
        inserted = value(text, "omnitrail_pipeline_interactions_total", outcome="inserted", channel="sms")
        duplicates = value(text, "omnitrail_pipeline_interactions_total", outcome="duplicate", channel="sms")
        lag_series = [
            s for s in samples(text) if s[0] == "omnitrail_consumer_lag" and s[1]["group"] == "omnitrail-pipeline"
        ]
        caught_up = len(lag_series) == TEST_PARTITIONS and all(v == 0 for *_, v in lag_series)
        caught_up &= any(lab.get("group") == "omnitrail-pipeline-suggestions" for _, lab, _ in samples(text))
        # The worker reports checkpoint ages on its heartbeat: one after the row was written.
        reported = value(text, "omnitrail_checkpoint_age_seconds", connector=connector) > 0
        done = inserted - inserted_before == 20 and duplicates - duplicates_before == 2 and caught_up and reported
        return text if done else None

    text = await eventually(settled, timeout=60, what="20 inserted, 2 duplicates, lag 0 on every partition")
    lag_labels = [labels for name, labels, _ in samples(text) if name == "omnitrail_consumer_lag"]
    # Each consumer group of the worker reports its own topic: the pipeline, and the suggestions agent
    # reading the timeline the pipeline just wrote.
    assert {(lab["group"], lab["topic"]) for lab in lag_labels} == {
        ("omnitrail-pipeline", topics.INTERACTIONS),
        ("omnitrail-pipeline-suggestions", topics.TIMELINE),
    }
    pipeline = [lab["partition"] for lab in lag_labels if lab["group"] == "omnitrail-pipeline"]
    assert sorted(pipeline) == [str(p) for p in range(TEST_PARTITIONS)]
    assert value(text, "omnitrail_end_to_end_seconds_count") >= 20
    assert value(text, "omnitrail_pipeline_assigned_partitions") == TEST_PARTITIONS
    # Ten minutes, plus however long ago the row was written when the worker read it (not a fixed allowance).
    age = value(text, "omnitrail_checkpoint_age_seconds", connector=connector)
    assert 600 <= age < 600 + (time.monotonic() - written) + 1
    # Labels hold channels and outcomes only: no phone number of the corpus appears anywhere.
    assert "+35191" not in text
    assert "support@example.com" not in text
