"""``/api/v1``: custom attribute definitions, a contact's attribute values, search by attribute.

Definitions are read from the database on every request, so an attribute defined a moment ago
(by this API or by ``omnitrail attributes define``) is usable at once, with no restart.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel

from console.audit import Audit
from schemas import topics
from schemas.attributes import AttributeDefinition, coerce
from schemas.contact import AttributeValue, Contact
from schemas.errors import InvalidPayload
from sinks import attribute_store, contact_store, outbox, queries
from sinks.connection import ConnectionFactory
from sinks.outbox import Drain


class DefinitionList(BaseModel):
    items: list[AttributeDefinition]


class AttributeContacts(BaseModel):
    items: list[Contact]


def router(connection: ConnectionFactory, audit: Audit, drain: Drain) -> APIRouter:
    api = APIRouter(prefix="/api/v1", tags=["attributes"])
    agent, admin = audit.principal("agent"), audit.principal("admin")

    @api.get("/attributes", response_model=DefinitionList, dependencies=[agent])
    async def list_definitions() -> DefinitionList:
        async with connection() as conn:
            return DefinitionList(items=list((await attribute_store.definitions(conn)).values()))

    @api.post("/attributes", response_model=AttributeDefinition, status_code=201, dependencies=[admin])
    async def define(definition: AttributeDefinition) -> AttributeDefinition:
        """Define an attribute (idempotent: the same definition again is fine; a different one is 409)."""
        async with connection() as conn:
            try:
                await attribute_store.define(conn, definition)
            except InvalidPayload as exc:
                raise HTTPException(409, exc.reason) from None
        return definition

    @api.patch(
        "/contacts/{contact_id}/attributes",
        response_model=Contact,
        dependencies=[audit.contact("attributes.set", "admin")],
    )
    async def set_attributes(contact_id: uuid.UUID, values: dict[str, Any]) -> Contact:
        """Admins: set attribute values (validated against their definitions) on the contact; all or nothing.

        Agents read; changing what is recorded about a person is an admin's act, like every other change."""
        async with connection() as conn, conn.transaction():
            survivor = await queries.resolve(conn, contact_id)
            if survivor is None:
                raise HTTPException(404, "no such contact")
            known = await attribute_store.definitions(conn)
            typed: list[tuple[uuid.UUID, str, AttributeValue]] = []
            for name, raw in values.items():
                if name not in known:
                    raise HTTPException(400, f"attribute {name} is not defined")
                try:
                    typed.append((survivor, name, coerce(known[name], raw)))
                except InvalidPayload as exc:
                    raise HTTPException(400, exc.reason) from None
            changed = await attribute_store.set_values(conn, typed, source="api")
            [snapshot] = await contact_store.snapshots(conn, [survivor])
            if changed:
                await outbox.append(
                    conn, [(topics.CONTACTS, str(survivor).encode(), snapshot.model_dump_json().encode())]
                )
        await drain()
        return snapshot

    @api.get(
        "/attributes/{name}/contacts",
        response_model=AttributeContacts,
        dependencies=[audit.anonymous_read("attributes.search")],
    )
    async def search(
        name: str,
        value: str = Query(max_length=200, description="compared as the attribute's type"),
        limit: int = Query(default=50, ge=1, le=500),
    ) -> AttributeContacts:
        """Contacts whose attribute equals the value (typed: ``42`` matches 42.0, ``yes`` matches true)."""
        async with connection() as conn:
            definition = (await attribute_store.definitions(conn)).get(name)
            if definition is None:
                raise HTTPException(404, f"attribute {name} is not defined")
            try:
                typed = coerce(definition, value)
            except InvalidPayload as exc:
                raise HTTPException(400, exc.reason) from None
            ids = await attribute_store.contacts_with(conn, name, typed, limit)
            found = await contact_store.snapshots(conn, ids)
        return AttributeContacts(items=sorted(found, key=lambda c: (c.display_name or "", str(c.contact_id))))

    return api
