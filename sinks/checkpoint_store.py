"""Pull-connector checkpoints in PostgreSQL (``connector_checkpoints``), one row per scope.

OAuth 2.0 refresh tokens of pull connectors live next to them (``oauth_refresh_tokens``, one row per
account): a provider that rotates them on use must not need a new consent after a restart.
Their age is reported by the workers (``sinks/checkpoint_age.py``), whichever process wrote them.

A database fault (a restart, a failover, an exhausted pool) is a :class:`~schemas.errors.RetriableError`:
the pull loop sits it out and reads on from the checkpoint once the database is back.
"""

from __future__ import annotations

from typing import Any

import orjson
from psycopg_pool import AsyncConnectionPool

from sinks.connection import Conn
from sinks.unavailable import retriable_database

State = dict[str, Any]
_WHAT = "checkpoint store"


class PostgresCheckpoints:
    def __init__(self, pool: AsyncConnectionPool[Conn]) -> None:
        self.pool = pool

    async def load(self, connector: str, account: str, scope: str) -> State | None:
        with retriable_database(_WHAT):
            async with self.pool.connection() as conn:
                cur = await conn.execute(
                    "SELECT state FROM connector_checkpoints WHERE connector = %s AND account = %s AND scope = %s",
                    (connector, account, scope),
                )
                row = await cur.fetchone()
        return dict(row[0]) if row else None

    async def save(self, connector: str, account: str, scope: str, state: State) -> None:
        with retriable_database(_WHAT):
            async with self.pool.connection() as conn:
                await conn.execute(
                    """
                    INSERT INTO connector_checkpoints (connector, account, scope, state) VALUES (%s, %s, %s, %s::jsonb)
                    ON CONFLICT (connector, account, scope)
                    DO UPDATE SET state = excluded.state, updated_at = clock_timestamp()
                    """,
                    (connector, account, scope, orjson.dumps(state).decode()),
                )

    async def scopes(self, connector: str, account: str) -> dict[str, State]:
        with retriable_database(_WHAT):
            async with self.pool.connection() as conn:
                cur = await conn.execute(
                    "SELECT scope, state FROM connector_checkpoints WHERE connector = %s AND account = %s",
                    (connector, account),
                )
                return {str(scope): dict(state) for scope, state in await cur.fetchall()}

    async def load_refresh_token(self, connector: str, account: str) -> str | None:
        with retriable_database(_WHAT):
            async with self.pool.connection() as conn:
                cur = await conn.execute(
                    "SELECT refresh_token FROM oauth_refresh_tokens WHERE connector = %s AND account = %s",
                    (connector, account),
                )
                row = await cur.fetchone()
        return str(row[0]) if row else None

    async def save_refresh_token(self, connector: str, account: str, token: str) -> None:
        with retriable_database(_WHAT):
            async with self.pool.connection() as conn:
                await conn.execute(
                    """
                    INSERT INTO oauth_refresh_tokens (connector, account, refresh_token) VALUES (%s, %s, %s)
                    ON CONFLICT (connector, account)
                    DO UPDATE SET refresh_token = excluded.refresh_token, updated_at = clock_timestamp()
                    """,
                    (connector, account, token),
                )
