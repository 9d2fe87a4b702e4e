"""``/api/v1/inbox``: the open work the console's home view shows after sign-in, and
``/api/v1/events``: every contact's timeline events, live, so that view stays current.

Open work is conversations waiting for our reply (their latest message or call is the
customer's, and not a closing thank-you) and open suggestions, across every contact: the
caller's own first (assigned to them), then unassigned, then the rest; newest first within each.
"Mine" compares account ids, never names: assigned to the signed-in staff account (free text
assigned where there are no accounts counts as the caller's when it is the caller's token
fingerprint). A possible duplicate (merge review) is one item naming both contacts, though the
engine files a suggestion on each.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from console.audit import Audit
from console.auth import Principal, TokenAuth
from console.live_feed import TimelineFeed
from console.routes.contacts import party_display
from console.suggestion_view import label, with_other_contacts_and_parties
from pipeline.stages.suggestion_rules import closing
from sinks import inbox_queries, suggestion_queries
from sinks.connection import ConnectionFactory
from sinks.suggestion_queries import HandledSuggestion

_WAITING_DAYS = 30
_PREVIEW = 160


class Conversation(BaseModel):
    contact_id: uuid.UUID
    display_name: str | None
    interaction_id: uuid.UUID = Field(description="The customer's latest message or call in it")
    channel: str
    thread_key: str | None
    subject: str | None
    preview: str = Field(description="The start of that message's text")
    sender_display: str | None
    occurred_at: datetime
    assignee: str | None = Field(description="Who an open suggestion of this contact is assigned to")
    mine: bool = Field(description="That suggestion is assigned to the caller's account")


class InboxSuggestion(HandledSuggestion):
    display_name: str | None = None
    label: str = Field(
        default="(no name)", description="The contact's name, else its first identifier as people write it"
    )
    mine: bool = Field(default=False, description="Assigned to the caller's account (assignee_id is me_id)")


class Inbox(BaseModel):
    me: str = Field(description="Who is asking, by name")
    me_id: str = Field(description="The caller's account id (a staff email; a token's fingerprint)")
    conversations: list[Conversation]
    suggestions: list[InboxSuggestion]


def _assigned_to(s: HandledSuggestion) -> str | None:
    """Who a suggestion is assigned to, by id: the staff account, else the free text typed."""
    return s.assignee_id or s.assignee


def _rank(assigned_to: str | None, me: str) -> int:
    return 0 if assigned_to == me else 1 if assigned_to is None else 2


def _one_per_item(items: list[HandledSuggestion]) -> list[HandledSuggestion]:
    """One suggestion per merge review (its two sides share their handling), the first seen."""
    seen: set[uuid.UUID] = set()
    kept = []
    for s in items:
        if s.review_id is None or s.review_id not in seen:
            kept.append(s)
        if s.review_id is not None:
            seen.add(s.review_id)
    return kept


def router(
    connection: ConnectionFactory, audit: Audit, feed: TimelineFeed, auth: TokenAuth, *, default_region: str
) -> APIRouter:
    api = APIRouter(prefix="/api/v1", tags=["inbox"])
    reader = audit.anonymous_read("inbox.read")
    listener = audit.anonymous_read("events.live")

    @api.get("/inbox", response_model=Inbox)
    async def inbox(limit: int = Query(default=50, ge=1, le=200), who: Principal = reader) -> Inbox:
        """Conversations waiting for a reply (active in the last 30 days) and open suggestions, every contact."""
        since = datetime.now(UTC) - timedelta(days=_WAITING_DAYS)
        async with connection() as conn:
            waiting = await inbox_queries.waiting(conn, since=since, limit=limit * 2)
            page = await suggestion_queries.page(conn, "open", rule=None, limit=limit, cursor=None)
            items, names = await with_other_contacts_and_parties(
                conn, _one_per_item(page.items), [s.contact_id for s in page.items], default_region
            )
        me = who.actor
        assigned: dict[uuid.UUID, HandledSuggestion] = {}
        for s in page.items:
            if s.assignee and (s.contact_id not in assigned or _assigned_to(s) == me):
                assigned[s.contact_id] = s
        conversations = []
        for w in waiting:
            doc: dict[str, Any] = w.document
            if closing(doc.get("text")):
                continue  # the customer closed it with a thank-you: nothing to answer
            assignment = assigned.get(w.contact_id)
            conversations.append(
                Conversation(
                    contact_id=w.contact_id,
                    display_name=w.display_name,
                    interaction_id=doc["interaction_id"],
                    channel=doc["channel"],
                    thread_key=doc.get("thread_key"),
                    subject=doc.get("subject"),
                    preview=(doc.get("text") or "")[:_PREVIEW],
                    sender_display=party_display(doc.get("sender"), default_region),
                    occurred_at=doc["occurred_at"],
                    assignee=assignment.assignee if assignment else None,
                    mine=assignment is not None and _assigned_to(assignment) == me,
                )
            )
        suggestions = []
        for s in items:
            party = names.get(s.contact_id)
            shown = {
                "display_name": party.display_name if party else None,
                "label": label(party, default_region) if party else "(no name)",
                "mine": _assigned_to(s) == me,
            }
            suggestions.append(InboxSuggestion.model_validate({**s.model_dump(), **shown}))
        # Stable sorts: newest first, then mine / unassigned / others.
        conversations.sort(key=lambda c: c.occurred_at, reverse=True)
        conversations.sort(key=lambda c: 0 if c.mine else 1 if c.assignee is None else 2)
        suggestions.sort(key=lambda s: s.opened_at, reverse=True)
        suggestions.sort(key=lambda s: _rank(_assigned_to(s), me))
        return Inbox(me=who.name, me_id=me, conversations=conversations[:limit], suggestions=suggestions)

    @api.get("/events", response_class=StreamingResponse, responses={200: {"content": {"text/event-stream": {}}}})
    async def events(who: Principal = listener) -> StreamingResponse:
        """Server-sent events: that some contact's timeline changed, as it happens (what keeps the home view
        current): each event's ``type`` and ``contact_id`` only, never its content. Ends when the caller's
        sign-in ends (sign-out, revocation, a disabled account or changed role, expiry)."""
        return feed.response(feed.subscribe(None), who, auth.still_allowed)

    return api
