"""Status callbacks and edits: they update the interaction they refer to, never add a row."""

from __future__ import annotations

import uuid
from typing import Any

from psycopg import AsyncConnection

from schemas.interaction import Interaction, InteractionKind

Conn = AsyncConnection[tuple[Any, ...]]


async def apply(conn: Conn, updates: list[Interaction]) -> list[tuple[uuid.UUID, Interaction]]:
    """Apply in arrival order; return (contact id, update) for each that found its target."""
    applied = []
    for update in updates:
        assert update.status is not None  # guaranteed by the model for these kinds
        target = update.status.target_interaction_id
        if update.kind is InteractionKind.status:
            cur = await conn.execute(
                "UPDATE interactions SET delivery_status = %s WHERE interaction_id = %s RETURNING contact_id",
                (update.status.status, target),
            )
        else:
            cur = await conn.execute(
                """
                UPDATE interactions
                   SET document = jsonb_set(jsonb_set(document, '{text}', to_jsonb(%s::text)),
                                            '{metadata,edited_at}', to_jsonb(%s::text))
                 WHERE interaction_id = %s RETURNING contact_id
                """,
                (update.text, update.occurred_at.isoformat(), target),
            )
        row = await cur.fetchone()
        if row is not None:
            applied.append((row[0], update))
    return applied
