"""``GET /api/v1/staff`` (agent role): the enabled staff accounts a suggestion can be assigned to."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from console.audit import Audit
from sinks import staff_store
from sinks.connection import ConnectionFactory


class Colleague(BaseModel):
    id: str = Field(description="The account's id (its email): what assignment takes as assignee_id")
    name: str


class Colleagues(BaseModel):
    items: list[Colleague] = Field(description="By name; empty in a deployment without staff accounts")


def router(connection: ConnectionFactory, audit: Audit) -> APIRouter:
    api = APIRouter(prefix="/api/v1", tags=["staff"])

    @api.get("/staff", response_model=Colleagues, dependencies=[audit.principal("agent")])
    async def colleagues() -> Colleagues:
        """Enabled staff accounts, to pick an assignee from."""
        async with connection() as conn:
            found = await staff_store.listing(conn)
        enabled = sorted((m for m in found if m.disabled_at is None), key=lambda m: (m.name.casefold(), m.email))
        return Colleagues(items=[Colleague(id=m.email, name=m.name) for m in enabled])

    return api
