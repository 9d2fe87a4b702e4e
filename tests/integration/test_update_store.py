"""The update store against PostgreSQL: parking, applying on landing, and the park/insert race."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from connectors.twilio.status import normalize_message_status
from schemas.interaction import Channel, Interaction, InteractionKind, Provider, StatusUpdate
from sinks import contact_store, interaction_store, update_store
from tests.channel_payloads import OUR_NUMBER, message_status
from tests.interactions import outbound_message

pytestmark = pytest.mark.integration
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@pytest.fixture
async def conn(database_url: str) -> AsyncIterator[psycopg.AsyncConnection[tuple[Any, ...]]]:
    async with await psycopg.AsyncConnection.connect(database_url) as connection:
        yield connection


def status(sid: str, state: str) -> Interaction:
    return normalize_message_status(message_status(sid, state, "+351912999000"), default_region="PT", received_at=NOW)


async def land(conn: Any, message: Interaction) -> set[uuid.UUID]:
    contact = uuid.uuid4()
    await contact_store.create_contacts(conn, [(contact, None)])
    return await interaction_store.insert(conn, [(contact, message, message.model_dump_json())])


async def delivery_status(conn: Any, interaction_id: uuid.UUID) -> str | None:
    cur = await conn.execute("SELECT delivery_status FROM interactions WHERE interaction_id = %s", (interaction_id,))
    row = await cur.fetchone()
    return row[0] if row else None


async def test_update_before_its_message_is_parked_then_applied_when_it_lands(conn: Any) -> None:
    sid = f"SM{uuid.uuid4().hex}"
    message = outbound_message(Channel.sms, Provider.twilio, OUR_NUMBER, sid, "+351912999000")
    async with conn.transaction():
        parked = await update_store.apply(conn, [status(sid, "delivered")])
    assert (parked.parked, parked.changed) == (1, [])
    async with conn.transaction():
        landed = await land(conn, message)
        applied = await update_store.apply(conn, [status(sid, "sent")], landed=landed)
    # The parked "delivered" applied on landing; the batch's own late "sent" changed nothing.
    assert [u.status.status for _, u in applied.changed if u.status] == ["delivered"]
    assert applied.from_batch == 0
    assert await delivery_status(conn, message.interaction_id) == "delivered"


async def test_a_park_that_raced_the_insert_is_applied_by_the_next_batch(conn: Any) -> None:
    sid = f"SM{uuid.uuid4().hex}"
    message = outbound_message(Channel.sms, Provider.twilio, OUR_NUMBER, sid, "+351912999000")
    async with conn.transaction():
        await update_store.apply(conn, [status(sid, "read")])
    async with conn.transaction():
        await land(conn, message)  # as a worker that could not see the park yet: no landed ids passed
    async with conn.transaction():
        applied = await update_store.apply(conn, [])
    assert [u.status.status for _, u in applied.changed if u.status] == ["read"]
    assert await delivery_status(conn, message.interaction_id) == "read"
    cur = await conn.execute(
        "SELECT count(*) FROM parked_updates WHERE target_interaction_id = %s", (message.interaction_id,)
    )
    assert (await cur.fetchone())[0] == 0


def edit_of(message: Interaction, text: str, minutes: int) -> Interaction:
    return message.model_copy(
        update={
            "interaction_id": uuid.uuid4(),
            "kind": InteractionKind.edit,
            "external_id": f"{message.external_id}:edit:{minutes}",
            "occurred_at": NOW + timedelta(minutes=minutes),
            "text": text,
            "status": StatusUpdate(target_interaction_id=message.interaction_id, status="edited"),
        }
    )


async def test_a_redelivered_older_edit_never_brings_its_text_back(conn: Any) -> None:
    """Message, edit 1, edit 2, then edit 1 again (a restart, a rebalance, a replay): the newest text stays and
    nothing is published for the stale one; the same edit again is no news either."""
    message = outbound_message(Channel.sms, Provider.twilio, OUR_NUMBER, f"SM{uuid.uuid4().hex}", "+351912999000")
    first, second = edit_of(message, "Segue na sexta.", 1), edit_of(message, "Segue no sábado.", 2)
    async with conn.transaction():
        await land(conn, message)
    for edit in (first, second):
        async with conn.transaction():
            assert len((await update_store.apply(conn, [edit])).changed) == 1
    for again in ([first], [second], [second, first]):
        async with conn.transaction():
            applied = await update_store.apply(conn, again)
        assert (applied.changed, applied.from_batch) == ([], 0)
    cur = await conn.execute("SELECT document FROM interactions WHERE interaction_id = %s", (message.interaction_id,))
    document = (await cur.fetchone())[0]
    assert document["text"] == "Segue no sábado."
    assert datetime.fromisoformat(document["metadata"]["edited_at"]) == second.occurred_at


async def test_an_update_whose_target_never_comes_is_kept_only_the_declared_number_of_days(conn: Any) -> None:
    old, recent = status(f"SM{uuid.uuid4().hex}", "delivered"), status(f"SM{uuid.uuid4().hex}", "delivered")
    async with conn.transaction():
        assert (await update_store.apply(conn, [old, recent])).parked == 2
        await conn.execute(
            "UPDATE parked_updates SET parked_at = clock_timestamp() - make_interval(days => %s) WHERE update_id = %s",
            (update_store.PARKED_DAYS + 1, old.interaction_id),
        )
    async with conn.transaction():
        await update_store.expire(conn)
    cur = await conn.execute(
        "SELECT update_id FROM parked_updates WHERE update_id = ANY(%s)", ([old.interaction_id, recent.interaction_id],)
    )
    assert await cur.fetchall() == [(recent.interaction_id,)]
