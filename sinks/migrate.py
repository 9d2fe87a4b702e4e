"""Versioned, idempotent SQL migrations (``sinks/migrations/NNNN_name.sql``), applied in order.

Each migration runs in its own transaction together with its bookkeeping row, under an
advisory lock so that several processes starting at once apply each migration exactly once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

import psycopg
import structlog

log = structlog.get_logger(__name__)
_LOCK_KEY = 0x6F6D6E69  # "omni": serializes concurrent migrators
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def available() -> list[Migration]:
    found = []
    for entry in resources.files("sinks.migrations").iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    versions = [m.version for m in found]
    if shared := sorted({v for v in versions if versions.count(v) > 1}):
        # Applied versions are skipped by number: the second file of a number would never run.
        raise RuntimeError(f"migrations share a number ({shared}): renumber one in sinks/migrations")
    return sorted(found, key=lambda m: m.version)


LATEST = max(m.version for m in available())
#: Migrations that only remove what this release no longer writes (0015: the link repeating an interaction's
#: first customer): its code runs before and after them, so a process is ready without them. That lets the
#: readers of a release go first when the previous release's readers need the data (docs/operations.md).
CLEANUPS = frozenset({15})
#: The schema this release's code needs.
REQUIRED = max(m.version for m in available() if m.version not in CLEANUPS)


async def applied_version(conn: psycopg.AsyncConnection[Any]) -> int:
    """Highest applied version, 0 for an empty database."""
    row = await (await conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL")).fetchone()
    if not row or not row[0]:
        return 0
    row = await (await conn.execute("SELECT coalesce(max(version), 0) FROM schema_migrations")).fetchone()
    return int(row[0]) if row else 0


async def migrate(conninfo: str) -> list[int]:
    """Apply every pending migration; return the versions applied now."""
    applied: list[int] = []
    async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as conn:
        await conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
        try:
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version int PRIMARY KEY, name text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            # Skip by set, not by "<= highest applied": migration numbers are handed out to parallel
            # branches, so a database may have 0009 before 0003 arrives with a later merge.
            cur = await conn.execute("SELECT version FROM schema_migrations")
            done = {int(row[0]) for row in await cur.fetchall()}
            for migration in available():
                if migration.version in done:
                    continue
                async with conn.transaction():
                    await conn.execute(migration.sql.encode())
                    await conn.execute(
                        "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                        (migration.version, migration.name),
                    )
                applied.append(migration.version)
                log.info("migration.applied", version=migration.version, migration=migration.name)
        finally:
            await conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
    return applied
