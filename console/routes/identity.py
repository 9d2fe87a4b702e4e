"""``/api/v1``: merge and unmerge by hand, identity review items (list, accept = merge, reject).

Every change commits with its events in the transactional outbox, then ``drain`` publishes
them from this process (the worker only drains after its own batches); if the broker is
down the events wait in the outbox and the next drain, here or in a worker, sends them.
"""

from __future__ import annotations

import uuid
from contextlib import suppress
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Body, HTTPException, Query
from pydantic import BaseModel, ConfigDict, Field

from console.audit import Audit
from console.auth import Principal
from pipeline import retry
from schemas.errors import InvalidPayload
from schemas.identifiers import Identifier, IdentifierKind
from sinks import contact_store, merges, review_store
from sinks.connection import ConnectionFactory
from sinks.outbox import Drain


class MergeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    contact_id: uuid.UUID


class UnmergeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    merge_id: uuid.UUID | None = None


class MergeResult(BaseModel):
    merge_id: uuid.UUID
    survivor_id: uuid.UUID
    merged_id: uuid.UUID


class ReviewItem(BaseModel):
    review_id: uuid.UUID
    contact_a: uuid.UUID
    contact_b: uuid.UUID
    rule: str
    evidence: dict[str, Any]
    status: str
    created_at: datetime
    decided_at: datetime | None = None
    decided_by: str | None = None


class ReviewPage(BaseModel):
    items: list[ReviewItem]


class SharedFlag(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: IdentifierKind
    value: str = Field(min_length=1, max_length=320, description="any spelling; normalized like everywhere else")
    shared: bool = True


class SharedResult(BaseModel):
    identifier: Identifier
    shared: bool
    contact_id: uuid.UUID


def router(connection: ConnectionFactory, audit: Audit, drain: Drain, *, default_region: str) -> APIRouter:
    api = APIRouter(prefix="/api/v1", tags=["identity"])
    # Names, not annotations: the string annotations of this module cannot see locals.
    merger, unmerger = audit.contact("contact.merge", "admin"), audit.contact("contact.unmerge", "admin")
    admin, reader = audit.principal("admin"), audit.principal("agent")

    async def merged(
        who: Principal, target: uuid.UUID, other: uuid.UUID, cause: str, rule: str, evidence: dict[str, Any]
    ) -> MergeResult:
        async def attempt() -> merges.MergeRecord:
            async with connection() as conn, conn.transaction():
                await audit.record(conn, who, "contact.merge", other)  # the other person's data changes too
                return await merges.merge_pair(conn, target, other, cause=cause, rule=rule, evidence=evidence)

        try:
            record = await retry.forever("manual merge", attempt, cap=0.5)
        except merges.NoSuchMerge as exc:
            raise HTTPException(404, str(exc)) from None
        except (merges.SameContact, merges.ErasedContact) as exc:
            raise HTTPException(409, str(exc)) from None
        await drain()
        return MergeResult(merge_id=record.merge_id, survivor_id=record.survivor, merged_id=record.merged)

    @api.post("/contacts/{contact_id}/merge", response_model=MergeResult)
    async def merge(contact_id: uuid.UUID, body: MergeRequest, who: Principal = merger) -> MergeResult:
        """Merge the contact named in the body into this one (recorded; undo with unmerge)."""
        return await merged(who, contact_id, body.contact_id, f"console:{who.actor}", "manual", {})

    @api.post("/contacts/{contact_id}/unmerge", response_model=MergeResult)
    async def unmerge(
        contact_id: uuid.UUID,
        body: UnmergeRequest | None = Body(default=None),  # noqa: B008  # FastAPI's way to make a body optional
        who: Principal = unmerger,
    ) -> MergeResult:
        """Undo one merge of this contact (``merge_id``; default: the most recent), restoring both as they were."""
        merge_id = body.merge_id if body else None

        async def attempt() -> merges.MergeRecord:
            async with connection() as conn, conn.transaction():
                record = await merges.unmerge_and_announce(conn, contact_id, merge_id, by=who.actor)
                for other in {record.survivor, record.merged} - {contact_id}:  # the other person's data changes too
                    await audit.record(conn, who, "contact.unmerge", other)
                return record

        try:
            record = await retry.forever("unmerge", attempt, cap=0.5)
        except merges.NoSuchMerge as exc:
            raise HTTPException(404, str(exc)) from None
        await drain()
        return MergeResult(merge_id=record.merge_id, survivor_id=record.survivor, merged_id=record.merged)

    @api.get("/identity/reviews", response_model=ReviewPage)
    async def reviews(
        status: Literal["open", "accepted", "rejected"] = "open",
        limit: int = Query(default=50, ge=1, le=500),
        contact_id: uuid.UUID | None = None,
        who: Principal = reader,
    ) -> ReviewPage:
        """Merge suggestions from weak evidence and phone pitfalls, oldest first; ``contact_id``: those naming
        that contact (on either side), audited as a read of that contact."""
        await audit.write(who, "reviews.list", contact_id)
        async with connection() as conn:
            found = await review_store.listing(conn, status, limit, contact=contact_id)
        return ReviewPage(items=[ReviewItem(**r.__dict__) for r in found])

    async def decide(who: Principal, review_id: uuid.UUID, status: Literal["accepted", "rejected"]) -> ReviewItem:
        async def attempt() -> review_store.Review:
            async with connection() as conn, conn.transaction():
                item = await review_store.lock(conn, review_id)
                if item is None:
                    raise HTTPException(404, "no such review item")
                for contact in (item.contact_a, item.contact_b):
                    await audit.record(conn, who, f"review.{status.removesuffix('ed')}", contact)
                if item.status != "open":
                    raise HTTPException(409, f"already {item.status}")
                if status == "accepted":
                    # Merged meanwhile by other evidence: accepting is still the right record.
                    with suppress(merges.SameContact):
                        try:
                            await merges.merge_pair(
                                conn,
                                item.contact_a,
                                item.contact_b,
                                cause=f"review:{review_id}",
                                rule=item.rule,
                                evidence=item.evidence,
                                older_survives=True,
                            )
                        except merges.ErasedContact as exc:
                            raise HTTPException(409, str(exc)) from None
                await review_store.decide(conn, review_id, status, who.actor)
                decided = await review_store.lock(conn, review_id)
                assert decided is not None  # locked by this transaction
                return decided

        decided = await retry.forever("review decision", attempt, cap=0.5)
        await drain()
        return ReviewItem(**decided.__dict__)

    @api.post("/identity/reviews/{review_id}/accept", response_model=ReviewItem)
    async def accept(review_id: uuid.UUID, who: Principal = admin) -> ReviewItem:
        """Accept: the two contacts merge (the older survives), recorded and reversible."""
        return await decide(who, review_id, "accepted")

    @api.post("/identity/reviews/{review_id}/reject", response_model=ReviewItem)
    async def reject(review_id: uuid.UUID, who: Principal = admin) -> ReviewItem:
        """Reject: the pair stays apart and is not proposed again for this rule."""
        return await decide(who, review_id, "rejected")

    @api.post("/identity/shared", response_model=SharedResult)
    async def shared(body: SharedFlag, who: Principal = admin) -> SharedResult:
        """Mark an identifier shared (e.g. a family phone): it stays with its contact and never merges people."""
        try:
            identifier = Identifier.of(body.kind, body.value, default_region=default_region)
        except InvalidPayload as exc:
            raise HTTPException(400, f"value: {exc.reason}") from None
        async with connection() as conn, conn.transaction():
            contact = await contact_store.mark_shared(conn, identifier, body.shared)
            if contact is not None:
                await audit.record(conn, who, "identity.shared", contact)
        if contact is None:
            raise HTTPException(404, "no contact has this identifier")
        return SharedResult(identifier=identifier, shared=body.shared, contact_id=contact)

    return api
