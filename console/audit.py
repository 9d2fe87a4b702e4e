"""Audit of every access to a contact's data, and the admin route that reads it.

Routes take ``Depends(audit.contact("timeline.read"))`` instead of a bare role check: the
dependency authenticates, checks the role, and writes the audit row before the handler runs,
so no route can serve a contact's data and forget to log it. Routes that learn the contact
only while running (an email body fetched by interaction id) call :meth:`Audit.write`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from psycopg import AsyncConnection
from pydantic import BaseModel

from console.auth import Principal, Role, TokenAuth
from sinks import audit_log

Conn = AsyncConnection[tuple[Any, ...]]
ConnectionFactory = Callable[[], AbstractAsyncContextManager[Conn]]


class AuditPage(BaseModel):
    items: list[audit_log.AuditEntry]  # the store's dataclass, served as is
    next_before: int | None = None


class Audit:
    def __init__(self, connection: ConnectionFactory, auth: TokenAuth) -> None:
        self._connection = connection
        self._auth = auth

    async def write(self, who: Principal, action: str, contact_id: uuid.UUID | None) -> None:
        async with self._connection() as conn:
            await self.record(conn, who, action, contact_id)

    @staticmethod
    async def record(conn: Conn, who: Principal, action: str, contact_id: uuid.UUID | None) -> None:
        """The row on the caller's connection: in its transaction, a change and its audit row commit together."""
        await audit_log.record(conn, actor=who.actor, role=who.role, action=action, contact_id=contact_id, via=who.via)

    def principal(self, role: Role) -> Any:
        """Dependency for routes that audit by hand: authenticate and check the role only."""
        return Depends(self._auth.principal(role))

    def contact(self, action: str, role: Role = "agent") -> Any:
        """Dependency for routes with a ``{contact_id}`` path parameter."""
        check = self._auth.principal(role)

        async def dependency(request: Request, contact_id: uuid.UUID) -> Principal:
            who = await check(request)
            await self.write(who, action, contact_id)
            return who

        return Depends(dependency)

    def anonymous_read(self, action: str, role: Role = "agent") -> Any:
        """Dependency for routes that touch contacts without naming one (search)."""
        check = self._auth.principal(role)

        async def dependency(request: Request) -> Principal:
            who = await check(request)
            await self.write(who, action, None)
            return who

        return Depends(dependency)


def router(connection: ConnectionFactory, auth: TokenAuth) -> APIRouter:
    api = APIRouter(prefix="/api/v1", tags=["audit"])

    @api.get("/audit", response_model=AuditPage, dependencies=[Depends(auth.principal("admin"))])
    async def audit(
        contact_id: uuid.UUID | None = None,
        actor: str | None = Query(default=None, max_length=64, description="A token fingerprint (tok_...)"),
        before: int | None = Query(default=None, ge=1, description="next_before of the previous page"),
        limit: int = Query(default=100, ge=1, le=1000),
    ) -> AuditPage:
        """Admins only: who accessed which contact's data, newest first."""
        async with connection() as conn:
            rows = await audit_log.read(conn, contact_id=contact_id, actor=actor, before=before, limit=limit)
        return AuditPage(items=rows, next_before=rows[-1].audit_id if len(rows) == limit else None)

    return api
