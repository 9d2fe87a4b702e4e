"""``omnitrail staff add|list|disable|set-role``: the people who sign in to the console."""

from __future__ import annotations

from typing import Any

import psycopg

from console import passwords
from schemas.errors import FatalError
from sinks import staff_store


async def _connect(database_url: str) -> psycopg.AsyncConnection[tuple[Any, ...]]:
    return await psycopg.AsyncConnection.connect(database_url, autocommit=True)


async def add(database_url: str, *, email: str, name: str, role: str, password: str) -> None:
    if "@" not in email.strip() or not name.strip():
        raise FatalError("staff add: give an email address and a name (--name)")
    try:
        password_hash = passwords.hash_password(password)
    except ValueError as exc:
        raise FatalError(f"staff add: {exc}") from None
    async with await _connect(database_url) as conn:
        try:
            await staff_store.add(conn, email=email, name=name.strip(), role=role, password_hash=password_hash)
        except staff_store.AlreadyExists:
            raise FatalError(f"staff add: {staff_store.normal(email)} already has an account") from None


async def listing(database_url: str) -> list[staff_store.StaffMember]:
    async with await _connect(database_url) as conn:
        return await staff_store.listing(conn)


async def disable(database_url: str, email: str) -> int:
    """How many console sessions ended with the account."""
    async with await _connect(database_url) as conn:
        ended = await staff_store.disable(conn, email)
    if ended is None:
        raise FatalError(f"no staff account {staff_store.normal(email)}")
    return ended


async def set_role(database_url: str, email: str, role: str) -> int:
    async with await _connect(database_url) as conn:
        ended = await staff_store.set_role(conn, email, role)
    if ended is None:
        raise FatalError(f"no staff account {staff_store.normal(email)}")
    return ended
