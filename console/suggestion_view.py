"""Suggestions as the console shows them: a merge review names the other contact of the pair by
its name (else its first identifier as people write it), with its id for a link to its page."""

from __future__ import annotations

import uuid

from console.routes.contacts import shown
from sinks import suggestion_queries
from sinks.connection import Conn
from sinks.suggestion_queries import ContactRef, HandledSuggestion, Party


def label(party: Party, default_region: str) -> str:
    if party.display_name:
        return party.display_name
    if party.identifier:
        return shown(*party.identifier, default_region)
    return "(no name)"


async def with_other_contacts(
    conn: Conn, items: list[HandledSuggestion], default_region: str
) -> list[HandledSuggestion]:
    named, _ = await with_other_contacts_and_parties(conn, items, [], default_region)
    return named


async def with_other_contacts_and_parties(
    conn: Conn, items: list[HandledSuggestion], contact_ids: list[uuid.UUID], default_region: str
) -> tuple[list[HandledSuggestion], dict[uuid.UUID, Party]]:
    """``with_other_contacts``, and the parties of ``contact_ids`` read in the same statement."""
    found = await suggestion_queries.parties(conn, contact_ids, items)
    named = [
        s.model_copy(update={"other_contact": ContactRef(contact_id=p.contact_id, label=label(p, default_region))})
        if (p := found.other_sides.get(s.suggestion_id))
        else s
        for s in items
    ]
    return named, found.contacts
