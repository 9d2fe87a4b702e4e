"""The worker's batches and a person's erasure, on the real PostgreSQL.

An erasure and a worker batch of the same person at the same moment, staged deterministically: the erasure's
transaction is held open (the test commits it) while the batch, which read the owners before that commit,
runs into the erasure's lock on her contact.

What must hold once both are done: nothing of hers written before the erasure is left (no interaction, no
identifier), and no ``interaction.added`` for her follows ``contact.erased`` (published or still in the
outbox), so no consumer brings her data back. A message she sends after the erasure is a new start: it
lands, with her number linked, as the first thing after ``contact.erased``. A replay of her past after the
erasure (dead-letter replay, re-import) is dropped and counted, not dead-lettered with her message in it.
And the erasure's own side: a merge into her contact that commits while the erasure waits for her contacts'
lock is erased with her (the contact merged in was not in the erasure's first read of her). Updates about her
(a status callback, an edit) parked because their target had not landed go with her erasure, and one aimed at
an erased interaction arriving after it is dropped, not parked for ever."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import psycopg
import pytest
from prometheus_client import generate_latest
from psycopg_pool import AsyncConnectionPool

from pipeline.batch import BatchProcessor, BatchResult
from pipeline.erasure_guard import ErasureGuard
from pipeline.poison import PoisonIsolation
from schemas import topics
from schemas.ids import contact_id_for
from schemas.interaction import Channel, Direction, Interaction, InteractionKind, StatusUpdate
from sinks import erasure, merges, outbox
from sinks.connection import Conn
from sinks.erasure import IdentifierHasher
from sinks.kafka.records import RawRecord, Record
from tests import fresh
from tests.integration.identity_helpers import new_email
from tests.integration.rows import one
from tests.integration.stack import eventually
from tests.interactions import interaction
from tests.metrics_text import value

pytestmark = pytest.mark.integration
HASHER = IdentifierHasher(b"erasure-race-test-key-of-32-byte")


@dataclass
class Worker:
    """A worker's batch processor (with the erasure guard) and what it published, in order."""

    pool: AsyncConnectionPool[Conn]
    batches: BatchProcessor
    published: list[Record]

    async def process(self, *interactions: Interaction) -> BatchResult:
        records = [
            RawRecord(i.model_dump_json().encode(), topics.INTERACTIONS, 0, n) for n, i in enumerate(interactions)
        ]
        return await self.batches.process(records)

    def timeline(self, contact: uuid.UUID) -> list[str]:
        """The types of the timeline events published for ``contact``, in publishing order."""
        key = str(contact).encode()
        return [
            orjson.loads(value)["type"]
            for topic, k, value in self.published
            if topic == topics.TIMELINE and k == key and value is not None
        ]


@pytest.fixture
async def worker(private_database_url: str) -> AsyncIterator[Worker]:
    published: list[Record] = []

    async def publish(records: Sequence[Record]) -> None:
        published.extend(records)

    async with AsyncConnectionPool(private_database_url, min_size=1, max_size=4, kwargs={"autocommit": True}) as pool:
        yield Worker(pool, BatchProcessor(pool, publish, guard=ErasureGuard(HASHER)), published)


async def waits_on(db: Conn, holder: psycopg.AsyncConnection[Any], task: asyncio.Task[Any], what: str) -> None:
    """Wait until some session is blocked by ``holder``'s transaction; ``task`` (that session's work) must not
    have finished without it."""

    async def blocked() -> bool:
        cur = await db.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))", (holder.info.backend_pid,)
        )
        return bool((await one(cur))[0]) or task.done()

    await eventually(blocked, what=what)
    assert not task.done(), f"{what}: it finished without waiting"


async def erased_while(worker: Worker, db: Conn, database_url: str, contact: uuid.UUID, message: Interaction) -> None:
    """Erase ``contact`` while a batch of ``message`` runs: the batch starts after the erasure did its work and
    before it commits, and the erasure commits once the batch waits on its lock."""
    async with await psycopg.AsyncConnection.connect(database_url) as erasing:
        async with erasing.transaction():  # erase() nests in it: its work is done, its commit is ours to make
            assert await erasure.erase(erasing, contact, HASHER, requested_by="test") is not None
            batch = asyncio.create_task(worker.process(message))
            await waits_on(db, erasing, batch, "the batch waiting on the erasure's lock")
        await batch
    await outbox.drain(worker.pool, worker.batches.publish)  # anything left behind is published too


async def counts(db: Conn, phone: str, ids: list[uuid.UUID]) -> tuple[int, int]:
    """(her interactions among ``ids``, links of her number)."""
    cur = await db.execute("SELECT count(*) FROM interactions WHERE interaction_id = ANY(%s)", (ids,))
    rows = int((await one(cur))[0])
    cur = await db.execute("SELECT count(*) FROM contact_identifiers WHERE kind = 'phone' AND value = %s", (phone,))
    return rows, int((await one(cur))[0])


async def a_customer(worker: Worker) -> tuple[str, Interaction, uuid.UUID]:
    """A customer whose first SMS the worker stored: (her phone, that message, her contact)."""
    phone = fresh.phone()
    first = interaction(Channel.sms, phone, text="my first message")
    await worker.process(first)
    return phone, first, contact_id_for(f"phone:{phone}")


async def test_a_message_in_flight_during_her_erasure_does_not_land_after_it(
    worker: Worker, private_db: Conn, private_database_url: str
) -> None:
    phone, first, contact = await a_customer(worker)
    # Sent (and in the worker's batch) before the erasure; the batch reads her owners while it runs.
    in_flight = interaction(Channel.sms, phone, text="sent before the erasure", at=datetime.now(UTC))

    await erased_while(worker, private_db, private_database_url, contact, in_flight)

    assert await counts(private_db, phone, [first.interaction_id, in_flight.interaction_id]) == (0, 0)
    assert worker.timeline(contact) == ["contact.created", "interaction.added", "contact.erased"]


async def test_a_message_she_sends_after_the_erasure_while_it_commits_is_a_new_start(
    worker: Worker, private_db: Conn, private_database_url: str
) -> None:
    phone, first, contact = await a_customer(worker)
    # Occurs after the erasure's moment (her phone's clock a minute ahead), but is resolved while the erasure
    # has not committed yet.
    later = interaction(Channel.sms, phone, text="hello again", at=datetime.now(UTC) + timedelta(minutes=1))

    await erased_while(worker, private_db, private_database_url, contact, later)

    assert await counts(private_db, phone, [first.interaction_id]) == (0, 1)
    cur = await private_db.execute(
        "SELECT i.contact_id, ci.contact_id FROM interactions i, contact_identifiers ci"
        " WHERE i.interaction_id = %s AND ci.kind = 'phone' AND ci.value = %s",
        (later.interaction_id, phone),
    )
    stored: tuple[Any, ...] = await one(cur)
    assert stored[0] == stored[1], "her new message is on the contact her number is linked to"
    assert worker.timeline(stored[0])[-2:] == ["contact.erased", "interaction.added"]


async def test_a_replay_of_her_past_after_the_erasure_is_dropped_and_counted(worker: Worker, private_db: Conn) -> None:
    phone, first, contact = await a_customer(worker)
    async with private_db.transaction():
        assert await erasure.erase(private_db, contact, HASHER, requested_by="test")
    dropped = value(
        generate_latest().decode(), "omnitrail_pipeline_interactions_total", outcome="erased", channel="sms"
    )

    # As a worker (another one, or restarted: its recent ids do not know it) runs it: a batch that fails for good
    # is dead-lettered, raw bytes (her message) included.
    later = BatchProcessor(worker.pool, worker.batches.publish, guard=ErasureGuard(HASHER))
    isolated = PoisonIsolation(later, worker.batches.publish)
    raw = RawRecord(first.model_dump_json().encode(), topics.INTERACTIONS, 0, 0)
    assert (await isolated.process([raw])).dead_lettered == 0

    assert [r for r in worker.published if r[0] == topics.DEADLETTER] == []
    assert await counts(private_db, phone, [first.interaction_id]) == (0, 0)
    counted = value(
        generate_latest().decode(), "omnitrail_pipeline_interactions_total", outcome="erased", channel="sms"
    )
    assert counted == dropped + 1


async def test_a_contact_merged_into_hers_while_her_erasure_waits_is_erased_with_her(
    worker: Worker, private_db: Conn, private_database_url: str
) -> None:
    phone, address = fresh.phone(), new_email("merged")
    await worker.process(interaction(Channel.sms, phone), interaction(Channel.email, address))
    hers, other = contact_id_for(f"phone:{phone}"), contact_id_for(f"email:{address}")
    async with (
        await psycopg.AsyncConnection.connect(private_database_url) as merging,
        await psycopg.AsyncConnection.connect(private_database_url) as erasing,
    ):
        # Staff merge her email's contact into hers (committed below: the connection is not in autocommit).
        await merges.merge(merging, hers, [other], cause="test", rule="staff", evidence={})
        erase = asyncio.create_task(erasure.erase(erasing, hers, HASHER, requested_by="test"))
        await waits_on(private_db, merging, erase, "the erasure waiting on the merge's lock")
        await merging.commit()
        done = await erase
    assert done is not None
    assert set(done.erased_contact_ids) == {hers, other}
    cur = await private_db.execute(
        "SELECT count(*) FROM contact_identifiers WHERE value = ANY(%s)", ([phone, address],)
    )
    assert (await one(cur))[0] == 0


async def parked(db: Conn, *update_ids: uuid.UUID) -> int:
    cur = await db.execute("SELECT count(*) FROM parked_updates WHERE update_id = ANY(%s)", (list(update_ids),))
    return int((await one(cur))[0])


async def test_her_parked_updates_go_with_her_erasure_and_one_arriving_after_it_is_not_parked(
    worker: Worker, private_db: Conn
) -> None:
    phone = fresh.phone()
    hour_ago = datetime.now(UTC) - timedelta(hours=1)
    message = interaction(Channel.sms, phone, text="my first message", at=hour_ago)
    # A delivery receipt for our reply to her that never landed (it carries her number): parked.
    receipt = interaction(
        Channel.sms,
        phone,
        direction=Direction.outbound,
        kind=InteractionKind.status,
        status=StatusUpdate(target_interaction_id=uuid.uuid4(), status="delivered"),
        at=hour_ago,
    )
    await worker.process(message, receipt)
    assert await parked(private_db, receipt.interaction_id) == 1
    async with private_db.transaction():
        assert await erasure.erase(private_db, contact_id_for(f"phone:{phone}"), HASHER, requested_by="test")
    assert await parked(private_db, receipt.interaction_id) == 0

    # Her edit of the erased message, sent after the erasure: its target is gone for good, so it is not kept.
    edit = interaction(
        Channel.sms,
        phone,
        kind=InteractionKind.edit,
        text="my edited message",
        status=StatusUpdate(target_interaction_id=message.interaction_id, status="edited"),
    )
    await worker.process(edit)
    assert await parked(private_db, edit.interaction_id) == 0
    cur = await private_db.execute(
        "SELECT count(*) FROM parked_updates WHERE target_interaction_id = %s", (message.interaction_id,)
    )
    assert await one(cur) == (0,)
