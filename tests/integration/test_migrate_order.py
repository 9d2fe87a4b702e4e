"""A migration merged later with a lower number than one already applied is still applied."""

from __future__ import annotations

import uuid

import psycopg
import pytest

from sinks import migrate
from tests.conftest import ADMIN_PG
from tests.integration.rows import one

pytestmark = pytest.mark.integration


async def test_missing_lower_version_is_applied_after_a_higher_one() -> None:
    name = f"omnitrail_migrate_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(ADMIN_PG, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = ADMIN_PG.rsplit("/", 1)[0] + "/" + name
    try:
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
    finally:
        with psycopg.connect(ADMIN_PG, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
