"""Attribute definitions and contact attribute values in PostgreSQL.

Definitions are rows, read per request/import: a new attribute is usable at once by every
process, without a migration or a restart. Values are stored typed (``jsonb``) under the
contact they were given for; a live contact shows the values of every contact merged into it
(see :func:`sinks.contact_store.snapshots`), so an unmerge gives each its own back.
"""

from __future__ import annotations

import uuid

import orjson

from schemas.attributes import AttributeDefinition, AttributeType
from schemas.contact import AttributeValue
from schemas.errors import InvalidPayload
from sinks.connection import Conn


async def definitions(conn: Conn) -> dict[str, AttributeDefinition]:
    cur = await conn.execute("SELECT name, type, enum_values FROM attribute_definitions ORDER BY name")
    return {
        name: AttributeDefinition(name=name, type=AttributeType(kind), values=values)
        for name, kind, values in await cur.fetchall()
    }


async def define(conn: Conn, definition: AttributeDefinition) -> bool:
    """Create the definition; True if new. Defining it again identically is a no-op; differently, an error."""
    cur = await conn.execute(
        """
        INSERT INTO attribute_definitions (name, type, enum_values) VALUES (%s, %s, %s)
        ON CONFLICT (name) DO NOTHING RETURNING name
        """,
        (definition.name, definition.type.value, definition.values),
    )
    if await cur.fetchone():
        return True
    existing = (await definitions(conn)).get(definition.name)
    if existing != definition:
        raise InvalidPayload(f"attribute {definition.name} is already defined differently")
    return False


async def set_values(conn: Conn, rows: list[tuple[uuid.UUID, str, AttributeValue]], *, source: str) -> set[uuid.UUID]:
    """Upsert (contact, name, typed value); return the contacts whose values actually changed."""
    if not rows:
        return set()
    latest = {(c, n): v for c, n, v in rows}  # the last value given for a contact and name wins
    keys = sorted(latest, key=lambda k: (k[0], k[1]))
    cur = await conn.execute(
        """
        INSERT INTO contact_attributes (contact_id, name, value, source)
        SELECT c, n, v::jsonb, %s FROM unnest(%b::uuid[], %b::text[], %b::text[]) AS t(c, n, v)
        ON CONFLICT (contact_id, name) DO UPDATE
           SET value = excluded.value, source = excluded.source, updated_at = clock_timestamp()
         WHERE contact_attributes.value IS DISTINCT FROM excluded.value
        RETURNING contact_id
        """,
        (
            source,
            [k[0] for k in keys],
            [k[1] for k in keys],
            [orjson.dumps(latest[k]).decode() for k in keys],
        ),
    )
    return {row[0] for row in await cur.fetchall()}


async def contacts_with(conn: Conn, name: str, value: AttributeValue, limit: int) -> list[uuid.UUID]:
    """Live contacts (survivors) whose own or merged-in contacts carry this typed value."""
    cur = await conn.execute(
        """
        SELECT DISTINCT coalesce(c.merged_into, c.contact_id)
          FROM contact_attributes a JOIN contacts c ON c.contact_id = a.contact_id
         WHERE a.name = %s AND a.value = %s::jsonb
         LIMIT %s
        """,
        (name, orjson.dumps(value).decode(), limit),
    )
    return [row[0] for row in await cur.fetchall()]
