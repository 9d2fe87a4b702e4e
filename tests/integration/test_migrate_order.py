"""Migrations against a database of their own: a migration merged later with a lower number than one
already applied is still applied; 0021 gives free-text assignees their staff accounts and one
handling to both sides of a possible duplicate."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import orjson
import psycopg
import pytest

from sinks import migrate
from sinks.scratch_database import async_scratch_database
from tests.integration.rows import one

pytestmark = pytest.mark.integration


@pytest.fixture
async def fresh_database() -> AsyncIterator[str]:
    """The URL of a new, empty database, dropped afterwards."""
    async with async_scratch_database("omnitrail_migrate", migrated=False) as url:
        yield url


async def test_missing_lower_version_is_applied_after_a_higher_one(fresh_database: str) -> None:
    url = fresh_database
    assert await migrate.migrate(url) == [m.version for m in migrate.available()]
    # As if 0002 had arrived with a merge after 0009 was applied here.
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await conn.execute("DROP TABLE connector_checkpoints, contact_consents, identity_reviews")
        await conn.execute("DELETE FROM schema_migrations WHERE version = 2")
    assert await migrate.migrate(url) == [2]
    assert await migrate.migrate(url) == []
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        cur = await conn.execute("SELECT to_regclass('contact_consents') IS NOT NULL")
        assert (await one(cur))[0] is True


async def test_assignee_accounts_backfill_names_one_account_and_both_sides_of_a_review(fresh_database: str) -> None:
    url = fresh_database
    [version] = [m.version for m in migrate.available() if m.name == "assignee_accounts"]
    await migrate.migrate(url)
    # As the data stood before it: free-text assignees, a merge review handled on one side only.
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await conn.execute("ALTER TABLE suggestion_handling DROP COLUMN assignee_id")
        await conn.execute("DELETE FROM schema_migrations WHERE version = %s", (version,))
        staff = [("maria@acme.example", "Maria"), ("rui.a@acme.example", "Rui"), ("rui.b@acme.example", "Rui")]
        for email, name in staff:
            await conn.execute("INSERT INTO staff (email, name, role) VALUES (%s, %s, 'agent')", (email, name))
        review, by_name, by_email, padded, ambiguous, side_a, side_b = (uuid.uuid4() for _ in range(7))
        rules = {by_name: "dormant", by_email: "dormant", padded: "dormant", ambiguous: "dormant"}
        for suggestion_id, rule in {**rules, side_a: "merge_review", side_b: "merge_review"}.items():
            document = {"review_id": str(review)} if rule == "merge_review" else {}
            await conn.execute(
                "INSERT INTO suggestions (suggestion_id, contact_id, rule, status, opened_at, document)"
                " VALUES (%s, %s, %s, 'open', now(), %s)",
                (suggestion_id, uuid.uuid4(), rule, orjson.dumps(document).decode()),
            )
        handled = [
            (by_name, "Maria"),
            (by_email, "Maria@Acme.example"),
            (padded, " maria@acme.example "),  # typed with spaces: staff emails are stored trimmed
            (ambiguous, "Rui"),
            (side_a, "Maria"),
        ]
        for suggestion_id, assignee in handled:
            await conn.execute(
                "INSERT INTO suggestion_handling (suggestion_id, assignee, assigned_by, assigned_at)"
                " VALUES (%s, %s, 'x', %s)",
                (suggestion_id, assignee, datetime.now(UTC)),
            )
    assert await migrate.migrate(url) == [version]
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        cur = await conn.execute("SELECT suggestion_id, assignee, assignee_id FROM suggestion_handling")
        found = {row[0]: (row[1], row[2]) for row in await cur.fetchall()}
    assert found == {
        by_name: ("Maria", "maria@acme.example"),
        by_email: ("Maria@Acme.example", "maria@acme.example"),
        padded: (" maria@acme.example ", "maria@acme.example"),
        ambiguous: ("Rui", None),  # two accounts of that name: left as typed
        side_a: ("Maria", "maria@acme.example"),
        side_b: ("Maria", "maria@acme.example"),  # the other side of the same review
    }
