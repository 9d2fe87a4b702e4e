"""``/api/v1`` GDPR routes: erase and export a person (admin), read and record consent.

Erasure and export are admin-only: both expose or destroy everything about a person. The export
answers JSON, or with ``?include=files`` a zip of that JSON and her kept files
(:mod:`sinks.export_archive`), built in a temporary file and streamed from it. Consent
history is read by agents (they must honour it) and recorded by admins, like every change.
"""

from __future__ import annotations

import asyncio
import tempfile
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import IO, Annotated, Any, Literal

import structlog
from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from console.audit import Audit
from console.auth import Principal
from schemas.errors import RetriableError
from sinks import consent, contact_export, erasure, export_archive, queries
from sinks.connection import ConnectionFactory
from sinks.media import deletions
from sinks.media.store import CHUNK, MediaStore
from sinks.outbox import Drain

log = structlog.get_logger(__name__)

#: What the export's JSON can be answered with instead.
Include = Literal["files"]


class ErasureOut(BaseModel):
    erasure_id: uuid.UUID
    contact_id: uuid.UUID
    erased_contact_ids: list[uuid.UUID]
    identifiers_erased: int
    interactions_erased: int
    interactions_redacted: int = Field(description="Other customers' interactions her identifiers were taken out of")
    erased_at: datetime


class ConsentIn(BaseModel):
    purpose: str = Field(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_.-]*$", examples=["profiling"])
    granted: bool
    source: str = Field(
        min_length=1,
        max_length=120,
        pattern=r"^[^\x00]+$",  # PostgreSQL text cannot hold NUL
        description="How it was given or withdrawn: form, call, email",
    )


class ConsentRecord(BaseModel):
    contact_id: uuid.UUID
    purpose: str
    granted: bool
    source: str
    recorded_by: str | None
    recorded_at: datetime


class ConsentHistory(BaseModel):
    current: dict[str, bool] = Field(description="Per purpose, the latest decision")
    history: list[ConsentRecord] = Field(description="Every decision, oldest first")


async def _streamed(file: IO[bytes]) -> AsyncIterator[bytes]:
    """The file from its start, in chunks; closed (and so deleted, a temporary file) at the end."""
    try:
        await asyncio.to_thread(file.seek, 0)
        while chunk := await asyncio.to_thread(file.read, CHUNK):
            yield chunk
    finally:
        file.close()


def router(
    connection: ConnectionFactory,
    audit: Audit,
    *,
    hasher: erasure.IdentifierHasher | None,
    drain: Drain,
    store: MediaStore,
) -> APIRouter:
    api = APIRouter(prefix="/api/v1", tags=["gdpr"])

    eraser, recorder = audit.contact("contact.erase", "admin"), audit.contact("consent.record", "admin")

    @api.delete("/contacts/{contact_id}", response_model=ErasureOut)
    async def erase(contact_id: uuid.UUID, who: Principal = eraser) -> ErasureOut:
        """Erase the person's personal data (the contact and every contact merged into it)."""
        if hasher is None:
            raise HTTPException(503, "erasure is not configured: set OMNITRAIL_GDPR_HASH_KEY")
        async with connection() as conn:
            done = await erasure.erase(conn, contact_id, hasher, requested_by=who.actor)
        if done is None:
            raise HTTPException(404, "no such contact")
        log.info("gdpr.erased", erasure_id=str(done.erasure_id), interactions=done.interactions_erased)
        try:
            await drain()
        except RetriableError:  # committed; the worker drains the outbox after its next batch
            log.warning("gdpr.erasure_events_pending", erasure_id=str(done.erasure_id))
        try:  # her files leave the store now, as with `omnitrail gdpr erase`; the console serves them to nobody
            await deletions.sweep(connection, store)
        except Exception as exc:  # committed and queued: the media stage's next sweep deletes them
            log.warning("gdpr.erasure_files_pending", erasure_id=str(done.erasure_id), error=type(exc).__name__)
        return ErasureOut(
            erasure_id=done.erasure_id,
            contact_id=done.contact_id,
            erased_contact_ids=done.erased_contact_ids,
            identifiers_erased=done.identifier_count,
            interactions_erased=done.interactions_erased,
            interactions_redacted=done.interactions_redacted,
            erased_at=done.erased_at,
        )

    @api.get(
        "/contacts/{contact_id}/export",
        response_model=dict[str, Any],
        responses={200: {"content": {"application/zip": {}}, "description": "With ?include=files: the zip"}},
        dependencies=[audit.contact("contact.export", "admin")],
    )
    async def export(
        contact_id: uuid.UUID,
        include: Annotated[
            Include | None,
            Query(description="``files``: a zip of ``export.json`` and her kept files (``files/<sha256>.<ext>``)"),
        ] = None,
    ) -> Any:
        """Everything held about the person, machine-readable (format ``omnitrail.contact-export.v1``)."""
        async with connection() as conn:
            document = await contact_export.export(conn, contact_id)
        if document is None:
            raise HTTPException(404, "no such contact")
        if include is None:
            return document
        file = tempfile.TemporaryFile()  # noqa: SIM115 - closed by _streamed once sent
        try:
            files = await export_archive.write(document, store, file)
        except BaseException:
            file.close()
            raise
        log.info("gdpr.exported_with_files", files=files)
        return StreamingResponse(
            _streamed(file),
            media_type="application/zip",
            headers={"Content-Disposition": f'attachment; filename="contact-{document["contact_id"]}.zip"'},
        )

    @api.get(
        "/contacts/{contact_id}/consents",
        response_model=ConsentHistory,
        dependencies=[audit.contact("consents.read")],
    )
    async def consents(contact_id: uuid.UUID) -> ConsentHistory:
        async with connection() as conn:
            survivor = await queries.resolve(conn, contact_id)
            if survivor is None:
                raise HTTPException(404, "no such contact")
            rows = await consent.history(conn, survivor)
        history = [ConsentRecord(**r) for r in rows]
        return ConsentHistory(current={r.purpose: r.granted for r in history}, history=history)

    @api.post(
        "/contacts/{contact_id}/consents",
        response_model=ConsentHistory,
        status_code=201,
    )
    async def record_consent(contact_id: uuid.UUID, body: ConsentIn, who: Principal = recorder) -> ConsentHistory:
        async with connection() as conn:
            survivor = await queries.resolve(conn, contact_id)
            if survivor is None:
                raise HTTPException(404, "no such contact")
            await consent.record(
                conn, survivor, body.purpose, granted=body.granted, source=body.source, recorded_by=who.actor
            )
        return await consents(contact_id)

    return api
