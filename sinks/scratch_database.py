"""Throw-away PostgreSQL databases for tests and benchmarks, shipped with the code as ``connectors.testing`` is.

``scratch_database`` (and ``async_scratch_database`` inside an event loop) creates a database with a
fresh name under the caller's prefix, migrates it unless told not to, yields its URL and drops it when
the block ends, however it ends: ``WITH (FORCE)`` terminates the connections still open in it.
The server is the one ``OMNITRAIL_TEST_PG`` names (an admin URL), by default the local one.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

import psycopg
from psycopg import sql

from sinks import migrate

ADMIN_PG = os.environ.get("OMNITRAIL_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def url_of(name: str, admin: str = ADMIN_PG) -> str:
    """The URL of database ``name`` on the server ``admin`` connects to."""
    return admin.rsplit("/", 1)[0] + "/" + name


def create(name: str, *, template: str | None = None, admin: str = ADMIN_PG) -> str:
    """Create database ``name`` (a copy of ``template`` when given); return its URL."""
    statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
    if template is not None:
        statement += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
    _execute(admin, statement)
    return url_of(name, admin)


def drop(name: str, *, admin: str = ADMIN_PG) -> None:
    """Drop database ``name`` if it exists, ending the sessions still connected to it."""
    _execute(admin, sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@contextmanager
def scratch_database(prefix: str, *, migrated: bool = True, admin: str = ADMIN_PG) -> Iterator[str]:
    """The URL of a new database named ``<prefix>_<random>``, dropped on exit. Not inside an event loop
    when ``migrated`` (it runs the migrations with ``asyncio.run``): use ``async_scratch_database`` there."""
    with _created(prefix, admin) as url:
        if migrated:
            asyncio.run(migrate.migrate(url))
        yield url


@asynccontextmanager
async def async_scratch_database(prefix: str, *, migrated: bool = True, admin: str = ADMIN_PG) -> AsyncIterator[str]:
    """``scratch_database`` for a caller inside an event loop."""
    with _created(prefix, admin) as url:
        if migrated:
            await migrate.migrate(url)
        yield url


@contextmanager
def _created(prefix: str, admin: str) -> Iterator[str]:
    # Creating and dropping block the loop for a moment; a drop that cannot be interrupted by a
    # cancellation halfway is worth it (nothing else runs while a scratch database comes and goes).
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    url = create(name, admin=admin)
    try:
        yield url
    finally:
        drop(name, admin=admin)


def _execute(admin: str, statement: sql.Composed) -> None:
    with psycopg.connect(admin, autocommit=True) as conn:  # CREATE/DROP DATABASE refuse a transaction
        conn.execute(statement)
