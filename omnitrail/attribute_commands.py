"""``omnitrail attributes define|list``: attribute definitions from the command line."""

from __future__ import annotations

from typing import Any

import psycopg
from pydantic import ValidationError

from schemas.attributes import AttributeDefinition
from schemas.errors import FatalError, InvalidPayload
from sinks import attribute_store


async def define(database_url: str, name: str, kind: str, values: str | None) -> bool:
    """Define an attribute; True if new. Bad names/types and conflicting definitions become FatalError."""
    enum_values = [v.strip() for v in values.split(",") if v.strip()] if values else None
    try:
        definition = AttributeDefinition.model_validate({"name": name, "type": kind, "values": enum_values})
    except ValidationError as exc:
        raise FatalError(
            "; ".join(f"{'.'.join(map(str, e['loc'])) or 'definition'}: {e['msg']}" for e in exc.errors())
        ) from None
    conn: psycopg.AsyncConnection[tuple[Any, ...]]
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        try:
            return await attribute_store.define(conn, definition)
        except InvalidPayload as exc:
            raise FatalError(exc.reason) from None


async def listing(database_url: str) -> list[AttributeDefinition]:
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        return list((await attribute_store.definitions(conn)).values())
