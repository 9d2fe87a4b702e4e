"""A provider notice set aside for staff, resolved on the real PostgreSQL in the batch that merges one of the
contacts it names: the identity review names the survivor, never the contact merged away."""

from __future__ import annotations

import uuid

import psycopg
import pytest

from pipeline import resolver
from pipeline.stages.identity import Claim, Person
from pipeline.stages.policy import Policy
from schemas.identifiers import Identifier
from tests.integration.identity_helpers import new_email, new_phone

pytestmark = pytest.mark.integration
NUMBER_CHANGE = "whatsapp:user_changed_number"


def cause(person: Person) -> str:
    del person
    return "test"


async def test_a_number_change_review_names_the_survivor_of_a_merge_in_the_same_batch(database_url: str) -> None:
    carla = Identifier(kind="email", value=new_email("carla"))
    ana, bruno = Identifier(kind="phone", value=new_phone()), Identifier(kind="phone", value=new_phone())
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as db:
        contacts: dict[str, uuid.UUID] = {}
        for identifier in (carla, ana, bruno):  # one transaction each: Carla is the oldest, then Ana, then Bruno
            async with db.transaction():
                made = await resolver.resolve(db, [Claim(0, (identifier,))], Policy(), source="test", cause=cause)
            [contacts[identifier.key]] = made.created
        c, a, b = (contacts[i.key] for i in (carla, ana, bruno))
        # One batch: WhatsApp says Ana moved onto Bruno's number (no proof: set aside), and a message whose
        # one party carries Ana's number and Carla's address (proof: Ana merges into the older Carla).
        notice = Claim(0, (ana, bruno), rule=NUMBER_CHANGE, evidence=(("event", "user_changed_number"),))
        async with db.transaction():
            batch = await resolver.resolve(db, [notice, Claim(1, (ana, carla))], Policy(), source="test", cause=cause)
        assert [(m.survivor, m.merged) for m in batch.merges] == [(c, a)]
        cur = await db.execute(
            "SELECT contact_a, contact_b FROM identity_reviews WHERE rule = %s AND %s IN (contact_a, contact_b)",
            (NUMBER_CHANGE, b),
        )
        assert [set(row) for row in await cur.fetchall()] == [{c, b}]
