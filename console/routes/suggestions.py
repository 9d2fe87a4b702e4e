"""``/api/v1`` suggestion routes (agent role): a contact's next actions, and every open one."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel

from console.audit import Audit
from console.suggestion_view import with_other_contacts
from schemas.errors import InvalidPayload
from schemas.suggestion import SuggestionRule
from sinks import suggestion_queries
from sinks.connection import ConnectionFactory
from sinks.suggestion_queries import HandledSuggestion, StatusFilter


class SuggestionList(BaseModel):
    items: list[HandledSuggestion]


class SuggestionPage(BaseModel):
    items: list[HandledSuggestion]
    next_cursor: str | None = None


def router(connection: ConnectionFactory, audit: Audit, *, default_region: str) -> APIRouter:
    api = APIRouter(prefix="/api/v1", tags=["suggestions"])

    @api.get(
        "/contacts/{contact_id}/suggestions",
        response_model=SuggestionList,
        dependencies=[audit.contact("suggestions.read")],
    )
    async def contact_suggestions(
        contact_id: uuid.UUID,
        status: Annotated[StatusFilter, Query(description="open, closed or all")] = "open",
    ) -> SuggestionList:
        """A contact's suggestions, newest first; a merged-away id resolves to its survivor."""
        async with connection() as conn:
            found = await suggestion_queries.for_contact(conn, contact_id, status)
            if found is None:
                raise HTTPException(404, "no such contact")
            return SuggestionList(items=await with_other_contacts(conn, found, default_region))

    @api.get("/suggestions", response_model=SuggestionPage, dependencies=[audit.anonymous_read("suggestions.list")])
    async def suggestions(
        status: Annotated[StatusFilter, Query(description="open, closed or all")] = "open",
        rule: SuggestionRule | None = None,
        cursor: str | None = Query(default=None, max_length=200),
        limit: int = Query(default=50, ge=1, le=500),
    ) -> SuggestionPage:
        """Every suggestion with this status (and rule), newest first, cursor pagination."""
        try:
            async with connection() as conn:
                page = await suggestion_queries.page(
                    conn, status, rule=rule.value if rule else None, limit=limit, cursor=cursor
                )
                items = await with_other_contacts(conn, page.items, default_region)
        except InvalidPayload as exc:
            raise HTTPException(400, exc.reason) from None
        return SuggestionPage(items=items, next_cursor=page.next_cursor)

    return api
