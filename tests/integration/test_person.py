"""The contacts of one person (sinks/person.py, ``person_includes`` of migration 0023) through merge chains."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from sinks import contact_store, merges, person

pytestmark = pytest.mark.integration


async def merge(conn: Any, survivor: uuid.UUID, loser: uuid.UUID) -> merges.MergeRecord:
    [record] = await merges.merge(conn, survivor, [loser], cause="api:admin", rule="manual", evidence={})
    return record


async def test_a_chain_of_merges_is_one_person_of_its_last_survivor_until_a_middle_link_is_undone(db: Any) -> None:
    async with db.transaction(force_rollback=True):  # the contacts made here stay out of other tests
        a, b, c, alone = (uuid.uuid4() for _ in range(4))
        await contact_store.create_contacts(db, [(x, None) for x in (a, b, c, alone)])
        await merge(db, b, c)
        middle = await merge(db, a, b)  # b, with c merged into it, into a: c now names a too

        assert await person.contacts(db, a) == sorted([a, b, c])
        assert await person.contacts(db, a, lock=True) == sorted([a, b, c])
        assert await person.members_of(db, [c]) == {a, b, c}  # any contact of the person finds all of it
        assert await person.members_of(db, [alone]) == {alone}
        assert await person.contacts(db, alone) == [alone]
        unknown = uuid.uuid4()
        assert await person.contacts(db, unknown) == []
        assert await person.members_of(db, [unknown]) == {unknown}

        await merges.unmerge(db, a, middle.merge_id, by="test")
        assert await person.contacts(db, a) == [a]
        assert await person.contacts(db, b) == sorted([b, c])
        assert await person.members_of(db, [c]) == {b, c}
