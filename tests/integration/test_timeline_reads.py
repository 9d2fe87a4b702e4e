"""A contact's timeline read through both forms of an interaction's customers: the row's own contact (its
first customer) and ``interaction_contacts`` (the others), before and after migration 0015 removed the link
that repeated the first customer; every interaction once, in order, on every page, with filters."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Literal

import pytest

from sinks import erasure, migrate, queries
from sinks.connection import Conn
from tests.helpers import sms_interaction

pytestmark = pytest.mark.integration


async def _contact(db: Conn, merged_into: uuid.UUID | None = None) -> uuid.UUID:
    contact_id = uuid.uuid4()
    await db.execute("INSERT INTO contacts (contact_id, merged_into) VALUES (%s, %s)", (contact_id, merged_into))
    return contact_id


async def _interaction(db: Conn, n: int, owner: uuid.UUID, links: list[uuid.UUID], text: str) -> str:
    at = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=n)
    base = sms_interaction(int(uuid.uuid4().int % 10**12), "+351912345678", text)
    interaction = base.model_copy(update={"occurred_at": at, "interaction_id": uuid.uuid4()})
    await db.execute(
        "INSERT INTO interactions (interaction_id, contact_id, channel, direction, kind, occurred_at, received_at,"
        " document) VALUES (%s, %s, %s, %s, %s, %s, %s, %s::jsonb)",
        (
            interaction.interaction_id,
            owner,
            interaction.channel.value,
            interaction.direction.value,
            interaction.kind.value,
            at,
            at,
            interaction.model_dump_json(),
        ),
    )
    for contact in links:
        await db.execute(
            "INSERT INTO interaction_contacts (interaction_id, contact_id, occurred_at) VALUES (%s, %s, %s)",
            (interaction.interaction_id, contact, at),
        )
    return str(interaction.interaction_id)


async def _pages(db: Conn, contact: uuid.UUID, order: Literal["desc", "asc"], **where: object) -> list[str]:
    seen: list[str] = []
    cursor = None
    while True:
        page = await queries.timeline(
            db,
            contact,
            limit=2,
            cursor=cursor,
            order=order,
            where=queries.TimelineFilter(**where),  # type: ignore[arg-type]
        )
        assert page is not None
        seen += [item["interaction_id"] for item in page.items]
        if page.next_cursor is None:
            return seen
        cursor = page.next_cursor


async def test_both_forms_each_once_in_order_before_and_after_migration_0015(private_db: Conn) -> None:
    db = private_db
    ana = await _contact(db)
    ana_old = await _contact(db, merged_into=ana)  # merged into Ana: her timeline includes it
    bruno = await _contact(db)
    mine = [
        # before migration 0015: the first customer was linked too
        await _interaction(db, 0, ana, [ana], "olá, a encomenda não chegou"),
        await _interaction(db, 1, bruno, [bruno, ana_old], "cc: parcel arrived"),  # Ana a second customer
        await _interaction(db, 2, ana_old, [ana_old], "parcel damaged"),
        # this release: the row names the first customer, links only the others
        await _interaction(db, 3, ana, [], "encomenda chegou"),
        await _interaction(db, 4, bruno, [ana], "cc: refund"),
        await _interaction(db, 5, ana_old, [], "nao chegou ainda"),
        await _interaction(db, 6, ana, [bruno], "two customers, Ana first"),
    ]
    others = [await _interaction(db, 7, bruno, [], "not Ana's"), await _interaction(db, 8, bruno, [bruno], "nor")]

    async def check() -> None:
        assert await _pages(db, ana, "desc") == mine[::-1]
        assert await _pages(db, ana_old, "asc") == mine  # a merged-away id reads its survivor's timeline
        assert await _pages(db, bruno, "asc") == [mine[1], mine[4], mine[6], *others]
        assert await _pages(db, ana, "desc", text="chegou") == [mine[5], mine[3], mine[0]]  # "não" found by "nao"
        assert await _pages(db, ana, "asc", text="parcel") == [mine[1], mine[2]]
        assert await _pages(db, ana, "asc", channels=("email",)) == []

    await check()
    [migration] = [m for m in migrate.available() if m.version == 15]
    await db.execute(migration.sql.encode())
    cur = await db.execute(
        "SELECT count(*) FROM interaction_contacts l JOIN interactions i USING (interaction_id)"
        " WHERE l.contact_id = i.contact_id"
    )
    assert await cur.fetchone() == (0,)  # no link repeats a first customer any more...
    cur = await db.execute("SELECT count(*) FROM interaction_contacts")
    assert await cur.fetchone() == (3,)  # ...and the other customers' links are kept
    await check()


@pytest.mark.parametrize("old_form", [False, True], ids=["this release", "before migration 0015"])
async def test_erasing_the_first_customer_hands_the_interaction_to_the_next(private_db: Conn, old_form: bool) -> None:
    db = private_db
    ana, bruno = await _contact(db), await _contact(db)
    phone = f"+3519{uuid.uuid4().int % 10**8:08d}"
    await db.execute(
        "INSERT INTO contact_identifiers (kind, value, contact_id, rule) VALUES ('phone', %s, %s, 'exact')",
        (phone, ana),
    )
    shared = await _interaction(db, 10, ana, [ana, bruno] if old_form else [bruno], f"call {phone} please")
    own = await _interaction(db, 11, ana, [ana] if old_form else [], "hers alone")

    erased = await erasure.erase(db, ana, erasure.IdentifierHasher(b"k" * 32), requested_by="admin")
    assert erased is not None
    assert (erased.interactions_erased, erased.interactions_redacted) == (1, 1)
    assert await _pages(db, bruno, "desc") == [shared]  # Bruno keeps it, once...
    page = await queries.timeline(db, bruno, limit=5, cursor=None, order="desc")
    assert page is not None
    assert page.items[0]["text"] == "call [erased] please"  # ...without her number
    cur = await db.execute(
        "SELECT i.contact_id, array(SELECT l.contact_id FROM interaction_contacts l"
        " WHERE l.interaction_id = i.interaction_id) FROM interactions i WHERE i.interaction_id = %s",
        (uuid.UUID(shared),),
    )
    assert await cur.fetchone() == (bruno, [])  # his as first customer now: no link repeats it
    cur = await db.execute("SELECT count(*) FROM interactions WHERE interaction_id = %s", (uuid.UUID(own),))
    assert await cur.fetchone() == (0,)
