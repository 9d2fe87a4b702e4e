"""Checkpoints in PostgreSQL: saved per (connector, account, scope), overwritten, listed per account."""

from __future__ import annotations

import uuid

import pytest
from psycopg_pool import AsyncConnectionPool

from sinks.checkpoint_store import PostgresCheckpoints

pytestmark = pytest.mark.integration


async def test_save_load_overwrite_and_list(database_url: str) -> None:
    account = f"support-{uuid.uuid4().hex[:8]}"
    async with AsyncConnectionPool(database_url, min_size=1, max_size=2, kwargs={"autocommit": True}) as pool:
        store = PostgresCheckpoints(pool)
        assert await store.load("email", account, "INBOX") is None
        await store.save("email", account, "INBOX", {"uidvalidity": 7, "last_uid": 10})
        await store.save("email", account, "Sent", {"uidvalidity": 9, "last_uid": 3})
        await store.save("email", account, "INBOX", {"uidvalidity": 7, "last_uid": 12})
        assert await store.load("email", account, "INBOX") == {"uidvalidity": 7, "last_uid": 12}
        assert await store.scopes("email", account) == {
            "INBOX": {"uidvalidity": 7, "last_uid": 12},
            "Sent": {"uidvalidity": 9, "last_uid": 3},
        }
        assert await store.scopes("telegram", account) == {}
