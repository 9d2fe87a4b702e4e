"""The race the resolver must win, staged deterministically on the real PostgreSQL: a transaction that
created a contact for a person another transaction was creating at the same moment gives it up
(no duplicate contact, no merge left behind)."""

from __future__ import annotations

import asyncio

import psycopg
import pytest

from pipeline import resolver
from pipeline.stages.identity import Claim, Person
from pipeline.stages.policy import Policy
from schemas.identifiers import Identifier
from schemas.ids import contact_id_for
from tests import fresh
from tests.integration.identity_helpers import new_email

pytestmark = pytest.mark.integration


def cause(person: Person) -> str:
    del person
    return "test"


async def test_the_transaction_that_loses_the_race_folds_its_contact_into_the_winners(database_url: str) -> None:
    phone = Identifier(kind="phone", value=fresh.phone())
    address = Identifier(kind="email", value=new_email("race"))
    async with (
        await psycopg.AsyncConnection.connect(database_url) as first,
        await psycopg.AsyncConnection.connect(database_url) as second,
    ):
        async with first.transaction():
            won = await resolver.resolve(first, [Claim(0, (phone,))], Policy(), source="test", cause=cause)
            assert won.created == {contact_id_for(phone.key)}

            async def loser() -> resolver.Resolution:
                async with second.transaction():
                    claim = Claim(0, (address, phone))  # the same person, with one more identifier
                    return await resolver.resolve(second, [claim], Policy(), source="test", cause=cause)

            racing = asyncio.create_task(loser())
            await asyncio.sleep(0.5)
            assert not racing.done()  # blocked on the phone's primary key, held by the first transaction
        lost = await racing

    winner = contact_id_for(phone.key)
    assert lost.created == set()
    assert lost.merges == []
    assert lost.attached[0] == [winner]
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as db:
        links = await (
            await db.execute(
                "SELECT kind, contact_id FROM contact_identifiers WHERE value = ANY(%s) ORDER BY kind",
                ([phone.value, address.value],),
            )
        ).fetchall()
        assert links == [("email", winner), ("phone", winner)]
        gone = await (
            await db.execute("SELECT count(*) FROM contacts WHERE contact_id = %s", (contact_id_for(address.key),))
        ).fetchone()
        assert gone == (0,)
        merges = await (
            await db.execute(
                "SELECT count(*) FROM contact_merges WHERE survivor_id = %s OR merged_id = %s", (winner, winner)
            )
        ).fetchone()
        assert merges == (0,)
