"""Who is calling: a bearer token (API clients, machines) or the page's session cookie of a staff member
(or of a token), with roles (``agent`` reads and writes staff notes, ``admin`` also changes what is
recorded about a person).

Both ways end in the same :class:`Principal`, so every route serves the page and API clients
alike. Staff sign in with their email and password (accounts: ``omnitrail staff``, ``sinks/staff_store.py``,
passwords hashed with argon2id); rows they write name them by email. A session counts only while its row in
``console_sessions`` is live (``sinks/session_store.py``): sign-out and an admin's revocation end it at once,
in every console process, and so does disabling the account or changing its role, or a change of the token's
role (the session keeps the role it was signed in with). A long request, a live stream, asks
:meth:`TokenAuth.still_allowed` again as it runs (``console/live_feed.py``). A cookie-authenticated request
that changes state must carry the session's CSRF token (see ``console/session.py``); a bearer request
needs none, having no ambient credential.
"""

from __future__ import annotations

import asyncio
import hmac
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Literal

from fastapi import Depends, HTTPException, Request, status

from console import passwords
from console.session import COOKIE, CSRF_HEADER, Session, SessionCodec, fingerprint
from console.signing import DeploymentSecret
from console.throttle import Throttle
from sinks import session_store, staff_store
from sinks.connection import ConnectionFactory

Role = Literal["agent", "admin"]
Via = Literal["token", "session"]
_RANK = {"agent": 0, "admin": 1}
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class Principal:
    """The caller: ``actor`` is a staff member's email or a token's fingerprint (never the token), as rows
    name them; ``name`` is what people read (the staff member's name; a token's fingerprint)."""

    actor: str
    name: str
    role: Role
    via: Via
    session: Session | None = None


def _role(value: str) -> Role:
    """A role read from the database (its CHECK constraint allows only these)."""
    if value not in _RANK:
        raise ValueError(f"unknown role {value!r}")
    return "admin" if value == "admin" else "agent"


class TokenAuth:
    def __init__(
        self,
        tokens: dict[str, Role],
        connection: ConnectionFactory,
        *,
        session_lifetime_s: float = 12 * 3600.0,
        secret: DeploymentSecret | None = None,
        throttle: Throttle | None = None,
    ) -> None:
        self._tokens = [(t.encode(), r) for t, r in tokens.items()]
        #: Failed authentications per client address: past its limit, 429 before any token is compared.
        self.throttle = throttle
        self._roles_by_actor: dict[str, Role] = {fingerprint(t): r for t, r in tokens.items()}
        self.session_lifetime_s = session_lifetime_s
        #: The deployment's signing secret (configured, else generated once and kept in PostgreSQL).
        self.secret = secret or DeploymentSecret(None, connection)
        self._codec: SessionCodec | None = None
        self._connection = connection

    async def codec(self) -> SessionCodec:
        """What signs and reads session cookies, keyed from the deployment's secret (read on first use)."""
        if self._codec is None:
            self._codec = SessionCodec(await self.secret.get(), lifetime_s=self.session_lifetime_s)
        return self._codec

    def role_of(self, presented: str) -> Role | None:
        # Compare against every token, always, in constant time: no early exit to time.
        found: Role | None = None
        candidate = presented.encode()
        for token, role in self._tokens:
            if hmac.compare_digest(candidate, token):
                found = role
        return found

    async def sign_in(self, presented: str) -> tuple[str, Principal] | None:
        """A session cookie value for a valid token (its session stored), or None."""
        role = self.role_of(presented)
        if role is None:
            return None
        cookie, session = (await self.codec()).issue(fingerprint(presented))
        async with self._connection() as conn:
            await session_store.create(
                conn, session.nonce, actor=session.actor, role=role, expires_at=session.expires_at
            )
        return cookie, Principal(session.actor, session.actor, role, "session", session)

    async def sign_in_staff(self, email: str, password: str) -> tuple[str, Principal] | None:
        """A session cookie value for an enabled staff account and its password, or None."""
        actor = staff_store.normal(email)
        async with self._connection() as conn:
            found = await staff_store.credentials(conn, actor)
        # argon2 takes tens of milliseconds of CPU on purpose: off the event loop, and for unknown emails too.
        verified = await asyncio.to_thread(passwords.verify, found[2] if found else None, password)
        if found is None or verified is None:
            return None
        if verified.rehashed:
            async with self._connection() as conn:
                await staff_store.rehash(conn, actor, verified.rehashed)
        return await self._open(actor, found[0], found[1])

    async def sign_in_verified(self, email: str) -> tuple[str, Principal] | None:
        """A session for the enabled staff account of an email a sign-in provider vouched for, or None."""
        actor = staff_store.normal(email)
        async with self._connection() as conn:
            found = await staff_store.credentials(conn, actor)
        return await self._open(actor, found[0], found[1]) if found else None

    async def _open(self, actor: str, name: str, role: str) -> tuple[str, Principal]:
        cookie, session = (await self.codec()).issue(actor)
        async with self._connection() as conn:
            await session_store.create(conn, session.nonce, actor=actor, role=role, expires_at=session.expires_at)
        return cookie, Principal(actor, name, _role(role), "session", session)

    async def from_session(self, request: Request) -> Principal | None:
        """The cookie's principal while its session is live and its staff account (enabled) or token still has
        the role it signed in with."""
        cookie = request.cookies.get(COOKIE)
        session = (await self.codec()).read(cookie) if cookie else None
        return await self._live(session) if session else None

    async def still_allowed(self, who: Principal) -> bool:
        """Whether ``who`` (authenticated when a long request, a live stream, began) still counts, as the same
        caller with the same role: its token is still configured with that role; its session has not expired and
        is still live for :meth:`from_session` (one query)."""
        if who.session is None:
            return self._roles_by_actor.get(who.actor) == who.role
        if who.session.expires_at <= time.time():
            return False
        now = await self._live(who.session)
        return now is not None and now.role == who.role

    async def _live(self, session: Session) -> Principal | None:
        """The principal of a session read from a valid cookie, while the session counts."""
        role = self._roles_by_actor.get(session.actor)
        if role is None:
            async with self._connection() as conn:
                staff = await staff_store.signed_in(conn, session_store.key(session.nonce))
            if staff is None:
                return None
            return Principal(session.actor, staff[0], _role(staff[1]), "session", session)
        async with self._connection() as conn:
            signed_in_as = await session_store.live_role(conn, session.nonce)
            if signed_in_as is not None and signed_in_as != role:  # the role changed: sign in again
                await session_store.revoke(conn, session.nonce)
        return Principal(session.actor, session.actor, role, "session", session) if signed_in_as == role else None

    async def sign_out(self, session: Session) -> None:
        async with self._connection() as conn:
            await session_store.revoke(conn, session.nonce)

    async def revoke(self, actor: str) -> int:
        """End every session of the token with this fingerprint (or of the staff member with this email);
        how many were live."""
        async with self._connection() as conn:
            return await session_store.revoke_actor(conn, actor)

    async def authenticate(self, request: Request) -> Principal:
        scheme, _, credential = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and credential.strip():
            role = self.role_of(credential.strip())
            if role is not None:
                actor = fingerprint(credential.strip())
                return Principal(actor, actor, role, "token")
        else:
            principal = await self.from_session(request)
            if principal is not None and principal.session is not None:
                if request.method not in _SAFE_METHODS and not (await self.codec()).csrf_ok(
                    principal.session, request.headers.get(CSRF_HEADER)
                ):
                    raise HTTPException(status.HTTP_403_FORBIDDEN, "missing or invalid CSRF token")
                return principal
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "missing or invalid bearer token", {"WWW-Authenticate": "Bearer"}
        )

    def principal(self, role: Role) -> Callable[[Request], Coroutine[Any, Any, Principal]]:
        async def dependency(request: Request) -> Principal:
            address = request.client.host if request.client else "unknown"
            wait = self.throttle.retry_after(address) if self.throttle else None
            if wait is not None:
                raise HTTPException(
                    status.HTTP_429_TOO_MANY_REQUESTS, "too many failed authentications", {"Retry-After": str(wait)}
                )
            try:
                found = await self.authenticate(request)
            except HTTPException as exc:
                if exc.status_code == status.HTTP_401_UNAUTHORIZED and self.throttle:
                    self.throttle.failed(address)
                raise
            if _RANK[found.role] < _RANK[role]:
                raise HTTPException(status.HTTP_403_FORBIDDEN, f"requires the {role} role")
            request.state.principal = found
            return found

        return dependency

    def require(self, role: Role) -> Callable[[Request], Coroutine[Any, Any, Role]]:
        check = self.principal(role)

        async def dependency(request: Request) -> Role:
            return (await check(request)).role

        return dependency

    def depends(self, role: Role) -> Any:
        return Depends(self.require(role))
