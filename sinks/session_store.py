"""Console sessions in PostgreSQL (migration 0012): a signed cookie counts only while its row is live.

Rows are keyed by a hash of the session's nonce and name the token fingerprint and the role the
session was signed in with. Revoking (sign-out, an admin ending someone's sessions) marks rows;
expired rows are deleted as new sessions are made. The deployment's generated cookie-signing secret
is kept here too (migration 0019, :func:`shared_secret`).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from sinks.connection import Conn

#: Revoked and expired rows are kept this long (who was signed in when), then deleted.
KEEP = timedelta(days=1)


def key(nonce: str) -> str:
    return hashlib.sha256(nonce.encode()).hexdigest()


async def create(conn: Conn, nonce: str, *, actor: str, role: str, expires_at: float) -> None:
    await conn.execute("DELETE FROM console_sessions WHERE expires_at < %s", (datetime.now(UTC) - KEEP,))
    await conn.execute(
        "INSERT INTO console_sessions (session_hash, actor, role, expires_at) VALUES (%s, %s, %s, %s)",
        (key(nonce), actor, role, datetime.fromtimestamp(expires_at, UTC)),
    )


async def live_role(conn: Conn, nonce: str) -> str | None:
    """The role the session was signed in with, while it is neither revoked nor expired."""
    cur = await conn.execute(
        "SELECT role FROM console_sessions WHERE session_hash = %s AND revoked_at IS NULL AND expires_at > now()",
        (key(nonce),),
    )
    row = await cur.fetchone()
    return str(row[0]) if row else None


async def revoke(conn: Conn, nonce: str) -> None:
    await conn.execute(
        "UPDATE console_sessions SET revoked_at = now() WHERE session_hash = %s AND revoked_at IS NULL", (key(nonce),)
    )


async def revoke_actor(conn: Conn, actor: str) -> int:
    """End every live session of one token fingerprint; how many there were."""
    cur = await conn.execute(
        "UPDATE console_sessions SET revoked_at = now() WHERE actor = %s AND revoked_at IS NULL AND expires_at > now()",
        (actor,),
    )
    return cur.rowcount


async def shared_secret(conn: Conn) -> bytes:
    """The deployment's cookie-signing secret when none is configured: made once, by whichever console process
    asks first (a racing one waits for its commit and inserts nothing), then the same for every process."""
    await conn.execute(
        "INSERT INTO console_session_secret (secret) VALUES (%s) ON CONFLICT DO NOTHING", (secrets.token_bytes(32),)
    )
    cur = await conn.execute("SELECT secret FROM console_session_secret")
    row = await cur.fetchone()
    if row is None:  # the insert above committed or met the row: only a concurrent DELETE gets here
        raise RuntimeError("console_session_secret is empty")
    return bytes(row[0])
