"""Pull-connector checkpoints in PostgreSQL (``connector_checkpoints``), one row per scope.

Their age is reported by the workers (``sinks/checkpoint_age.py``), whichever process wrote them.
"""

from __future__ import annotations

from typing import Any

import orjson
from psycopg_pool import AsyncConnectionPool

from sinks.connection import Conn

State = dict[str, Any]


class PostgresCheckpoints:
    def __init__(self, pool: AsyncConnectionPool[Conn]) -> None:
        self.pool = pool

    async def load(self, connector: str, account: str, scope: str) -> State | None:
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "SELECT state FROM connector_checkpoints WHERE connector = %s AND account = %s AND scope = %s",
                (connector, account, scope),
            )
            row = await cur.fetchone()
        return dict(row[0]) if row else None

    async def save(self, connector: str, account: str, scope: str, state: State) -> None:
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
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "SELECT scope, state FROM connector_checkpoints WHERE connector = %s AND account = %s",
                (connector, account),
            )
            return {str(scope): dict(state) for scope, state in await cur.fetchall()}
