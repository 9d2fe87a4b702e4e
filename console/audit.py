"""Audit of every access to a contact's data (read by admins at ``GET /api/v1/audit``, ``console.routes.audit``).

Routes take ``Depends(audit.contact("timeline.read"))`` instead of a bare role check: the
dependency authenticates, checks the role, and writes the audit row before the handler runs,
so no route can serve a contact's data and forget to log it. Routes that learn the contact
only while running (an email body fetched by interaction id) call :meth:`Audit.write`.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import Depends, Request

from console.auth import Principal, Role, TokenAuth
from sinks import audit_log
from sinks.connection import Conn, ConnectionFactory


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
