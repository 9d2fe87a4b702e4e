"""``POST /api/v1/contacts/{id}/notes``: staff notes on a timeline (written by :class:`console.notes.NoteWriter`)."""

from __future__ import annotations

import uuid
from datetime import datetime

from fastapi import APIRouter, status
from pydantic import BaseModel, Field

from console.audit import Audit
from console.auth import Principal
from console.notes import NoteWriter


class NoteRequest(BaseModel):
    note_id: uuid.UUID = Field(description="Chosen by the client; retrying with the same id stores the note once.")
    text: str = Field(min_length=1, max_length=20_000)
    about: uuid.UUID | None = Field(default=None, description="The timeline entry this note is on, if any.")
    occurred_at: datetime | None = Field(default=None, description="When it happened (default: now).")


class NoteAccepted(BaseModel):
    interaction_id: uuid.UUID


def router(audit: Audit, notes: NoteWriter) -> APIRouter:
    api = APIRouter(prefix="/api/v1", tags=["notes"])
    # A name, not an annotation: the string annotations of this module cannot see locals.
    note_author = audit.contact("note.add")

    @api.post("/contacts/{contact_id}/notes", response_model=NoteAccepted, status_code=status.HTTP_202_ACCEPTED)
    async def add_note(contact_id: uuid.UUID, body: NoteRequest, author: Principal = note_author) -> NoteAccepted:
        """Log a note on the contact's timeline. 202: durable on the broker; the timeline shows it
        once the pipeline has stored it (seconds), and live pages receive it as any interaction."""
        interaction_id = await notes.write(
            contact_id,
            author,
            key=f"note:{body.note_id}",
            text=body.text,
            about=body.about,
            occurred_at=body.occurred_at,
        )
        return NoteAccepted(interaction_id=interaction_id)

    return api
