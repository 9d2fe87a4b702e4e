"""The audit log (migration 0010): who read or changed which contact's data, when, and how.

Rows name the caller by token fingerprint and role, never by token, and the action by a fixed
name (``contact.read``, ``timeline.read``...), never by what was searched or written: the log
must not become a second copy of the personal data it watches over.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sinks.connection import Conn


@dataclass(frozen=True)
class AuditEntry:
    audit_id: int
    at: datetime
    actor: str
    role: str
    action: str
    contact_id: uuid.UUID | None
    via: str


async def record(conn: Conn, *, actor: str, role: str, action: str, contact_id: uuid.UUID | None, via: str) -> None:
    await conn.execute(
        "INSERT INTO audit_log (actor, role, action, contact_id, via) VALUES (%s, %s, %s, %s, %s)",
        (actor, role, action, contact_id, via),
    )


async def read(
    conn: Conn, *, contact_id: uuid.UUID | None, actor: str | None, before: int | None, limit: int
) -> list[AuditEntry]:
    """Newest first; ``before`` is the last ``audit_id`` of the previous page."""
    cur = await conn.execute(
        """
        SELECT audit_id, at, actor, role, action, contact_id, via FROM audit_log
         WHERE (%s::uuid IS NULL OR contact_id = %s)
           AND (%s::text IS NULL OR actor = %s)
           AND (%s::bigint IS NULL OR audit_id < %s)
         ORDER BY audit_id DESC
         LIMIT %s
        """,
        (contact_id, contact_id, actor, actor, before, before, limit),
    )
    return [AuditEntry(*row) for row in await cur.fetchall()]
