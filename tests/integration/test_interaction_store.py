"""The timeline row store against PostgreSQL: which rows an insert reports as new, within a transaction and across."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import psycopg
import pytest

from schemas.interaction import Channel, Interaction
from sinks import contact_store, interaction_store
from tests.interactions import interaction

pytestmark = pytest.mark.integration


@pytest.fixture
async def conn(database_url: str) -> AsyncIterator[psycopg.AsyncConnection[tuple[Any, ...]]]:
    async with await psycopg.AsyncConnection.connect(database_url) as connection:
        yield connection


def rows(contact: uuid.UUID, *interactions: Interaction) -> list[tuple[uuid.UUID, Interaction, str]]:
    return [(contact, i, i.model_dump_json()) for i in interactions]


async def stored(conn: Any, interactions: list[Interaction]) -> int:
    ids = [i.interaction_id for i in interactions]
    cur = await conn.execute("SELECT count(*) FROM interactions WHERE interaction_id = ANY(%s)", (ids,))
    row = await cur.fetchone()
    return int(row[0])


async def staged(conn: Any) -> list[uuid.UUID]:
    """The session's staging table: what the next statement of the transaction would insert from."""
    cur = await conn.execute("SELECT interaction_id FROM interactions_incoming ORDER BY interaction_id")
    return [row[0] for row in await cur.fetchall()]


async def test_each_insert_of_a_transaction_reports_only_its_own_new_rows(conn: Any) -> None:
    contact = uuid.uuid4()
    first, second, third = (interaction(Channel.sms, "+351912000333", text=f"message {n}") for n in range(3))
    async with conn.transaction():
        await contact_store.create_contacts(conn, [(contact, None)])
        assert await interaction_store.insert(conn, rows(contact, first, second)) == {
            first.interaction_id,
            second.interaction_id,
        }
        assert await interaction_store.insert(conn, rows(contact, third)) == {third.interaction_id}
        # The staging table holds this batch alone: the first batch's rows were emptied before its COPY.
        assert await staged(conn) == [third.interaction_id]
        assert await interaction_store.insert(conn, rows(contact, second, third)) == set()
    async with conn.transaction():  # a replay in a later transaction
        assert await interaction_store.insert(conn, rows(contact, first, third)) == set()
    assert await stored(conn, [first, second, third]) == 3
