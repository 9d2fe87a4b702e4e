"""``GET /api/v1/contacts/{id}/events``: a contact's timeline events as server-sent events, from the
process's :class:`console.live_feed.TimelineFeed`."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, HTTPException
from fastapi.responses import StreamingResponse

from console.audit import Audit
from console.auth import Principal, TokenAuth
from console.live_feed import TimelineFeed
from sinks import person, queries
from sinks.connection import ConnectionFactory


def router(connection: ConnectionFactory, audit: Audit, feed: TimelineFeed, auth: TokenAuth) -> APIRouter:
    api = APIRouter(prefix="/api/v1", tags=["contacts"])
    # A name, not an annotation: the string annotations of this module cannot see locals.
    listener = audit.contact("timeline.live")

    @api.get(
        "/contacts/{contact_id}/events",
        response_class=StreamingResponse,
        responses={200: {"content": {"text/event-stream": {}}}},
    )
    async def live(contact_id: uuid.UUID, who: Principal = listener) -> StreamingResponse:
        """Server-sent events: each timeline event (``interaction.added``, ``.updated``, ``.redacted``,
        ``contact.*``) of this contact, or of a contact merged into it, as it happens, whole. Ends when the
        caller's sign-in ends (sign-out, revocation, a disabled account or changed role, expiry)."""
        async with connection() as conn:
            survivor = await queries.resolve(conn, contact_id)
            # members_of re-resolves: a survivor merged away since resolve() still brings its new survivor.
            members = await person.members_of(conn, [survivor]) if survivor else set()
        if survivor is None:
            raise HTTPException(404, "no such contact")
        return feed.response(feed.subscribe(members), who, auth.still_allowed)

    return api
