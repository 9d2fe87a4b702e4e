"""``GET /api/v1/audit``: admins read who accessed which contact's data (written by :mod:`console.audit`)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from console.auth import TokenAuth
from sinks import audit_log
from sinks.connection import ConnectionFactory


class AuditPage(BaseModel):
    items: list[audit_log.AuditEntry]  # the store's dataclass, served as is
    next_before: int | None = None


def router(connection: ConnectionFactory, auth: TokenAuth) -> APIRouter:
    api = APIRouter(prefix="/api/v1", tags=["audit"])

    @api.get("/audit", response_model=AuditPage, dependencies=[Depends(auth.principal("admin"))])
    async def audit(
        contact_id: uuid.UUID | None = None,
        actor: str | None = Query(
            default=None, max_length=320, description="A staff member's email or a token's fingerprint (tok_...)"
        ),
        before: int | None = Query(default=None, ge=1, description="next_before of the previous page"),
        limit: int = Query(default=100, ge=1, le=1000),
    ) -> AuditPage:
        """Admins only: who accessed which contact's data, newest first."""
        async with connection() as conn:
            rows = await audit_log.read(conn, contact_id=contact_id, actor=actor, before=before, limit=limit)
        return AuditPage(items=rows, next_before=rows[-1].audit_id if len(rows) == limit else None)

    return api
