"""Staff accounts in PostgreSQL (migration 0017): who signs in to the console, and as what.

An account is keyed by its lower-cased email, which is how its sessions (``console_sessions.actor``)
and every row it writes name it. Disabling an account or changing its role ends its live sessions in
the same transaction, so the change holds at once in every console process; a session also counts
only while its account is enabled and has the role it was signed in with (:func:`signed_in`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from psycopg import errors

from sinks import session_store
from sinks.connection import Conn


@dataclass(frozen=True)
class StaffMember:
    email: str
    name: str
    role: str
    created_at: datetime
    disabled_at: datetime | None
    has_password: bool


class AlreadyExists(Exception):
    """An account with that email exists (enabled or disabled)."""


def normal(email: str) -> str:
    return email.strip().lower()


async def add(conn: Conn, *, email: str, name: str, role: str, password_hash: str | None) -> None:
    try:
        await conn.execute(
            "INSERT INTO staff (email, name, role, password_hash) VALUES (%s, %s, %s, %s)",
            (normal(email), name, role, password_hash),
        )
    except errors.UniqueViolation:
        raise AlreadyExists(email) from None


async def listing(conn: Conn) -> list[StaffMember]:
    cur = await conn.execute(
        "SELECT email, name, role, created_at, disabled_at, password_hash IS NOT NULL FROM staff ORDER BY email"
    )
    return [StaffMember(*row) for row in await cur.fetchall()]


async def enabled_name(conn: Conn, email: str) -> str | None:
    """The name of an enabled account, or None."""
    found = await credentials(conn, email)
    return found[0] if found else None


async def disable(conn: Conn, email: str) -> int | None:
    """Disable the account and end its sessions: how many were live; None when there is no such account."""
    async with conn.transaction():
        cur = await conn.execute(
            "UPDATE staff SET disabled_at = coalesce(disabled_at, now()) WHERE email = %s", (normal(email),)
        )
        if cur.rowcount == 0:
            return None
        return await session_store.revoke_actor(conn, normal(email))


async def set_role(conn: Conn, email: str, role: str) -> int | None:
    """Change the account's role and end its sessions (signed in with the old one); None when no such account."""
    async with conn.transaction():
        cur = await conn.execute("UPDATE staff SET role = %s WHERE email = %s", (role, normal(email)))
        if cur.rowcount == 0:
            return None
        return await session_store.revoke_actor(conn, normal(email))


async def credentials(conn: Conn, email: str) -> tuple[str, str, str | None] | None:
    """(name, role, password hash) of an enabled account, or None."""
    cur = await conn.execute(
        "SELECT name, role, password_hash FROM staff WHERE email = %s AND disabled_at IS NULL", (normal(email),)
    )
    row = await cur.fetchone()
    return (str(row[0]), str(row[1]), row[2]) if row else None


async def rehash(conn: Conn, email: str, password_hash: str) -> None:
    """Store a stronger hash of the same password (argon2's parameters were raised since it was made)."""
    await conn.execute("UPDATE staff SET password_hash = %s WHERE email = %s", (password_hash, normal(email)))


async def signed_in(conn: Conn, session_hash: str) -> tuple[str, str] | None:
    """(name, role) of a live session's account while it is enabled and has the role the session was signed in
    with; a session whose account was disabled or changed role no longer counts."""
    cur = await conn.execute(
        """
        SELECT s.name, s.role FROM console_sessions c JOIN staff s ON s.email = c.actor
         WHERE c.session_hash = %s AND c.revoked_at IS NULL AND c.expires_at > now()
           AND s.disabled_at IS NULL AND s.role = c.role
        """,
        (session_hash,),
    )
    row = await cur.fetchone()
    return (str(row[0]), str(row[1])) if row else None
