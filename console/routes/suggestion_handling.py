"""``/api/v1/suggestions/{id}/assign`` and ``/close``: staff take a suggestion on and close it
with an outcome.

The state lands in ``suggestion_handling`` (overlaid on every suggestion read), and each
action is also a ``note`` interaction on the contact's timeline, produced through the normal
emitter like any staff note: colleagues see who took what on, live, and it reaches the
timeline topic for every other consumer. Note keys derive from the suggestion and the action,
so a retried request is the same timeline entry.

Assignment names a staff account (``assignee_id``, its email, as ``GET /api/v1/staff`` lists them):
reads show the account's current name, and "mine" on the home view means assigned to the signed-in
account. Deployments without staff accounts (API tokens only) may assign free text (``assignee``).
A merge review is one item with a suggestion on each contact: assigning or closing either assigns
or closes both.
"""

from __future__ import annotations

import hashlib
import uuid

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field, model_validator

from console.audit import Audit
from console.auth import Principal
from console.notes import NoteWriter
from console.suggestion_view import with_other_contacts
from schemas.suggestion import SuggestionStatus
from sinks import staff_store, suggestion_handling
from sinks.connection import ConnectionFactory
from sinks.suggestion_queries import HandledSuggestion


class Assignment(BaseModel):
    assignee_id: str | None = Field(
        default=None, min_length=1, max_length=320, description="The colleague's staff account id (email)."
    )
    assignee: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="Without staff accounts: the colleague as free text (a name or handle).",
    )

    @model_validator(mode="after")
    def one_assignee(self) -> Assignment:
        if (self.assignee_id is None) == (self.assignee is None):
            raise ValueError("give either assignee_id (a staff account) or assignee (free text)")
        return self


class Closing(BaseModel):
    outcome: str = Field(min_length=1, max_length=2000, description="What was done.")


def _key(*parts: str) -> str:
    return "suggestion:" + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def router(connection: ConnectionFactory, audit: Audit, notes: NoteWriter, *, default_region: str) -> APIRouter:
    api = APIRouter(prefix="/api/v1", tags=["suggestions"])
    # A name, not an annotation: the string annotations of this module cannot see locals.
    staff = audit.principal("agent")

    async def open_suggestion(suggestion_id: uuid.UUID) -> HandledSuggestion:
        async with connection() as conn:
            found = await suggestion_handling.find(conn, suggestion_id)
            if found is None:
                raise HTTPException(404, "no such suggestion")
            [shown] = await with_other_contacts(conn, [found], default_region)
        return shown

    async def assignee_of(body: Assignment) -> tuple[str, str | None]:
        """(the name to show, the staff account id or None for free text)."""
        if body.assignee_id is None:
            return str(body.assignee), None
        account = staff_store.normal(body.assignee_id)
        async with connection() as conn:
            name = await staff_store.enabled_name(conn, account)
        if name is None:
            raise HTTPException(422, "no enabled staff account with that id")
        return name, account

    @api.post("/suggestions/{suggestion_id}/assign", response_model=HandledSuggestion)
    async def assign(suggestion_id: uuid.UUID, body: Assignment, who: Principal = staff) -> HandledSuggestion:
        """Assign an open suggestion to a colleague (again: reassign)."""
        found = await open_suggestion(suggestion_id)
        await audit.write(who, "suggestion.assign", found.contact_id)
        if found.status is not SuggestionStatus.open:
            raise HTTPException(409, "the suggestion is closed")
        name, account = await assignee_of(body)
        if (found.assignee, found.assignee_id) != (name, account):
            async with connection() as conn:
                await suggestion_handling.assign(
                    conn, suggestion_handling.item(found), assignee=name, assignee_id=account, by=who.actor
                )
        await notes.write(
            found.contact_id,
            who,
            key=_key(str(suggestion_id), "assign", account or name),
            text=f"Suggestion “{found.title}” assigned to {name}",
            metadata={"suggestion_id": str(suggestion_id), "action": "assigned", "assignee": name}
            | ({"assignee_id": account} if account else {}),
        )
        return await open_suggestion(suggestion_id)

    @api.post("/suggestions/{suggestion_id}/close", response_model=HandledSuggestion)
    async def close(suggestion_id: uuid.UUID, body: Closing, who: Principal = staff) -> HandledSuggestion:
        """Close a suggestion with what was done; it then reads as closed with that outcome."""
        found = await open_suggestion(suggestion_id)
        await audit.write(who, "suggestion.close", found.contact_id)
        if found.status is not SuggestionStatus.open and found.outcome != body.outcome:
            raise HTTPException(409, "the suggestion is already closed")
        if found.status is SuggestionStatus.open:
            async with connection() as conn:
                await suggestion_handling.close(
                    conn, suggestion_handling.item(found), outcome=body.outcome, by=who.actor
                )
        await notes.write(
            found.contact_id,
            who,
            key=_key(str(suggestion_id), "close"),
            text=f"Suggestion “{found.title}” closed: {body.outcome}",
            metadata={"suggestion_id": str(suggestion_id), "action": "closed", "outcome": body.outcome},
        )
        return await open_suggestion(suggestion_id)

    return api
