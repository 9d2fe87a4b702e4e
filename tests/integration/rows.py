"""Reading back what a test expects PostgreSQL to hold: a row that must be there."""

from __future__ import annotations

from typing import Any

from psycopg import AsyncCursor


async def one(cur: AsyncCursor[tuple[Any, ...]]) -> tuple[Any, ...]:
    """The cursor's next row: a query the test expects a row from (a count, an aggregate) fails without one."""
    row = await cur.fetchone()
    assert row is not None, "the query returned no row"
    return row
