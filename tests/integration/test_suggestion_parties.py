"""How suggestions name contacts (``suggestion_queries.parties``): a possible duplicate's other side follows
merges to its survivor, a contact without a name is its person's first identifier, and a pair that became
one person names no other side."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from schemas.suggestion import SuggestionRule, SuggestionStatus
from sinks import contact_store, merges, suggestion_queries
from sinks.suggestion_queries import HandledSuggestion

pytestmark = pytest.mark.integration


def on(contact: uuid.UUID, review: uuid.UUID) -> HandledSuggestion:
    return HandledSuggestion(
        suggestion_id=uuid.uuid4(),
        contact_id=contact,
        rule=SuggestionRule.merge_review,
        status=SuggestionStatus.open,
        title="Decide a possible duplicate contact",
        reason="test",
        review_id=review,
        profiling=False,
        opened_at=datetime.now(UTC),
    )


async def test_a_possible_duplicates_other_side_is_named_by_its_survivor_until_both_are_one_person(db: Any) -> None:
    async with db.transaction(force_rollback=True):  # the contacts made here stay out of other tests
        ana, bruno, old = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        await contact_store.create_contacts(db, [(ana, None), (bruno, "Bruno"), (old, None)])
        first = datetime.now(UTC) - timedelta(days=1)
        phone, email = f"+3519{uuid.uuid4().int % 10**8:08d}", f"{uuid.uuid4().hex[:8]}@example.pt"
        await db.execute(
            "INSERT INTO contact_identifiers (kind, value, contact_id, rule, created_at)"
            " VALUES ('phone', %s, %s, 'exact', %s), ('email', %s, %s, 'exact', %s)",
            (phone, ana, first, email, old, first + timedelta(hours=1)),
        )
        review = uuid.uuid4()
        a, b = sorted([ana, bruno])
        await db.execute(
            "INSERT INTO identity_reviews (review_id, contact_a, contact_b, rule) VALUES (%s, %s, %s, 'same_name')",
            (review, a, b),
        )
        # Ana was merged into an older contact: the review still names her, the suggestions name the survivor.
        await merges.merge(db, old, [ana], cause="api:admin", rule="manual", evidence={})
        from_bruno, from_old = on(bruno, review), on(old, review)

        found = await suggestion_queries.parties(db, [old, bruno, uuid.uuid4()], [from_bruno, from_old])
        assert {c: (p.display_name, p.identifier) for c, p in found.contacts.items()} == {
            old: (None, ("phone", phone)),  # no name: the person's first identifier, Ana's, merged in
            bruno: ("Bruno", None),
        }
        assert {s: p.contact_id for s, p in found.other_sides.items()} == {
            from_bruno.suggestion_id: old,
            from_old.suggestion_id: bruno,
        }
        assert found.other_sides[from_bruno.suggestion_id].identifier == ("phone", phone)

        # Bruno merged into the same person: the two sides are one contact, there is no other side to name.
        await merges.merge(db, old, [bruno], cause="api:admin", rule="manual", evidence={})
        alone = await suggestion_queries.parties(db, [], [on(old, review)])
        assert alone.contacts == {}
        assert alone.other_sides == {}
