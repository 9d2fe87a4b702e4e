"""Staff notes: what happened outside the channels (a visit, a meeting, a call from a personal
phone), or an internal remark on any timeline entry.

A note is an interaction like any other (channel ``other``, kind ``note``, provider
``console``), produced to ``omnitrail.interactions.v1`` through the normal emitter, so it
reaches the timeline table and topic through the pipeline: dedupe, identity, outbox. It is
addressed to one of the contact's own identifiers, which is how identity files it under the
contact (and under the survivor after any merge) without a side channel.

Idempotent: the interaction id derives from a key the caller chooses (``note_id``; for
suggestion handling, the suggestion and the action), so a retry is the same interaction,
stored once.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi import HTTPException

from connectors.emitter import Emitter
from console.auth import Principal
from schemas.errors import RetriableError
from schemas.identifiers import Identifier, IdentifierKind
from schemas.interaction import Channel, Direction, Interaction, InteractionKind, Party, PartyRole, Provider
from sinks import queries
from sinks.connection import ConnectionFactory

ACCOUNT = "console"


class NoteWriter:
    """Builds a note for a contact and makes it durable on the interactions topic."""

    def __init__(self, connection: ConnectionFactory, emitter: Emitter) -> None:
        self._connection = connection
        self._emitter = emitter

    async def write(
        self,
        contact_id: uuid.UUID,
        author: Principal,
        *,
        key: str,
        text: str,
        about: uuid.UUID | None = None,
        occurred_at: datetime | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> uuid.UUID:
        """The note's interaction id; HTTPException 404/409/503 for what the caller must fix or retry."""
        async with self._connection() as conn:
            contact = await queries.get_contact(conn, contact_id)
            entry = await queries.interaction(conn, about) if about else None
        if contact is None:
            raise HTTPException(404, "no such contact")
        if about and (entry is None or entry[0] != contact.contact_id):
            raise HTTPException(404, "no such entry in this contact's timeline")
        if not contact.identifiers:
            raise HTTPException(409, "the contact has no identifier to file a note under")
        # Snapshots are built without validation (kinds may be plain strings): validate the one we use.
        identifier = min(
            (Identifier(kind=IdentifierKind(str(i.kind)), value=i.value) for i in contact.identifiers),
            key=lambda i: i.key,
        )
        now = datetime.now(UTC)
        note = Interaction.build(
            channel=Channel.other,
            provider=Provider.console,
            account=ACCOUNT,
            direction=Direction.outbound,
            kind=InteractionKind.note,
            occurred_at=occurred_at or now,
            received_at=now,
            external_id=key,
            # A note on an entry joins that entry's thread, so it shows up next to it.
            thread_key=(entry[1].get("thread_key") if entry else None) or f"console:{key}",
            in_reply_to=about,
            sender=Party(display_name=author.name, role=PartyRole.us),
            recipients=[Party(identifiers=[identifier])],
            text=text,
            metadata={"author": author.name, "author_role": author.role, **(metadata or {})},
        )
        try:
            await self._emitter.emit(note)
        except RetriableError as exc:
            raise HTTPException(503, "broker unavailable, retry with the same request", {"Retry-After": "2"}) from exc
        return note.interaction_id
