"""Two real `omnitrail worker` processes, one PostgreSQL, 10,000 interactions of 500 people on random partitions:
no duplicate contact, no lost interaction, every interaction in its person's timeline."""

from __future__ import annotations

import random
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from omnitrail.local_stack import EmbeddedBroker
from schemas.identifiers import Identifier
from schemas.interaction import Interaction
from sinks import queries
from tests.conftest import TEST_PARTITIONS
from tests.integration.identity_helpers import email_from, minutes_ago
from tests.integration.stack import FAST_GROUP, clean_env, eventually, stop_processes
from tests.interactions import produce

pytestmark = pytest.mark.integration
PEOPLE, INTERACTIONS = 500, 10_000


@pytest.fixture(scope="module")
def own_database(private_database_url: str) -> str:
    """A database of this test's own, so counting contacts counts only what these workers made."""
    return private_database_url


@pytest.fixture(scope="module")
def broker(private_broker: EmbeddedBroker) -> EmbeddedBroker:
    """Topics no other test stack's worker consumes: both partitions must go to these two workers."""
    return private_broker


@pytest.fixture
def workers(broker: EmbeddedBroker, own_database: str, tmp_path: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    procs = []
    for n in range(2):
        env = clean_env(
            OMNITRAIL_KAFKA_BOOTSTRAP=broker.bootstrap,
            OMNITRAIL_KAFKA_IDEMPOTENCE="false",
            OMNITRAIL_DATABASE_URL=own_database,
            OMNITRAIL_WORKER_ID=f"conc-{n}",
            OMNITRAIL_WORKER_BATCH_SIZE="500",
            OMNITRAIL_WORKER_BATCH_WINDOW_MS="20",
            OMNITRAIL_LOG_LEVEL="warning",
            **FAST_GROUP,
        )
        with (tmp_path / f"worker-{n}.log").open("wb") as out:
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "omnitrail", "worker"], env=env, cwd=tmp_path, stdout=out, stderr=out
                )
            )
    yield procs
    stop_processes(procs)


def corpus(seed: int) -> tuple[list[list[Identifier]], list[tuple[int, Interaction]]]:
    """500 people with 2-3 identifiers each; each interaction carries one or two of its person's identifiers,
    and one per person carries them all, so every person's identifiers are linked somewhere."""
    rng = random.Random(seed)
    tag = uuid.uuid4().hex[:8]
    people: list[list[Identifier]] = []
    for p in range(PEOPLE):
        ids = [
            Identifier(kind="email", value=f"p{p}.{tag}@example.org"),
            Identifier(kind="phone", value=f"+3519{rng.randrange(10**8):08d}"),
        ]
        if p % 2:
            ids.append(Identifier(kind="telegram", value=f"{tag}{p}"))
        people.append(ids)
    interactions = [(p, email_from(*people[p], at=minutes_ago(60))) for p in range(PEOPLE)]
    while len(interactions) < INTERACTIONS:
        p = rng.randrange(PEOPLE)
        carried = rng.sample(people[p], rng.choice((1, 1, 2)))
        interactions.append((p, email_from(*carried, at=minutes_ago(rng.randrange(1, 59)))))
    rng.shuffle(interactions)
    return people, interactions


async def test_two_workers_on_one_database_make_one_contact_per_person(
    workers: list[subprocess.Popen[bytes]], broker: EmbeddedBroker, own_database: str
) -> None:
    async with await psycopg.AsyncConnection.connect(own_database, autocommit=True) as db:

        async def both_assigned() -> bool:
            rows = await (await db.execute("SELECT assignment FROM pipeline_workers")).fetchall()
            return len([r for r in rows if r[0]]) == TEST_PARTITIONS

        await eventually(both_assigned, timeout=60, what="both workers own a partition")
        people, interactions = corpus(seed=5)
        await produce(broker.bootstrap, [i for _, i in interactions], partitions=TEST_PARTITIONS)
        ids = [i.interaction_id for _, i in interactions]

        async def all_stored() -> bool:
            row = await (
                await db.execute("SELECT count(*) FROM interactions WHERE interaction_id = ANY(%s)", (ids,))
            ).fetchone()
            return row == (INTERACTIONS,)

        await eventually(all_stored, timeout=90, what="10,000 interactions stored")
        assert all(proc.poll() is None for proc in workers)

        values = [i.value for person in people for i in person]
        rows = await (
            await db.execute(
                """
                SELECT ci.value, coalesce(c.merged_into, c.contact_id), c2.merged_into IS NULL
                  FROM contact_identifiers ci JOIN contacts c ON c.contact_id = ci.contact_id
                  JOIN contacts c2 ON c2.contact_id = coalesce(c.merged_into, c.contact_id)
                 WHERE ci.value = ANY(%s)
                """,
                (values,),
            )
        ).fetchall()
        survivor_of = {value: survivor for value, survivor, live in rows if live}
        assert len(survivor_of) == len(values)  # every identifier linked, to a live contact
        person_contact = []
        for person in people:
            survivors = {survivor_of[i.value] for i in person}
            assert len(survivors) == 1  # one person, one contact
            person_contact.append(survivors.pop())
        assert len(set(person_contact)) == PEOPLE  # one contact, one person
        live = await (await db.execute("SELECT count(*) FROM contacts WHERE merged_into IS NULL")).fetchone()
        assert live == (PEOPLE,)
        # The corpus really made people arrive in pieces: their contacts had to be merged on the way.
        merged = await (await db.execute("SELECT count(*) FROM contact_merges")).fetchone()
        assert merged is not None
        assert merged[0] > 0

        attached = await (
            await db.execute(
                """
                SELECT ic.interaction_id, coalesce(c.merged_into, c.contact_id)
                  FROM (SELECT interaction_id, contact_id FROM interactions  -- the first customer
                        UNION ALL SELECT interaction_id, contact_id FROM interaction_contacts) ic  -- the others
                  JOIN contacts c ON c.contact_id = ic.contact_id
                 WHERE ic.interaction_id = ANY(%s)
                """,
                (ids,),
            )
        ).fetchall()
        seen: dict[uuid.UUID, set[uuid.UUID]] = {}
        for interaction_id, contact in attached:
            seen.setdefault(interaction_id, set()).add(contact)
        for p, interaction in interactions:
            assert seen[interaction.interaction_id] == {person_contact[p]}
        # And the API's own timeline query shows each sampled person exactly their interactions.
        for p in random.Random(1).sample(range(PEOPLE), 5):
            page = await queries.timeline(db, person_contact[p], limit=500, cursor=None, order="asc")
            assert page is not None
            expected = {str(i.interaction_id) for q, i in interactions if q == p}
            got = [item["interaction_id"] for item in page.items]
            assert len(got) == len(set(got))
            assert set(got) == expected
