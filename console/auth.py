"""Bearer-token authentication with roles (``agent`` reads, ``admin`` also changes)."""

from __future__ import annotations

import hmac
from collections.abc import Callable, Coroutine
from typing import Any, Literal

from fastapi import Depends, HTTPException, Request, status

Role = Literal["agent", "admin"]
_RANK = {"agent": 0, "admin": 1}


class TokenAuth:
    def __init__(self, tokens: dict[str, Role]) -> None:
        self._tokens = [(t.encode(), r) for t, r in tokens.items()]

    def role_of(self, presented: str) -> Role | None:
        # Compare against every token, always, in constant time: no early exit to time.
        found: Role | None = None
        candidate = presented.encode()
        for token, role in self._tokens:
            if hmac.compare_digest(candidate, token):
                found = role
        return found

    def require(self, role: Role) -> Callable[[Request], Coroutine[Any, Any, Role]]:
        async def dependency(request: Request) -> Role:
            scheme, _, credential = request.headers.get("authorization", "").partition(" ")
            granted = self.role_of(credential.strip()) if scheme.lower() == "bearer" and credential else None
            if granted is None:
                raise HTTPException(
                    status.HTTP_401_UNAUTHORIZED, "missing or invalid bearer token", {"WWW-Authenticate": "Bearer"}
                )
            if _RANK[granted] < _RANK[role]:
                raise HTTPException(status.HTTP_403_FORBIDDEN, f"requires the {role} role")
            return granted

        return dependency

    def depends(self, role: Role) -> Any:
        return Depends(self.require(role))
