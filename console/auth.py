"""Who is calling: a bearer token (API clients) or the page's session cookie, with roles
(``agent`` reads, ``admin`` also changes).

Both ways end in the same :class:`Principal`, so every route serves the page and API clients
alike. A cookie-authenticated request that changes state must carry the session's CSRF token
(see ``console/session.py``); a bearer request needs none, having no ambient credential.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Literal

from fastapi import Depends, HTTPException, Request, status

from console.auth_limiter import FailureLimiter
from console.session import COOKIE, CSRF_HEADER, Session, SessionCodec, fingerprint

Role = Literal["agent", "admin"]
Via = Literal["token", "session"]
_RANK = {"agent": 0, "admin": 1}
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class Principal:
    """The caller: ``actor`` is the token's fingerprint, never the token."""

    actor: str
    role: Role
    via: Via
    session: Session | None = None


class TokenAuth:
    def __init__(
        self,
        tokens: dict[str, Role],
        *,
        session_lifetime_s: float = 12 * 3600.0,
        limiter: FailureLimiter | None = None,
    ) -> None:
        self._tokens = [(t.encode(), r) for t, r in tokens.items()]
        #: Failed authentications per client address: past its limit, 429 before any token is compared.
        self.limiter = limiter
        self._roles_by_actor: dict[str, Role] = {fingerprint(t): r for t, r in tokens.items()}
        self.sessions = SessionCodec(list(tokens), lifetime_s=session_lifetime_s)

    def role_of(self, presented: str) -> Role | None:
        # Compare against every token, always, in constant time: no early exit to time.
        found: Role | None = None
        candidate = presented.encode()
        for token, role in self._tokens:
            if hmac.compare_digest(candidate, token):
                found = role
        return found

    def sign_in(self, presented: str) -> tuple[str, Principal] | None:
        """A session cookie value for a valid token, or None."""
        role = self.role_of(presented)
        if role is None:
            return None
        cookie, session = self.sessions.issue(fingerprint(presented))
        return cookie, Principal(session.actor, role, "session", session)

    def from_session(self, request: Request) -> Principal | None:
        session = self.sessions.read(request.cookies.get(COOKIE))
        role = self._roles_by_actor.get(session.actor) if session else None
        return Principal(session.actor, role, "session", session) if session and role else None

    def authenticate(self, request: Request) -> Principal:
        scheme, _, credential = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and credential.strip():
            role = self.role_of(credential.strip())
            if role is not None:
                return Principal(fingerprint(credential.strip()), role, "token")
        else:
            principal = self.from_session(request)
            if principal is not None and principal.session is not None:
                if request.method not in _SAFE_METHODS and not self.sessions.csrf_ok(
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
            wait = self.limiter.retry_after(address) if self.limiter else None
            if wait is not None:
                raise HTTPException(
                    status.HTTP_429_TOO_MANY_REQUESTS, "too many failed authentications", {"Retry-After": str(wait)}
                )
            try:
                found = self.authenticate(request)
            except HTTPException as exc:
                if exc.status_code == status.HTTP_401_UNAUTHORIZED and self.limiter:
                    self.limiter.failed(address)
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
