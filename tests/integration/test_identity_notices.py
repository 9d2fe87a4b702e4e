"""Provider notices resolved on the real PostgreSQL: one set aside for staff in the batch that merges one of the
contacts it names (the identity review names the survivor, never the contact merged away), and one onto a number
that could merge nobody (no review at all)."""

from __future__ import annotations

import psycopg
import pytest

from pipeline import resolver
from pipeline.stages.identity import Claim
from pipeline.stages.policy import Policy
from schemas.identifiers import Identifier
from sinks import contact_store
from tests import fresh
from tests.integration.identity_helpers import born, cause, new_email

pytestmark = pytest.mark.integration
NUMBER_CHANGE = "whatsapp:user_changed_number"


async def test_a_number_change_review_names_the_survivor_of_a_merge_in_the_same_batch(database_url: str) -> None:
    carla = Identifier(kind="email", value=new_email("carla"))
    ana, bruno = Identifier(kind="phone", value=fresh.phone()), Identifier(kind="phone", value=fresh.phone())
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as db:
        c, a, b = [await born(db, i) for i in (carla, ana, bruno)]  # Carla is the oldest, then Ana, then Bruno
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


@pytest.mark.parametrize("why", ["marked shared", "at the merge cap"])
async def test_a_number_change_onto_a_number_that_could_merge_nobody_opens_no_review_and_links_nothing(
    database_url: str, why: str
) -> None:
    xavier = Identifier(kind="email", value=new_email("xavier"))
    ana, bruno = Identifier(kind="phone", value=fresh.phone()), Identifier(kind="phone", value=fresh.phone())
    policy = Policy(max_contacts_per_identifier=2)
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as db:
        x, a, b = [await born(db, i) for i in (xavier, ana, bruno)]  # oldest first
        if why == "marked shared":  # as POST /api/v1/identity/shared marks it
            assert await contact_store.mark_shared(db, bruno, True) == b
            owner = b
        else:  # a message carrying Bruno's number and Xavier's address: Bruno merges into Xavier, the number's 2nd
            async with db.transaction():
                joined = await resolver.resolve(db, [Claim(0, (bruno, xavier))], policy, source="test", cause=cause)
            assert [(m.survivor, m.merged) for m in joined.merges] == [(x, b)]
            owner = x
        # WhatsApp says Ana moved onto that number: taken as proof it would merge nobody, so staff have nothing
        # to decide. Ana stays herself, the number stays with its contact.
        notice = Claim(0, (ana, bruno), rule=NUMBER_CHANGE, evidence=(("event", "user_changed_number"),))
        async with db.transaction():
            batch = await resolver.resolve(db, [notice], policy, source="test", cause=cause)
        assert (batch.merges, batch.attached, batch.new_links) == ([], {0: [a]}, [])
        cur = await db.execute(
            "SELECT count(*) FROM identity_reviews WHERE contact_a = ANY(%(c)s) OR contact_b = ANY(%(c)s)",
            {"c": [x, a, b]},
        )
        assert await cur.fetchone() == (0,)
        owners = await resolver.owners_of(db, {ana.key, bruno.key})
        assert {k: (o.home, o.survivor) for k, o in owners.items()} == {ana.key: (a, a), bruno.key: (b, owner)}
