"""Timeline rows: one per interaction id, inserted idempotently by one COPY and one statement per batch."""

from __future__ import annotations

import uuid

from schemas.interaction import Interaction
from sinks.connection import Conn

#: The per-session staging table, emptied before each COPY (one round trip, two statements): a commit
#: empties it anyway (ON COMMIT DELETE ROWS), so this only matters to a second insert in one transaction.
_STAGING = """
CREATE TEMP TABLE IF NOT EXISTS interactions_incoming (
    interaction_id uuid, contact_id uuid, channel text, direction text, kind text,
    occurred_at timestamptz, received_at timestamptz, thread_key text, document text
) ON COMMIT DELETE ROWS;
DELETE FROM interactions_incoming
"""


#: The staging table's column types, in order: binary COPY sends each value in its type's binary form.
_STAGING_TYPES = ["uuid", "uuid", "text", "text", "text", "timestamptz", "timestamptz", "text", "text"]


async def insert(conn: Conn, rows: list[tuple[uuid.UUID, Interaction, str]]) -> set[uuid.UUID]:
    """Insert (contact id, interaction, its JSON); return the ids that were new.

    The rows are streamed with COPY into a per-session staging table and inserted from there in one
    statement: building ``unnest`` arrays costs psycopg ~75 µs of client CPU per 1.2 KB row (it escapes
    every element in Python), COPY ~10 (benchmarks/micro.py). Binary COPY: psycopg writes uuids and
    timestamps as their bytes instead of formatting and escaping text (client ~8.8 -> ~4.0 µs per row),
    and the server copies them instead of parsing (~8.0 -> ~5.9 µs per row). ``ON CONFLICT DO NOTHING``
    on the primary key is what makes any replay harmless; ``ORDER BY`` keeps one lock order across workers.
    """
    if not rows:
        return set()
    if conn.autocommit:  # the staging rows live until the end of the transaction: make sure there is one
        async with conn.transaction():
            return await _insert(conn, rows)
    return await _insert(conn, rows)


async def _insert(conn: Conn, rows: list[tuple[uuid.UUID, Interaction, str]]) -> set[uuid.UUID]:
    await conn.execute(_STAGING)
    async with conn.cursor() as cur:
        async with cur.copy("COPY interactions_incoming FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(_STAGING_TYPES)
            for contact_id, i, document in rows:
                await copy.write_row(
                    (
                        i.interaction_id,
                        contact_id,
                        i.channel.value,
                        i.direction.value,
                        i.kind.value,
                        i.occurred_at,
                        i.received_at,
                        i.thread_key,
                        document,
                    )
                )
        # Read in place, not through ``WITH staged AS (DELETE ... RETURNING *)``, which copied every staged
        # row into a tuple store and deleted it: ~1-1.5 µs of the database per row (40 alternating batches).
        await cur.execute(
            """
            INSERT INTO interactions (interaction_id, contact_id, channel, direction, kind,
                                      occurred_at, received_at, thread_key, document)
            SELECT interaction_id, contact_id, channel, direction, kind,
                   occurred_at, received_at, thread_key, document::jsonb
              FROM interactions_incoming ORDER BY interaction_id
            ON CONFLICT (interaction_id) DO NOTHING
            RETURNING interaction_id
            """
        )
        inserted = {row[0] for row in await cur.fetchall()}
    return inserted


async def attach(conn: Conn, rows: list[tuple[uuid.UUID, uuid.UUID, Interaction]]) -> None:
    """Attach (interaction id, contact id) pairs: the contacts of an interaction's other customer parties.

    Its first customer's contact is the row's own ``contact_id`` and gets no link (migration 0015):
    that link cost the database ~15 µs per interaction and made the worst-case timeline page
    semi-join every link of the contact. Timelines read both (:func:`sinks.queries.timeline`)."""
    if not rows:
        return
    rows = sorted(rows, key=lambda r: (r[0], r[1]))
    await conn.execute(
        """
        INSERT INTO interaction_contacts (interaction_id, contact_id, occurred_at)
        SELECT * FROM unnest(%b::uuid[], %b::uuid[], %b::timestamptz[])
        ON CONFLICT DO NOTHING
        """,
        ([r[0] for r in rows], [r[1] for r in rows], [r[2].occurred_at for r in rows]),
    )
